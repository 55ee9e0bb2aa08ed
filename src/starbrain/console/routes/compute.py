"""GET /api/compute/site (the GPU hall over time: site power, enforced limits, die and HBM
temperatures, from the ``compute`` stream) and /api/compute/schedule (a power-capped training
schedule: site power vs budget over time, each job's power limit and start time).

Units: W, deg C, s; times ISO 8601 UTC. The schedule is planned here, on a seeded random job
mix (the demo's: 400 jobs on 100,000 GPUs, budget 55% of the uncapped draw), since the store
keeps no schedule; its parameters are query parameters.
"""

from __future__ import annotations

from typing import Annotated, Literal

import numpy as np
from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from starbrain.console.deps import ERROR_RESPONSES, ApiError, StoreDep, compute
from starbrain.console.fleet import nullable
from starbrain.console.routes.vehicles import times_iso
from starbrain.core.errors import StarbrainError
from starbrain.store import queries
from starbrain.store.database import Store

router = APIRouter(tags=["compute"], responses=ERROR_RESPONSES)

MAX_POINTS = 5000
MAX_JOBS = 2000
Policy = Literal["starbrain", "nocap", "uniform60", "zeus"]


class HotGpu(BaseModel):
    gpu_id: str
    rack_id: str | None
    samples: int
    gpu_temp_max_c: float | None
    memory_temp_max_c: float | None
    power_mean_w: float | None


class ComputeSite(BaseModel):
    total: int = Field(description="Sample times stored.")
    stride: int = Field(description="Every stride-th sample time is returned.")
    time: list[str]
    n_gpus: list[int] = Field(description="GPUs reporting at each time.")
    site_power_w: list[float | None] = Field(description="Sum of GPU board power, W.")
    power_limit_w: list[float | None] = Field(description="Sum of enforced power limits, W.")
    gpu_temp_mean_c: list[float | None] = Field(description="Mean die temperature, deg C.")
    gpu_temp_max_c: list[float | None] = Field(description="Hottest die, deg C.")
    memory_temp_max_c: list[float | None] = Field(description="Hottest HBM, deg C.")
    hottest: list[HotGpu] = Field(description="GPUs by peak die temperature, hottest first.")


class ScheduledJob(BaseModel):
    job: int
    n_gpus: int
    priority: int
    start_s: float = Field(description="Planned start, s from now.")
    end_s: float = Field(description="Planned end, s from now.")
    power_limit_w: float = Field(description="Per-GPU power limit, W.")
    site_power_w: float = Field(description="The job's site power while it runs, W.")
    deadline_s: float | None = Field(description="Deadline, s from now (null: none).")


class PolicySummary(BaseModel):
    policy: str
    energy_mwh: float
    makespan_s: float
    peak_site_mw: float
    max_ramp_mw_per_min: float
    deadline_misses: int


class ComputeSchedule(BaseModel):
    policy: str
    budget_w: float = Field(description="Site power budget, W.")
    ramp_w_per_s: float = Field(description="Ramp-rate limit, W/s.")
    slot_s: float
    time_s: list[float] = Field(description="Start of each slot, s from now.")
    site_power_w: list[float] = Field(description="Planned site power in each slot, W.")
    jobs: list[ScheduledJob]
    summary: PolicySummary
    baseline: PolicySummary = Field(description="The same jobs with no power cap.")


def _site(store: Store, max_points: int) -> ComputeSite | None:
    total, stride, t = queries.compute_site(store, max_points)
    if total == 0:
        return None
    hot = [
        HotGpu(
            gpu_id=r["gpu_id"],
            rack_id=r["rack_id"],
            samples=r["n"],
            gpu_temp_max_c=r["gpu_temp_max_c"],
            memory_temp_max_c=r["memory_temp_max_c"],
            power_mean_w=r["power_mean_w"],
        )
        for r in queries.compute_gpus(store, 10).to_pylist()
    ]
    cols = {
        n: nullable(t.column(n).to_numpy(zero_copy_only=False), 3)
        for n in ("site_power_w", "power_limit_w", "gpu_temp_mean_c", "gpu_temp_max_c",
                  "memory_temp_max_c")
    }  # fmt: skip
    return ComputeSite(
        total=total,
        stride=stride,
        time=times_iso(t.column("t_ns").to_numpy()),
        n_gpus=t.column("n_gpus").to_pylist(),
        hottest=hot,
        **cols,
    )


@router.get("/api/compute/site", response_model=ComputeSite, summary="GPU hall over time")
async def site(
    request: Request,
    store: StoreDep,
    max_points: Annotated[int, Query(ge=10, le=MAX_POINTS)] = 2000,
) -> ComputeSite:
    """Site power and the sum of power limits (W), mean and hottest die and hottest HBM
    temperature (deg C) at each stored sample time of the ``compute`` stream, every
    ``stride``-th time so that at most ``max_points`` come back; and the hottest GPUs."""
    found = await compute(request, _site, store, max_points)
    if found is None:
        raise ApiError(404, "no GPU telemetry stored (starbrain compute simulate, or make run)")
    return found


def _summary(row: dict[str, float | str]) -> PolicySummary:
    return PolicySummary.model_validate(row)


def _schedule(
    policy: str, n_jobs: int, n_gpus: int, budget: float, ramp: float, seed: int
) -> ComputeSchedule:
    from starbrain.planners.power_schedule import (
        Jobs,
        Site,
        evaluate_schedule,
        job_power,
        job_time,
        plan_schedule,
    )

    jobs = Jobs.random(n_jobs, n_gpus, seed=seed)
    full = float((jobs.n_gpus * (jobs.demand_w + 90.0)).sum())
    site = Site(budget_w=budget * full, ramp_w_per_s=ramp * full / 60)
    try:
        plan = plan_schedule(jobs, site, policy)
    except StarbrainError as exc:
        raise ApiError(422, f"cannot plan {n_jobs} jobs: {exc}") from None
    p, dur = job_power(jobs, site, plan.power_limit_w), job_time(jobs, plan.power_limit_w)
    end = plan.start_s + dur
    n = int(np.ceil(end.max() / site.slot_s)) + 1
    slots = np.arange(n) * site.slot_s
    running = (plan.start_s[None, :] <= slots[:, None] + 1e-9) & (end[None, :] > slots[:, None])
    profile = (running * p[None, :]).sum(1)
    out = [
        ScheduledJob(
            job=j,
            n_gpus=int(jobs.n_gpus[j]),
            priority=int(jobs.priority[j]),
            start_s=float(plan.start_s[j]),
            end_s=round(float(end[j]), 3),
            power_limit_w=float(plan.power_limit_w[j]),
            site_power_w=round(float(p[j]), 1),
            deadline_s=round(float(jobs.deadline_s[j]), 3)
            if np.isfinite(jobs.deadline_s[j])
            else None,
        )
        for j in range(n_jobs)
    ]
    nocap = evaluate_schedule(jobs, site, plan_schedule(jobs, site, "nocap"))
    return ComputeSchedule(
        policy=policy,
        budget_w=site.budget_w,
        ramp_w_per_s=site.ramp_w_per_s,
        slot_s=site.slot_s,
        time_s=slots.tolist(),
        site_power_w=np.round(profile, 1).tolist(),
        jobs=out,
        summary=_summary(evaluate_schedule(jobs, site, plan)),
        baseline=_summary(nocap),
    )


@router.get(
    "/api/compute/schedule", response_model=ComputeSchedule, summary="Power-capped schedule"
)
async def schedule(
    request: Request,
    policy: Policy = "starbrain",
    n_jobs: Annotated[int, Query(ge=1, le=MAX_JOBS, description="Training jobs.")] = 400,
    n_gpus: Annotated[int, Query(ge=8, le=200_000, description="GPUs in the fleet.")] = 100_000,
    budget_fraction: Annotated[
        float, Query(gt=0.0, le=1.0, description="Site budget / the fleet's uncapped draw.")
    ] = 0.55,
    ramp_fraction: Annotated[
        float, Query(gt=0.0, le=1.0, description="Ramp limit per minute / uncapped draw.")
    ] = 0.05,
    seed: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
) -> ComputeSchedule:
    """Plan the seeded job mix with ``policy`` (starbrain: budget- and ramp-aware per-job power
    limits and start times; nocap, uniform60 and zeus start every job now): the site power
    in each slot (W) against the budget, each job's start, end (s) and power limit (W), and
    the plan's energy, makespan, peak and ramp beside the uncapped baseline's."""
    return await compute(
        request, _schedule, policy, n_jobs, n_gpus, budget_fraction, ramp_fraction, seed
    )
