"""Synodic opportunities (:mod:`starbrain.planners.transfers`): the reference dates of each
launch window, the search for the minimum-C3 type I and II transfers around one, and the
windows of a range of years as a table."""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import numpy as np
import numpy.typing as npt

from starbrain.core import timeconv
from starbrain.physics import ephemeris
from starbrain.planners.transfers.grid import (
    _day_grid,
    _planet_key,
    _states,
    evaluate_transfers,
    optimize_transfer,
    porkchop,
)
from starbrain.planners.transfers.results import (
    _DAY_S,
    _NS_PER_DAY,
    RIDGE_MARGIN_DEG,
    DeltaVAssumptions,
    Opportunity,
    TransferGrid,
    TransferOption,
)


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


def _widen(
    index: tuple[int, int],
    shape: tuple[int, int],
    span: float,
    tof: tuple[float, float],
    step_days: float,
    synodic_days: float,
) -> tuple[float, tuple[float, float], bool]:
    """Widen every axis whose edge the grid minimum at ``index`` touches: the launch span
    (about the reference date, at most 0.45 ``synodic_days``) and the side of the
    time-of-flight range, ``_WIDEN_FACTOR`` times. Returns the new span, range and whether
    anything was widened."""
    i, j = index
    tof_lo, tof_hi = tof
    widened = False
    if i in (0, shape[0] - 1) and span < _MAX_SPAN_SYNODIC * synodic_days:
        span = min(span * _WIDEN_FACTOR, _MAX_SPAN_SYNODIC * synodic_days)
        widened = True
    width = (_WIDEN_FACTOR - 1.0) * (tof_hi - tof_lo)
    if j == 0 and tof_lo > step_days:
        tof_lo = max(step_days, tof_lo - width)
        widened = True
    elif j == shape[1] - 1:
        tof_hi += width
        widened = True
    return span, (tof_lo, tof_hi), widened


def _grid_minimum(
    grid_for: Callable[[float, float, float], TransferGrid],
    kind: int,
    span_days: float,
    tof_range_days: tuple[float, float],
    step_days: float,
    margin_rad: float,
    synodic_days: float,
) -> tuple[TransferOption | None, str]:
    """The minimum-C3 grid transfer of type ``kind`` (None when the grid has none) and the
    boundary it touches (:func:`_grid_edge`), the grid widened (:func:`_widen`) up to
    ``_WIDEN_TRIES`` times while the minimum lies on the launch-span or time-of-flight edge."""
    span, tof = span_days, tof_range_days
    guess: TransferOption | None = None
    edge = ""
    for _ in range(_WIDEN_TRIES + 1):
        grid = grid_for(span, *tof)
        values = grid.c3_km2_s2
        near_ridge = np.abs(grid.transfer_angle_rad - math.pi) < margin_rad
        ok = grid.converged & np.isfinite(values) & (grid.transfer_type == kind) & ~near_ridge
        if not ok.any():
            return None, ""
        flat = int(np.where(ok, values, np.inf).argmin())
        index = (int(flat // ok.shape[1]), int(flat % ok.shape[1]))
        guess = grid.option(index)
        other = grid.converged & (grid.transfer_type != kind) & (grid.transfer_type != 0)
        edge = _grid_edge(ok, near_ridge | other, index)
        if edge not in ("launch span", "time of flight"):
            break
        span, tof, widened = _widen(index, ok.shape, span, tof, step_days, synodic_days)
        if not widened:
            break
    return guess, edge


def _refined(
    guess: TransferOption,
    kind: int,
    dep: str,
    tgt: str,
    step_days: float,
    ridge_margin_deg: float,
    assumptions: DeltaVAssumptions | None,
) -> TransferOption:
    """``guess`` refined by :func:`optimize_transfer` (minimum C3, type ``kind``, within
    4 ``step_days``), again from where it stopped while it stops at that bound (up to
    ``_WIDEN_TRIES`` more times)."""
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
    return guess


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
        guess, edge = _grid_minimum(
            grid_for, kind, span_days, tof_range_days, step_days, margin_rad, synodic_days
        )
        if guess is not None and refine:
            guess = _refined(guess, kind, dep, tgt, step_days, ridge_margin_deg, assumptions)
            if abs(guess.transfer_angle_rad - math.pi) < margin_rad + _RIDGE_TOL_RAD:
                edge = "180-degree ridge"
        picks.append(guess)
        edges.append(edge if guess is not None else "")
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
