"""Issue #18's smoke test: small torch jobs on a local Ray cluster under a power schedule."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("ray")

from starbrain.loop.compute_jobs import run_schedule_on_ray
from starbrain.planners.power_schedule import Jobs, Site, plan_schedule


@pytest.mark.slow
def test_jobs_run_on_ray_in_planned_order_and_learn() -> None:
    jobs = Jobs.random(4, 64, seed=1)
    full = float((jobs.n_gpus * (jobs.demand_w + 90.0)).sum())
    site = Site(budget_w=0.6 * full, ramp_w_per_s=full / 60)
    sched = plan_schedule(jobs, site)
    rows = run_schedule_on_ray(sched, time_scale=1e-3, steps=150)
    assert [r["job"] for r in rows] == [0, 1, 2, 3]
    for r in rows:
        assert r["loss_last"] < 0.2 * r["loss_first"]  # each job trained
        assert r["started"] >= r["planned_start_s"] - 0.05  # never before its planned start
    np.testing.assert_allclose([r["power_limit_w"] for r in rows], sched.power_limit_w)
