"""The MILP planner (see :mod:`starbrain.planners.contacts`): the model, its solution with
HiGHS (``highspy``) or ``scipy.optimize.milp``, and antennas named afterwards."""

from __future__ import annotations

import math
import os
import sys
import time
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from starbrain.planners.contacts.greedy import plan_greedy
from starbrain.planners.contacts.problem import (
    _EPS_MBIT,
    ContactPlan,
    ContactProblem,
    FloatArray,
    IntArray,
    _plan,
)


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
    col = _columns(p)
    rows = _Rows()
    _slot_rows(p, col, rows)
    _volume_rows(p, col, rows)
    n_vis, e0 = col.n_vis, col.e0
    c = np.zeros(col.n_col)
    c[:n_vis] = -y_cost_mbit
    c[n_vis:e0] = 1.0
    integer = np.zeros(col.n_col, bool)
    integer[:n_vis] = True
    row_lo, row_hi, a = rows.matrix(col.n_col)
    col_lo, col_hi = _column_bounds(p, col)
    return _Model(
        c=c,
        a=a,
        row_lo=row_lo,
        row_hi=row_hi,
        col_lo=col_lo,
        col_hi=col_hi,
        integer=integer,
        n_vis=n_vis,
        n_d=col.n_d,
        d_of_vis=col.d_of_vis,
        d_sat=col.d_sat,
        d_slot=col.d_slot,
        next_vis=col.next_vis,
        b_col=col.b_col,
    )


@dataclass(frozen=True, slots=True)
class _Columns:
    """The MILP's column layout: ``[0, n_vis)`` track binaries, one per usable slot part;
    ``[n_vis, e0)`` delivered volumes, per (satellite, slot) for satellites that generate data
    (``dyn``) and one for the horizon (slot ``n_slots``) for the others; ``[e0, e0 + n_vis)``
    end-of-contact indicators; then the onboard volumes ``b_col`` of the generating satellites'
    volumes (``has_b``; -1 elsewhere)."""

    n_vis: int
    n_d: int
    e0: int
    n_col: int
    dyn: npt.NDArray[np.bool_]  # (n_sat,)
    d_of_vis: IntArray  # (n_vis,) which volume each part feeds
    d_sat: IntArray  # (n_d,)
    d_slot: IntArray  # (n_d,)
    next_vis: IntArray  # (n_vis,) the same satellite and station in the next slot, or -1
    has_b: npt.NDArray[np.bool_]  # (n_d,)
    b_col: IntArray  # (n_d,)


def _columns(p: ContactProblem) -> _Columns:
    """The column layout of ``p``'s MILP (see :class:`_Columns`)."""
    n_sta = len(p.stations)
    n_vis = len(p.vis_sat)
    dyn = p.fleet.generation_mbps > 0  # satellites whose onboard volume needs tracking
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
    return _Columns(
        n_vis, n_d, e0, e0 + n_vis + n_b, dyn, d_of_vis, d_sat, d_slot, next_vis, has_b, b_col
    )


class _Rows:
    """Constraint rows ``-inf <= A x <= hi`` gathered block by block, in order."""

    def __init__(self) -> None:
        self.rows: list[IntArray] = []
        self.cols: list[IntArray] = []
        self.vals: list[FloatArray] = []
        self.hi: list[FloatArray] = []
        self.n_row = 0

    def add(self, r: IntArray, c: IntArray, v: FloatArray, hi: FloatArray) -> None:
        """A block of ``len(hi)`` rows: entries ``v`` at local rows ``r`` and columns ``c``."""
        self.rows.append(r + self.n_row)
        self.cols.append(c)
        self.vals.append(v)
        self.hi.append(hi)
        self.n_row += len(hi)

    def matrix(self, n_col: int) -> tuple[FloatArray, FloatArray, Any]:
        """Row bounds and the sparse CSR matrix ``(n_row, n_col)``."""
        from scipy import sparse

        a = sparse.csr_matrix(
            (np.concatenate(self.vals), (np.concatenate(self.rows), np.concatenate(self.cols))),
            shape=(self.n_row, n_col),
        )
        row_lo = np.concatenate([np.full(len(h), -np.inf) for h in self.hi])
        return row_lo, np.concatenate(self.hi), a


def _slot_rows(p: ContactProblem, col: _Columns, rows: _Rows) -> None:
    """Rows of the slots: (1) one antenna per satellite and slot, delivered at most the
    capacity of the parts tracked; (2) end-of-contact indicators; (3) antennas busy tracking
    or in set-up at most the station's antennas."""
    n_vis, n_d, e0 = col.n_vis, col.n_d, col.e0
    n_ant = np.array([s.antennas for s in p.stations], dtype=np.float64)
    m = p.setup_slots
    ar_v, ar_d = np.arange(n_vis), np.arange(n_d)
    # (1) a satellite uses one antenna per slot (rows only where it sees several stations);
    # delivered <= capacity of the parts tracked
    _, sk, sk_n = np.unique(
        p.vis_sat * (p.n_slots + 1) + p.vis_slot, return_inverse=True, return_counts=True
    )
    multi = np.nonzero(sk_n[sk] > 1)[0]
    _, r1 = np.unique(sk[multi], return_inverse=True)
    rows.add(r1, multi, np.ones(multi.size), np.ones(int(r1.max(initial=-1)) + 1))
    rows.add(
        np.r_[col.d_of_vis, ar_d],
        np.r_[ar_v, n_vis + ar_d],
        np.r_[-p.capacity_mbit, np.ones(n_d)],
        np.zeros(n_d),
    )
    # (2) end of a contact: end_v >= track_v - track_next(v)
    jn = np.nonzero(col.next_vis >= 0)[0]
    rows.add(
        np.r_[ar_v, ar_v, jn],
        np.r_[ar_v, e0 + ar_v, col.next_vis[jn]],
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
    rows.add(r3, np.concatenate(busy_c), np.ones(r3.size), n_ant[live // p.n_slots])


def _volume_rows(p: ContactProblem, col: _Columns, rows: _Rows) -> None:
    """Rows of the data volumes: (4) demand (and, for satellites that generate nothing, what
    is onboard); (5) the onboard volume of generating satellites from one visible slot to the
    next."""
    f = p.fleet
    n_vis, n_d, d_sat, d_slot, b_col = col.n_vis, col.n_d, col.d_sat, col.d_slot, col.b_col
    # (4) demand (satellites that generate nothing: also what is onboard)
    static_cap = np.where(col.dyn, f.demand_mbit, np.minimum(f.demand_mbit, f.initial_mbit))
    rows.add(d_sat, n_vis + np.arange(n_d), np.ones(n_d), static_cap)
    # (5) onboard volume of generating satellites: d <= b, and from visible slot j-1 to j
    # (n slots apart) b_j <= min(S, min(S, b_{j-1} + g L) - d_{j-1} + g (n - 1) L), linearised
    # as b_j <= b_{j-1} - d_{j-1} + g n L and b_j + d_{j-1} <= S + g (n - 1) L (b_j <= S is a
    # column bound)
    jb = np.nonzero(col.has_b)[0]
    rows.add(
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
    rows.add(
        np.r_[ar_c, ar_c, ar_c],
        np.r_[b_col[chain], b_col[prev], n_vis + prev],
        np.r_[np.ones(nc), -np.ones(nc), np.ones(nc)],
        gen * gap,
    )
    rows.add(
        np.r_[ar_c, ar_c],
        np.r_[b_col[chain], n_vis + prev],
        np.ones(2 * nc),
        f.storage_mbit[d_sat[chain]] + gen * (gap - 1),
    )


def _column_bounds(p: ContactProblem, col: _Columns) -> tuple[FloatArray, FloatArray]:
    """Column bounds: binaries in [0, 1]; a delivered volume at most the capacity of its parts
    and the demand; an onboard volume at most the storage (and, at a satellite's first
    visible slot, what it can hold by then)."""
    f = p.fleet
    n_vis, e0, d_sat, d_slot = col.n_vis, col.e0, col.d_sat, col.d_slot
    col_lo = np.zeros(col.n_col)
    col_hi = np.full(col.n_col, np.inf)
    col_hi[:n_vis] = 1.0
    col_hi[n_vis:e0] = np.minimum(
        np.bincount(col.d_of_vis, weights=p.capacity_mbit, minlength=col.n_d), f.demand_mbit[d_sat]
    )
    col_hi[e0 : e0 + n_vis] = 1.0
    first = np.r_[True, d_sat[1:] != d_sat[:-1]] if col.n_d else np.zeros(0, bool)
    b_hi = np.minimum(
        f.storage_mbit[d_sat],
        np.where(
            first, f.initial_mbit[d_sat] + f.generation_mbps[d_sat] * d_slot * p.slot_s, np.inf
        ),
    )
    jb = np.nonzero(col.has_b)[0]
    col_hi[col.b_col[jb]] = b_hi[jb]
    return col_lo, col_hi


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
