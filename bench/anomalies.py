"""Issue #19's done-when tables: anomalies from the world models' own residuals.

Launch section (this file):

1. Train every method on 6 nominal simulated flights (seeds 1000-1005) with 2 nominal
   calibration flights (1006-1007) setting the threshold floors; nothing anomalous is ever seen
   in training. The two knobs of ``residual-sigma`` (EWMA span, floor margin) were chosen on the
   labelled calibration flights 3000-3009 (``--split calibration`` reruns that); the held-out
   flights are 5000-5009, 7 random anomalies each (10 of every kind).
2. Event-wise precision, recall and F0.5 per method, as in telemanom (a labelled anomaly
   overlapped by a detection is a TP; a merged detection overlapping none is an FP), and per
   anomaly kind: recall (found/total) and precision ``TP_k / (TP_k + FP)`` where FP counts
   *every* false event of the method (false alarms carry no kind, so each kind is charged all of
   them: a lower bound).
3. Ablation: the telemanom LSTM (no variance head) with residual-sigma's two knobs, floors
   recalibrated on the same nominal flights: how much of the gain is the sigma, how much the knobs.
4. Online scoring: live packets of one held-out flight fed one datagram per sample time to
   :class:`starbrain.models.anomaly.online.OnlineScorer`; the added latency per sample, median
   and p99, with ``residual-sigma`` alone (what the loop runs) and with every method.

Other fleets: when part B's ``bench/anomalies_fleets.py`` is present its tables are printed
after these (``--skip-fleets`` leaves them out).

Run: .venv/bin/python bench/anomalies.py [--split held-out|calibration] [--flights 10]
     [--epochs 6] [--online-s 60] [--skip-fleets] [--json]
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from starbrain.models.anomaly.data import frame_from_flight
from starbrain.models.anomaly.detector import (
    SIGMA,
    AnomalyDetector,
    DetectorConfig,
    Evaluation,
    evaluate,
)
from starbrain.models.anomaly.online import OnlineScorer
from starbrain.physics.flight_sim import Flight, FlightConfig, random_anomalies, simulate_flight

SEEDS = {"held-out": 5000, "calibration": 3000}


def flights(seeds: list[int], n_anomalies: int) -> list[Flight]:
    out = []
    for s in seeds:
        an = random_anomalies(s, n_anomalies, 400.0) if n_anomalies else ()
        out.append(simulate_flight(FlightConfig(seed=s, duration_s=400.0, anomalies=an)))
    return out


def per_kind(ev: Evaluation) -> dict[str, Any]:
    """method -> kind -> (tp, total, fp of the method), from the evaluation's counts."""
    return {
        m: {k: (f, n, ev.scores[m].fp) for k, (f, n) in kinds.items()}
        for m, kinds in ev.recall_by_kind.items()
    }


def online_latency(det: AnomalyDetector, flight: Any, seconds: float, methods: list[str]) -> Any:
    scorer = OnlineScorer(det, source="live", rate_hz=flight.config.rate_hz, methods=methods)
    mats = [m for _, m in flight.packet_matrices()]
    n = min(len(mats[0]), round(seconds * flight.config.rate_hz))
    for i in range(n):
        scorer.feed(b"".join(m[i].tobytes() for m in mats))
    lat = np.asarray(scorer.latencies_s[20:]) * 1e3  # after warm-up
    return {"n": int(lat.size), "median_ms": float(np.median(lat)),
            "p99_ms": float(np.percentile(lat, 99)), "max_ms": float(lat.max())}  # fmt: skip


def kinds_markdown(pk: dict[str, Any], methods: list[str]) -> str:
    kinds = sorted({k for v in pk.values() for k in v})
    lines = ["| method | " + " | ".join(f"{k} P / R" for k in kinds) + " |",
             "|---|" + "---:|" * len(kinds)]  # fmt: skip
    for m in methods:
        cells = []
        for k in kinds:
            tp, tot, fp = pk[m][k]
            cells.append(f"{tp / (tp + fp) if tp + fp else 0:.2f} / {tp}/{tot}")
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--split", choices=sorted(SEEDS), default="held-out")
    ap.add_argument("--flights", type=int, default=10)
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--online-s", type=float, default=60.0)
    ap.add_argument("--skip-fleets", action="store_true")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(1)
    t0 = time.perf_counter()
    nominal = [frame_from_flight(f) for f in flights(list(range(1000, 1008)), 0)]
    cfg = DetectorConfig()
    cfg = dataclasses.replace(
        cfg,
        forecaster=dataclasses.replace(cfg.forecaster, epochs=args.epochs),
        sigma_forecaster=dataclasses.replace(cfg.sigma_forecaster, epochs=args.epochs),
    )
    det = AnomalyDetector.train(nominal[:6], nominal[6:], cfg)
    train_s = time.perf_counter() - t0
    seed0 = SEEDS[args.split]
    raw = flights(list(range(seed0, seed0 + args.flights)), 7)
    data = [(frame_from_flight(f), f.labels) for f in raw]
    ev = evaluate(det, data)
    # ablation: the same LSTM without the variance head, given residual-sigma's two knobs
    knobs = dataclasses.replace(
        det.config, smoothing_s=cfg.sigma_smoothing_s, lstm_floor_margin=cfg.floor_margin
    )
    ablated = dataclasses.replace(det, config=knobs, sigma_model=None, robust_z=None, iforest=None)
    ab = evaluate(ablated.calibrate(nominal[6:]), data)
    for m in ("telemanom-lstm", "telemanom-lstm+rules"):
        ev.scores[f"{m} (sigma's knobs)"] = ab.scores[m]
        ev.recall_by_kind[f"{m} (sigma's knobs)"] = ab.recall_by_kind[m]
    pk = per_kind(ev)
    names = list(ev.scores)
    if not args.json:
        print(f"Launch telemetry, {args.split} flights seeds {seed0}..{seed0 + args.flights - 1}, "
              f"{ev.n_labels} labelled anomalies; trained in {train_s:.0f} s\n")  # fmt: skip
        print(ev.markdown(), "\n")
        print("Per kind: precision (TP_k / (TP_k + all FP)) / recall (found/total)\n")
        print(kinds_markdown(pk, names), "\n", flush=True)
    lat = {
        SIGMA: online_latency(det, raw[0], args.online_s, [SIGMA]),
        "all methods": online_latency(det, raw[0], args.online_s, det.methods),
    }
    if args.json:
        rows = {"rows": ev.rows(), "per_kind": pk, "online": lat, "train_s": train_s}
        print(json.dumps(rows, indent=1, default=float))
    else:
        print("| online scorer | samples | median ms | p99 ms | max ms |")
        print("|---|---:|---:|---:|---:|")
        for k, v in lat.items():
            print(f"| {k} | {v['n']} | {v['median_ms']:.2f} | {v['p99_ms']:.2f} | "
                  f"{v['max_ms']:.1f} |")  # fmt: skip
    fleets_bench = Path(__file__).with_name("anomalies_fleets.py")
    if not args.skip_fleets and fleets_bench.is_file():
        spec = importlib.util.spec_from_file_location("anomalies_fleets", fleets_bench)
        assert spec is not None and spec.loader is not None
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        if hasattr(mod, "main"):
            print("\nOther fleets (bench/anomalies_fleets.py)\n")
            import sys

            sys.argv = [str(fleets_bench)]
            mod.main()


if __name__ == "__main__":
    main()
