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

starbrain's plan: each job takes the lowest-energy limit whose run time stays within
``max_slowdown`` of the longest uncapped job (and within its deadline), then jobs are placed by
priority and deadline at the earliest slot where the site profile stays under the budget and
each start's step stays within the ramp limit; a second pass gives jobs whose start was pushed
back the limit that still meets their deadline. Vectorised over jobs and slots; the one Python
loop is over jobs. Units: W, s, J.
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


def _starbrain_limits(
    jobs: Jobs, site: Site, max_slowdown: float, start_s: np.ndarray | None = None
) -> np.ndarray:
    g, t, e = _grid(jobs, site)
    if start_s is not None:  # second pass: the time left after the planned start
        jobs = Jobs(jobs.n_gpus, jobs.work_s, jobs.demand_w, jobs.alpha,
                    jobs.deadline_s - start_s - site.slot_s, jobs.priority)  # fmt: skip
    # a job off the critical path may slow down more than max_slowdown: only the fleet's
    # makespan (the longest uncapped job, plus max_slowdown) and its deadline bound it
    ok = (t <= jobs.work_s.max() * (1 + max_slowdown)) & (t <= jobs.deadline_s)
    ok[-1] = True  # the top of the grid is always allowed
    return g[np.argmin(np.where(ok, e, np.inf), 0), np.arange(jobs.n_gpus.size)]


def _place(jobs: Jobs, site: Site, pl: np.ndarray) -> np.ndarray:
    """Earliest feasible start slot of each job, by priority then deadline."""
    p, dur = job_power(jobs, site, pl), np.ceil(job_time(jobs, pl) / site.slot_s).astype(int)
    ramp = site.ramp_w_per_s * site.slot_s
    if (p > site.budget_w).any() or (p > ramp).any():
        raise StarbrainError("a job alone exceeds the site budget or one slot's ramp limit")
    # enough slots: twice the budget-limited makespan plus the longest job
    n_slots = int(2 * np.ceil((p * dur).sum() / site.budget_w) + 2 * dur.max() + 2)
    prof, start = np.zeros(n_slots + 1), np.zeros(jobs.n_gpus.size, int)
    order = np.lexsort((jobs.deadline_s, -jobs.priority))
    win = np.arange(int(dur.max()))
    for j in order:
        s = np.arange(n_slots - dur[j])
        idx = s[:, None] + win[None, : dur[j]]
        fits = (prof[idx] + p[j] <= site.budget_w).all(1)
        step_up = prof[s] + p[j] - prof[np.maximum(s - 1, 0)] * (s > 0)
        step_dn = prof[s + dur[j] - 1] + p[j] - prof[s + dur[j]]
        okk = fits & (step_up <= ramp) & (step_dn <= ramp)
        if not okk.any():
            raise StarbrainError("no start slot fits the budget and ramp limit; raise the budget")
        k = int(np.argmax(okk))
        start[j] = s[k]
        prof[s[k] : s[k] + dur[j]] += p[j]
    return start * site.slot_s


def plan_schedule(
    jobs: Jobs, site: Site, policy: str = "starbrain", max_slowdown: float = 0.05
) -> Schedule:
    """``policy``: ``starbrain`` (budget- and ramp-aware), or the baselines ``nocap``,
    ``uniform60`` (every GPU at 60% of ``p_max``) and ``zeus`` (per-job Zeus-style limit),
    which all start every job now."""
    now = np.zeros(jobs.n_gpus.size)
    if policy == "nocap":
        return Schedule(np.full(now.size, site.p_max_w), now, policy)
    if policy == "uniform60":
        return Schedule(np.full(now.size, 0.6 * site.p_max_w), now, policy)
    if policy == "zeus":
        return Schedule(zeus_limits(jobs, site), now, policy)
    if policy != "starbrain":
        raise StarbrainError(f"unknown policy {policy!r}: starbrain, nocap, uniform60 or zeus")
    pl = _starbrain_limits(jobs, site, max_slowdown)
    start = _place(jobs, site, pl)
    # jobs whose start was pushed back get the limit that still meets their deadline
    pl = _starbrain_limits(jobs, site, max_slowdown, start)
    return Schedule(pl, _place(jobs, site, pl), policy)


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
