"""Orbit world model (issue #14): held-out orbits, regimes and epochs, stratified against SGP4.

Workload: ``models.orbit_world.WorldModelTrainConfig`` (the ``starbrain model train``
defaults): generic LEO (300-1,200 km, all inclinations, e < 0.02, Cd*A/m 0.002-0.1 m^2/kg,
15% constellation-shell look-alikes) at six training epochs 2001-2019 and three test epochs
2021-2024 (new orbits, later years), one orbit regime (500-800 km, 40-80 deg) never trained
on; truth 7 days from ``ForceModel.full(truth_degree)`` (EGM2008, NRLMSISE-00 with observed
space weather, Sun, Moon, SRP with conical shadow). Baseline (the peer, same run): SGP4 fitted
to day 1. Model: numerical OD on day 1 (EGM2008 8x8, exponential atmosphere, drag scale
estimated) plus the learned residual ensemble, falling back to the OD prior out of domain.

Prints the stratified table (stratum, label, n, horizon, SGP4 median/p95, OD prior median/p95,
model median/p95 [m], ratios model / SGP4 of the median and p95, p95 within 5 %), the 2-sigma
coverage per horizon on the test satellites, fallbacks, stage times and the done-when check.

Run with ``python bench/world_model.py [--train-sats N] [--test-sats M] [--truth-degree D]
[--prior-degree P] [--seed S] [--threads T] [--workers W] [--json PATH]``; the same config
(:func:`~starbrain.models.orbit_world.train_config`) and the same function
(:func:`~starbrain.models.orbit_world.run_world_model`) as ``starbrain model train``.
"""

from __future__ import annotations

import argparse
import os

import torch

from starbrain.models.orbit_world import (
    WorldModelTrainConfig,
    default_workers,
    result_json,
    run_world_model,
    train_config,
)


def print_table(rows: list[dict]) -> None:
    heads = ("SGP4 med", "SGP4 p95", "OD med", "OD p95", "mdl med", "mdl p95", "med r", "p95 r")
    print(
        f"  {'stratum':>8} {'label':>24} {'n':>4} {'hzn':>5} " + " ".join(f"{h:>8}" for h in heads)
    )
    for r in rows:
        print(f"  {r['stratum']:>8} {r['label']:>24} {r['n_sat']:4d} "
              f"{r['horizon_min'] / 60:4.0f}h {r['sgp4_median_km'] * 1e3:9.0f} "
              f"{r['sgp4_p95_km'] * 1e3:9.0f} {r['prior_median_km'] * 1e3:8.0f} "
              f"{r['prior_p95_km'] * 1e3:8.0f} {r['model_median_km'] * 1e3:8.0f} "
              f"{r['model_p95_km'] * 1e3:8.0f} {r['median_ratio']:6.3f} {r['p95_ratio']:6.3f}"
              f" {'ok' if r['p95_ok'] else 'WORSE'}")  # fmt: skip


def main() -> None:
    d = WorldModelTrainConfig()
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--train-sats", type=int, default=d.sats_per_train_epoch)
    ap.add_argument("--test-sats", type=int, default=d.sats_per_test_epoch)
    ap.add_argument("--truth-degree", type=int, default=d.truth_degree)
    ap.add_argument("--prior-degree", type=int, default=d.prior_degree)
    ap.add_argument("--seed", type=int, default=d.seed)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--workers", type=int, default=default_workers())
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    cfg = train_config(
        d, sats_per_train_epoch=args.train_sats, sats_per_test_epoch=args.test_sats,
        truth_degree=args.truth_degree, prior_degree=args.prior_degree, seed=args.seed,
    )  # fmt: skip
    print(f"uptime before: {os.getloadavg()} (1/5/15-min load), {args.workers} workers")
    res = run_world_model(cfg, progress=lambda m: print(m, flush=True), workers=args.workers)
    print(f"uptime after: {os.getloadavg()}")
    print(f"truth: {res.truth_force_model}")
    print(f"prior: {res.model.prior_name}; trained on {res.n_train} satellites, tested on "
          f"{res.n_test} ({res.n_fell_back} fell back to the prior: out of domain)")  # fmt: skip
    print("stage seconds: " + ", ".join(f"{k} {v:.0f}" for k, v in res.seconds.items()))
    used = [f"{t:.2f}" for t, u in zip(res.model.dt_grid, res.model.use, strict=True) if u]
    print("residual used at dt (days after fit):", used)
    print("2-sigma coverage per horizon (test):", [f"{c:.2f}" for c in res.coverage])
    print_table(res.table)
    gen = {r["horizon_min"]: r for r in res.table if r["label"] == "generic"}
    worse = [r for r in res.table if not r["p95_ok"]]
    r3, r7 = gen[4320.0]["median_ratio"], gen[10080.0]["median_ratio"]
    print(f"done-when: generic median ratio 3 d {r3:.3f}, 7 d {r7:.3f} (goal <= 0.5); "
          f"strata x horizons with p95 above 1.05 x SGP4's: {len(worse)}")  # fmt: skip
    if args.json:
        with open(args.json, "w") as fh:
            fh.write(result_json(res))


if __name__ == "__main__":
    main()
