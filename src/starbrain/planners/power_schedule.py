"""Power-capped scheduling of training jobs: per-job GPU power limits and start times under a
site power budget and a ramp-rate limit, with deadlines and priorities.

Per-job energy-vs-power-limit curves follow what Zeus measures (You, Chung, Chowdhury, "Zeus:
Understanding and Optimizing GPU Energy Consumption of DNN Training", USENIX NSDI 2023;
github.com/ml-energy/zeus): lowering a GPU's power limit below the job's draw slows each step
sublinearly, so energy falls until the slowdown makes the power that is not capped (host,
memory, network: ``p_static_w`` per GPU) dominate. Model per job ``j`` at limit ``pl`` (W):
``time = work_s * max(1, demand_w / pl) ** alpha``, ``power = min(demand_w, pl) + p_static_w``
per GPU. Zeus's own optimiser picks per job the limit minimising its cost
``eta * energy + (1 - eta) * p_max * time`` (``zeus.utils.metric.zeus_cost``); that is the
"per-job Zeus-style" baseline here.

starbrain's plan: every job must end by ``(1 + max_slowdown)`` times the critical path (the
longest job at full power) and by its deadline. Jobs are placed least slack first; each takes,
over a 25 W grid of limits, the lowest-energy limit whose earliest start keeping the site under
the budget and every slot-to-slot step within the ramp limit still ends it in time: full power
on the critical path, the low-energy end of its Zeus curve where its slack allows. Where the
budget or the ramp makes the bound infeasible, the makespan reached becomes the bound and a
second pass lets early jobs slow down to it. The baselines can be placed the same way
(``place=True``). Vectorised over limits and slots (a sparse table for window maxima); the one
Python loop is over jobs. Units: W, s, J.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from starbrain.core.errors import StarbrainError

__all__ = ["Jobs", "Schedule", "Site", "evaluate_schedule", "plan_schedule", "zeus_limits"]

LIMIT_GRID_W = np.arange(150.0, 701.0, 25.0)


@dataclass(frozen=True)
class Jobs:
    """``J`` jobs: GPUs, GPU-time at full power (s), uncapped draw per GPU (W), slowdown
    exponent (Zeus-like 0.2-0.6), deadline (s from now; inf for none), priority (higher first)."""

    n_gpus: np.ndarray
    work_s: np.ndarray
    demand_w: np.ndarray
    alpha: np.ndarray
    deadline_s: np.ndarray
    priority: np.ndarray

    @classmethod
    def random(cls, n_jobs: int, total_gpus: int, seed: int = 0) -> Jobs:
        rng = np.random.default_rng(seed)
        share = rng.dirichlet(np.ones(n_jobs))
        n = np.maximum(8, np.round(share * total_gpus / 8) * 8)
        work = rng.uniform(1800.0, 7200.0, n_jobs)
        return cls(
            n.astype(float), work, rng.uniform(450.0, 690.0, n_jobs), rng.uniform(0.2, 0.6, n_jobs),
            np.where(rng.random(n_jobs) < 0.3, work * rng.uniform(1.3, 3.0, n_jobs), np.inf),
            rng.integers(0, 3, n_jobs).astype(float),
        )  # fmt: skip


@dataclass(frozen=True)
class Site:
    budget_w: float
    ramp_w_per_s: float
    p_static_w: float = 90.0
    p_max_w: float = 700.0
    slot_s: float = 60.0


@dataclass(frozen=True)
class Schedule:
    """Per-job power limit (W) and start time (s)."""

    power_limit_w: np.ndarray
    start_s: np.ndarray
    policy: str


def job_time(jobs: Jobs, pl: np.ndarray) -> np.ndarray:
    return jobs.work_s * np.maximum(1.0, jobs.demand_w / pl) ** jobs.alpha


def job_power(jobs: Jobs, site: Site, pl: np.ndarray) -> np.ndarray:
    """Site power of each job while it runs (W)."""
    return jobs.n_gpus * (np.minimum(jobs.demand_w, pl) + site.p_static_w)


def _grid(jobs: Jobs, site: Site) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    g = LIMIT_GRID_W[:, None] * np.ones(jobs.n_gpus.size)[None, :]  # (L, J)
    t = jobs.work_s * np.maximum(1.0, jobs.demand_w / g) ** jobs.alpha
    e = t * jobs.n_gpus * (np.minimum(jobs.demand_w, g) + site.p_static_w)
    return g, t, e


def zeus_limits(jobs: Jobs, site: Site, eta: float = 0.5) -> np.ndarray:
    """Per job, the grid limit minimising Zeus's cost ``eta E + (1 - eta) p_max T`` (per GPU)."""
    g, t, e = _grid(jobs, site)
    cost = eta * e / jobs.n_gpus + (1 - eta) * site.p_max_w * t
    return g[np.argmin(cost, 0), np.arange(jobs.n_gpus.size)]


def _limits_by(jobs: Jobs, site: Site, time_left_s: np.ndarray) -> np.ndarray:
    """Per job, the lowest-energy grid limit whose run time fits ``time_left_s`` ``(J,)``; the
    top of the grid (full power) where none does."""
    g, t, e = _grid(jobs, site)
    ok = t <= time_left_s + 1e-9
    ok[-1] = True
    return g[np.argmin(np.where(ok, e, np.inf), 0), np.arange(jobs.n_gpus.size)]


def _place(jobs: Jobs, site: Site, pl: np.ndarray) -> np.ndarray:
    """Earliest start (s) of each job at its limit ``pl`` within the budget and the ramp limit,
    least slack first (deadline, else the longest job, minus the run time), then priority."""
    g = np.broadcast_to(pl, jobs.n_gpus.shape)[None, :]
    t = jobs.work_s * np.maximum(1.0, jobs.demand_w / g) ** jobs.alpha
    end_by = np.where(np.isfinite(jobs.deadline_s), jobs.deadline_s, jobs.work_s.max())
    _pl, start = _place_joint(jobs, site, end_by, (g, t, t * job_power(jobs, site, g)))
    return start


def _window_max(prof: np.ndarray, tab: np.ndarray) -> np.ndarray:
    """Fill the sparse table ``tab`` ``(levels, n)``: row ``i`` holds
    ``max(prof[x : x + 2**i])`` (-inf past the end), so a window's maximum is two look-ups."""
    n = prof.size
    tab[0] = prof
    for i in range(1, tab.shape[0]):
        k = 1 << (i - 1)
        np.maximum(tab[i - 1, : n - k], tab[i - 1, k:], out=tab[i, : n - k])
    return tab


def _earliest(
    prof: np.ndarray, tab: np.ndarray, d: np.ndarray, pj: np.ndarray, n_s: int, site: Site
) -> np.ndarray:
    """Earliest start slot ``(C,)`` of candidate (duration ``d`` slots, power ``pj`` W) runs
    where the site stays within the budget and each step within the ramp limit; -1: none."""
    s, d, pj = np.arange(n_s)[None, :], d[:, None], pj[:, None]
    lv = np.floor(np.log2(d)).astype(int)
    ramp = site.ramp_w_per_s * site.slot_s
    wmax = np.maximum(tab[lv, s], tab[lv, s + d - 2**lv])
    up = prof[s] + pj - prof[np.maximum(s - 1, 0)] * (s > 0)
    dn = prof[s + d - 1] + pj - prof[s + d]
    ok = (wmax + pj <= site.budget_w) & (up <= ramp) & (dn <= ramp)
    return np.where(ok.any(1), np.argmax(ok, 1), -1)


def _soonest(
    prof: np.ndarray, tab: np.ndarray, d: np.ndarray, pj: np.ndarray, t: np.ndarray, n_s: int,
    site: Site,
) -> tuple[int, int]:  # fmt: skip
    """Where no limit meets the bound: the candidate (index, start slot) that ends soonest,
    trying the fastest four at a time and stopping once no slower one could end sooner."""
    by_t, best, k, s0 = np.argsort(t, kind="stable"), np.inf, -1, -1
    for c in range(0, by_t.size, 4):
        ch = by_t[c : c + 4]
        if t[ch[0]] >= best:
            break
        first = _earliest(prof, tab, d[ch], pj[ch], n_s, site)
        end = np.where(first >= 0, first * site.slot_s + t[ch], np.inf)
        if end.min() < best:
            i = int(np.argmin(end))
            best, k, s0 = float(end[i]), int(ch[i]), int(first[i])
    if k < 0:
        raise StarbrainError("no start slot fits the budget and ramp limit; raise the budget")
    return k, s0


def _place_joint(
    jobs: Jobs,
    site: Site,
    end_by: np.ndarray,
    grid: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """One greedy pass, least slack first: each job takes, over the limit grid, the
    lowest-energy limit whose earliest start within the budget and ramp limit still ends it by
    ``end_by`` (else the limit that ends it soonest; from then on the makespan so far bounds
    the later jobs, within their deadlines). Returns limits (W) and starts (s).
    Candidates are tried four at a time in order of energy. ``grid``: the candidate limits,
    run times and energies ``(L, J)`` (default :data:`LIMIT_GRID_W` for every job)."""
    g, t, e = _grid(jobs, site) if grid is None else grid  # (L, J)
    p = jobs.n_gpus * (np.minimum(jobs.demand_w, g) + site.p_static_w)
    dur = np.ceil(t / site.slot_s).astype(int)
    if (p.min(0) > min(site.budget_w, site.ramp_w_per_s * site.slot_s)).any():
        raise StarbrainError("a job alone exceeds the site budget or one slot's ramp limit")
    n_s = int(2 * np.ceil((p[-1] * dur[-1]).sum() / site.budget_w
                          + p[-1].sum() / (site.ramp_w_per_s * site.slot_s)) + 2)  # fmt: skip
    prof = np.zeros(n_s + int(dur.max()) + 1)
    tab = np.full((int(np.log2(prof.size)) + 1, prof.size), -np.inf)
    t0 = t[np.argmin(np.where(t <= end_by + 1e-6, e, np.inf), 0), np.arange(t.shape[1])]
    order = np.lexsort((-jobs.priority, end_by - t0))
    out_pl, out_start = np.empty(jobs.n_gpus.size), np.empty(jobs.n_gpus.size)
    latest, missed = 0.0, False
    for j in order:
        _window_max(prof, tab)
        # once a job has missed the bound, the makespan so far is the bound (deadlines stay)
        bound = min(max(end_by[j], latest), jobs.deadline_s[j]) if missed else end_by[j]
        cand = np.argsort(np.where(t[:, j] <= bound + 1e-6, e[:, j], np.inf), kind="stable")
        cand, k = cand[t[cand, j] <= bound + 1e-6], -1
        for c in range(0, cand.size, 4):
            ch = cand[c : c + 4]
            first = _earliest(prof, tab, dur[ch, j], p[ch, j], n_s, site)
            meet = (first >= 0) & (first * site.slot_s + t[ch, j] <= bound + 1e-6)
            if meet.any():
                k, s0 = int(ch[np.argmax(meet)]), int(first[np.argmax(meet)])
                break
        if k < 0:
            k, s0 = _soonest(prof, tab, dur[:, j], p[:, j], t[:, j], n_s, site)
            missed = True
        latest = max(latest, s0 * site.slot_s + float(t[k, j]))
        out_pl[j], out_start[j] = g[k, j], s0 * site.slot_s
        prof[s0 : s0 + dur[k, j]] += p[k, j]
    return out_pl, out_start


def plan_schedule(
    jobs: Jobs,
    site: Site,
    policy: str = "starbrain",
    max_slowdown: float = 0.05,
    *,
    place: bool = False,
) -> Schedule:
    """``policy``: ``starbrain`` (budget- and ramp-aware), or the baselines ``nocap`` (every GPU
    at ``p_max``), ``uniform60`` (every GPU at 60% of ``p_max``) and ``zeus`` (per-job
    Zeus-style limit), which start every job now, or with ``place=True`` at the earliest start
    where the site stays within the budget and the ramp limit (same placement as starbrain's).

    starbrain: the makespan target is ``(1 + max_slowdown)`` times the longest job at full
    power (the critical path); where the budget or the ramp makes that infeasible, the
    makespan the first pass reached, and a second pass lets early jobs slow down to it. Jobs
    are placed least slack first; each takes the lowest-energy limit whose earliest feasible
    start still ends it by the target and its deadline (:func:`_place_joint`): full power on
    the critical path, the low-energy end of its Zeus curve where the slack allows."""
    now = np.zeros(jobs.n_gpus.size)
    full = np.full(now.size, site.p_max_w)
    base = {"nocap": full, "uniform60": 0.6 * full}
    if policy in base or policy == "zeus":
        pl = base[policy] if policy in base else zeus_limits(jobs, site)
        return Schedule(pl, _place(jobs, site, pl) if place else now, policy)
    if policy != "starbrain":
        raise StarbrainError(f"unknown policy {policy!r}: starbrain, nocap, uniform60 or zeus")
    # the critical path at full power, plus max_slowdown, bounds every job's end
    end_by = np.minimum((1 + max_slowdown) * jobs.work_s.max(), jobs.deadline_s)
    pl, start = _place_joint(jobs, site, end_by)
    end = start + job_time(jobs, pl)
    if not (end > end_by + 1e-6).any():
        return Schedule(pl, start, policy)
    # the budget or the ramp makes that infeasible: the makespan this pass reached is the new
    # bound, and jobs that finished early slow down to it
    pl2, start2 = _place_joint(jobs, site, np.minimum(end.max(), jobs.deadline_s))
    if (start2 + job_time(jobs, pl2)).max() <= end.max() + 1e-6:
        return Schedule(pl2, start2, policy)
    return Schedule(pl, start, policy)


def evaluate_schedule(jobs: Jobs, site: Site, sched: Schedule) -> dict[str, float | str]:
    """Energy (J), makespan (s), peak site power (W), maximum ramp (W/s, over ``slot_s``
    slots, counting each start and end as a step) and deadline misses of a schedule."""
    t = job_time(jobs, sched.power_limit_w)
    p = job_power(jobs, site, sched.power_limit_w)
    end = sched.start_s + t
    n = int(np.ceil(end.max() / site.slot_s)) + 2
    s0 = np.floor(sched.start_s / site.slot_s + 1e-9).astype(int)
    s1 = np.ceil(end / site.slot_s - 1e-9).astype(int)
    delta = np.zeros(n + 1)
    np.add.at(delta, s0, p)
    np.add.at(delta, s1, -p)
    prof = np.cumsum(delta)[:n]
    return {
        "policy": sched.policy,
        "energy_mwh": float((p * t).sum() / 3.6e9),
        "makespan_s": float(end.max()),
        "peak_site_mw": float(prof.max() / 1e6),
        "max_ramp_mw_per_min": float(
            np.abs(np.diff(np.r_[0.0, prof])).max() / 1e6 * 60 / site.slot_s
        ),
        "deadline_misses": int((end > jobs.deadline_s + 1e-6).sum()),
    }
