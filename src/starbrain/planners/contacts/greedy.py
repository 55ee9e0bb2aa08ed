"""The greedy baseline planner (see :mod:`starbrain.planners.contacts`)."""

from __future__ import annotations

import time
from typing import Literal

import numpy as np

from starbrain.planners.contacts.problem import _EPS_MBIT, ContactPlan, ContactProblem, _plan


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
