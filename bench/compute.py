"""Issue #18's done-when figures for owned compute.

1. Scheduler tables: energy, makespan, peak site power (and seconds over the budget), maximum
   ramp and deadline misses for the baselines (no cap, uniform 60% cap, per-job Zeus-style
   limits; each starting every job now, as the issue's baselines do, and placed under the
   budget and ramp by the same placement as starbrain's) and starbrain's plan, on 400 random
   jobs over 100,000 GPUs with a site budget of 40%, 55% and 75% of the uncapped draw (55% and
   75% bind no cap only part of the time; 40% binds starbrain too) and a ramp limit of 1/20 of
   it per minute; with the
   re-planning time (median of 5) on this machine.
2. Thermal forecast at 60 s on held-out simulated GPUs (``heldout_forecast``: another seeded
   fleet; one of its two loops has a degrading pump): die-temperature RMSE of the world model
   (per-GPU parameters + residual), its three-node RC prior with per-GPU parameters and with
   nominal ones, and the single-node RC model, per stratum.

Run: .venv/bin/python bench/compute.py [--skip-thermal] [--json]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from starbrain.models.compute_model import heldout_forecast
from starbrain.planners import power_schedule as ps


def _over_budget_s(jobs: ps.Jobs, site: ps.Site, s) -> float:
    """Seconds the site draws more than its budget (1-s resolution)."""
    t = ps.job_time(jobs, s.power_limit_w)
    p = ps.job_power(jobs, site, s.power_limit_w)
    grid = np.arange(0.0, float((s.start_s + t).max()), 1.0)
    on = (s.start_s[:, None] <= grid) & (s.start_s[:, None] + t[:, None] > grid)
    return float(((p @ on) > site.budget_w * (1 + 1e-9)).sum())


def scheduler_table(budget_frac: float = 0.55) -> list[dict]:
    jobs = ps.Jobs.random(400, 100_000, seed=0)
    full = float((jobs.n_gpus * (jobs.demand_w + 90.0)).sum())
    site = ps.Site(budget_w=budget_frac * full, ramp_w_per_s=0.05 * full / 60)
    rows = []
    runs = [(p, False) for p in ("nocap", "uniform60", "zeus")]
    runs += [(p, True) for p in ("nocap", "uniform60", "zeus")] + [("starbrain", False)]
    for pol, place in runs:
        times = []
        for _ in range(5):
            t0 = time.perf_counter()
            s = ps.plan_schedule(jobs, site, pol, place=place)
            times.append(time.perf_counter() - t0)
        row = ps.evaluate_schedule(jobs, site, s)
        row["placed"] = place
        row["over_budget_s"] = _over_budget_s(jobs, site, s)
        row["plan_s"] = float(np.median(times))
        row["budget_mw"], row["ramp_limit_mw_per_min"] = (
            site.budget_w / 1e6,
            site.ramp_w_per_s * 60 / 1e6,
        )
        rows.append(row)
    return rows


def thermal_table() -> list[dict]:
    return heldout_forecast()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--skip-thermal", action="store_true")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    out: dict = {f"scheduler_{b:.2f}": scheduler_table(b) for b in (0.40, 0.55, 0.75)}
    if not a.skip_thermal:
        t0 = time.perf_counter()
        out["thermal_60s"] = thermal_table()
        out["thermal_s"] = time.perf_counter() - t0
    if a.json:
        print(json.dumps(out, indent=1, default=str))
        return
    for key, rows in out.items():
        if not key.startswith("scheduler"):
            continue
        nocap = rows[0]
        for r in rows:
            de = r["energy_mwh"] / nocap["energy_mwh"] - 1
            dm = r["makespan_s"] / nocap["makespan_s"] - 1
            how = "placed" if r["placed"] or r["policy"] == "starbrain" else "now"
            print(
                f"{key} {r['policy']:10s} {how:6s} energy {r['energy_mwh']:6.2f} MWh ({de:+.1%})"
                f"  makespan {r['makespan_s']:7.0f} s ({dm:+.3%})"
                f"  peak {r['peak_site_mw']:5.1f} MW (budget {r['budget_mw']:.1f}, over"
                f" {r['over_budget_s']:.0f} s)  max ramp {r['max_ramp_mw_per_min']:5.1f} MW/min"
                f" (limit {r['ramp_limit_mw_per_min']:.1f})  misses {r['deadline_misses']}"
                f"  plan {r['plan_s'] * 1e3:.0f} ms"
            )
    for r in out.get("thermal_60s", []):
        print(
            f"60 s {r['stratum']:8s} model {r['rmse_model_c']:.3f}"
            f"  3-node RC per-GPU {r['rmse_prior_c']:.3f}"
            f"  3-node RC nominal {r['rmse_prior_nominal_c']:.3f}"
            f"  1-node RC {r['rmse_rc_c']:.3f} degC"
            f"  (ood {r['ood_fraction']:.2f}, n {r['n_windows']})"
        )
    if "thermal_s" in out:
        print(f"thermal protocol (simulate, estimate, fit, score): {out['thermal_s']:.0f} s")


if __name__ == "__main__":
    main()
