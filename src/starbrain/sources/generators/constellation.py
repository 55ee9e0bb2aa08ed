"""Walker-delta constellation generator and presets (Starlink Gen1 as filed), as element-set tables.

A Walker-delta shell i:T/P/F puts T satellites in P equally spaced planes of inclination i; plane
j has right ascension of the ascending node ``raan0 + 360 j / P`` and satellite k of that plane
has mean anomaly ``360 k / S + 360 F j / T`` (S = T / P satellites per plane, F the phasing
factor, 0 <= F < P) (Walker 1984, J. Br. Interplanet. Soc. 37, 559).

Altitude means SGP4's mean semi-major axis minus the WGS-72 equatorial radius (6378.135 km): the
TLE (Kozai) mean motion written is the one from which SGP4's initialisation recovers exactly that
semi-major axis (the un-Kozai step of Hoots & Roehrich 1980, inverted by fixed-point iteration),
so the propagated mean altitude is the one asked for. Values are rounded to the precision of the
TLE columns so TLE and OMM exports of the same record agree.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from starbrain.core import timeconv
from starbrain.core.constants import (
    WGS72_J2,
    WGS72_MU_KM3_S2,
    WGS72_RADIUS_KM,
    WGS72_XKE_PER_MIN,
)
from starbrain.core.errors import StarbrainError
from starbrain.core.schemas.elements import ELEMENTS_SCHEMA

__all__ = [
    "PRESETS",
    "WalkerShell",
    "elements_table",
    "generate",
    "generate_preset",
    "generation_epoch",
    "kozai_mean_motion",
    "mean_altitude_km",
]

# WGS-72, the constants SGP4 is defined with (core.constants)
MU_WGS72_KM3_S2 = WGS72_MU_KM3_S2
RADIUS_WGS72_KM = WGS72_RADIUS_KM
J2_WGS72 = WGS72_J2
_XKE = WGS72_XKE_PER_MIN  # sqrt(GM) in ER^1.5 / min
_MIN_PER_DAY = 1440.0


@dataclass(frozen=True, slots=True)
class WalkerShell:
    """One Walker-delta shell. Angles in degrees (this is an edge type), altitude in km."""

    altitude_km: float
    inclination_deg: float
    planes: int
    per_plane: int
    phasing: int = 1
    raan0_deg: float = 0.0
    eccentricity: float = 1e-4
    arg_of_pericenter_deg: float = 90.0
    bstar_per_earth_radius: float = 1e-4
    name: str = "shell"

    def __post_init__(self) -> None:
        if self.planes < 1 or self.per_plane < 1:
            raise StarbrainError(f"{self.name}: planes and satellites per plane must be >= 1")
        if not 0 <= self.phasing < max(self.planes, 1):
            raise StarbrainError(
                f"{self.name}: phasing factor {self.phasing} must be in 0..{self.planes - 1}"
            )
        if not 80.0 <= self.altitude_km <= 50_000.0:
            raise StarbrainError(f"{self.name}: altitude {self.altitude_km} km is not an orbit")
        if not 0.0 <= self.inclination_deg <= 180.0:
            raise StarbrainError(f"{self.name}: inclination must be in 0-180 degrees")
        if not 0.0 <= self.eccentricity < 0.1:
            raise StarbrainError(f"{self.name}: eccentricity must be in [0, 0.1) for a shell")

    @property
    def size(self) -> int:
        return self.planes * self.per_plane


# Starlink Gen1 as filed with the FCC (SpaceX modification, April 2020 / approved April 2021):
# five shells, 4,408 satellites. The filing gives altitude, inclination, planes and satellites
# per plane, not the phasing: each shell's phasing factor F is the one that maximises the
# smallest distance between two satellites of the shell (for ideal circular orbits, sampled
# finely over an orbit: S1 71 km, S2 48 km, S3 65 km, S4 50 km, S5 67 km; F = 1 would put two
# S5 satellites in the same place). S5's planes are offset 15 deg in node from S4's, with which
# it shares altitude and inclination, so that no plane of one lies on a plane of the other.
PRESETS: dict[str, tuple[WalkerShell, ...]] = {
    "starlink-gen1": (
        WalkerShell(550.0, 53.0, 72, 22, phasing=65, name="S1"),
        WalkerShell(540.0, 53.2, 72, 22, phasing=65, name="S2"),
        WalkerShell(570.0, 70.0, 36, 20, phasing=25, name="S3"),
        WalkerShell(560.0, 97.6, 6, 58, phasing=1, name="S4"),
        WalkerShell(560.0, 97.6, 4, 43, phasing=2, raan0_deg=15.0, name="S5"),
    ),
}


def kozai_mean_motion(
    altitude_km: npt.ArrayLike, inclination_rad: npt.ArrayLike, eccentricity: npt.ArrayLike
) -> npt.NDArray[np.float64]:
    """TLE (Kozai) mean motion in rev/day whose SGP4 mean semi-major axis is R + altitude."""
    a_target = 1.0 + np.asarray(altitude_km, dtype=np.float64) / RADIUS_WGS72_KM  # earth radii
    cosi = np.cos(np.asarray(inclination_rad, dtype=np.float64))
    e2 = np.asarray(eccentricity, dtype=np.float64) ** 2
    shape = 0.75 * J2_WGS72 * (3.0 * cosi**2 - 1.0) / (1.0 - e2) ** 1.5
    n_brouwer = _XKE / a_target**1.5  # rad/min: SGP4's no_unkozai
    n0 = n_brouwer.copy()
    for _ in range(30):  # converges to machine precision in a handful of steps
        a1 = (_XKE / n0) ** (2.0 / 3.0)
        d1 = shape / a1**2
        a0 = a1 * (1.0 - d1 / 3.0 - d1**2 - 134.0 / 81.0 * d1**3)
        d0 = shape / a0**2
        n0 = n_brouwer * (1.0 + d0)
    return n0 * _MIN_PER_DAY / (2.0 * np.pi)


def mean_altitude_km(
    mean_motion_rev_per_day: npt.ArrayLike,
    inclination_rad: npt.ArrayLike,
    eccentricity: npt.ArrayLike,
) -> npt.NDArray[np.float64]:
    """Altitude (km) as this module defines it, SGP4's mean semi-major axis (from the TLE (Kozai)
    mean motion, un-Kozai'd as SGP4's initialisation does) minus the WGS-72 radius: the inverse
    of :func:`kozai_mean_motion`. NaN where the mean motion is not positive."""
    n_rev = np.asarray(mean_motion_rev_per_day, dtype=np.float64)
    cosi = np.cos(np.asarray(inclination_rad, dtype=np.float64))
    e2 = np.asarray(eccentricity, dtype=np.float64) ** 2
    shape = 0.75 * J2_WGS72 * (3.0 * cosi**2 - 1.0) / (1.0 - e2) ** 1.5
    with np.errstate(divide="ignore", invalid="ignore"):
        n0 = np.where(n_rev > 0, n_rev, np.nan) * 2.0 * np.pi / _MIN_PER_DAY  # rad/min
        a1 = (_XKE / n0) ** (2.0 / 3.0)
        d1 = shape / a1**2
        a0 = a1 * (1.0 - d1 / 3.0 - d1**2 - 134.0 / 81.0 * d1**3)
        n_brouwer = n0 / (1.0 + shape / a0**2)
        a = (_XKE / n_brouwer) ** (2.0 / 3.0)  # earth radii
    return np.asarray((a - 1.0) * RADIUS_WGS72_KM, dtype=np.float64)


def generation_epoch(epoch: object) -> np.datetime64:
    """``epoch`` (anything ``timeconv.to_datetime64`` reads) as UTC ns; None: today 00:00 UTC."""
    if epoch is None:
        return timeconv.utc_now().astype("datetime64[D]").astype("datetime64[ns]")
    return np.datetime64(timeconv.to_datetime64(epoch), "ns")


def elements_table(
    first_norad: int,
    epoch: np.datetime64,
    names: Sequence[str],
    elements: Mapping[str, Any],
    source: str,
) -> pa.Table:
    """An ``ELEMENTS_SCHEMA`` table of generated objects numbered from ``first_norad``, all at
    ``epoch``. ``elements`` holds ``mean_motion_rev_per_day``, ``eccentricity``,
    ``inclination_deg``, ``ra_of_asc_node_deg``, ``arg_of_pericenter_deg``,
    ``mean_anomaly_deg`` and ``bstar_per_earth_radius`` (one value per object); they are rounded
    to the TLE columns' precision so every export format carries identical values."""
    total = len(names)
    angles = ("ra_of_asc_node_deg", "arg_of_pericenter_deg", "mean_anomaly_deg")
    cols = {key: np.mod(np.round(elements[key], 4), 360.0) for key in angles}
    cols["inclination_deg"] = np.round(elements["inclination_deg"], 4)
    cols["eccentricity"] = np.round(elements["eccentricity"], 7)
    cols["mean_motion_rev_per_day"] = np.round(elements["mean_motion_rev_per_day"], 8)
    bstar = np.array([float(f"{b:.4e}") for b in elements["bstar_per_earth_radius"]])
    return pa.table(
        {
            "norad_id": pa.array(np.arange(first_norad, first_norad + total), pa.int32()),
            "epoch": pa.array(np.full(total, epoch), pa.timestamp("ns", tz="UTC")),
            "object_name": pa.array(names, pa.string()),
            "object_id": pa.nulls(total, pa.string()),
            "classification": pa.array(["U"] * total, pa.string()),
            **{
                key: cols[key]
                for key in (
                    "mean_motion_rev_per_day",
                    "eccentricity",
                    "inclination_deg",
                    "ra_of_asc_node_deg",
                    "arg_of_pericenter_deg",
                    "mean_anomaly_deg",
                )
            },
            "ephemeris_type": pa.array(np.zeros(total), pa.int8()),
            "element_set_no": pa.array(np.full(total, 999), pa.int32()),
            "rev_at_epoch": pa.array(np.zeros(total), pa.int32()),
            "bstar_per_earth_radius": bstar,
            "mean_motion_dot_rev_per_day2": np.zeros(total),
            "mean_motion_ddot_rev_per_day3": np.zeros(total),
            "tle_line1": pa.nulls(total, pa.string()),
            "tle_line2": pa.nulls(total, pa.string()),
            "source": pa.array([source] * total, pa.string()),
        },
        schema=ELEMENTS_SCHEMA,
    )


def _shell_elements(
    shell: WalkerShell, prefix: str
) -> tuple[dict[str, npt.NDArray[np.float64]], list[str]]:
    """Unrounded elements (degrees, rev/day, 1/ER) and names of one Walker-delta shell, in
    plane-major order: plane ``j`` at RAAN ``raan0 + 360 j / P``, slot ``k`` at mean anomaly
    ``360 k / S + 360 F j / T``."""
    j, k = np.divmod(np.arange(shell.size), shell.per_plane)  # plane, slot
    inc = np.full(shell.size, shell.inclination_deg)
    elements = {
        "inclination_deg": inc,
        "ra_of_asc_node_deg": np.mod(shell.raan0_deg + 360.0 * j / shell.planes, 360.0),
        "mean_anomaly_deg": np.mod(
            360.0 * k / shell.per_plane + 360.0 * shell.phasing * j / shell.size, 360.0
        ),
        "mean_motion_rev_per_day": kozai_mean_motion(
            shell.altitude_km, np.radians(inc), shell.eccentricity
        ),
        "eccentricity": np.full(shell.size, shell.eccentricity),
        "arg_of_pericenter_deg": np.full(shell.size, shell.arg_of_pericenter_deg),
        "bstar_per_earth_radius": np.full(shell.size, shell.bstar_per_earth_radius),
    }
    width = len(str(shell.planes))
    names = [
        f"{prefix} {shell.name}-P{p + 1:0{width}d}-{s + 1:02d}" for p, s in zip(j, k, strict=True)
    ]
    return elements, names


def generate(
    shells: Sequence[WalkerShell],
    epoch: object = None,
    first_norad: int = 200_001,
    prefix: str = "SIM",
    source: str = "generated:walker",
) -> pa.Table:
    """Element sets (ELEMENTS_SCHEMA) for Walker-delta shells, numbered from ``first_norad``.

    ``epoch`` (anything ``timeconv.to_datetime64`` reads) defaults to today 00:00 UTC. Catalogue
    numbers default to 200001 and up (alpha-5 'L0001'...), far above the real catalogue.
    """
    if not shells:
        raise StarbrainError("no shells to generate")
    t0 = generation_epoch(epoch)
    total = sum(s.size for s in shells)
    if first_norad < 1 or first_norad + total - 1 > 339_999:
        raise StarbrainError(
            f"catalogue numbers {first_norad}..{first_norad + total - 1} do not fit 1..339999"
        )
    per_shell = [_shell_elements(shell, prefix) for shell in shells]
    elements = {key: np.concatenate([e[key] for e, _ in per_shell]) for key in per_shell[0][0]}
    names = [name for _, shell_names in per_shell for name in shell_names]
    return elements_table(first_norad, t0, names, elements, source)


def generate_preset(
    name: str = "starlink-gen1", epoch: object = None, first_norad: int = 200_001
) -> pa.Table:
    """Element sets of a named preset (see ``PRESETS``)."""
    try:
        shells = PRESETS[name]
    except KeyError:
        raise StarbrainError(
            f"no preset named {name!r}; presets are {', '.join(PRESETS)}"
        ) from None
    return generate(shells, epoch=epoch, first_norad=first_norad, source=f"generated:{name}")
