"""Issue #18's done-when figures for owned compute (first session).

1. Scheduler table: energy, makespan, peak site power, maximum ramp and deadline misses for the
   baselines (no cap, uniform 60% cap, per-job Zeus-style limits) and starbrain's plan, on 400
   random jobs over 100,000 GPUs with a site budget of 55% of the uncapped draw and a ramp limit
   of 1/20 of it per minute; with the re-planning time (median of 5) on this machine.
2. Thermal forecast at 60 s on held-out simulated GPUs (another seeded fleet; one of its two
   loops has a degrading pump): die-temperature RMSE of the world model, its three-node RC prior
   and the single-node RC model, per stratum.

Run: .venv/bin/python bench/compute.py [--skip-thermal] [--json]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from starbrain.models.compute_model import heldout_forecast
from starbrain.planners.power_schedule import Jobs, Site, evaluate_schedule, plan_schedule


def scheduler_table() -> list[dict]:
    jobs = Jobs.random(400, 100_000, seed=0)
    full = float((jobs.n_gpus * (jobs.demand_w + 90.0)).sum())
    site = Site(budget_w=0.55 * full, ramp_w_per_s=0.05 * full / 60)
    rows = []
    for pol in ("nocap", "uniform60", "zeus", "starbrain"):
        times = []
        for _ in range(5):
            t0 = time.perf_counter()
            s = plan_schedule(jobs, site, pol)
            times.append(time.perf_counter() - t0)
        row = evaluate_schedule(jobs, site, s)
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
    out = {"scheduler": scheduler_table()}
    if not a.skip_thermal:
        out["thermal_60s"] = thermal_table()
    if a.json:
        print(json.dumps(out, indent=1, default=str))
        return
    for r in out["scheduler"]:
        print(
            f"{r['policy']:10s} energy {r['energy_mwh']:6.1f} MWh"
            f"  makespan {r['makespan_s']:7.0f} s"
            f"  peak {r['peak_site_mw']:5.1f} MW (budget {r['budget_mw']:.1f})"
            f"  max ramp {r['max_ramp_mw_per_min']:5.1f} MW/min"
            f" (limit {r['ramp_limit_mw_per_min']:.1f})"
            f"  misses {r['deadline_misses']}  plan {r['plan_s'] * 1e3:.0f} ms"
        )
    for r in out.get("thermal_60s", []):
        print(
            f"60 s {r['stratum']:8s} model {r['rmse_model_c']:.2f}"
            f"  3-node RC {r['rmse_prior_c']:.2f}  1-node RC {r['rmse_rc_c']:.2f} degC"
            f"  (ood {r['ood_fraction']:.2f}, n {r['n_windows']})"
        )


if __name__ == "__main__":
    main()
