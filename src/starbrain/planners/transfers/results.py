"""Transfer results and assumptions (:mod:`starbrain.planners.transfers`): the delta-v
assumptions, a grid of transfers (:class:`TransferGrid`), one transfer (:class:`TransferOption`)
and one synodic opportunity (:class:`Opportunity`), with the constants they use."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from starbrain.core.constants import WGS84_A_KM

_NS_PER_DAY = 86_400_000_000_000
# Transfers this close to 180 degrees (deg) are left out of opportunity searches: the NASA
# Earth-Mars handbook's 2026 type I minimum (11.11 km^2/s^2 at a 176.8-degree transfer angle)
# lies on the edge of a band of about this width, and the C3 inside it falls into the ridge's
# narrow "pinch", which is no usable launch period.
RIDGE_MARGIN_DEG = 3.0
_DAY_S = 86_400.0

# Equatorial radii (km), IAU WGCCRE 2015, for parking / capture orbit radii.
RADIUS_KM: dict[str, float] = {
    "mercury": 2440.53,
    "venus": 6051.8,
    "earth": WGS84_A_KM,
    "moon": 1738.1,
    "mars": 3396.19,
    "jupiter": 71492.0,
    "saturn": 60268.0,
    "uranus": 25559.0,
    "neptune": 24764.0,
    "pluto": 1188.3,
}


@dataclass(frozen=True)
class DeltaVAssumptions:
    """How hyperbolic excess velocities become a delta-v budget (impulsive, coplanar).

    ``parking_alt_km``: altitude of the circular parking orbit the departure burn starts from.
    ``capture_periapsis_alt_km`` / ``capture_apoapsis_alt_km``: the orbit captured into at the
    target by one burn at periapsis of the arrival hyperbola; apoapsis ``None`` means circular.
    ``capture=False`` counts no arrival burn (flyby, direct entry or aerocapture).
    """

    parking_alt_km: float = 200.0
    capture: bool = True
    capture_periapsis_alt_km: float = 300.0
    capture_apoapsis_alt_km: float | None = None


@dataclass(frozen=True)
class TransferGrid:
    """Transfers for broadcast launch x arrival times; every array has the same shape.

    From :func:`porkchop` the shape is ``(n_launch, n_arrival)`` with ``launch[:, 0]`` and
    ``arrival[0, :]`` the axes. Cells with arrival before launch, or without a Lambert solution,
    hold NaN and ``converged == False``.
    """

    departure: str
    target: str
    launch: npt.NDArray[np.datetime64]
    arrival: npt.NDArray[np.datetime64]
    tof_days: npt.NDArray[np.float64]
    c3_km2_s2: npt.NDArray[np.float64]
    vinf_dep_kms: npt.NDArray[np.float64]
    vinf_arr_kms: npt.NDArray[np.float64]
    dla_rad: npt.NDArray[np.float64]
    rla_rad: npt.NDArray[np.float64]
    transfer_angle_rad: npt.NDArray[np.float64]
    dv_departure_kms: npt.NDArray[np.float64]
    dv_arrival_kms: npt.NDArray[np.float64]
    dv_total_kms: npt.NDArray[np.float64]
    converged: npt.NDArray[np.bool_]
    assumptions: DeltaVAssumptions = field(default_factory=DeltaVAssumptions)

    @property
    def transfer_type(self) -> npt.NDArray[np.int8]:
        """1 (angle < 180 deg) or 2 (angle > 180 deg) per cell; 0 where not converged."""
        t = np.where(self.transfer_angle_rad < math.pi, 1, 2).astype(np.int8)
        return np.where(self.converged, t, 0).astype(np.int8)

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.c3_km2_s2.shape)

    def option(self, index: tuple[int, ...]) -> TransferOption:
        """The transfer in one cell, as a :class:`TransferOption`."""
        return TransferOption(
            departure=self.departure,
            target=self.target,
            launch=self.launch[index],
            arrival=self.arrival[index],
            tof_days=float(self.tof_days[index]),
            c3_km2_s2=float(self.c3_km2_s2[index]),
            vinf_dep_kms=float(self.vinf_dep_kms[index]),
            vinf_arr_kms=float(self.vinf_arr_kms[index]),
            dla_rad=float(self.dla_rad[index]),
            rla_rad=float(self.rla_rad[index]),
            transfer_angle_rad=float(self.transfer_angle_rad[index]),
            dv_total_kms=float(self.dv_total_kms[index]),
        )

    def best(
        self,
        objective: str = "c3",
        transfer_type: int | None = None,
        *,
        ridge_margin_deg: float = 0.0,
    ) -> TransferOption:
        """The grid cell minimising ``objective`` (``"c3"``, ``"dv"`` or ``"vinf_arr"``),
        optionally among type 1 or type 2 transfers only, and skipping cells whose transfer
        angle is within ``ridge_margin_deg`` of 180 degrees. Raises ``ValueError`` if none."""
        values = _objective_values(self, objective)
        ok = self.converged & np.isfinite(values)
        if transfer_type is not None:
            ok &= self.transfer_type == transfer_type
        if ridge_margin_deg > 0.0:
            ok &= np.abs(self.transfer_angle_rad - math.pi) >= math.radians(ridge_margin_deg)
        if not ok.any():
            kind = "" if transfer_type is None else f" type {transfer_type}"
            raise ValueError(f"no converged{kind} transfer in this grid")
        flat = np.where(ok, values, np.inf).argmin()
        return self.option(tuple(int(i) for i in np.unravel_index(flat, self.shape)))


@dataclass(frozen=True)
class TransferOption:
    """One ballistic transfer: dates, energies and geometry (units in the field names)."""

    departure: str
    target: str
    launch: np.datetime64
    arrival: np.datetime64
    tof_days: float
    c3_km2_s2: float
    vinf_dep_kms: float
    vinf_arr_kms: float
    dla_rad: float
    rla_rad: float
    transfer_angle_rad: float
    dv_total_kms: float

    @property
    def transfer_type(self) -> int:
        return 1 if self.transfer_angle_rad < math.pi else 2

    def as_row(self) -> dict[str, Any]:
        """Plain values for tables and JSON: ISO dates, degrees at the edge."""
        return {
            "departure": self.departure,
            "target": self.target,
            "type": self.transfer_type,
            "launch": str(self.launch.astype("datetime64[s]")),
            "arrival": str(self.arrival.astype("datetime64[s]")),
            "tof_days": round(self.tof_days, 2),
            "c3_km2_s2": round(self.c3_km2_s2, 3),
            "vinf_arr_kms": round(self.vinf_arr_kms, 3),
            "dla_deg": round(math.degrees(self.dla_rad), 2),
            "rla_deg": round(math.degrees(self.rla_rad) % 360.0, 2),
            "dv_total_kms": round(self.dv_total_kms, 3),
        }


@dataclass(frozen=True)
class Opportunity:
    """One synodic opportunity: its reference date and minimum-C3 type I and type II transfers.

    ``center`` is the date at which the target leads (or trails) the departure planet by the
    Hohmann phase angle for their mean orbit radii; ``type1`` / ``type2`` are ``None`` when that
    type has no converged transfer in the searched region. ``typeN_boundary`` names the edge
    that minimum lies on after the search was widened (``"180-degree ridge"``, ``"launch
    span"``, ``"time of flight"`` or ``"unconverged neighbour"``), ``""`` for an interior
    minimum; ``typeN_on_boundary`` is ``bool(typeN_boundary)``. On a boundary, the opportunity
    has no interior minimum of that type in the searched region (the 2026 Earth-Mars type I,
    for instance, runs down into the "pinch" of the 180-degree ridge).
    """

    center: np.datetime64
    type1: TransferOption | None
    type2: TransferOption | None
    type1_on_boundary: bool = False
    type2_on_boundary: bool = False
    type1_boundary: str = ""
    type2_boundary: str = ""

    @property
    def best(self) -> TransferOption | None:
        """The lower-C3 of the type I and type II minima."""
        opts = [o for o in (self.type1, self.type2) if o is not None]
        return min(opts, key=lambda o: o.c3_km2_s2) if opts else None

    @property
    def year(self) -> int:
        """The opportunity's name: the launch year of :attr:`best` (of ``center`` if none);
        the Earth-Mars opportunity launching in Nov-Dec 2028 is "2028" although its reference
        date falls in January 2029."""
        t = self.best.launch if self.best is not None else self.center
        return int(str(t)[:4])


def _objective_values(grid: TransferGrid, objective: str) -> npt.NDArray[np.float64]:
    if objective == "c3":
        return grid.c3_km2_s2
    if objective == "dv":
        return grid.dv_total_kms
    if objective == "vinf_arr":
        return grid.vinf_arr_kms
    raise ValueError(f"objective must be 'c3', 'dv' or 'vinf_arr', not {objective!r}")
