"""Orbit world model: truth generation, prior fitting, training time and held-out errors.

Workload: ``--sats`` (default 1000) fixed-seed element sets (``models.truth.sample_elements``:
40% Starlink Gen1 preset, ``--deep-fraction`` each of MEO, GEO and HEO (default 0.05), the rest
LEO at 400-1200 km, 0-100 deg, B* 1e-5..1e-3), propagated ``--days`` (default 7) with the
full-force numerical propagator (J2-J6, drag, Sun, Moon, SRP) every 20 min. SGP4 elements are
fitted to the first day of each arc (the prior); ``--test`` satellites (default 100) are held
out; the model trains on the rest (``--threads`` CPU threads, default 2). ``--seeds`` repeats
the whole run (sample, split and model seeds) for each seed given.

Peer, measured in the same run: SGP4 alone on the same fitted elements. Prints, per seed, the
median and 95th-percentile position error per horizon (1 h, 6 h, 1 d, 3 d, 7 d) on the held-out
satellites (all, and LEO / MEO / GEO / HEO apart) for both, the ratio model / SGP4 of the
medians (below 1: the model is better), the wall time of each stage, and a summary line per
seed; writes a PNG plot of the first seed (``--plot``) and all rows as JSON (``--json``).

Issue #14 options (defaults unchanged): ``--sampler leo`` draws generic LEO instead
(``models.truth.sample_leo_elements``: 300-1,200 km, all inclinations, e < 0.02, Cd*A/m
0.002-0.1 m^2/kg, ``--shell-fraction`` of constellation-shell look-alikes) and prints the
stratified tables (family, altitude, ballistic, solar activity: ``models.evaluation.
evaluate_stratified``) with the p95 ratio; ``--physics full`` makes the truth EGM2008
``--degree`` x ``--degree`` + NRLMSISE-00 with observed space weather + Sun, Moon, SRP
(``ForceModel.full``; about 4.5x the cost of the legacy J2-J6 / exponential truth at degree
30); ``--epoch`` sets the common epoch (space weather follows it).

Run with ``python bench/world_model.py [--sats N] [--test M] [--days D] [--epochs E]
[--seeds S ...] [--threads T] [--device cpu|cuda] [--plot PATH] [--json PATH]
[--sampler mixed|leo] [--shell-fraction F] [--physics legacy|full] [--degree N] [--epoch ISO]``.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import numpy as np
import torch

from starbrain.models.evaluation import evaluate_orbit_model, evaluate_stratified
from starbrain.models.orbit_model import OrbitModelConfig, fit_priors, train_orbit_model
from starbrain.models.truth import (
    DEFAULT_EPOCH,
    generate_truth,
    leo_strata,
    orbit_class,
    sample_elements,
    sample_leo_elements,
)
from starbrain.physics.forces import ForceModel
from starbrain.report.orbit_model import plot_errors


def run_seed(args: argparse.Namespace, seed: int, plot: str | None) -> dict[str, Any]:
    frac = args.deep_fraction
    t0 = time.perf_counter()
    if args.sampler == "leo":
        elements = sample_leo_elements(
            args.sats, seed=seed, epoch=args.epoch, shell_fraction=args.shell_fraction
        )
    else:
        elements = sample_elements(
            args.sats, seed=seed, epoch=args.epoch, meo_fraction=frac, geo_fraction=frac,
            heo_fraction=frac,
        )  # fmt: skip
    fm = ForceModel.full(args.degree) if args.physics == "full" else None
    truth = generate_truth(elements, days=args.days, step_min=20.0, force_model=fm)
    t1 = time.perf_counter()
    arcs = fit_priors(truth, fit_days=1.0)
    t2 = time.perf_counter()
    train, test = arcs.split(args.test, seed=seed)
    cfg = OrbitModelConfig(
        epochs=args.epochs, horizon_min=args.days * 1440.0, seed=seed, time_batch=args.time_batch
    )
    model, history = train_orbit_model(train, cfg, device=args.device)
    t3 = time.perf_counter()
    classes = orbit_class(test.truth.elements)
    groups = {"all": evaluate_orbit_model(model, test)}
    for c in ("LEO", "MEO", "GEO", "HEO"):
        idx = np.flatnonzero(classes == c)
        if idx.size:
            groups[c] = evaluate_orbit_model(model, test.subset(idx))
    print(f"seed {seed}: truth {args.sats} satellites x {args.days:g} d in {t1 - t0:.1f} s; "
          f"prior fits {t2 - t1:.1f} s (median RMS {float(arcs.fit_rms_km.nanmedian()) * 1e3:.1f}"
          f" m); training {history['n_train']} satellites, {cfg.epochs} epochs on "
          f"{history['device']} ({args.threads} threads): {t3 - t2:.1f} s")  # fmt: skip
    for name, rows in groups.items():
        print(f"  held-out {name} (n={rows[0]['n_sat'] if rows else 0})")
        print(f"  {'horizon':>9} {'SGP4 med':>9} {'SGP4 p95':>9} {'model med':>10} "
              f"{'model p95':>10} {'ratio':>6}")  # fmt: skip
        for r in rows:
            print(f"  {r['horizon_min'] / 60:8.0f}h {r['sgp4_median_km'] * 1e3:8.0f}m "
                  f"{r['sgp4_p95_km'] * 1e3:8.0f}m {r['model_median_km'] * 1e3:9.0f}m "
                  f"{r['model_p95_km'] * 1e3:9.0f}m {r['median_ratio']:6.2f}")  # fmt: skip
    strata: list[dict[str, Any]] = []
    if args.sampler == "leo":
        strata = evaluate_stratified(model, test, leo_strata(test.truth.elements))
        print("  stratified (held-out): stratum label n horizon SGP4 med/p95, model med/p95, "
              "ratios (median, p95), p95 within 5 %")  # fmt: skip
        for r in strata:
            print(f"  {r['stratum']:>9} {r['label']:>22} {r['n_sat']:4d} "
                  f"{r['horizon_min'] / 60:5.0f}h {r['sgp4_median_km'] * 1e3:8.0f} "
                  f"{r['sgp4_p95_km'] * 1e3:8.0f} {r['model_median_km'] * 1e3:8.0f} "
                  f"{r['model_p95_km'] * 1e3:8.0f} {r['median_ratio']:5.2f} "
                  f"{r['p95_ratio']:5.2f} {'ok' if r['p95_ok'] else 'WORSE'}")  # fmt: skip
    if plot:
        print(f"  plot: {plot_errors(model, test, plot)}")
    return {
        "seed": seed,
        "truth_s": t1 - t0,
        "fit_s": t2 - t1,
        "train_s": t3 - t2,
        "device": history["device"],
        "held_out": groups,
        "stratified": strata,
        "truth_force_model": truth.force_model_json,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sats", type=int, default=1000)
    ap.add_argument("--test", type=int, default=100)
    ap.add_argument("--days", type=float, default=7.0)
    ap.add_argument("--epochs", type=int, default=500)
    ap.add_argument("--time-batch", type=int, default=48)
    ap.add_argument("--deep-fraction", type=float, default=0.05)
    ap.add_argument("--seeds", type=int, nargs="+", default=[11, 12, 13])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--plot", default="world_model_errors.png")
    ap.add_argument("--json", default=None)
    ap.add_argument("--sampler", choices=("mixed", "leo"), default="mixed")
    ap.add_argument("--shell-fraction", type=float, default=0.2)
    ap.add_argument("--physics", choices=("legacy", "full"), default="legacy")
    ap.add_argument("--degree", type=int, default=30)
    ap.add_argument("--epoch", default=DEFAULT_EPOCH)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    results = [run_seed(args, s, args.plot if i == 0 else None) for i, s in enumerate(args.seeds)]
    print("summary (median ratio model / SGP4 on held-out satellites; training time)")
    for res in results:
        line = [f"seed {res['seed']}: train {res['train_s']:.0f} s on {res['device']}"]
        for name, rows in res["held_out"].items():
            hz = {r["horizon_min"]: r["median_ratio"] for r in rows}
            line.append(f"{name} 1d {hz.get(1440.0, np.nan):.2f} 3d {hz.get(4320.0, np.nan):.2f} "
                        f"7d {hz.get(10080.0, np.nan):.2f}")  # fmt: skip
        print("  " + "; ".join(line))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=1)


if __name__ == "__main__":
    main()
