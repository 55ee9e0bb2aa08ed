"""Orbit world model: truth generation, prior fitting, training time and held-out errors.

Workload: ``--sats`` (default 1000) fixed-seed LEO element sets (``models.truth.sample_elements``:
40% Starlink Gen1 preset, the rest 400-1200 km, 0-100 deg, B* 1e-5..1e-3), propagated ``--days``
(default 7) with the full-force numerical propagator (J2-J6, drag, Sun, Moon, SRP) every 10 min.
SGP4 elements are fitted to the first day of each arc (the prior); ``--test`` satellites (default
60) are held out; the model trains on the rest (``--threads`` CPU threads, default 2).

Peer, measured in the same run: SGP4 alone on the same fitted elements. Prints the median and
95th-percentile position error per horizon (1 h, 6 h, 1 d, 3 d, 7 d) on the held-out satellites
for both, the ratio model / SGP4 of the medians (below 1: the model is better), the wall time of
each stage, and writes a PNG plot (``--plot``).

Run with ``python bench/world_model.py [--sats N] [--test M] [--days D] [--epochs E]
[--threads T] [--plot PATH]``.
"""

from __future__ import annotations

import argparse
import time

import torch

from starbrain.models.evaluation import evaluate_orbit_model, plot_errors
from starbrain.models.orbit_model import OrbitModelConfig, fit_priors, train_orbit_model
from starbrain.models.truth import generate_truth, sample_elements


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sats", type=int, default=1000)
    ap.add_argument("--test", type=int, default=60)
    ap.add_argument("--days", type=float, default=7.0)
    ap.add_argument("--epochs", type=int, default=OrbitModelConfig.epochs)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--plot", default="world_model_errors.png")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    t0 = time.perf_counter()
    truth = generate_truth(sample_elements(args.sats, seed=args.seed), days=args.days)
    t1 = time.perf_counter()
    arcs = fit_priors(truth, fit_days=1.0)
    t2 = time.perf_counter()
    train, test = arcs.split(args.test, seed=0)
    cfg = OrbitModelConfig(epochs=args.epochs, horizon_min=args.days * 1440.0)
    model, history = train_orbit_model(train, cfg, device="cpu")
    t3 = time.perf_counter()
    rows = evaluate_orbit_model(model, test)
    print(f"truth: {args.sats} satellites x {args.days:g} d in {t1 - t0:.1f} s")
    print(f"prior fits (first day): {t2 - t1:.1f} s, median RMS "
          f"{float(arcs.fit_rms_km.median()) * 1e3:.1f} m")  # fmt: skip
    print(f"training: {history['n_train']} satellites, {cfg.epochs} epochs, "
          f"{args.threads} threads: {t3 - t2:.1f} s (loss {history['initial_loss_km'] * 1e3:.0f}"
          f" -> {history['final_loss_km'] * 1e3:.0f} m)")  # fmt: skip
    print(f"held-out satellites: {len(test.elements)}")
    print(f"{'horizon':>9} {'SGP4 med':>9} {'SGP4 p95':>9} {'model med':>10} {'model p95':>10} "
          f"{'ratio':>6}")  # fmt: skip
    for r in rows:
        print(f"{r['horizon_min'] / 60:8.0f}h {r['sgp4_median_km'] * 1e3:8.0f}m "
              f"{r['sgp4_p95_km'] * 1e3:8.0f}m {r['model_median_km'] * 1e3:9.0f}m "
              f"{r['model_p95_km'] * 1e3:9.0f}m {r['median_ratio']:6.2f}")  # fmt: skip
    print(f"plot: {plot_errors(model, test, args.plot)}")


if __name__ == "__main__":
    main()
