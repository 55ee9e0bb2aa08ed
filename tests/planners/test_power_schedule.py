"""Power-capped scheduling: the Zeus-style curves, the baselines, and starbrain's plan never
above the site budget or the ramp limit, re-planned for 100,000 GPUs in well under 1 s."""

from __future__ import annotations

import time

import numpy as np
import pytest

from starbrain.core.errors import StarbrainError
from starbrain.planners.power_schedule import (
    Jobs,
    Site,
    evaluate_schedule,
    job_time,
    plan_schedule,
    zeus_limits,
)


def _one(alpha: float = 0.4, demand: float = 650.0) -> Jobs:
    return Jobs(*(np.array([v]) for v in (8.0, 3600.0, demand, alpha, np.inf, 0.0)))


def test_zeus_limit_minimises_zeus_cost_against_the_closed_form() -> None:
    # per GPU with pl < demand: cost(pl) = T0 (d/pl)^a [eta (pl + s) + (1 - eta) pmax];
    # d cost / d pl = 0 at pl* = a (eta s + (1-eta) pmax) / (eta (1 - a))
    site, jobs = Site(1e9, 1e9), _one(alpha=0.3)
    a, s, pmax, eta = 0.3, site.p_static_w, site.p_max_w, 0.5
    pl_star = a * (eta * s + (1 - eta) * pmax) / (eta * (1 - a))
    assert float(zeus_limits(jobs, site, eta)[0]) == pytest.approx(pl_star, abs=12.5)  # 25 W grid
    assert job_time(jobs, np.array([325.0]))[0] == pytest.approx(3600 * 2**0.3)


def test_starbrain_respects_budget_and_ramp_where_baselines_do_not() -> None:
    jobs = Jobs.random(60, 4000, seed=3)
    site = _site(jobs, 0.55, 0.25)
    rows = {p: evaluate_schedule(jobs, site, plan_schedule(jobs, site, p)) for p in
            ("nocap", "uniform60", "zeus", "starbrain")}  # fmt: skip
    sb = rows["starbrain"]
    assert sb["peak_site_mw"] * 1e6 <= site.budget_w * (1 + 1e-9)
    assert sb["max_ramp_mw_per_min"] * 1e6 / 60 <= site.ramp_w_per_s * (1 + 1e-9)
    assert rows["nocap"]["peak_site_mw"] * 1e6 > site.budget_w  # starting everything now
    assert rows["uniform60"]["energy_mwh"] < rows["nocap"]["energy_mwh"]
    assert sb["energy_mwh"] < rows["nocap"]["energy_mwh"]
    with pytest.raises(StarbrainError, match="policy"):
        plan_schedule(jobs, site, "fastest")


def _site(jobs: Jobs, budget_frac: float, ramp_frac_per_min: float) -> Site:
    full = float((jobs.n_gpus * (jobs.demand_w + 90.0)).sum())
    return Site(budget_w=budget_frac * full, ramp_w_per_s=ramp_frac_per_min * full / 60)


def _within(row: dict, site: Site) -> bool:
    return row["peak_site_mw"] * 1e6 <= site.budget_w * (1 + 1e-9) and row[
        "max_ramp_mw_per_min"
    ] * 1e6 / 60 <= site.ramp_w_per_s * (1 + 1e-9)


def test_replanning_100000_gpus_under_a_second() -> None:
    jobs = Jobs.random(400, 100_000, seed=0)
    site = _site(jobs, 0.55, 0.05)
    assert jobs.n_gpus.sum() >= 100_000
    t0 = time.perf_counter()
    sched = plan_schedule(jobs, site)
    dt = time.perf_counter() - t0
    assert dt < 1.0  # 0.10-0.27 s measured here (2 cores shared with 7 sessions)
    row = evaluate_schedule(jobs, site, sched)
    nocap = evaluate_schedule(jobs, site, plan_schedule(jobs, site, "nocap"))
    assert _within(row, site) and row["deadline_misses"] == 0
    assert not _within(nocap, site)  # no cap (all jobs now, full power) breaks both limits
    # the target: >= 15% less energy at <= 5% longer makespan than no cap; measured
    # 61.35 vs 83.04 MWh (-26%) at 7557 vs 7197 s (+4.99%)
    assert row["energy_mwh"] <= 0.85 * nocap["energy_mwh"]
    assert row["makespan_s"] <= 1.05 * nocap["makespan_s"] * (1 + 1e-9)


def test_placed_baselines_keep_the_limits_and_starbrain_beats_them() -> None:
    jobs = Jobs.random(200, 20_000, seed=5)
    for budget, ramp in ((0.75, 0.05), (0.4, 0.05), (0.55, 0.03)):  # the last two: tight
        site = _site(jobs, budget, ramp)
        sb = evaluate_schedule(jobs, site, plan_schedule(jobs, site))
        assert _within(sb, site) and sb["deadline_misses"] == 0
        for pol in ("nocap", "uniform60", "zeus"):
            row = evaluate_schedule(jobs, site, plan_schedule(jobs, site, pol, place=True))
            assert _within(row, site), (pol, budget, ramp)
            assert sb["energy_mwh"] < row["energy_mwh"]
            assert sb["makespan_s"] <= row["makespan_s"] * 1.05


def test_critical_path_job_keeps_near_full_power_and_slack_jobs_slow_down() -> None:
    # one long job and one short one, a generous site: the long one sets the makespan near
    # full power; the short one takes the lowest-energy limit that still ends by 1.05 x the long
    jobs = Jobs(*(np.array(v, float) for v in ([8, 8], [7200, 1800], [650, 650], [0.4, 0.4],
                                               [np.inf, np.inf], [0, 0])))  # fmt: skip
    site = Site(1e9, 1e9)
    s = plan_schedule(jobs, site)
    # the long job uses its own 5%: 600 W slows it (650/600)^0.4 = 1.033x (575 W: 1.0502x)
    assert s.power_limit_w[0] == 600.0 and s.start_s[0] == 0
    assert s.power_limit_w[1] == pytest.approx(150.0)  # grid floor: 1800 (650/150)^0.4 < 7560
    assert job_time(jobs, s.power_limit_w)[1] <= 1.05 * 7200
