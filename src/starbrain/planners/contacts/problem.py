"""The contact-planning problem (see :mod:`starbrain.planners.contacts`): stations, fleet, the
slotted visibility instance built from passes, and plans as tables (``CONTACTS_SCHEMA``)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from starbrain.core import timeconv
from starbrain.core.schemas.decisions import CONTACTS_SCHEMA as CONTACTS_SCHEMA
from starbrain.planners.passes import GroundStation, Propagate, find_passes

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

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
