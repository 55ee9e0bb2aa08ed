"""Truth trajectories for world models: SGP4 states at epoch propagated with full-force physics.

Each satellite starts from its SGP4 state at the (common) epoch, rotated TEME -> GCRS, and is
integrated with :func:`starbrain.physics.numerical.propagate_numerical` (default force model:
EGM2008 zonals J2-J6, Vallado exponential drag, Sun and Moon point masses, cannonball SRP with a
conical shadow). Truth is returned in both GCRS (the integration frame) and TEME (the frame SGP4
and the world models work in), km and km/s, shape ``(n_sat, n_time, 3)``.

Spacecraft parameters are derived from B*: with the SGP4 reference density
``rho0 = 0.15696615 kg m^-2 ER^-1`` (Vallado, *Fundamentals*, 4th ed., sec. 9.6.1),
``B* = rho0 * Cd * A / (2 m)`` so ``Cd*A/m [m^2/kg] = 2 B* / rho0 ~= 12.7416 * B*`` (B* in 1/ER).
We take Cd = 2.2, mass = 260 kg (a Starlink v1.0 class bus) and solve for the drag area; the SRP
area equals the drag area, Cr = 1.3. A floor of 0.01 m^2 keeps SRP sensible for tiny B*.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import torch

from starbrain.core import timeconv
from starbrain.core.constants import WGS84_MU_KM3_S2
from starbrain.core.schemas.elements import ELEMENTS_SCHEMA
from starbrain.physics.forces import ForceModel, Spacecraft
from starbrain.physics.frames import teme_to_gcrs_matrix
from starbrain.physics.numerical import propagate_numerical
from starbrain.physics.sgp4 import sgp4_propagate
from starbrain.physics.sgp4_init import RADIUS_EARTH_KM, Sgp4Elements
from starbrain.sources.generators.constellation import generate_preset, kozai_mean_motion

__all__ = [
    "BSTAR_TO_BALLISTIC_M2KG",
    "DEFAULT_EPOCH",
    "LEO_ALTITUDE_BANDS_KM",
    "SOLAR_ACTIVITY_BANDS_SFU",
    "TruthSet",
    "concat_truth",
    "generate_truth",
    "leo_strata",
    "orbit_class",
    "sample_elements",
    "sample_leo_elements",
    "solar_activity",
    "spacecraft_from_bstar",
]

#: Cd*A/m [m^2/kg] per unit B* [1/ER]: 2 / rho0 with rho0 = 0.15696615 kg m^-2 ER^-1.
BSTAR_TO_BALLISTIC_M2KG = 2.0 / 0.15696615
DEFAULT_EPOCH = "2024-01-01T00:00:00"
_CD = 2.2
_CR = 1.3
_MASS_KG = 260.0
_MIN_AREA_M2 = 0.01
_DEEP_DEFAULTS: dict[str, Any] = {
    "classification": "U", "ephemeris_type": 0, "element_set_no": 999, "rev_at_epoch": 0,
    "mean_motion_dot_rev_per_day2": 0.0, "mean_motion_ddot_rev_per_day3": 0.0,
}  # fmt: skip


def spacecraft_from_bstar(bstar: npt.ArrayLike) -> Spacecraft:
    """A :class:`Spacecraft` whose Cd*A/m matches ``bstar`` (n_sat,) [1/ER] (see module doc)."""
    b = np.abs(np.asarray(bstar, dtype=np.float64))
    area = np.maximum(BSTAR_TO_BALLISTIC_M2KG * b * _MASS_KG / _CD, _MIN_AREA_M2)
    return Spacecraft(mass_kg=_MASS_KG, drag_area_m2=area, srp_area_m2=area, cd=_CD, cr=_CR)


def _orbit_class_counts(n_sat: int, fractions: tuple[float, ...]) -> list[int]:
    counts = [round(n_sat * f) for f in fractions]
    if sum(counts) > n_sat or min(fractions) < 0.0:
        raise ValueError("the orbit-class fractions must be >= 0 and add up to at most 1")
    return counts


def _deep_space_elements(
    rng: np.random.Generator, n_meo: int, n_geo: int, n_heo: int
) -> dict[str, npt.NDArray[Any]]:
    """Arrays of (name, n [rev/day], e, i, RAAN, argp, M [deg], B*) for MEO, GEO and HEO."""
    names: list[str] = []
    parts: list[tuple[npt.NDArray[np.float64], ...]] = []
    # MEO: GNSS-like, 19,000-23,500 km, 50-65 deg
    alt = rng.uniform(19_000.0, 23_500.0, n_meo)
    inc = rng.uniform(50.0, 65.0, n_meo)
    ecc = 10.0 ** rng.uniform(-3.0, -2.0, n_meo)
    parts.append((alt, inc, ecc, rng.uniform(0.0, 360.0, n_meo)))
    names += [f"MEO-{k + 1:03d}" for k in range(n_meo)]
    # GEO: within 50 km of the geostationary radius, 0-15 deg
    alt = rng.uniform(35_736.0, 35_836.0, n_geo)
    inc = rng.uniform(0.0, 15.0, n_geo)
    ecc = 10.0 ** rng.uniform(-4.0, -3.0, n_geo)
    parts.append((alt, inc, ecc, rng.uniform(0.0, 360.0, n_geo)))
    names += [f"GEO-{k + 1:03d}" for k in range(n_geo)]
    # HEO: half Molniya-like (12 h, 63.4 deg, apogee north), half GTO-like (perigee 600-1500 km)
    n_mol = n_heo // 2
    n_gto = n_heo - n_mol
    a_mol = rng.uniform(26_400.0, 26_700.0, n_mol)
    rp_mol = RADIUS_EARTH_KM + rng.uniform(600.0, 1500.0, n_mol)
    rp_gto = RADIUS_EARTH_KM + rng.uniform(600.0, 1500.0, n_gto)
    ra_gto = RADIUS_EARTH_KM + 35_786.0 + rng.uniform(-500.0, 500.0, n_gto)
    a = np.concatenate([a_mol, 0.5 * (rp_gto + ra_gto)])
    rp = np.concatenate([rp_mol, rp_gto])
    inc = np.concatenate([rng.uniform(62.0, 64.8, n_mol), rng.uniform(0.0, 28.5, n_gto)])
    argp = np.concatenate([rng.uniform(260.0, 280.0, n_mol), rng.uniform(0.0, 360.0, n_gto)])
    parts.append((a - RADIUS_EARTH_KM, inc, 1.0 - rp / a, argp))
    names += [f"HEO-{k + 1:03d}" for k in range(n_heo)]
    alt, inc, ecc, argp = (np.concatenate(c) for c in zip(*parts, strict=True))
    n = alt.size
    return {
        "object_name": np.array(names, dtype=object),
        "mean_motion_rev_per_day": kozai_mean_motion(alt, np.radians(inc), ecc),
        "eccentricity": ecc,
        "inclination_deg": inc,
        "ra_of_asc_node_deg": rng.uniform(0.0, 360.0, n),
        "arg_of_pericenter_deg": argp,
        "mean_anomaly_deg": rng.uniform(0.0, 360.0, n),
        # sets the SRP (and, for HEO perigees, drag) area: Cd*A/m 1.3e-4 .. 1.3e-2 m^2/kg
        "bstar_per_earth_radius": 10.0 ** rng.uniform(-5.0, -3.0, n),
    }


def orbit_class(elements: pa.Table) -> npt.NDArray[np.str_]:
    """(n,) "LEO", "MEO", "GEO" or "HEO" from each element set's period and eccentricity."""
    n = elements.column("mean_motion_rev_per_day").to_numpy()
    e = elements.column("eccentricity").to_numpy()
    period_min = 1440.0 / n
    out = np.where(period_min < 225.0, "LEO", np.where(period_min < 1200.0, "MEO", "GEO"))
    return np.where(e > 0.25, "HEO", out)


#: Altitude bands [km] of the stratified tables: (lower, upper) edges, upper exclusive.
LEO_ALTITUDE_BANDS_KM = ((300.0, 500.0), (500.0, 800.0), (800.0, 1200.0))
#: Cd*A/m bands [m^2/kg]: compact/heavy, typical satellites, high drag (cubesats, panels).
BALLISTIC_BANDS_M2KG = ((0.0, 0.01), (0.01, 0.03), (0.03, np.inf))
#: Solar activity from the 81-day centred observed F10.7 [sfu] at the epoch.
SOLAR_ACTIVITY_BANDS_SFU = (("low", 0.0, 90.0), ("moderate", 90.0, 150.0), ("high", 150.0, np.inf))
#: Range of Cd*A/m [m^2/kg] of :func:`sample_leo_elements` (log-uniform): from dense, compact
#: buses (~0.002) to cubesats and large-panel spacecraft (~0.1).
LEO_BALLISTIC_RANGE_M2KG = (0.002, 0.1)


def sample_leo_elements(
    n_sat: int,
    seed: int = 0,
    epoch: Any = DEFAULT_EPOCH,
    shell_fraction: float = 0.0,
    first_norad: int = 300_001,
    *,
    alt_km: tuple[float, float] = (300.0, 1200.0),
    max_eccentricity: float = 0.02,
    ballistic_m2kg: tuple[float, float] = LEO_BALLISTIC_RANGE_M2KG,
) -> pa.Table:
    """Generic LEO element sets (ELEMENTS_SCHEMA) for training and evaluation that cannot
    flatter: mean altitude uniform in ``alt_km`` (default 300-1,200 km), inclination with
    cos(i) uniform (every plane orientation equally likely, 0-180 deg, retrograde included),
    eccentricity log-uniform 1e-4..``max_eccentricity`` (default 0.02), and Cd*A/m log-uniform
    in ``ballistic_m2kg`` [m^2/kg] (default 0.002-0.1, the real range from compact buses to
    cubesats), stored as B* = Cd*A/m / 12.74 [1/ER]. ``shell_fraction`` of the rows (first)
    come from the ``starlink-gen1`` preset shells instead, with the same B* law, so tables can
    report constellation look-alikes apart (:func:`leo_strata`). One common ``epoch``.
    """
    if not 0.0 <= shell_fraction <= 1.0:
        raise ValueError(f"shell_fraction must be in [0, 1], got {shell_fraction}")
    lo, hi = alt_km
    if not 150.0 <= lo < hi:
        raise ValueError(f"alt_km must be increasing and above 150 km, got {alt_km}")
    if not 1e-4 < max_eccentricity < 0.25:
        raise ValueError(f"max_eccentricity must be in (1e-4, 0.25), got {max_eccentricity}")
    rng = np.random.default_rng(seed)
    n_shell = round(n_sat * shell_fraction)
    n_gen = n_sat - n_shell
    base = sample_elements(
        n_sat, seed=seed, epoch=epoch, starlink_fraction=n_shell / n_sat if n_sat else 0.0,
        first_norad=first_norad,
    )  # fmt: skip
    cols = base.to_pydict()
    b_lo, b_hi = np.log10(ballistic_m2kg[0]), np.log10(ballistic_m2kg[1])
    bstar = 10.0 ** rng.uniform(b_lo, b_hi, n_sat) / BSTAR_TO_BALLISTIC_M2KG
    alt = rng.uniform(lo, hi, n_gen)
    inc = np.degrees(np.arccos(rng.uniform(-1.0, 1.0, n_gen)))
    ecc = 10.0 ** rng.uniform(-4.0, np.log10(max_eccentricity), n_gen)
    n_rev = kozai_mean_motion(alt, np.radians(inc), ecc)
    sl = slice(n_shell, n_sat)
    for key, val in (
        ("mean_motion_rev_per_day", n_rev), ("eccentricity", ecc), ("inclination_deg", inc),
        ("ra_of_asc_node_deg", rng.uniform(0.0, 360.0, n_gen)),
        ("arg_of_pericenter_deg", rng.uniform(0.0, 360.0, n_gen)),
        ("mean_anomaly_deg", rng.uniform(0.0, 360.0, n_gen)),
    ):  # fmt: skip
        cols[key][sl] = list(val)
    cols["bstar_per_earth_radius"] = list(bstar)
    cols["source"] = [f"generated:leo-sample(seed={seed})"] * n_sat
    return pa.Table.from_pydict(cols, schema=ELEMENTS_SCHEMA)


def solar_activity(epoch: Any, source: str | None = None) -> tuple[str, float]:
    """(band, F10.7a) at ``epoch``: the 81-day centred observed F10.7 [sfu] from the packaged
    CSSI space-weather file (:mod:`starbrain.physics.space_weather`) and its
    :data:`SOLAR_ACTIVITY_BANDS_SFU` label ('low', 'moderate', 'high')."""
    from starbrain.physics.space_weather import DEFAULT_SPACE_WEATHER, space_weather_provider

    jd, fr = timeconv.datetime64_to_jd(np.atleast_1d(timeconv.to_datetime64(epoch)))
    mjd = float(np.floor(np.asarray(jd).ravel()[0] - 2400000.5 + np.asarray(fr).ravel()[0]))
    f107a = float(space_weather_provider(source or DEFAULT_SPACE_WEATHER).get_f107_obs_avg81(mjd))
    band = next(name for name, a, b in SOLAR_ACTIVITY_BANDS_SFU if a <= f107a < b)
    return band, f107a


def _band_label(x: npt.NDArray[np.float64], bands: Any, fmt: str) -> npt.NDArray[np.str_]:
    out = np.full(x.shape, "outside", dtype=object)
    for a, b in bands:
        out[(x >= a) & (x < b)] = fmt.format(a=a, b=b)
    return out.astype(str)


def leo_strata(elements: pa.Table, *, solar: bool = True) -> dict[str, npt.NDArray[np.str_]]:
    """Labels (n,) per stratum for the tables of issue #14: ``family`` ('shell' for rows from
    a constellation preset, 'generic' otherwise; non-LEO rows are their orbit class),
    ``altitude`` (:data:`LEO_ALTITUDE_BANDS_KM`, from the mean motion), ``ballistic``
    (:data:`BALLISTIC_BANDS_M2KG` of Cd*A/m = 12.74 B*) and, with ``solar``, ``solar`` (the
    epoch's activity band, :func:`solar_activity`)."""
    names = np.asarray(elements.column("object_name").to_pylist(), dtype=object)
    cls = orbit_class(elements)
    shell = np.array([str(n).startswith("SIM S") for n in names])
    family = np.where(cls != "LEO", cls, np.where(shell, "shell", "generic")).astype(str)
    n_rev = elements.column("mean_motion_rev_per_day").to_numpy()
    a_km = (WGS84_MU_KM3_S2 * (86400.0 / (2 * np.pi * n_rev)) ** 2) ** (1.0 / 3.0)
    alt = a_km - RADIUS_EARTH_KM
    bstar = np.abs(np.nan_to_num(elements.column("bstar_per_earth_radius").to_numpy(
        zero_copy_only=False).astype(np.float64)))  # fmt: skip
    out = {
        "family": family,
        "altitude": _band_label(alt, LEO_ALTITUDE_BANDS_KM, "{a:.0f}-{b:.0f} km"),
        "ballistic": _band_label(
            BSTAR_TO_BALLISTIC_M2KG * bstar, BALLISTIC_BANDS_M2KG, "CdA/m {a:g}-{b:g} m2/kg"
        ),
    }
    if solar:
        epochs = elements.column("epoch").to_numpy().astype("datetime64[ns]")
        labels = {e: solar_activity(e)[0] for e in np.unique(epochs)}
        out["solar"] = np.array([labels[e] for e in epochs], dtype=str)
    return out


def sample_elements(
    n_sat: int,
    seed: int = 0,
    epoch: Any = DEFAULT_EPOCH,
    starlink_fraction: float = 0.4,
    first_norad: int = 300_001,
    *,
    meo_fraction: float = 0.0,
    geo_fraction: float = 0.0,
    heo_fraction: float = 0.0,
) -> pa.Table:
    """A fixed-seed varied sample of element sets (ELEMENTS_SCHEMA), one common epoch.

    About ``starlink_fraction`` of them are drawn from the ``starlink-gen1`` preset (with B* drawn
    log-uniform in 5e-5..5e-4); ``meo_fraction``, ``geo_fraction`` and ``heo_fraction`` are deep-
    space orbits (SDP4): GNSS-like MEO at 19,000-23,500 km, GEO within 50 km of the geostationary
    radius at 0-15 deg, and HEO (half Molniya-like, half GTO-like, perigees 600-1500 km), with
    B* 1e-5..1e-3 (setting the radiation-pressure area); the rest are LEO at 400-1200 km altitude,
    inclination 0-100 deg, eccentricity 1e-4..1e-2 (log-uniform), B* 1e-5..1e-3 (log-uniform, so
    light to heavy drag). Rows are in that order: Starlink, LEO, MEO, GEO, HEO. With the deep-space
    fractions at 0 the sample is the same as before they existed.
    """
    rng = np.random.default_rng(seed)
    n_star, n_meo, n_geo, n_heo = _orbit_class_counts(
        n_sat, (starlink_fraction, meo_fraction, geo_fraction, heo_fraction)
    )
    n_leo = n_sat - n_star - n_meo - n_geo - n_heo
    preset = generate_preset("starlink-gen1", epoch=epoch)
    pick = np.sort(rng.choice(preset.num_rows, size=n_star, replace=False))
    star = preset.take(pa.array(pick)).to_pydict()
    star["bstar_per_earth_radius"] = list(
        10.0 ** rng.uniform(np.log10(5e-5), np.log10(5e-4), n_star)
    )

    alt = rng.uniform(400.0, 1200.0, n_leo)
    inc = rng.uniform(0.0, 100.0, n_leo)
    ecc = 10.0 ** rng.uniform(-4.0, -2.0, n_leo)
    n_rev = kozai_mean_motion(alt, np.radians(inc), ecc)
    t0 = np.datetime64(timeconv.to_datetime64(epoch), "ns")
    leo: dict[str, list[Any]] = {
        "norad_id": [0] * n_leo,
        "epoch": [None] * n_leo,
        "object_name": [f"LEO-{k + 1:03d}" for k in range(n_leo)],
        "object_id": [None] * n_leo,
        "classification": ["U"] * n_leo,
        "mean_motion_rev_per_day": list(n_rev),
        "eccentricity": list(ecc),
        "inclination_deg": list(inc),
        "ra_of_asc_node_deg": list(rng.uniform(0.0, 360.0, n_leo)),
        "arg_of_pericenter_deg": list(rng.uniform(0.0, 360.0, n_leo)),
        "mean_anomaly_deg": list(rng.uniform(0.0, 360.0, n_leo)),
        "ephemeris_type": [0] * n_leo,
        "element_set_no": [999] * n_leo,
        "rev_at_epoch": [0] * n_leo,
        "bstar_per_earth_radius": list(10.0 ** rng.uniform(-5.0, -3.0, n_leo)),
        "mean_motion_dot_rev_per_day2": [0.0] * n_leo,
        "mean_motion_ddot_rev_per_day3": [0.0] * n_leo,
        "tle_line1": [None] * n_leo,
        "tle_line2": [None] * n_leo,
        "source": [f"generated:truth-sample(seed={seed})"] * n_leo,
    }
    cols: dict[str, list[Any]] = {k: list(star[k]) + leo[k] for k in leo}
    n_deep = n_meo + n_geo + n_heo
    if n_deep:
        deep = _deep_space_elements(rng, n_meo, n_geo, n_heo)
        fill = {**_DEEP_DEFAULTS, "source": f"generated:truth-sample(seed={seed})"}
        for k in leo:
            cols[k] += list(deep[k]) if k in deep else [fill.get(k)] * n_deep
    cols["norad_id"] = list(range(first_norad, first_norad + n_sat))
    cols["epoch"] = pa.array(np.full(n_sat, t0), pa.timestamp("ns", tz="UTC"))
    return pa.Table.from_pydict(cols, schema=ELEMENTS_SCHEMA)


@dataclass
class TruthSet:
    """Truth trajectories of ``n_sat`` satellites at ``n_time`` common times.

    ``times`` (n_time,) UTC datetime64[ns]; ``t_min`` (n_time,) minutes since ``epoch``;
    ``r_teme``/``v_teme`` and ``r_gcrs``/``v_gcrs`` (n_sat, n_time, 3) km, km/s; ``error``
    (n_sat,) numerical-propagator codes (0 = ok); ``elements`` the ELEMENTS_SCHEMA table the
    initial states came from; ``force_model_json`` and ``spacecraft`` document the physics.
    """

    elements: pa.Table
    epoch: np.datetime64
    times: npt.NDArray[np.datetime64]
    t_min: npt.NDArray[np.float64]
    r_teme: npt.NDArray[np.float64]
    v_teme: npt.NDArray[np.float64]
    r_gcrs: npt.NDArray[np.float64]
    v_gcrs: npt.NDArray[np.float64]
    error: npt.NDArray[np.int64]
    force_model_json: str
    spacecraft: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> npt.NDArray[np.bool_]:
        """(n_sat,) satellites whose truth is complete and finite."""
        return (self.error == 0) & np.isfinite(self.r_teme).all(axis=(1, 2))

    def metadata_json(self) -> str:
        """The physics and sampling of this truth set, as JSON (for a registry or a file)."""
        return json.dumps(
            {
                "frame": "TEME and GCRS",
                "epoch": str(self.epoch),
                "n_sat": int(self.r_teme.shape[0]),
                "n_time": int(self.t_min.size),
                "step_min": float(self.t_min[1] - self.t_min[0]) if self.t_min.size > 1 else 0.0,
                "force_model": json.loads(self.force_model_json),
                "spacecraft": self.spacecraft,
            },
            sort_keys=True,
        )

    def subset(self, index: npt.ArrayLike) -> TruthSet:
        """The same truth for the satellites ``index`` only."""
        idx = np.asarray(index)
        return TruthSet(
            self.elements.take(pa.array(idx)), self.epoch, self.times, self.t_min,
            self.r_teme[idx], self.v_teme[idx], self.r_gcrs[idx], self.v_gcrs[idx],
            self.error[idx], self.force_model_json, self.spacecraft,
        )  # fmt: skip


def concat_truth(parts: list[TruthSet]) -> TruthSet:
    """Truth sets of different epochs (same ``t_min`` grid) as one, for training and testing
    across the solar cycle. ``t_min`` is minutes since each satellite's own epoch (its
    elements' ``epoch`` column); ``epoch`` and ``times`` are those of the earliest part, so
    per-satellite absolute times are ``elements.epoch + t_min``. The force models must agree
    (the space weather follows each epoch)."""
    if not parts:
        raise ValueError("no truth sets to concatenate")
    first = min(parts, key=lambda p: p.epoch)
    for p in parts:
        if p.t_min.shape != first.t_min.shape or np.any(p.t_min != first.t_min):
            raise ValueError("truth sets to concatenate need the same t_min grid (days, step)")
        if p.force_model_json != first.force_model_json:
            raise ValueError("truth sets to concatenate need the same force model")

    def cat(attr: str) -> Any:
        return np.concatenate([getattr(p, attr) for p in parts])

    sc: dict[str, Any] = {}
    for key in parts[0].spacecraft:
        vals = [np.broadcast_to(np.asarray(p.spacecraft[key], float), (p.r_teme.shape[0],))
                for p in parts]  # fmt: skip
        sc[key] = np.concatenate(vals).tolist()
    return TruthSet(
        pa.concat_tables([p.elements for p in parts]), first.epoch, first.times, first.t_min,
        cat("r_teme"), cat("v_teme"), cat("r_gcrs"), cat("v_gcrs"), cat("error"),
        first.force_model_json, sc,
    )  # fmt: skip


def _slice_spacecraft(sc: Spacecraft, index: npt.NDArray[np.int64], n_sat: int) -> Spacecraft:
    def take(x: Any) -> Any:
        a = np.asarray(x, dtype=np.float64)
        return a if a.ndim == 0 else np.broadcast_to(a, (n_sat,))[index]

    return Spacecraft(*(take(getattr(sc, f.name)) for f in dataclasses.fields(sc)))


def _truth_shard(
    job: tuple[pa.Table, float, float, ForceModel, Spacecraft, float],
) -> TruthSet:
    """Truth for one shard of satellites (a top-level function, so Ray can ship it)."""
    elements, days, step_min, fm, sc, min_altitude_km = job
    return _generate_truth(elements, days, step_min, fm, sc, min_altitude_km)


def generate_truth(
    elements: pa.Table,
    days: float = 7.0,
    step_min: float = 10.0,
    force_model: ForceModel | None = None,
    spacecraft: Spacecraft | None = None,
    *,
    shards: int = 1,
    ray_address: str | None = None,
    description: str | None = None,
    min_altitude_km: float = 80.0,
) -> TruthSet:
    """Propagate ``elements`` (one common epoch) with full-force physics for ``days``.

    Times are ``0, step_min, ...`` up to ``days`` (inclusive) after the epoch. ``spacecraft``
    defaults to :func:`spacecraft_from_bstar` of the elements' B*. ``shards`` > 1 splits the
    satellites into that many pieces run through :func:`starbrain.cluster.shard_map` (in this
    process, or on Ray with ``ray_address``); the integrator steps each satellite on its own,
    so the result does not depend on the split. ``description`` labels a progress bar.
    ``min_altitude_km``: a satellite that sinks below it is stopped (``error`` set, NaN after;
    a re-entering one otherwise crawls through ever smaller steps down to 80 km).
    """
    if elements.num_rows == 0:
        raise ValueError("no element sets to propagate")
    fm = force_model if force_model is not None else ForceModel()
    if spacecraft is None:
        bstar = elements.column("bstar_per_earth_radius").to_numpy(zero_copy_only=False)
        spacecraft = spacecraft_from_bstar(np.nan_to_num(np.asarray(bstar, dtype=np.float64)))
    n = elements.num_rows
    k = max(1, min(int(shards), n))
    if k == 1 and ray_address is None and description is None:
        return _generate_truth(elements, days, step_min, fm, spacecraft, min_altitude_km)
    from starbrain.cluster import shard_map

    pieces = np.array_split(np.arange(n), k)
    jobs = [
        (elements.take(pa.array(ix)), days, step_min, fm, _slice_spacecraft(spacecraft, ix, n),
         min_altitude_km)
        for ix in pieces
    ]  # fmt: skip
    parts = shard_map(_truth_shard, jobs, ray_address=ray_address, description=description)
    first = parts[0]

    def cat(attr: str) -> Any:
        return np.concatenate([getattr(p, attr) for p in parts])

    return TruthSet(
        elements, first.epoch, first.times, first.t_min, cat("r_teme"), cat("v_teme"),
        cat("r_gcrs"), cat("v_gcrs"), cat("error"), first.force_model_json, spacecraft.to_dict(),
    )  # fmt: skip


def _generate_truth(
    elements: pa.Table, days: float, step_min: float, fm: ForceModel, sc: Spacecraft,
    min_altitude_km: float = 80.0,
) -> TruthSet:  # fmt: skip
    epochs = elements.column("epoch").to_numpy().astype("datetime64[ns]")
    if epochs.size == 0:
        raise ValueError("no element sets to propagate")
    if np.any(epochs != epochs[0]):
        raise ValueError("generate_truth needs one common epoch for all element sets")
    epoch = epochs[0]
    el = Sgp4Elements.from_table(elements, device="cpu")
    with torch.no_grad():
        r0, v0, _ = sgp4_propagate(el, torch.zeros(1, dtype=torch.float64))
    jd0, fr0 = timeconv.datetime64_to_jd(epoch)
    m0 = teme_to_gcrs_matrix(jd0, fr0)[0]
    r0g = r0[:, 0].numpy() @ m0.T
    v0g = v0[:, 0].numpy() @ m0.T

    n_time = int(np.floor(days * 1440.0 / step_min + 1e-9)) + 1
    t_min = np.asarray(np.arange(n_time) * step_min, dtype=np.float64)
    times = epoch + (t_min * 60e9).round().astype("timedelta64[ns]")
    res = propagate_numerical(r0g, v0g, (jd0, fr0), times, force_model=fm, spacecraft=sc,
                              min_altitude_km=min_altitude_km)  # fmt: skip
    jd, fr = timeconv.datetime64_to_jd(times)
    m = teme_to_gcrs_matrix(jd, fr)  # (n_time, 3, 3) TEME -> GCRS
    r_teme = np.einsum("tji,stj->sti", m, res.r)
    v_teme = np.einsum("tji,stj->sti", m, res.v)
    return TruthSet(
        elements, epoch, times, t_min, r_teme, v_teme, np.asarray(res.r), np.asarray(res.v),
        np.asarray(res.error), fm.to_json(), sc.to_dict(),
    )  # fmt: skip
