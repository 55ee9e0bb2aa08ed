"""Ground-station contact plans: which satellite each antenna tracks when, as a MILP and greedily.

The problem. Stations (:class:`ContactStation`) have ``antennas`` identical antennas, a minimum
elevation, a downlink rate (Mbit/s) and a set-up time (slew and acquisition, s) an antenna needs
between two consecutive contacts. Satellites (:class:`Fleet`) hold ``initial_mbit`` of data at
the start, generate ``generation_mbps`` more (lost when the onboard ``storage_mbit`` is full)
and want ``demand_mbit`` delivered within the horizon. A plan maximises the data delivered.

Time is cut into slots of ``slot_s`` seconds (default 60 s) from the start of the horizon. A
satellite can use a slot at a station for the part of it during which its geometric elevation
is at least the station's minimum (the passes of :func:`starbrain.planners.passes.find_passes`),
delivering at most ``rate x visible seconds``. Both planners obey the same rules:

- an antenna serves at most one satellite per slot, a satellite uses at most one antenna;
- a contact is a run of consecutive slots of one satellite on one antenna; after a contact
  ends in slot k the antenna starts its next one in slot ``k + m + 1`` at the earliest,
  ``m = ceil(setup_s / slot_s)`` (so the idle gap is at least ``setup_s``);
- data delivered in a slot is at most what was onboard at the slot's start, and the onboard
  volume follows ``b(k+1) = min(storage, b(k) + generation x slot) - d(k)``: generation in a
  slot counts from the next one, and is lost to a full store as if the slot's data were sent
  at its end. Both are conservative (data really goes down earlier and frees room sooner), so
  a plan that keeps these rules is feasible in continuous time;
- the total delivered per satellite is at most its demand.

The MILP (HiGHS, through ``highspy`` when installed, else ``scipy.optimize.milp``) has a binary
per (satellite, station, slot) with visibility ("tracked") and a continuous end-of-contact
indicator beside it; a continuous delivered volume per satellite (when all its data is onboard
at the start) or, for satellites that generate data, a delivered and an onboard volume per
(satellite, visible slot). Antennas of a station are identical, so the model counts them rather
than naming them (no symmetric copies for the solver to wade through): at every slot, tracked
satellites plus contacts that ended within the last ``m`` slots are at most the station's
antennas; antennas are named afterwards. With ``highspy`` the greedy plan is passed as a MIP
start, so a MILP plan stopped by the time limit is never worse than the greedy one.

The greedy baseline walks the slots in time order: an antenna keeps the satellite it tracked in
the previous slot while that one still has data; free antennas then go, highest station rate
first, to the visible satellite whose pass at that station ends soonest (earliest deadline),
ties to the one with most data left.

:func:`check_plan` validates any plan independently of both planners, including the elevation
at every contact instant by re-propagating the satellites (see its docstring).

Times inside are seconds after ``start``; plans are Arrow tables (``CONTACTS_SCHEMA``) with UTC
timestamps. Data volumes in Mbit, rates in Mbit/s.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from starbrain.core import timeconv
from starbrain.planners.passes import GroundStation, Propagate, find_passes

__all__ = [
    "CONTACTS_SCHEMA",
    "ContactPlan",
    "ContactProblem",
    "ContactStation",
    "Fleet",
    "PlanSummary",
    "check_plan",
    "compare_planners",
    "contact_problem",
    "plan_greedy",
    "plan_milp",
    "problem_from_windows",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

CONTACTS_SCHEMA = pa.schema(
    [
        pa.field("norad_id", pa.int32(), nullable=False),
        pa.field("station", pa.string(), nullable=False),
        pa.field("antenna", pa.int16(), nullable=False),
        pa.field("start", pa.timestamp("ns", tz="UTC"), nullable=False),
        pa.field("end", pa.timestamp("ns", tz="UTC"), nullable=False),
        pa.field("data_mbit", pa.float64(), nullable=False),
    ],
    metadata={"stream": "contacts", "key": "station,antenna,start"},
)

_EPS_MBIT = 1e-6  # volumes below this are "nothing"


@dataclass(frozen=True, slots=True)
class ContactStation:
    """A ground station for contact planning. Degrees, Mbit/s and seconds: an edge type."""

    site: GroundStation
    antennas: int = 1
    min_elevation_deg: float = 10.0
    rate_mbps: float = 100.0
    setup_s: float = 60.0

    def __post_init__(self) -> None:
        if self.antennas < 1:
            raise ValueError(f"station {self.site.name}: antennas must be at least 1")
        if not -5.0 <= self.min_elevation_deg < 90.0:
            raise ValueError(f"station {self.site.name}: minimum elevation must be in [-5, 90)")
        if not self.rate_mbps > 0 or not self.setup_s >= 0:
            raise ValueError(
                f"station {self.site.name}: the rate must be positive and the set-up time "
                "not negative"
            )

    @property
    def name(self) -> str:
        return self.site.name


@dataclass(frozen=True, slots=True)
class Fleet:
    """Satellites to serve, arrays (n_sat,): ``norad_id`` and volumes in Mbit, rates in Mbit/s."""

    norad_id: IntArray
    demand_mbit: FloatArray
    storage_mbit: FloatArray
    initial_mbit: FloatArray
    generation_mbps: FloatArray

    @classmethod
    def uniform(
        cls,
        norad_ids: npt.ArrayLike,
        demand_mbit: npt.ArrayLike,
        *,
        storage_mbit: npt.ArrayLike | None = None,
        initial_mbit: npt.ArrayLike | None = None,
        generation_mbps: npt.ArrayLike = 0.0,
    ) -> Fleet:
        """A fleet from scalars or arrays. ``storage_mbit`` defaults to unlimited,
        ``initial_mbit`` to ``min(demand, storage)`` (the demand is onboard at the start)."""
        ids = np.asarray(norad_ids, dtype=np.int64).reshape(-1)
        n = len(ids)

        def full(x: npt.ArrayLike) -> FloatArray:
            return np.broadcast_to(np.asarray(x, dtype=np.float64), (n,)).copy()

        demand = full(demand_mbit)
        storage = full(np.inf if storage_mbit is None else storage_mbit)
        initial = np.minimum(demand, storage) if initial_mbit is None else full(initial_mbit)
        fleet = cls(ids, demand, storage, initial, full(generation_mbps))
        fleet.validate()
        return fleet

    def __len__(self) -> int:
        return len(self.norad_id)

    def validate(self) -> None:
        """Raise ``ValueError`` (one sentence) for inconsistent volumes."""
        arrays = (self.demand_mbit, self.storage_mbit, self.initial_mbit, self.generation_mbps)
        if any(a.shape != self.norad_id.shape for a in arrays):
            raise ValueError("every fleet array must have one value per satellite")
        if len(np.unique(self.norad_id)) != len(self.norad_id):
            raise ValueError("a satellite appears twice in the fleet")
        if np.any(self.demand_mbit < 0) or np.any(self.initial_mbit < 0):
            raise ValueError("demand and initial onboard data must not be negative")
        if np.any(self.generation_mbps < 0) or not np.all(np.isfinite(self.generation_mbps)):
            raise ValueError("the data generation rate must be finite and not negative")
        if np.any(self.storage_mbit <= 0) or np.any(self.initial_mbit > self.storage_mbit):
            raise ValueError("storage must be positive and hold the initial onboard data")


@dataclass(frozen=True, slots=True)
class ContactProblem:
    """A contact-planning instance: stations, fleet, and visibility cut into slots.

    Visibility windows (n_win,): ``win_sat``, ``win_station`` (indices into ``fleet`` and
    ``stations``), ``win_begin_s``, ``win_end_s`` (s after ``start``), from the passes.
    Usable slot parts (n_vis,), one per (satellite, station, slot) with visibility:
    ``vis_sat``, ``vis_station``, ``vis_slot``, ``vis_begin_s``, ``vis_end_s``, ``vis_deadline_s``
    (end of the window the part belongs to); sorted by slot, station, satellite.
    """

    start: np.datetime64
    horizon_s: float
    slot_s: float
    stations: tuple[ContactStation, ...]
    fleet: Fleet
    win_sat: IntArray
    win_station: IntArray
    win_begin_s: FloatArray
    win_end_s: FloatArray
    vis_sat: IntArray
    vis_station: IntArray
    vis_slot: IntArray
    vis_begin_s: FloatArray
    vis_end_s: FloatArray
    vis_deadline_s: FloatArray

    @property
    def n_slots(self) -> int:
        return max(1, math.ceil(self.horizon_s / self.slot_s - 1e-9))

    @property
    def capacity_mbit(self) -> FloatArray:
        """Most data each usable slot part can carry (n_vis,)."""
        rate = np.array([s.rate_mbps for s in self.stations])
        return rate[self.vis_station] * (self.vis_end_s - self.vis_begin_s)

    @property
    def setup_slots(self) -> IntArray:
        """Slots an antenna of each station stays idle between two satellites (n_sta,)."""
        return np.array(
            [math.ceil(s.setup_s / self.slot_s - 1e-9) for s in self.stations], dtype=np.int64
        )


@dataclass(frozen=True, slots=True)
class PlanSummary:
    """What one planner achieved. ``gap`` is the MILP's relative optimality gap
    ``(bound - delivered) / delivered`` (0 when proven optimal; None for greedy)."""

    method: str
    delivered_mbit: float
    demand_mbit: float
    contacts: int
    solve_s: float
    status: str
    gap: float | None = None
    bound_mbit: float | None = None


@dataclass(frozen=True, slots=True)
class ContactPlan:
    """A plan: ``table`` with ``CONTACTS_SCHEMA`` (one row per contact, consecutive slots of one
    satellite on one antenna merged) and its :class:`PlanSummary`; the per-slot decisions are
    ``antenna`` (n_vis,), the antenna tracking each usable slot part or -1, and ``data_mbit``
    (n_vis,), what it delivers."""

    table: pa.Table
    summary: PlanSummary
    antenna: IntArray
    data_mbit: FloatArray


# --------------------------------------------------------------------------------------------
# Building the instance


def problem_from_windows(
    stations: Sequence[ContactStation],
    fleet: Fleet,
    start: Any,
    horizon_s: float,
    win_sat: npt.ArrayLike,
    win_station: npt.ArrayLike,
    win_begin_s: npt.ArrayLike,
    win_end_s: npt.ArrayLike,
    *,
    slot_s: float = 60.0,
    min_part_s: float = 1.0,
) -> ContactProblem:
    """A :class:`ContactProblem` from visibility windows given directly (s after ``start``).

    Windows are clipped to the horizon and cut at slot boundaries; parts shorter than
    ``min_part_s`` are dropped (too short to acquire). Where one satellite has two windows at
    one station inside one slot, the longer part is kept.
    """
    if not stations:
        raise ValueError("no ground stations given")
    if not slot_s > 0 or not horizon_s > 0:
        raise ValueError(f"slot length and horizon must be positive (got {slot_s}, {horizon_s})")
    fleet.validate()
    ws = np.asarray(win_sat, dtype=np.int64).reshape(-1)
    wt = np.asarray(win_station, dtype=np.int64).reshape(-1)
    wb = np.clip(np.asarray(win_begin_s, dtype=np.float64).reshape(-1), 0.0, horizon_s)
    we = np.clip(np.asarray(win_end_s, dtype=np.float64).reshape(-1), 0.0, horizon_s)
    if not len(ws) == len(wt) == len(wb) == len(we):
        raise ValueError("window arrays must have the same length")
    if len(ws) and (ws.min() < 0 or ws.max() >= len(fleet) or wt.min() < 0):
        raise ValueError("window satellite index out of range")
    if len(wt) and wt.max() >= len(stations):
        raise ValueError("window station index out of range")
    keep = we > wb
    ws, wt, wb, we = ws[keep], wt[keep], wb[keep], we[keep]

    k0 = np.floor(wb / slot_s).astype(np.int64)
    k1 = np.ceil(we / slot_s - 1e-12).astype(np.int64)
    count = np.maximum(k1 - k0, 1)
    rep = np.repeat(np.arange(len(ws)), count)
    first = np.cumsum(count) - count
    slot = k0[rep] + np.arange(rep.size) - first[rep]
    begin = np.maximum(wb[rep], slot * slot_s)
    end = np.minimum(we[rep], np.minimum((slot + 1) * slot_s, horizon_s))
    ok = end - begin >= min_part_s
    rep, slot, begin, end = rep[ok], slot[ok], begin[ok], end[ok]
    sat, sta = ws[rep], wt[rep]
    # one part per (satellite, station, slot): the longest
    order = np.lexsort((-(end - begin), sat, sta, slot))
    key = np.stack([slot[order], sta[order], sat[order]])
    new = np.r_[True, np.any(key[:, 1:] != key[:, :-1], axis=0)] if order.size else order > 0
    pick = order[new]
    return ContactProblem(
        start=timeconv.to_instant(start, "start"),
        horizon_s=float(horizon_s),
        slot_s=float(slot_s),
        stations=tuple(stations),
        fleet=fleet,
        win_sat=ws,
        win_station=wt,
        win_begin_s=wb,
        win_end_s=we,
        vis_sat=sat[pick],
        vis_station=sta[pick],
        vis_slot=slot[pick],
        vis_begin_s=begin[pick],
        vis_end_s=end[pick],
        vis_deadline_s=we[rep[pick]],
    )


def contact_problem(
    propagate: Propagate,
    fleet: Fleet,
    stations: Sequence[ContactStation],
    start: Any,
    stop: Any,
    *,
    slot_s: float = 60.0,
    min_part_s: float = 1.0,
    step_s: float = 180.0,
) -> ContactProblem:
    """Visibility of ``fleet`` from ``stations`` between ``start`` and ``stop`` (UTC), cut into
    slots: one :func:`find_passes` sweep (vectorised over satellites x stations x time) per
    distinct minimum elevation. ``propagate`` gives the fleet's TEME states in fleet order (see
    :class:`starbrain.planners.passes.Propagate`). Passes cut by the window count from the
    window's start or to its end."""
    if not stations:
        raise ValueError("no ground stations given")
    t0, t1 = timeconv.to_instant(start, "start"), timeconv.to_instant(stop, "stop")
    horizon_s = float((t1 - t0) / np.timedelta64(1, "ns")) / 1e9
    if horizon_s <= 0:
        raise ValueError(f"your start time {t0} is not earlier than your stop time {t1}")
    names = [s.name for s in stations]
    if len(set(names)) != len(names):
        raise ValueError("two stations have the same name")
    sat_of = {int(n): k for k, n in enumerate(fleet.norad_id)}
    parts: list[tuple[IntArray, IntArray, FloatArray, FloatArray]] = []
    min_els = sorted({s.min_elevation_deg for s in stations})
    for el in min_els:
        group = [k for k, s in enumerate(stations) if s.min_elevation_deg == el]
        p = find_passes(
            propagate,
            fleet.norad_id,
            [stations[k].site for k in group],
            t0,
            t1,
            min_elevation_deg=el,
            step_s=step_s,
        )
        local = {stations[k].name: k for k in group}
        sta = np.array([local[str(n)] for n in p.station], dtype=np.int64)
        sat = np.array([sat_of[int(n)] for n in p.norad_id], dtype=np.int64)

        def secs(t: npt.NDArray[np.datetime64], default: float) -> FloatArray:
            s = (t - t0).astype("timedelta64[ns]").astype(np.int64) / 1e9
            return np.where(np.isnat(t), default, s)

        parts.append((sat, sta, secs(p.rise, 0.0), secs(p.set, horizon_s)))
    ws, wt, wb, we = (np.concatenate([p[i] for p in parts]) for i in range(4))
    return problem_from_windows(
        stations, fleet, t0, horizon_s, ws, wt, wb, we, slot_s=slot_s, min_part_s=min_part_s
    )


# --------------------------------------------------------------------------------------------
# Plans: per-slot decisions -> contact table and summary


def _plan(
    p: ContactProblem,
    antenna: IntArray,
    data: FloatArray,
    method: str,
    solve_s: float,
    status: str,
    gap: float | None = None,
    bound: float | None = None,
) -> ContactPlan:
    data = np.where(antenna >= 0, np.maximum(data, 0.0), 0.0)
    used = np.nonzero(antenna >= 0)[0]
    sat, sta, ant = p.vis_sat[used], p.vis_station[used], antenna[used]
    b, e, d = p.vis_begin_s[used], p.vis_end_s[used], data[used]
    order = np.lexsort((b, sat, ant, sta))
    sat, sta, ant, b, e, d = sat[order], sta[order], ant[order], b[order], e[order], d[order]
    # merge back-to-back parts of one satellite on one antenna into one contact
    cont = (
        (sat[1:] == sat[:-1])
        & (sta[1:] == sta[:-1])
        & (ant[1:] == ant[:-1])
        & (np.abs(b[1:] - e[:-1]) < 1e-6)
    )
    head = np.r_[True, ~cont] if len(sat) else np.zeros(0, bool)
    group = np.cumsum(head) - 1
    n = int(head.sum())
    last = np.r_[np.nonzero(head)[0][1:] - 1, len(sat) - 1] if n else np.zeros(0, np.int64)
    first = np.nonzero(head)[0]
    total = np.bincount(group, weights=d, minlength=n)
    names = np.array([s.name for s in p.stations], dtype=str)
    # a contact that carries nothing is no contact (its antenna is simply left idle)
    empty = total <= _EPS_MBIT
    if empty.any():
        drop = used[order][empty[group]]
        antenna = antenna.copy()
        antenna[drop] = -1
        data = np.where(antenna >= 0, data, 0.0)
        first, last, total = first[~empty], last[~empty], total[~empty]
        n = len(total)

    def stamp(s: FloatArray) -> pa.Array:
        t = p.start + np.rint(s * 1e9).astype(np.int64).astype("timedelta64[ns]")
        return pa.array(t, pa.timestamp("ns")).cast(pa.timestamp("ns", tz="UTC"))

    table = pa.table(
        {
            "norad_id": pa.array(p.fleet.norad_id[sat[first]], pa.int32()),
            "station": pa.array(names[sta[first]].tolist(), pa.string()),
            "antenna": pa.array(ant[first], pa.int16()),
            "start": stamp(b[first]),
            "end": stamp(e[last]),
            "data_mbit": pa.array(total, pa.float64()),
        },
        schema=CONTACTS_SCHEMA,
    ).sort_by([("start", "ascending"), ("station", "ascending"), ("antenna", "ascending")])
    summary = PlanSummary(
        method=method,
        delivered_mbit=float(data.sum()),
        demand_mbit=float(p.fleet.demand_mbit.sum()),
        contacts=n,
        solve_s=solve_s,
        status=status,
        gap=gap,
        bound_mbit=bound,
    )
    return ContactPlan(table, summary, antenna.astype(np.int64), data)


# --------------------------------------------------------------------------------------------
# Greedy baseline


def plan_greedy(
    problem: ContactProblem, priority: Literal["deadline", "longest"] = "deadline"
) -> ContactPlan:
    """The greedy baseline (see the module docstring): slot by slot, antennas keep their
    satellite while it has data, free antennas go to the visible satellite whose pass ends
    soonest (``priority="deadline"``) or, with ``"longest"``, latest (the longest contact left,
    fewer set-ups). Obeys the same rules as :func:`plan_milp`."""
    if priority not in ("deadline", "longest"):
        raise ValueError(f"priority must be deadline or longest, not {priority!r}")
    sign = 1.0 if priority == "deadline" else -1.0
    p = problem
    t_start = time.perf_counter()
    f = p.fleet
    n_ant = np.array([s.antennas for s in p.stations], dtype=np.int64)
    rate = np.array([s.rate_mbps for s in p.stations])
    m = p.setup_slots
    cap = p.capacity_mbit
    buf = f.initial_mbit.copy()  # onboard now: at the slot's start less what this slot sent
    sent = np.zeros(len(f))
    left = f.demand_mbit.copy()
    ant_sat = [np.full(a, -1, np.int64) for a in n_ant]  # satellite of its last contact
    ant_slot = [np.full(a, -(10**9), np.int64) for a in n_ant]  # last slot it was used
    antenna = np.full(len(p.vis_sat), -1, np.int64)
    data = np.zeros(len(p.vis_sat))
    bounds = np.searchsorted(p.vis_slot, np.arange(p.n_slots + 1))
    for k in range(p.n_slots):
        if k:  # sent in slot k-1 as if at its end, after the store filled up
            buf = np.minimum(f.storage_mbit, buf + sent + f.generation_mbps * p.slot_s) - sent
            sent[:] = 0.0
        lo, hi = int(bounds[k]), int(bounds[k + 1])
        if lo == hi:
            continue
        rows = np.arange(lo, hi)
        sat_busy: set[int] = set()
        # 1. antennas keep the satellite they tracked in the previous slot
        for v in rows:
            i, s = int(p.vis_sat[v]), int(p.vis_station[v])
            for kept in np.nonzero((ant_sat[s] == i) & (ant_slot[s] == k - 1))[0]:
                amount = min(cap[v], buf[i], left[i])
                if amount > _EPS_MBIT and i not in sat_busy:
                    antenna[v], data[v] = kept, amount
                    buf[i] -= amount
                    sent[i] += amount
                    left[i] -= amount
                    sat_busy.add(i)
                    ant_slot[s][kept] = k
        # 2. free antennas: fastest station first, then earliest deadline, then most data left
        i_all = p.vis_sat[rows]
        order = np.lexsort(
            (-left[i_all], sign * p.vis_deadline_s[rows], -rate[p.vis_station[rows]])
        )
        for v in rows[order]:
            i, s = int(p.vis_sat[v]), int(p.vis_station[v])
            if i in sat_busy:
                continue
            amount = min(cap[v], buf[i], left[i])
            if amount <= _EPS_MBIT:
                continue
            free = ant_slot[s] < k - m[s]  # m slots of set-up after its last contact
            cand = np.nonzero(free)[0]
            if not len(cand):
                continue
            a = int(cand[np.argmin(ant_slot[s][cand])])
            antenna[v], data[v] = a, amount
            buf[i] -= amount
            sent[i] += amount
            left[i] -= amount
            sat_busy.add(i)
            ant_sat[s][a], ant_slot[s][a] = i, k
    method = "greedy" if priority == "deadline" else "greedy-longest"
    return _plan(p, antenna, data, method, time.perf_counter() - t_start, "heuristic")


# --------------------------------------------------------------------------------------------
# MILP


@dataclass(frozen=True, slots=True)
class _Model:
    c: FloatArray
    a: Any  # scipy.sparse csr (n_row, n_col)
    row_lo: FloatArray
    row_hi: FloatArray
    col_lo: FloatArray
    col_hi: FloatArray
    integer: npt.NDArray[np.bool_]
    n_vis: int  # columns [0, n_vis): track (binary), one per usable slot part
    n_d: int  # then [n_vis, n_vis + n_d): delivered volume per (satellite, slot)
    d_of_vis: IntArray  # (n_vis,) which volume each part feeds
    d_sat: IntArray  # (n_d,)
    d_slot: IntArray
    next_vis: IntArray  # (n_vis,) the same satellite and station in the next slot, or -1
    b_col: IntArray  # (n_d,) column of the onboard volume, -1 if not tracked


def _build(p: ContactProblem, y_cost_mbit: float) -> _Model:
    """The MILP. Antennas of a station are identical, so instead of one binary per antenna the
    model counts them: at each slot, the parts being tracked plus the contacts that ended within
    the last ``m`` slots (antennas still in set-up) are at most the station's antennas. Any
    schedule meeting that count gives every contact an antenna with ``m`` free slots before its
    next one (interval graphs are perfect: :func:`_assign_antennas` colours them greedily)."""
    from scipy import sparse

    f = p.fleet
    n_sta = len(p.stations)
    n_ant = np.array([s.antennas for s in p.stations], dtype=np.float64)
    m = p.setup_slots
    cap = p.capacity_mbit
    n_vis = len(p.vis_sat)
    dyn = f.generation_mbps > 0  # satellites whose onboard volume needs tracking
    # delivered volume: per (satellite, slot) for those, one for the horizon (slot n_slots)
    # for the others, whose data is all onboard at the start
    vol_slot = np.where(dyn[p.vis_sat], p.vis_slot, p.n_slots)
    uk, d_of_vis = np.unique(p.vis_sat * (p.n_slots + 1) + vol_slot, return_inverse=True)
    n_d = len(uk)
    d_sat, d_slot = np.divmod(uk, p.n_slots + 1)
    # the same satellite and station one slot later
    pair_key = (p.vis_sat * n_sta + p.vis_station) * (p.n_slots + 2) + p.vis_slot
    order = np.argsort(pair_key)
    pos = np.searchsorted(pair_key[order], pair_key + 1)
    pos_c = np.minimum(pos, n_vis - 1)
    next_vis = np.where((pos < n_vis) & (pair_key[order][pos_c] == pair_key + 1), order[pos_c], -1)
    has_b = dyn[d_sat]
    n_b = int(has_b.sum())
    e0 = n_vis + n_d  # end-of-contact indicators, one per part
    b_col = np.full(n_d, -1, np.int64)
    b_col[has_b] = e0 + n_vis + np.arange(n_b)
    n_col = e0 + n_vis + n_b

    rows: list[IntArray] = []
    cols: list[IntArray] = []
    vals: list[FloatArray] = []
    lo_: list[FloatArray] = []
    hi_: list[FloatArray] = []
    n_row = 0

    def add(r: IntArray, c: IntArray, v: FloatArray, hi: FloatArray) -> None:
        nonlocal n_row
        rows.append(r + n_row)
        cols.append(c)
        vals.append(v)
        lo_.append(np.full(len(hi), -np.inf))
        hi_.append(hi)
        n_row += len(hi)

    ar_v, ar_d = np.arange(n_vis), np.arange(n_d)
    # (1) a satellite uses one antenna per slot (rows only where it sees several stations);
    # delivered <= capacity of the parts tracked
    _, sk, sk_n = np.unique(
        p.vis_sat * (p.n_slots + 1) + p.vis_slot, return_inverse=True, return_counts=True
    )
    multi = np.nonzero(sk_n[sk] > 1)[0]
    _, r1 = np.unique(sk[multi], return_inverse=True)
    add(r1, multi, np.ones(multi.size), np.ones(int(r1.max(initial=-1)) + 1))
    add(np.r_[d_of_vis, ar_d], np.r_[ar_v, n_vis + ar_d], np.r_[-cap, np.ones(n_d)], np.zeros(n_d))
    # (2) end of a contact: end_v >= track_v - track_next(v)
    has_next = next_vis >= 0
    jn = np.nonzero(has_next)[0]
    add(
        np.r_[ar_v, ar_v, jn],
        np.r_[ar_v, e0 + ar_v, next_vis[jn]],
        np.r_[np.ones(n_vis), -np.ones(n_vis), -np.ones(jn.size)],
        np.zeros(n_vis),
    )
    # (3) antennas busy at (station, slot): tracking now, or in set-up after a contact that
    # ended within the last m slots
    busy_r = [p.vis_station * p.n_slots + p.vis_slot]
    busy_c = [ar_v]
    for delta in range(1, int(m.max(initial=0)) + 1):
        j = np.nonzero((m[p.vis_station] >= delta) & (p.vis_slot + delta < p.n_slots))[0]
        busy_r.append(p.vis_station[j] * p.n_slots + p.vis_slot[j] + delta)
        busy_c.append(e0 + j)
    r_all = np.concatenate(busy_r)
    live, r3 = np.unique(r_all, return_inverse=True)
    add(r3, np.concatenate(busy_c), np.ones(r3.size), n_ant[live // p.n_slots])
    # (4) demand (satellites that generate nothing: also what is onboard)
    static_cap = np.where(dyn, f.demand_mbit, np.minimum(f.demand_mbit, f.initial_mbit))
    add(d_sat, n_vis + ar_d, np.ones(n_d), static_cap)
    # (5) onboard volume of generating satellites: d <= b, and from visible slot j-1 to j
    # (n slots apart) b_j <= min(S, min(S, b_{j-1} + g L) - d_{j-1} + g (n - 1) L), linearised
    # as b_j <= b_{j-1} - d_{j-1} + g n L and b_j + d_{j-1} <= S + g (n - 1) L (b_j <= S is a
    # column bound)
    jb = np.nonzero(has_b)[0]
    add(
        np.r_[np.arange(jb.size), np.arange(jb.size)],
        np.r_[n_vis + jb, b_col[jb]],
        np.r_[np.ones(jb.size), -np.ones(jb.size)],
        np.zeros(jb.size),
    )
    chain = jb[1:][d_sat[jb[1:]] == d_sat[jb[:-1]]] if jb.size else jb
    prev = chain - 1
    gen = f.generation_mbps[d_sat[chain]] * p.slot_s
    gap = d_slot[chain] - d_slot[prev]
    nc = chain.size
    ar_c = np.arange(nc)
    add(
        np.r_[ar_c, ar_c, ar_c],
        np.r_[b_col[chain], b_col[prev], n_vis + prev],
        np.r_[np.ones(nc), -np.ones(nc), np.ones(nc)],
        gen * gap,
    )
    add(
        np.r_[ar_c, ar_c],
        np.r_[b_col[chain], n_vis + prev],
        np.ones(2 * nc),
        f.storage_mbit[d_sat[chain]] + gen * (gap - 1),
    )
    col_lo = np.zeros(n_col)
    col_hi = np.full(n_col, np.inf)
    col_hi[:n_vis] = 1.0
    col_hi[n_vis:e0] = np.minimum(
        np.bincount(d_of_vis, weights=cap, minlength=n_d), f.demand_mbit[d_sat]
    )
    col_hi[e0 : e0 + n_vis] = 1.0
    first = np.r_[True, d_sat[1:] != d_sat[:-1]] if n_d else np.zeros(0, bool)
    b_hi = np.minimum(
        f.storage_mbit[d_sat],
        np.where(
            first, f.initial_mbit[d_sat] + f.generation_mbps[d_sat] * d_slot * p.slot_s, np.inf
        ),
    )
    col_hi[b_col[jb]] = b_hi[jb]
    c = np.zeros(n_col)
    c[:n_vis] = -y_cost_mbit
    c[n_vis:e0] = 1.0
    integer = np.zeros(n_col, bool)
    integer[:n_vis] = True
    a = sparse.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
        shape=(n_row, n_col),
    )
    return _Model(
        c=c,
        a=a,
        row_lo=np.concatenate(lo_),
        row_hi=np.concatenate(hi_),
        col_lo=col_lo,
        col_hi=col_hi,
        integer=integer,
        n_vis=n_vis,
        n_d=n_d,
        d_of_vis=d_of_vis,
        d_sat=d_sat,
        d_slot=d_slot,
        next_vis=next_vis,
        b_col=b_col,
    )


def _assign_antennas(
    p: ContactProblem, track: npt.NDArray[np.bool_], next_vis: IntArray
) -> IntArray:
    """Antennas for tracked parts (-1 elsewhere): each contact (a run of parts of one satellite
    at one station in consecutive slots) gets the antenna free longest, which exists when the
    MILP's count holds."""
    m = p.setup_slots
    antenna = np.full(len(track), -1, np.int64)
    # a contact starts at a tracked part whose predecessor is not tracked
    prev_tracked = np.zeros(len(track), bool)
    src = np.nonzero(track & (next_vis >= 0))[0]
    prev_tracked[next_vis[src]] = True
    heads = np.nonzero(track & ~prev_tracked)[0]
    heads = heads[np.lexsort((p.vis_slot[heads], p.vis_station[heads]))]
    free_from = [np.zeros(s.antennas, np.int64) for s in p.stations]
    for h in heads:  # sequential: each contact takes an antenna from the pool
        s, k = int(p.vis_station[h]), int(p.vis_slot[h])
        run = [int(h)]
        while next_vis[run[-1]] >= 0 and track[next_vis[run[-1]]]:
            run.append(int(next_vis[run[-1]]))
        a = int(np.argmin(free_from[s]))
        if free_from[s][a] > k:
            raise RuntimeError("internal error: no antenna free for a contact")  # pragma: no cover
        antenna[run] = a
        free_from[s][a] = k + len(run) + int(m[s])
    return antenna


def _start_vector(p: ContactProblem, mod: _Model, plan: ContactPlan) -> FloatArray:
    """A plan (the greedy one) as a MILP solution: tracks, volumes, ends, onboard volumes."""
    f = p.fleet
    x = np.zeros(len(mod.c))
    track = plan.antenna >= 0
    x[: mod.n_vis] = track
    d = np.bincount(mod.d_of_vis, weights=plan.data_mbit, minlength=mod.n_d)
    x[mod.n_vis : mod.n_vis + mod.n_d] = d
    nxt_on = np.where(mod.next_vis >= 0, track[np.maximum(mod.next_vis, 0)], False)
    e0 = mod.n_vis + mod.n_d
    x[e0 : e0 + mod.n_vis] = track & ~nxt_on
    jb = np.nonzero(mod.b_col >= 0)[0]
    b = np.zeros(mod.n_d)
    for pos, j in enumerate(jb):  # onboard volume, as the greedy planner tracked it
        i = mod.d_sat[j]
        g, cap = f.generation_mbps[i] * p.slot_s, f.storage_mbit[i]
        if pos == 0 or mod.d_sat[jb[pos - 1]] != i:
            b[j] = min(cap, f.initial_mbit[i] + g * mod.d_slot[j])
        else:
            q = jb[pos - 1]
            b[j] = min(cap, min(cap, b[q] + g) - d[q] + g * (mod.d_slot[j] - mod.d_slot[q] - 1))
    x[mod.b_col[jb]] = np.maximum(b[jb], d[jb])
    return x


def _solve_highspy(
    mod: _Model, time_limit_s: float, mip_rel_gap: float, start: FloatArray | None
) -> tuple[FloatArray | None, str, float | None]:
    import highspy

    a = mod.a.tocsc()
    lp = highspy.HighsLp()
    lp.num_col_ = a.shape[1]
    lp.num_row_ = a.shape[0]
    lp.col_cost_ = mod.c
    lp.col_lower_ = mod.col_lo
    lp.col_upper_ = mod.col_hi
    lp.row_lower_ = mod.row_lo
    lp.row_upper_ = mod.row_hi
    lp.sense_ = highspy.ObjSense.kMaximize
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = a.indptr
    lp.a_matrix_.index_ = a.indices
    lp.a_matrix_.value_ = a.data
    lp.integrality_ = [
        highspy.HighsVarType.kInteger if v else highspy.HighsVarType.kContinuous
        for v in mod.integer
    ]
    # HiGHS prints a banner on stdout (C level) when the first instance is made: hide it
    sys.stdout.flush()
    saved, devnull = os.dup(1), os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        h = highspy.Highs()
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)
    h.setOptionValue("output_flag", False)
    h.setOptionValue("time_limit", float(time_limit_s))
    h.setOptionValue("mip_rel_gap", float(mip_rel_gap))
    h.setOptionValue("random_seed", 0)
    h.passModel(lp)
    if start is not None:
        sol = highspy.HighsSolution()
        sol.col_value = list(start)
        sol.value_valid = True
        h.setSolution(sol)
    h.run()
    status = h.modelStatusToString(h.getModelStatus())
    info = h.getInfo()
    if info.primal_solution_status == 0:  # no feasible point
        return None, status, None
    x = np.asarray(h.getSolution().col_value, dtype=np.float64)
    bound = float(info.mip_dual_bound) if math.isfinite(info.mip_dual_bound) else None
    return x, status, bound


def _solve_scipy(
    mod: _Model, time_limit_s: float, mip_rel_gap: float
) -> tuple[FloatArray | None, str, float | None]:
    from scipy.optimize import Bounds, LinearConstraint, milp

    res = milp(
        -mod.c,
        integrality=mod.integer.astype(np.int8),
        bounds=Bounds(mod.col_lo, mod.col_hi),
        constraints=LinearConstraint(mod.a, mod.row_lo, mod.row_hi),
        options={"time_limit": float(time_limit_s), "mip_rel_gap": float(mip_rel_gap)},
    )
    status = {0: "Optimal", 1: "Time limit reached", 2: "Infeasible", 3: "Unbounded"}.get(
        int(res.status), str(res.message)
    )
    if res.x is None:
        return None, status, None
    bound = getattr(res, "mip_dual_bound", None)
    return np.asarray(res.x), status, (-float(bound) if bound is not None else None)


def plan_milp(
    problem: ContactProblem,
    *,
    time_limit_s: float = 60.0,
    mip_rel_gap: float = 1e-3,
    solver: Literal["auto", "highspy", "scipy"] = "auto",
    warm_start: ContactPlan | None = None,
) -> ContactPlan:
    """The contact plan that maximises delivered data, by mixed-integer programming (HiGHS).

    Stops at ``time_limit_s`` or when the relative gap between the best plan and the proven
    bound is under ``mip_rel_gap``; the summary reports both. ``solver`` "auto" uses
    ``highspy`` when installed (then ``warm_start``, by default the greedy plan, is the MIP
    start), else ``scipy.optimize.milp``. Each binary costs 1e-6 Mbit so that idle antennas
    are not assigned for nothing.
    """
    p = problem
    t_start = time.perf_counter()
    if solver == "auto":
        try:
            import highspy  # noqa: F401

            solver = "highspy"
        except ImportError:
            solver = "scipy"
    mod = _build(p, y_cost_mbit=1e-6)
    if mod.n_vis == 0:
        return _plan(p, np.full(0, -1, np.int64), np.zeros(0), "milp", 0.0, "Optimal", 0.0, 0.0)
    if solver == "highspy":
        start = _start_vector(p, mod, warm_start if warm_start is not None else plan_greedy(p))
        x, status, bound = _solve_highspy(mod, time_limit_s, mip_rel_gap, start)
    elif solver == "scipy":
        x, status, bound = _solve_scipy(mod, time_limit_s, mip_rel_gap)
    else:
        raise ValueError(f"solver must be auto, highspy or scipy, not {solver!r}")
    n_vis = len(p.vis_sat)
    if x is None:
        solve_s = time.perf_counter() - t_start
        return _plan(p, np.full(n_vis, -1, np.int64), np.zeros(n_vis), "milp", solve_s, status)
    track = x[:n_vis] > 0.5
    antenna = _assign_antennas(p, track, mod.next_vis)
    d = np.clip(x[n_vis : n_vis + mod.n_d], 0.0, None)
    # each volume fills its tracked parts in time order, each up to its capacity
    cap = np.where(track, p.capacity_mbit, 0.0)
    order = np.lexsort((p.vis_slot, mod.d_of_vis))
    cum = np.cumsum(cap[order])
    vol = mod.d_of_vis[order]
    start = np.r_[0, np.nonzero(vol[1:] != vol[:-1])[0] + 1] if n_vis else np.zeros(0, np.int64)
    before_vol = np.repeat(cum[start] - cap[order][start], np.diff(np.r_[start, n_vis]))
    before = cum - cap[order] - before_vol  # capacity of earlier parts of the same volume
    data = np.zeros(n_vis)
    data[order] = np.clip(d[vol] - before, 0.0, cap[order])
    solve_s = time.perf_counter() - t_start
    delivered = float(data.sum())
    if bound is not None:
        # the bound includes the small per-binary cost; it can only make the bound larger
        bound = max(bound, delivered)
        gap = (bound - delivered) / max(delivered, _EPS_MBIT)
    else:
        gap = None
    return _plan(p, antenna, data, "milp", solve_s, status, gap, bound)


def compare_planners(
    problem: ContactProblem,
    *,
    time_limit_s: float = 60.0,
    mip_rel_gap: float = 1e-3,
    solver: Literal["auto", "highspy", "scipy"] = "auto",
) -> tuple[ContactPlan, ContactPlan, float]:
    """Greedy and MILP plans of one problem, and the MILP's gain over greedy in percent."""
    greedy = plan_greedy(problem)
    milp = plan_milp(
        problem,
        time_limit_s=time_limit_s,
        mip_rel_gap=mip_rel_gap,
        solver=solver,
        warm_start=greedy,
    )
    g, m = greedy.summary.delivered_mbit, milp.summary.delivered_mbit
    gain = 100.0 * (m - g) / g if g > 0 else (0.0 if m == 0 else math.inf)
    return greedy, milp, gain


# --------------------------------------------------------------------------------------------
# Independent check of any plan


def check_plan(
    plan: pa.Table,
    problem: ContactProblem,
    propagate: Propagate | None = None,
    *,
    elevation_tol_deg: float = 1e-3,
    sample_s: float = 10.0,
    tol_s: float = 1e-6,
    tol_mbit: float = 1e-6,
) -> list[str]:
    """Every rule a plan (``CONTACTS_SCHEMA``) breaks, one sentence each; empty when valid.

    Works from the table alone, not from the planners' slot decisions: known satellites,
    stations and antennas; contacts inside the horizon and inside one visibility window of
    their satellite and station; no two contacts on one antenna overlapping, and at least the
    station's set-up time between two contacts on one antenna; no satellite in two
    contacts at once; data at most ``rate x duration``; per satellite, data at most what is
    onboard (initial plus generated, capped by storage, less what was sent; generation during a
    contact counts) and in total at most the demand. With ``propagate`` (the fleet's TEME
    states, as :class:`starbrain.planners.passes.Propagate`), the satellites are propagated
    again at each contact's start, end and every ``sample_s`` between, carried to ITRF
    (:func:`starbrain.physics.frames.teme_to_itrf`) and the geometric elevation
    (:func:`starbrain.physics.frames.topocentric`) must be at least the station's minimum less
    ``elevation_tol_deg`` (default 1e-3 deg: the passes' 1 ms event tolerance at elevation
    rates under 0.5 deg/s is 5e-4 deg).
    """
    p = problem
    f = p.fleet
    bad: list[str] = []
    if plan.num_rows == 0:
        return bad
    ids = plan.column("norad_id").to_numpy().astype(np.int64)
    names = plan.column("station").to_pylist()
    ant = plan.column("antenna").to_numpy().astype(np.int64)
    t0 = p.start

    def secs(col: str) -> FloatArray:
        t = plan.column(col).cast(pa.timestamp("ns")).to_numpy()
        return np.asarray((t - t0).astype("timedelta64[ns]").astype(np.int64) / 1e9)

    b, e = secs("start"), secs("end")
    data = plan.column("data_mbit").to_numpy().astype(np.float64)
    sat_of = {int(n): k for k, n in enumerate(f.norad_id)}
    sta_of = {s.name: k for k, s in enumerate(p.stations)}
    unknown = [n for n in ids if int(n) not in sat_of]
    if unknown:
        bad.append(f"satellites not in the fleet: {sorted(set(unknown))}")
    stray = [n for n in names if n not in sta_of]
    if stray:
        bad.append(f"stations not in the problem: {sorted(set(stray))}")
    if unknown or stray:
        return bad
    sat = np.array([sat_of[int(n)] for n in ids], dtype=np.int64)
    sta = np.array([sta_of[n] for n in names], dtype=np.int64)
    n_ant = np.array([s.antennas for s in p.stations])
    rate = np.array([s.rate_mbps for s in p.stations])
    setup = np.array([s.setup_s for s in p.stations])
    min_el = np.array([s.min_elevation_deg for s in p.stations])

    def rows(mask: npt.NDArray[np.bool_]) -> str:
        k = np.nonzero(mask)[0]
        return f"{k[:5].tolist()}{' ...' if len(k) > 5 else ''}"

    def flag(mask: npt.NDArray[np.bool_], what: str) -> None:
        if mask.any():
            bad.append(f"{int(mask.sum())} contacts {what} (rows {rows(mask)})")

    flag((ant < 0) | (ant >= n_ant[sta]), "use an antenna the station does not have")
    flag(~(e > b), "do not end after they start")
    flag((b < -tol_s) | (e > p.horizon_s + tol_s), "leave the planning horizon")
    flag(data < -tol_mbit, "carry negative data")
    flag(data > rate[sta] * (e - b) + tol_mbit, "carry more than rate x duration")
    # inside one visibility window of the same satellite and station
    span = p.horizon_s + 1.0
    wkey = (p.win_sat * len(p.stations) + p.win_station) * span + p.win_begin_s
    worder = np.argsort(wkey)
    ckey = (sat * len(p.stations) + sta) * span + b
    w = np.searchsorted(wkey[worder], ckey + tol_s, "right") - 1
    wi = worder[np.clip(w, 0, None)] if len(worder) else np.zeros(len(b), np.int64)
    inside = (
        (w >= 0)
        & (p.win_sat[wi] == sat)
        & (p.win_station[wi] == sta)
        & (p.win_end_s[wi] >= e - tol_s)
        if len(worder)
        else np.zeros(len(b), bool)
    )
    flag(~inside, "are not inside a visibility window")
    # antennas: no overlap, set-up between consecutive contacts
    o = np.lexsort((b, ant, sta))
    same_ant = (sta[o][1:] == sta[o][:-1]) & (ant[o][1:] == ant[o][:-1])
    gap = b[o][1:] - e[o][:-1]
    overlap = same_ant & (gap < -tol_s)
    short = same_ant & (gap < setup[sta[o][1:]] - tol_s)
    flag(np.r_[False, overlap][np.argsort(o)], "overlap another contact on the same antenna")
    flag(
        np.r_[False, short & ~overlap][np.argsort(o)],
        "start before the antenna's set-up time after its previous contact",
    )
    # satellites: one antenna at a time
    o = np.lexsort((b, sat))
    clash = (sat[o][1:] == sat[o][:-1]) & (b[o][1:] < e[o][:-1] - tol_s)
    flag(np.r_[False, clash][np.argsort(o)], "overlap another contact of the same satellite")
    # onboard data and demand, per satellite in time order
    sent = np.bincount(sat, weights=data, minlength=len(f))
    over = sent > f.demand_mbit + tol_mbit
    if over.any():
        bad.append(f"satellites get more than their demand: {f.norad_id[over][:5].tolist()}")
    o = np.lexsort((b, sat))
    onboard = f.initial_mbit.copy()
    last_t = np.zeros(len(f))
    short_data: list[int] = []
    for j in o:  # sequential by nature: each contact changes what the next one can send
        i = sat[j]
        onboard[i] = min(f.storage_mbit[i], onboard[i] + f.generation_mbps[i] * (b[j] - last_t[i]))
        avail = onboard[i] + f.generation_mbps[i] * (e[j] - b[j])
        if data[j] > avail + tol_mbit:
            short_data.append(int(j))
        onboard[i] = min(f.storage_mbit[i], max(0.0, avail - data[j]))
        last_t[i] = e[j]
    if short_data:
        bad.append(f"{len(short_data)} contacts send more than is onboard (rows {short_data[:5]})")
    if propagate is not None:
        low = _low_elevation(p, propagate, sat, sta, b, e, sample_s, min_el - elevation_tol_deg)
        flag(low, "have the satellite below the station's minimum elevation")
    return bad


def _low_elevation(
    p: ContactProblem,
    propagate: Propagate,
    sat: IntArray,
    sta: IntArray,
    b: FloatArray,
    e: FloatArray,
    sample_s: float,
    floor_deg: FloatArray,
) -> npt.NDArray[np.bool_]:
    """Per contact: is the elevation under ``floor_deg`` of its station at any sample?"""
    from starbrain.physics import frames

    n = np.maximum(np.ceil((e - b) / sample_s).astype(np.int64), 1) + 1
    rep = np.repeat(np.arange(len(b)), n)
    first = np.cumsum(n) - n
    frac = (np.arange(rep.size) - first[rep]) / (n[rep] - 1)
    t = b[rep] + frac * (e[rep] - b[rep])
    lat = np.radians([s.site.lat_deg for s in p.stations])
    lon = np.radians([s.site.lon_deg for s in p.stations])
    alt = np.array([s.site.alt_km for s in p.stations])
    el = np.full(rep.size, np.nan)
    s_sat = sat[rep]
    order = np.argsort(s_sat, kind="stable")
    cuts = np.searchsorted(s_sat[order], np.arange(len(p.fleet) + 1))
    for i in np.nonzero(np.diff(cuts))[0]:  # one propagation per satellite with contacts
        idx = order[cuts[i] : cuts[i + 1]]
        when = p.start + np.rint(t[idx] * 1e9).astype(np.int64).astype("timedelta64[ns]")
        jd, fr = timeconv.datetime64_to_jd(when)
        r, _ = propagate(jd, fr, slice(int(i), int(i) + 1))
        r_itrf, _ = frames.teme_to_itrf(np.asarray(r, dtype=np.float64)[0], None, jd, fr)
        topo = frames.topocentric(r_itrf, lat, lon, alt)  # (n_sta, n_time)
        el[idx] = np.degrees(np.asarray(topo.elevation))[sta[rep[idx]], np.arange(len(idx))]
    low = ~(el >= floor_deg[sta[rep]])  # NaN (propagation failed) counts as low
    return np.bincount(rep, weights=low, minlength=len(b)) > 0
