"""Ballistic interplanetary transfers: porkchop grids, optimal windows and synodic opportunities.

Every transfer here is a single heliocentric conic (zero-revolution, prograde Lambert arc) from
the departure planet's centre at launch to the target planet's centre at arrival (or from / to a
planet's system barycentre, ``"earth barycenter"``, as the NASA handbooks do), with planet
positions from DE421 (:mod:`starbrain.physics.ephemeris`) and the Sun's GM. This is the patched
conic model of the NASA / JPL mission-design handbooks (e.g. Sergeyevsky, Snyder and Cunniff,
*Interplanetary Mission Design Handbook*, JPL Publication 82-43, 1983): departure and arrival are
described by their hyperbolic excess velocities only.

Quantities (arrays broadcast over launch x arrival):

* ``c3_km2_s2``: launch energy, the square of the departure v-infinity.
* ``vinf_arr_kms``: arrival v-infinity magnitude.
* ``dla_rad`` / ``rla_rad``: declination / right ascension of the departure asymptote in the
  Earth's equator frame (ICRF), as in the handbooks' DLA / RLA contours.
* ``transfer_angle_rad``: heliocentric angle swept by the arc, in (0, 2 pi); **type I** below
  pi (180 deg), **type II** above.
* ``dv_total_kms``: impulsive delta-v under :class:`DeltaVAssumptions`: an Oberth-efficient burn
  from a circular parking orbit (default 200 km altitude) onto the departure hyperbola, plus,
  unless capture is switched off, a periapsis burn from the arrival hyperbola into a stated
  capture orbit (default 300 km circular). Gravity losses, plane changes at departure (launch-site
  latitude vs DLA), navigation and margins are not included.

Times are UTC ``datetime64[ns]`` at the edges and split Julian dates inside.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
import numpy.typing as npt

from starbrain.core import timeconv
from starbrain.physics import ephemeris
from starbrain.physics.lambert import solve_lambert

__all__ = [
    "DeltaVAssumptions",
    "Opportunity",
    "TransferGrid",
    "TransferOption",
    "evaluate_transfers",
    "optimize_transfer",
    "porkchop",
    "porkchop_for_window",
    "transfer_opportunities",
    "windows_table",
]

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
    "earth": 6378.137,
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


# --------------------------------------------------------------------------- evaluation


def _states(body: str, ns: npt.NDArray[np.int64]) -> tuple[Any, Any]:
    """Heliocentric ecliptic state at UTC nanoseconds, computed once per distinct time."""
    uniq, inv = np.unique(ns.ravel(), return_inverse=True)
    jd, fr = timeconv.datetime64_to_jd(uniq.astype("datetime64[ns]"))
    r, v = ephemeris.heliocentric_state(body, jd, fr, frame="ecliptic")
    return r[inv].reshape(*ns.shape, 3), v[inv].reshape(*ns.shape, 3)


_BARY = " barycenter"


def _planet_key(name: str) -> str:
    """Ephemeris key of a departure or target point: a planet (its centre, e.g. ``"earth"``)
    or a planet's system barycentre (``"earth barycenter"``, the Earth-Moon barycentre)."""
    key = " ".join(name.strip().lower().replace("barycentre", "barycenter").split())
    planet = key.removesuffix(_BARY)
    if planet not in ephemeris.GM_KM3_S2 or planet not in RADIUS_KM:
        raise ValueError(
            f"unknown planet {name!r}; choose one of {', '.join(sorted(RADIUS_KM))} "
            "(or '<planet> barycenter')"
        )
    return key


def _planet_of(key: str) -> str:
    """The planet whose GM and radius the burns at ``key`` (a :func:`_planet_key`) use."""
    return key.removesuffix(_BARY)


def _dv_from_vinf(vinf: Any, mu: float, r_peri: float, r_apo: float | None) -> Any:
    """Periapsis burn between a hyperbola of excess speed vinf and an orbit (r_peri, r_apo)."""
    r_apo = r_peri if r_apo is None else r_apo
    a = 0.5 * (r_peri + r_apo)
    v_hyp = np.sqrt(vinf**2 + 2.0 * mu / r_peri)
    v_orb = np.sqrt(mu * (2.0 / r_peri - 1.0 / a))
    return v_hyp - v_orb


def evaluate_transfers(
    launch: Any,
    arrival: Any,
    *,
    departure: str = "earth",
    target: str = "mars",
    assumptions: DeltaVAssumptions | None = None,
    device: str | None = None,
) -> TransferGrid:
    """Zero-revolution prograde Lambert transfers for broadcast launch and arrival UTC times.

    ``launch`` and ``arrival`` are anything :func:`starbrain.timeconv.to_datetime64` reads,
    broadcast together (``launch[:, None]`` against ``arrival[None, :]`` gives a porkchop).
    ``device`` (``"cpu"``, ``"cuda"``) runs the Lambert batch in PyTorch; the default is NumPy.
    """
    dep = _planet_key(departure)
    tgt = _planet_key(target)
    assumptions = assumptions or DeltaVAssumptions()
    l_ns, a_ns = np.broadcast_arrays(timeconv.to_ns(launch), timeconv.to_ns(arrival))
    r1, vp1 = _states(dep, l_ns)
    r2, vp2 = _states(tgt, a_ns)
    tof_s = (a_ns - l_ns).astype(np.float64) / 1e9
    tof_pos = np.where(tof_s > 0.0, tof_s, np.nan)
    if device is None:
        sol = solve_lambert(r1, r2, tof_pos, ephemeris.MU_SUN_KM3_S2)
        v1, v2, ok = sol.v1, sol.v2, sol.converged
    else:
        import torch

        sol = solve_lambert(
            torch.as_tensor(r1, device=device),
            torch.as_tensor(r2, device=device),
            torch.as_tensor(tof_pos, device=device),
            ephemeris.MU_SUN_KM3_S2,
        )
        v1 = sol.v1.cpu().numpy()
        v2 = sol.v2.cpu().numpy()
        ok = sol.converged.cpu().numpy()
    vinf_dep = v1 - vp1
    vinf_arr_vec = v2 - vp2
    c3 = np.sum(vinf_dep**2, axis=-1)
    vinf_arr = np.linalg.norm(vinf_arr_vec, axis=-1)
    vd_eq = ephemeris.ecliptic_to_icrf(vinf_dep)
    vinf_dep_mag = np.sqrt(c3)
    with np.errstate(invalid="ignore", divide="ignore"):
        dla = np.arcsin(np.clip(vd_eq[..., 2] / vinf_dep_mag, -1.0, 1.0))
    rla = np.mod(np.arctan2(vd_eq[..., 1], vd_eq[..., 0]), 2.0 * math.pi)
    hz = r1[..., 0] * r2[..., 1] - r1[..., 1] * r2[..., 0]
    cosang = np.sum(r1 * r2, axis=-1)
    sinang = np.linalg.norm(np.cross(r1, r2), axis=-1)
    angle = np.arctan2(sinang, cosang)
    angle = np.where(hz >= 0.0, angle, 2.0 * math.pi - angle)
    p_dep, p_tgt = _planet_of(dep), _planet_of(tgt)
    mu_d = ephemeris.GM_KM3_S2[p_dep]
    mu_t = ephemeris.GM_KM3_S2[p_tgt]
    r_park = RADIUS_KM[p_dep] + assumptions.parking_alt_km
    dv_dep = _dv_from_vinf(vinf_dep_mag, mu_d, r_park, None)
    if assumptions.capture:
        apo = assumptions.capture_apoapsis_alt_km
        dv_arr = _dv_from_vinf(
            vinf_arr,
            mu_t,
            RADIUS_KM[p_tgt] + assumptions.capture_periapsis_alt_km,
            None if apo is None else RADIUS_KM[p_tgt] + apo,
        )
    else:
        dv_arr = np.zeros_like(vinf_arr)
    nan = np.nan
    return TransferGrid(
        departure=dep,
        target=tgt,
        launch=l_ns.astype("datetime64[ns]"),
        arrival=a_ns.astype("datetime64[ns]"),
        tof_days=tof_s / _DAY_S,
        c3_km2_s2=np.where(ok, c3, nan),
        vinf_dep_kms=np.where(ok, vinf_dep_mag, nan),
        vinf_arr_kms=np.where(ok, vinf_arr, nan),
        dla_rad=np.where(ok, dla, nan),
        rla_rad=np.where(ok, rla, nan),
        transfer_angle_rad=np.where(ok, angle, nan),
        dv_departure_kms=np.where(ok, dv_dep, nan),
        dv_arrival_kms=np.where(ok, dv_arr, nan),
        dv_total_kms=np.where(ok, dv_dep + dv_arr, nan),
        converged=np.asarray(ok, dtype=bool),
        assumptions=assumptions,
    )


def _day_grid(start: Any, end: Any, step_days: float) -> npt.NDArray[np.datetime64]:
    s = int(timeconv.to_ns(start))
    e = int(timeconv.to_ns(end))
    if e < s:
        raise ValueError(f"the span starts at {start} but ends earlier, at {end}")
    step = round(step_days * _NS_PER_DAY)
    if step <= 0:
        raise ValueError(f"step_days must be positive, not {step_days}")
    # Integer count: np.arange's float length computation loses the end at ns resolution.
    count = (e - s) // step + 1
    return (s + step * np.arange(count, dtype=np.int64)).astype("datetime64[ns]")


def porkchop(
    launch_start: Any,
    launch_end: Any,
    arrival_start: Any,
    arrival_end: Any,
    *,
    step_days: float = 2.0,
    departure: str = "earth",
    target: str = "mars",
    assumptions: DeltaVAssumptions | None = None,
    device: str | None = None,
) -> TransferGrid:
    """Launch-date x arrival-date grid of transfers (shape ``(n_launch, n_arrival)``).

    Dates are UTC (strings, datetimes or ``datetime64``); both axes are sampled every
    ``step_days`` from their start, ends included when they fall on the step.
    """
    launch = _day_grid(launch_start, launch_end, step_days)
    arrival = _day_grid(arrival_start, arrival_end, step_days)
    return evaluate_transfers(
        launch[:, None],
        arrival[None, :],
        departure=departure,
        target=target,
        assumptions=assumptions,
        device=device,
    )


# --------------------------------------------------------------------------- optimisation


def _objective_values(grid: TransferGrid, objective: str) -> npt.NDArray[np.float64]:
    if objective == "c3":
        return grid.c3_km2_s2
    if objective == "dv":
        return grid.dv_total_kms
    if objective == "vinf_arr":
        return grid.vinf_arr_kms
    raise ValueError(f"objective must be 'c3', 'dv' or 'vinf_arr', not {objective!r}")


def optimize_transfer(
    launch_guess: Any,
    arrival_guess: Any,
    *,
    objective: str = "c3",
    transfer_type: int | None = None,
    departure: str = "earth",
    target: str = "mars",
    assumptions: DeltaVAssumptions | None = None,
    max_shift_days: float = 60.0,
    ridge_margin_deg: float = 0.0,
    tol_days: float = 1e-3,
) -> TransferOption:
    """Refine a transfer from a grid guess by local minimisation (scipy Nelder-Mead).

    Minimises ``objective`` (``"c3"``, ``"dv"``, ``"vinf_arr"``) over launch and arrival dates,
    staying within ``max_shift_days`` of the guesses and, if ``transfer_type`` is 1 or 2, on
    that side of the 180-degree transfer angle and at least ``ridge_margin_deg`` away from it.
    Returns the best point found (at worst the guess).
    """
    from scipy.optimize import minimize

    base_l = int(timeconv.to_ns(launch_guess))
    base_a = int(timeconv.to_ns(arrival_guess))
    margin = math.radians(ridge_margin_deg)

    def at(p: npt.NDArray[np.float64]) -> TransferGrid:
        ln = np.array([base_l + round(p[0] * _NS_PER_DAY)], dtype=np.int64)
        an = np.array([base_a + round(p[1] * _NS_PER_DAY)], dtype=np.int64)
        return evaluate_transfers(
            ln.astype("datetime64[ns]"),
            an.astype("datetime64[ns]"),
            departure=departure,
            target=target,
            assumptions=assumptions,
        )

    def cost(p: npt.NDArray[np.float64]) -> float:
        if np.any(np.abs(p) > max_shift_days):
            return 1e12
        g = at(p)
        val = float(_objective_values(g, objective)[0])
        if not g.converged[0] or not math.isfinite(val):
            return 1e12
        if transfer_type is not None and int(g.transfer_type[0]) != transfer_type:
            return 1e12
        if abs(float(g.transfer_angle_rad[0]) - math.pi) < margin:
            return 1e12
        return val

    start = np.zeros(2)
    best = minimize(
        cost,
        start,
        method="Nelder-Mead",
        options={
            "xatol": tol_days,
            "fatol": 1e-9,
            "initial_simplex": np.array([[0.0, 0.0], [2.0, 0.0], [0.0, 2.0]]),
            "maxiter": 400,
        },
    )
    p = best.x if best.fun <= cost(start) else start
    g = at(p)
    if not g.converged[0]:
        raise ValueError(
            f"no converged transfer near launch {launch_guess} / arrival {arrival_guess}"
        )
    return g.option((0,))


# --------------------------------------------------------------------------- opportunities


def _hohmann(dep: str, tgt: str, around_ns: npt.NDArray[np.int64]) -> tuple[float, float, float]:
    """Hohmann time (days), target lead angle at departure (rad) and synodic period (days)
    for the two planets' mean heliocentric distances over the sampled times."""
    r_d, _ = _states(dep, around_ns)
    r_t, _ = _states(tgt, around_ns)
    a_d = float(np.mean(np.linalg.norm(r_d, axis=-1)))
    a_t = float(np.mean(np.linalg.norm(r_t, axis=-1)))
    mu = ephemeris.MU_SUN_KM3_S2
    t_h = math.pi * math.sqrt((0.5 * (a_d + a_t)) ** 3 / mu)
    p_d = 2.0 * math.pi * math.sqrt(a_d**3 / mu)
    p_t = 2.0 * math.pi * math.sqrt(a_t**3 / mu)
    phase = math.pi - 2.0 * math.pi * t_h / p_t
    synodic = 1.0 / abs(1.0 / p_d - 1.0 / p_t)
    return t_h / _DAY_S, phase, synodic / _DAY_S


def _phase_centers(dep: str, tgt: str, start_ns: int, end_ns: int, phase: float) -> list[int]:
    """UTC ns at which the target's ecliptic longitude leads the departure planet's by
    ``phase``, moving in the sense of their relative motion, between start and end."""
    step = _NS_PER_DAY
    ns = np.arange(start_ns, end_ns + step, step, dtype=np.int64)
    r_d, _ = _states(dep, ns)
    r_t, _ = _states(tgt, ns)
    lon = np.arctan2(r_t[:, 1], r_t[:, 0]) - np.arctan2(r_d[:, 1], r_d[:, 0])
    f = np.angle(np.exp(1j * (lon - phase)))
    centers = []
    for i in range(len(f) - 1):
        a, b = f[i], f[i + 1]
        if (a == 0.0 or a * b < 0.0) and abs(b - a) < math.pi:
            frac = a / (a - b) if a != b else 0.0
            centers.append(int(ns[i] + frac * step))
    return centers


# How often a search whose minimum lies on the edge of the launch span or of the time-of-flight
# range is widened and repeated, by what factor, and how far the launch span may grow (in
# synodic periods: beyond ~0.45 the next opportunity's minima come into the span).
_WIDEN_TRIES = 3
_WIDEN_FACTOR = 2.0
_MAX_SPAN_SYNODIC = 0.45
# A refined minimum closer than this to the excluded band about 180 degrees is on its edge.
_RIDGE_TOL_RAD = 1e-3


def _grid_edge(
    ok: npt.NDArray[np.bool_], excluded_ridge: npt.NDArray[np.bool_], index: tuple[int, int]
) -> str:
    """Which boundary the grid minimum at ``index`` (launch, tof) touches, or ``""``.

    The minimum is interior when all 8 neighbours lie in the grid and in the searched region
    (converged, of the same type, outside the excluded band about 180 degrees)."""
    i, j = index
    n, m = ok.shape
    if i == 0 or i == n - 1:
        return "launch span"
    if j == 0 or j == m - 1:
        return "time of flight"
    if ok[i - 1 : i + 2, j - 1 : j + 2].all():
        return ""
    if excluded_ridge[i - 1 : i + 2, j - 1 : j + 2].any():
        return "180-degree ridge"
    return "unconverged neighbour"


def _search_opportunity(
    dep: str,
    tgt: str,
    center_ns: int,
    span_days: float,
    tof_range_days: tuple[float, float],
    step_days: float,
    refine: bool,
    ridge_margin_deg: float,
    assumptions: DeltaVAssumptions | None,
    synodic_days: float = math.inf,
) -> Opportunity:
    """Minimum-C3 type I and II transfers around one reference date.

    Launch dates within ``span_days`` of ``center_ns`` and times of flight in
    ``tof_range_days`` are searched on a ``step_days`` grid; a type whose grid minimum lies on
    the edge of the launch span or of the time-of-flight range is searched again on that range
    doubled (at most 3 times, the span at most 0.45 ``synodic_days``). The grid
    minimum is then refined by :func:`optimize_transfer`, again until it no longer stops at the
    optimiser's bound. What is still on a boundary (the 180-degree band cannot be widened) is
    reported in ``typeN_boundary``, never silently.
    """
    center = np.datetime64(center_ns, "ns")
    margin_rad = math.radians(ridge_margin_deg)
    picks: list[TransferOption | None] = []
    edges: list[str] = []
    grids: dict[tuple[float, float, float], TransferGrid] = {}

    def grid_for(span: float, tof_lo: float, tof_hi: float) -> TransferGrid:
        if (span, tof_lo, tof_hi) not in grids:
            half = np.timedelta64(int(span * _NS_PER_DAY), "ns")
            launch = _day_grid(center - half, center + half, step_days)
            tof = np.arange(tof_lo, tof_hi + 1e-9, step_days)
            arrival = launch[:, None] + (tof[None, :] * _NS_PER_DAY).astype("timedelta64[ns]")
            grids[(span, tof_lo, tof_hi)] = evaluate_transfers(
                launch[:, None], arrival, departure=dep, target=tgt, assumptions=assumptions
            )
        return grids[(span, tof_lo, tof_hi)]

    for kind in (1, 2):
        span = span_days
        tof_lo, tof_hi = tof_range_days
        guess: TransferOption | None = None
        edge = ""
        for _ in range(_WIDEN_TRIES + 1):
            grid = grid_for(span, tof_lo, tof_hi)
            values = grid.c3_km2_s2
            near_ridge = np.abs(grid.transfer_angle_rad - math.pi) < margin_rad
            ok = grid.converged & np.isfinite(values) & (grid.transfer_type == kind) & ~near_ridge
            if not ok.any():
                guess = None
                break
            flat = int(np.where(ok, values, np.inf).argmin())
            index = (int(flat // ok.shape[1]), int(flat % ok.shape[1]))
            guess = grid.option(index)
            other = grid.converged & (grid.transfer_type != kind) & (grid.transfer_type != 0)
            edge = _grid_edge(ok, near_ridge | other, index)
            if edge not in ("launch span", "time of flight"):
                break
            # Widen every axis whose edge the minimum touches: the launch span (about the
            # reference date) and the side of the time-of-flight range, _WIDEN_FACTOR times.
            i, j = index
            widened = False
            if i in (0, ok.shape[0] - 1) and span < _MAX_SPAN_SYNODIC * synodic_days:
                span = min(span * _WIDEN_FACTOR, _MAX_SPAN_SYNODIC * synodic_days)
                widened = True
            width = (_WIDEN_FACTOR - 1.0) * (tof_hi - tof_lo)
            if j == 0 and tof_lo > step_days:
                tof_lo = max(step_days, tof_lo - width)
                widened = True
            elif j == ok.shape[1] - 1:
                tof_hi += width
                widened = True
            if not widened:
                break
        if guess is None:
            picks.append(None)
            edges.append("")
            continue
        if refine:
            shift = 4.0 * step_days
            for _ in range(_WIDEN_TRIES + 1):
                new = optimize_transfer(
                    guess.launch,
                    guess.arrival,
                    objective="c3",
                    transfer_type=kind,
                    departure=dep,
                    target=tgt,
                    assumptions=assumptions,
                    max_shift_days=shift,
                    ridge_margin_deg=ridge_margin_deg,
                )
                moved = max(
                    abs(float((new.launch - guess.launch) / np.timedelta64(1, "D"))),
                    abs(float((new.arrival - guess.arrival) / np.timedelta64(1, "D"))),
                )
                guess = new
                if moved < shift - 0.01:
                    break
            if abs(guess.transfer_angle_rad - math.pi) < margin_rad + _RIDGE_TOL_RAD:
                edge = "180-degree ridge"
        picks.append(guess)
        edges.append(edge)
    return Opportunity(
        center=center,
        type1=picks[0],
        type2=picks[1],
        type1_on_boundary=bool(edges[0]),
        type2_on_boundary=bool(edges[1]),
        type1_boundary=edges[0],
        type2_boundary=edges[1],
    )


@lru_cache(maxsize=32)
def _search_defaults(dep: str, tgt: str) -> tuple[float, float, float]:
    """Hohmann time (days), phase (rad) and synodic period (days) from the planets' mean
    distances over 1950-2050, so that opportunity dates do not depend on the query."""
    start = int(timeconv.to_ns("1950-01-01"))
    end = int(timeconv.to_ns("2050-01-01"))
    sample = np.linspace(start, end, 4001).astype(np.int64)
    return _hohmann(dep, tgt, sample)


def transfer_opportunities(
    start: Any,
    end: Any,
    *,
    departure: str = "earth",
    target: str = "mars",
    launch_span_days: float | None = None,
    tof_range_days: tuple[float, float] | None = None,
    grid_step_days: float = 2.0,
    refine: bool = True,
    ridge_margin_deg: float = RIDGE_MARGIN_DEG,
    assumptions: DeltaVAssumptions | None = None,
) -> list[Opportunity]:
    """Synodic opportunities whose reference date lies in ``[start, end]``, each with its
    minimum-C3 type I and type II transfers.

    For each opportunity, launch dates within ``launch_span_days`` of the reference date
    (default: 20 % of the synodic period, ~156 days for Mars) and times of flight in
    ``tof_range_days`` (default 0.3 to 1.9 Hohmann times, ~78 to 492 days for Mars) are
    searched on a ``grid_step_days`` grid, then refined with :func:`optimize_transfer`; a
    minimum on the edge of the launch span or time-of-flight range widens that range and the
    search is repeated (see :func:`_search_opportunity`).
    Transfers within ``ridge_margin_deg`` of 180 degrees are left out: there the transfer plane,
    and with it C3, swings with the dates, and the low-C3 "pinch" where the 180-degree line
    meets the line of nodes is not a usable window. A minimum that still lies on a boundary
    (in practice only the excluded band: the 2026 Earth-Mars type I has no interior minimum,
    its C3 falls all the way into the pinch) is flagged in ``typeN_boundary``.

    ``departure="earth barycenter"`` departs from the Earth-Moon barycentre, the convention of
    the NASA Earth-Mars handbook (NASA/TM-2010-216764), whose 2026-2035 minima this reproduces
    to 0.1 % in C3 (0.3 % for the 2026 type I, on the ridge band's edge); from the Earth's
    centre (the default) C3 differs by up to 0.08 km^2/s^2 (1 %), the Earth's 12.5 m/s monthly
    motion about the barycentre.
    """
    dep = _planet_key(departure)
    tgt = _planet_key(target)
    s_ns = int(timeconv.to_ns(start))
    e_ns = int(timeconv.to_ns(end))
    if e_ns < s_ns:
        raise ValueError(f"your start {start} is later than your end {end}")
    t_h, phase, synodic = _search_defaults(dep, tgt)
    span = 0.2 * synodic if launch_span_days is None else float(launch_span_days)
    tof_lo, tof_hi = (0.3 * t_h, 1.9 * t_h) if tof_range_days is None else tof_range_days
    if not 0 < tof_lo < tof_hi:
        raise ValueError(f"tof_range_days must be increasing and positive, not {tof_range_days}")
    return [
        _search_opportunity(
            dep,
            tgt,
            c,
            span,
            (tof_lo, tof_hi),
            grid_step_days,
            refine,
            ridge_margin_deg,
            assumptions,
            synodic,
        )
        for c in _phase_centers(dep, tgt, s_ns, e_ns, phase)
    ]


def _opportunities_by_year(
    start_year: int,
    end_year: int,
    departure: str,
    target: str,
    *,
    refine: bool,
    grid_step_days: float = 2.0,
    assumptions: DeltaVAssumptions | None = None,
    ridge_margin_deg: float = RIDGE_MARGIN_DEG,
) -> list[Opportunity]:
    """Opportunities whose :attr:`Opportunity.year` lies in ``[start_year, end_year]``."""
    dep = _planet_key(departure)
    tgt = _planet_key(target)
    _, _, synodic = _search_defaults(dep, tgt)
    # Launch dates lie within 0.2 synodic periods of the reference date (the search span).
    pad = np.timedelta64(int(0.21 * synodic * _NS_PER_DAY), "ns")
    first, last = ephemeris.de421_coverage()
    lo = max(np.datetime64(f"{start_year:04d}-01-01", "ns") - pad, first)
    hi = min(np.datetime64(f"{end_year:04d}-12-31T23:59:59", "ns") + pad, last)
    opps = transfer_opportunities(
        lo,
        hi,
        departure=dep,
        target=tgt,
        refine=refine,
        grid_step_days=grid_step_days,
        assumptions=assumptions,
        ridge_margin_deg=ridge_margin_deg,
    )
    return [o for o in opps if start_year <= o.year <= end_year]


def windows_table(
    start_year: int,
    end_year: int,
    *,
    departure: str = "earth",
    target: str = "mars",
    refine: bool = True,
    ridge_margin_deg: float = RIDGE_MARGIN_DEG,
) -> list[dict[str, Any]]:
    """Rows for ``starbrain mars windows --from START --to END``: one row per opportunity and
    transfer type for opportunities named (:attr:`Opportunity.year`) ``start_year`` to
    ``end_year`` inclusive,
    with ISO dates, C3, arrival v-infinity, DLA and delta-v (see :class:`TransferOption`),
    ``on_boundary`` and ``boundary`` (which edge, ``""`` when interior; see
    :class:`Opportunity`). ``departure`` and ``ridge_margin_deg`` as in
    :func:`transfer_opportunities`."""
    if end_year < start_year:
        raise ValueError(f"--to {end_year} is before --from {start_year}")
    opps = _opportunities_by_year(
        start_year, end_year, departure, target, refine=refine, ridge_margin_deg=ridge_margin_deg
    )
    rows = []
    for opp in opps:
        for option, edge in ((opp.type1, opp.type1_boundary), (opp.type2, opp.type2_boundary)):
            if option is None:
                continue
            row: dict[str, Any] = {"opportunity": str(opp.center.astype("datetime64[D]"))}
            row.update(option.as_row())
            row["on_boundary"] = bool(edge)
            row["boundary"] = edge
            rows.append(row)
    return rows


def porkchop_for_window(
    year: int,
    *,
    departure: str = "earth",
    target: str = "mars",
    step_days: float = 2.0,
    margin_days: float = 60.0,
    assumptions: DeltaVAssumptions | None = None,
) -> TransferGrid:
    """Porkchop grid for the opportunity named ``year`` (:attr:`Opportunity.year`; for
    ``starbrain mars porkchop --window YEAR``): launch and arrival spans cover its minimum-C3
    type I and type II transfers (from a coarse, unrefined search) with ``margin_days`` on each
    side. Raises ``ValueError`` if that year has no opportunity."""
    opps = _opportunities_by_year(
        year,
        year,
        departure,
        target,
        refine=False,
        grid_step_days=max(step_days, 4.0),
        assumptions=assumptions,
    )
    if not opps:
        raise ValueError(f"no {departure}-{target} opportunity launches in {year}")
    opts = [o for o in (opps[0].type1, opps[0].type2) if o is not None]
    if not opts:
        raise ValueError(f"no converged {departure}-{target} transfer found around {year}")
    margin = np.timedelta64(int(margin_days * _NS_PER_DAY), "ns")
    launches = np.array([o.launch for o in opts], dtype="datetime64[ns]")
    arrivals = np.array([o.arrival for o in opts], dtype="datetime64[ns]")
    return porkchop(
        launches.min() - margin,
        launches.max() + margin,
        arrivals.min() - margin,
        arrivals.max() + margin,
        step_days=step_days,
        departure=departure,
        target=target,
        assumptions=assumptions,
    )
