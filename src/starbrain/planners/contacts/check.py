"""An independent check of any contact plan (see :func:`check_plan`)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from starbrain.core import timeconv
from starbrain.planners.contacts.problem import (
    ContactProblem,
    FloatArray,
    IntArray,
)
from starbrain.planners.passes import Propagate


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
    b, e = _seconds(plan, "start", p.start), _seconds(plan, "end", p.start)
    data = plan.column("data_mbit").to_numpy().astype(np.float64)
    sat_of = {int(n): k for k, n in enumerate(f.norad_id)}
    sta_of = {s.name: k for k, s in enumerate(p.stations)}
    bad = _unknown(ids, names, sat_of, sta_of)
    if bad:
        return bad
    sat = np.array([sat_of[int(n)] for n in ids], dtype=np.int64)
    sta = np.array([sta_of[n] for n in names], dtype=np.int64)
    n_ant = np.array([s.antennas for s in p.stations])
    rate = np.array([s.rate_mbps for s in p.stations])
    setup = np.array([s.setup_s for s in p.stations])
    min_el = np.array([s.min_elevation_deg for s in p.stations])

    def flag(mask: npt.NDArray[np.bool_], what: str) -> None:
        if mask.any():
            bad.append(f"{int(mask.sum())} contacts {what} (rows {_rows(mask)})")

    flag((ant < 0) | (ant >= n_ant[sta]), "use an antenna the station does not have")
    flag(~(e > b), "do not end after they start")
    flag((b < -tol_s) | (e > p.horizon_s + tol_s), "leave the planning horizon")
    flag(data < -tol_mbit, "carry negative data")
    flag(data > rate[sta] * (e - b) + tol_mbit, "carry more than rate x duration")
    flag(~_inside_windows(p, sat, sta, b, e, tol_s), "are not inside a visibility window")
    overlap, short = _antenna_conflicts(sta, ant, b, e, setup[sta], tol_s)
    flag(overlap, "overlap another contact on the same antenna")
    flag(short, "start before the antenna's set-up time after its previous contact")
    # satellites: one antenna at a time
    o = np.lexsort((b, sat))
    clash = (sat[o][1:] == sat[o][:-1]) & (b[o][1:] < e[o][:-1] - tol_s)
    flag(np.r_[False, clash][np.argsort(o)], "overlap another contact of the same satellite")
    # onboard data and demand, per satellite in time order
    sent = np.bincount(sat, weights=data, minlength=len(f))
    over = sent > f.demand_mbit + tol_mbit
    if over.any():
        bad.append(f"satellites get more than their demand: {f.norad_id[over][:5].tolist()}")
    short_data = _more_than_onboard(p, sat, b, e, data, tol_mbit)
    if short_data:
        bad.append(f"{len(short_data)} contacts send more than is onboard (rows {short_data[:5]})")
    if propagate is not None:
        low = _low_elevation(p, propagate, sat, sta, b, e, sample_s, min_el - elevation_tol_deg)
        flag(low, "have the satellite below the station's minimum elevation")
    return bad


def _unknown(
    ids: IntArray, names: list[str], sat_of: dict[int, int], sta_of: dict[str, int]
) -> list[str]:
    """Messages for satellites not in the fleet and stations not in the problem."""
    bad = []
    unknown = [n for n in ids if int(n) not in sat_of]
    if unknown:
        bad.append(f"satellites not in the fleet: {sorted(set(unknown))}")
    stray = [n for n in names if n not in sta_of]
    if stray:
        bad.append(f"stations not in the problem: {sorted(set(stray))}")
    return bad


def _seconds(plan: pa.Table, col: str, t0: np.datetime64) -> FloatArray:
    """A timestamp column of the plan as seconds after ``t0``."""
    t = plan.column(col).cast(pa.timestamp("ns")).to_numpy()
    return np.asarray((t - t0).astype("timedelta64[ns]").astype(np.int64) / 1e9)


def _rows(mask: npt.NDArray[np.bool_]) -> str:
    """The first five rows where ``mask`` holds, for a message."""
    k = np.nonzero(mask)[0]
    return f"{k[:5].tolist()}{' ...' if len(k) > 5 else ''}"


def _inside_windows(
    p: ContactProblem, sat: IntArray, sta: IntArray, b: FloatArray, e: FloatArray, tol_s: float
) -> npt.NDArray[np.bool_]:
    """Whether each contact ``[b, e]`` (s) lies inside one visibility window of its satellite
    and station (within ``tol_s``)."""
    span = p.horizon_s + 1.0
    wkey = (p.win_sat * len(p.stations) + p.win_station) * span + p.win_begin_s
    worder = np.argsort(wkey)
    if not len(worder):
        return np.zeros(len(b), bool)
    ckey = (sat * len(p.stations) + sta) * span + b
    w = np.searchsorted(wkey[worder], ckey + tol_s, "right") - 1
    wi = worder[np.clip(w, 0, None)]
    return (
        (w >= 0)
        & (p.win_sat[wi] == sat)
        & (p.win_station[wi] == sta)
        & (p.win_end_s[wi] >= e - tol_s)
    )


def _antenna_conflicts(
    sta: IntArray, ant: IntArray, b: FloatArray, e: FloatArray, setup_s: FloatArray, tol_s: float
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """Per contact: whether it overlaps the previous contact on its antenna, and (if not)
    whether it starts less than its station's set-up time ``setup_s`` after that one."""
    o = np.lexsort((b, ant, sta))
    same_ant = (sta[o][1:] == sta[o][:-1]) & (ant[o][1:] == ant[o][:-1])
    gap = b[o][1:] - e[o][:-1]
    overlap = same_ant & (gap < -tol_s)
    short = same_ant & (gap < setup_s[o][1:] - tol_s)
    back = np.argsort(o)
    return np.r_[False, overlap][back], np.r_[False, short & ~overlap][back]


def _more_than_onboard(
    p: ContactProblem, sat: IntArray, b: FloatArray, e: FloatArray, data: FloatArray, tol: float
) -> list[int]:
    """Rows whose data exceed what is onboard: per satellite in time order, the initial volume
    plus generation (during a contact too), capped by storage, less what was sent."""
    f = p.fleet
    o = np.lexsort((b, sat))
    onboard = f.initial_mbit.copy()
    last_t = np.zeros(len(f))
    short_data: list[int] = []
    for j in o:  # sequential by nature: each contact changes what the next one can send
        i = sat[j]
        onboard[i] = min(f.storage_mbit[i], onboard[i] + f.generation_mbps[i] * (b[j] - last_t[i]))
        avail = onboard[i] + f.generation_mbps[i] * (e[j] - b[j])
        if data[j] > avail + tol:
            short_data.append(int(j))
        onboard[i] = min(f.storage_mbit[i], max(0.0, avail - data[j]))
        last_t[i] = e[j]
    return short_data


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
