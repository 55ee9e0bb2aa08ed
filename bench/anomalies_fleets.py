"""Issue #19 part B: anomalies in the vehicle, arm and GPU fleets from their world models.

For each fleet: a world model is fitted on nominal runs of some objects, the detectors are
calibrated on other nominal runs (never a fault), and everything is scored on labelled faults
injected by the fleet's simulator into held-out objects (a vehicle, an arm, GPUs none of the
models or detectors saw) plus nominal runs of the same objects (false alarms):

* vehicle: the ``residual`` world model (dynamic single-track prior with estimated parameters
  plus the residual ensemble) of each CommonRoad car; scorer calibrated on the Ford and the BMW,
  tested on the VW Vanagon: ``grip_loss`` (tyre friction and slip stiffness x 0.4 for 6 s) and
  ``sensor_bias`` (yaw-rate gyro +0.03 rad/s, or steering wheel +0.1 rad, for 6 s);
* arm: the ``residual`` arm model of each MuJoCo arm; calibrated on arm-1, tested on arm-2
  (another payload): ``payload_change`` (+0.5 or +1.0 kg for 2 s) and ``joint_fault`` (damping
  and friction x 3 on j1 or j2 for 2 s);
* compute: the compute world model (three-node RC prior + residual) fitted on even GPUs of one
  simulated hall, calibrated on another hall, tested on odd GPUs of a third: ``fan_failure``
  (cold-plate resistances +30 % from 300 s on one node) and ``pump_degrading`` (a loop loses
  3 % of its flow per minute from 300 s).

Methods: ``residual`` (``models.anomaly.residual`` through ``models.anomaly.fleets``),
``robust-z`` and ``isolation-forest`` on the raw channels (``models.anomaly.baselines``; the
threshold is the largest nominal calibration score, robust z never below 6) and ``limits``
(each raw channel outside its nominal calibration range widened by 10 % of that range).
Event-wise scoring as telemanom's (``models.anomaly.events``): per fault kind, precision and
recall over the runs carrying that kind, median detection delay (first overlapping event's
start minus the fault's, at least 0); false alarms on the held-out nominal runs; online cost per
sample (median and p99 of 300 single-sample calls), the world model's one-step prediction and
the residual scoring reported apart (the prediction is the world model's own cost, shared with
the planners).

    .venv/bin/python bench/anomalies_fleets.py [--fleet vehicle|arm|compute] [--format md|json]

``fleet_tables()`` returns the markdown the launch benchmark (``bench/anomalies.py``) prints.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pyarrow as pa

from starbrain.models.anomaly.baselines import IsolationForestScorer, RobustZScorer, last_residual
from starbrain.models.anomaly.events import event_scores, merge_intervals
from starbrain.models.anomaly.fleets import fleet_streams, predict_ahead, raw_channels
from starbrain.models.anomaly.residual import ResidualScorer
from starbrain.sources.faults import Fault

FLEET_NAMES = ("vehicle", "arm", "compute")
METHODS = ("residual", "robust-z", "isolation-forest", "limits")
Z_MIN = 6.0
MERGE = 20  # samples: flagged runs closer than this are one event


@dataclass
class Case:
    """One fleet's benchmark data: the world model per object, nominal calibration tables (one
    per model object), held-out test table and its fault labels."""

    kind: str
    models: dict[str, Any]
    calibration: pa.Table
    test: pa.Table
    labels: pa.Table
    model_name: str
    stream_kw: dict[str, Any] = field(default_factory=dict)
    setup_s: float = 0.0


# -- the three fleets ------------------------------------------------------------------------
def vehicle_case(duration_s: float = 15.0) -> Case:
    from starbrain.models.vehicle_kinds import build_vehicle_model
    from starbrain.sources.driving.simulator import (
        DRIVERS,
        FLEET,
        simulate_faulty_log,
        simulate_log,
    )

    t0 = time.perf_counter()
    models, cal = {}, []
    for v in FLEET:
        train = pa.concat_tables([simulate_log(v, 1.0, d, duration_s, seed=0) for d in DRIVERS])
        models[v.vehicle_id], _ = build_vehicle_model("residual", train, v.vehicle_id)
    for v in FLEET[:2]:
        cal += [simulate_log(v, 1.0, d, duration_s, seed=1) for d in DRIVERS]
    held = FLEET[2]
    grip = Fault("grip_loss", 5.0, 11.0, 0.4)
    gyro = Fault("sensor_bias", 5.0, 11.0, 0.03, "yaw_rate_radps")
    steer = Fault("sensor_bias", 5.0, 11.0, 0.1, "steering_wheel_angle_rad")
    tests, labels = [], []
    for seed, faults in ((2, [grip]), (3, [grip]), (2, [gyro]), (3, [steer])):
        for d in DRIVERS:
            t, lab = simulate_faulty_log(held, 1.0, d, faults, duration_s, seed=seed)
            tests.append(t)
            labels.append(lab)
    tests += [simulate_log(held, 1.0, d, duration_s, seed=4) for d in DRIVERS]
    return Case("vehicle", models, pa.concat_tables(cal), pa.concat_tables(tests),
                pa.concat_tables(labels), "vehicle/residual",
                setup_s=time.perf_counter() - t0)  # fmt: skip


def arm_case() -> Case:
    from starbrain.models.arm import fit_arm_model
    from starbrain.models.dynamics import FitConfig
    from starbrain.sources.robots import WORN_ARM, simulate_arm
    from starbrain.sources.robots.simulator import simulate_faulty_arm

    t0 = time.perf_counter()
    cfg = FitConfig(n_members=3, hidden=64, depth=2, epochs=40, patience=8, batch_size=128)
    arm2 = replace(WORN_ARM, payload_kg=0.3)
    models = {}
    for arm_id, params, seed in (("arm-1", WORN_ARM, 1), ("arm-2", arm2, 5)):
        train = simulate_arm(params, n_episodes=4, n_steps=200, seed=seed, arm_id=arm_id)
        models[arm_id], _ = fit_arm_model("residual", train, params, config=cfg)
    cal = simulate_arm(WORN_ARM, n_episodes=4, n_steps=200, seed=2, arm_id="arm-1")
    faults = {}
    for i in range(5):  # episodes 10-13 stay nominal
        start = 1.0 + 0.25 * i
        faults[i] = [Fault("payload_change", start, 3.0, (0.5, 1.0)[i % 2])]
        faults[5 + i] = [Fault("joint_fault", start, 3.0, 3.0, ("j1", "j2")[i % 2])]
    test, labels = simulate_faulty_arm(faults, arm2, n_episodes=14, n_steps=200, seed=6,
                                       arm_id="arm-2")  # fmt: skip
    return Case("arm", models, cal, test, labels, "arm/residual",
                setup_s=time.perf_counter() - t0)  # fmt: skip


def compute_case(duration_s: float = 900.0) -> Case:
    from starbrain.models.compute_model import compute_trajectories, fit_compute_model
    from starbrain.physics.thermal import PlateRCPrior
    from starbrain.sources.compute.simulator import FleetConfig, fault_labels, simulate_fleet

    t0 = time.perf_counter()
    hall = dict(n_racks=2, racks_per_loop=1)
    train = simulate_fleet(FleetConfig(**hall, seed=1), duration_s)
    theta = PlateRCPrior().theta_default().tolist()
    data = compute_trajectories(train.metrics, np.arange(0, 64, 2), 1.0, 120, theta)
    cm = fit_compute_model(data)
    cal = simulate_fleet(FleetConfig(**hall, seed=2), duration_s).to_table(gpus=np.arange(1, 64, 2))
    te = simulate_fleet(
        FleetConfig(**hall, seed=3, pump_fault_loop=1, pump_fault_start_s=300.0,
                    pump_fault_per_h=1.8, fan_fault_node=2, fan_fault_start_s=300.0,
                    fan_fault_step=0.3, fan_fault_per_h=0.0),
        duration_s,
    )  # fmt: skip
    odd = np.arange(1, 64, 2)
    labels = fault_labels(te)
    ids = set(np.asarray(te.gpu_ids())[odd].tolist())
    labels = labels.filter(pa.array([o in ids for o in labels["object_id"].to_pylist()]))
    return Case("compute", {"*": cm}, cal, te.to_table(gpus=odd), labels, "compute/rc+residual",
                setup_s=time.perf_counter() - t0)  # fmt: skip


CASES: dict[str, Callable[[], Case]] = {
    "vehicle": vehicle_case,
    "arm": arm_case,
    "compute": compute_case,
}


# -- detectors -------------------------------------------------------------------------------
def _model_for(case: Case, table: pa.Table) -> Any:
    return case.models.get("*") or case.models


def _streams(case: Case, table: pa.Table) -> list[Any]:
    return fleet_streams(case.kind, table, _model_for(case, table), case.model_name,
                         **case.stream_kw)  # fmt: skip


def _key(object_id: str, run_id: str | None) -> tuple[str, str]:
    return object_id, (run_id or "").split("/")[0]


def _intervals_from_flags(t: np.ndarray, flags: np.ndarray) -> list[tuple[float, float]]:
    from starbrain.models.anomaly.events import runs

    dt = float(np.median(np.diff(t))) if len(t) > 1 else 0.0
    seqs = merge_intervals(runs(flags).tolist(), MERGE)
    return [(float(t[int(a)]), float(t[int(b)]) + dt) for a, b in seqs]


@dataclass
class Baselines:
    rz: RobustZScorer
    rz_thr: np.ndarray
    iso: IsolationForestScorer
    iso_thr: float
    lo: np.ndarray
    hi: np.ndarray


def fit_baselines(case: Case) -> Baselines:
    runs_ = raw_channels(case.kind, case.calibration)
    xs = [np.nan_to_num(r.x) for r in runs_]
    masks = [np.ones(len(x), bool) for x in xs]
    rz = RobustZScorer().fit(xs, masks)
    rz_thr = np.maximum(Z_MIN, np.max([rz.score(x).max(axis=0) for x in xs], axis=0))
    iso = IsolationForestScorer().fit(xs, masks)
    iso_thr = float(max(iso.score(x)[0].max() for x in xs))
    allx = np.concatenate(xs)
    lo, hi = allx.min(axis=0), allx.max(axis=0)
    pad = 0.1 * (hi - lo)
    return Baselines(rz, rz_thr, iso, iso_thr, lo - pad, hi + pad)


def detect_all(case: Case, scorer: ResidualScorer, base: Baselines) -> dict[str, dict[Any, Any]]:
    """method -> run key -> list of (start_ns, end_ns) events (as floats)."""
    out: dict[str, dict[Any, Any]] = {m: {} for m in METHODS}
    for s in _streams(case, case.test):
        ev = [(float(e.start_ns), float(e.end_ns)) for e in scorer.events(s)]
        out["residual"][_key(s.object_id, s.run_id)] = merge_intervals(ev)
    for r in raw_channels(case.kind, case.test):
        x, t, k = np.nan_to_num(r.x), r.t_ns.astype(np.float64), _key(r.object_id, r.run_id)
        out["robust-z"][k] = _intervals_from_flags(t, (base.rz.score(x) > base.rz_thr).any(1))
        out["isolation-forest"][k] = _intervals_from_flags(t, base.iso.score(x)[0] > base.iso_thr)
        out["limits"][k] = _intervals_from_flags(t, ((x < base.lo) | (x > base.hi)).any(1))
    return out


# -- evaluation ------------------------------------------------------------------------------
def evaluate_case(case: Case, detections: dict[str, dict[Any, Any]]) -> list[dict[str, Any]]:
    lab = case.labels.to_pylist()
    by_run: dict[Any, list[dict[str, Any]]] = {}
    for row in lab:
        by_run.setdefault(_key(row["object_id"], row["run_id"]), []).append(row)
    kinds = sorted({row["kind"] for row in lab})
    rows = []
    for m in METHODS:
        det = detections[m]
        for kind in kinds:
            tp = fp = fn = 0
            delays = []
            for key, labs in by_run.items():
                mine = [
                    (r["start"].value, r["end"].value) for r in labs if r["kind"] == kind
                ]  # pandas Timestamps from to_pylist
                if not mine:
                    continue
                pred = det.get(key, [])
                sc = event_scores(mine, pred)
                tp, fp, fn = tp + sc.tp, fp + sc.fp, fn + sc.fn
                for a, b in mine:
                    hit = [p for p in pred if p[0] <= b and a <= p[1]]
                    if hit:
                        delays.append(max(0.0, (min(p[0] for p in hit) - a) / 1e9))
            p = tp / (tp + fp) if tp + fp else 0.0
            r = tp / (tp + fn) if tp + fn else 0.0
            delay = statistics.median(delays) if delays else None
            rows.append({"fleet": case.kind, "kind": kind, "method": m, "precision": p,
                         "recall": r, "tp": tp, "fp": fp, "fn": fn,
                         "delay_median_s": delay})  # fmt: skip
        nominal = [k for k in det if k not in by_run] + [
            k for k in _all_keys(case) if k not in by_run and k not in det
        ]
        n_fa = sum(len(det.get(k, [])) for k in set(nominal))
        hours = _nominal_hours(case, set(nominal))
        rows.append({"fleet": case.kind, "kind": "nominal", "method": m, "false_alarms": n_fa,
                     "nominal_runs": len(set(nominal)), "nominal_hours": hours})  # fmt: skip
    return rows


def _all_keys(case: Case) -> list[tuple[str, str]]:
    return [_key(r.object_id, r.run_id) for r in raw_channels(case.kind, case.test)]


def _nominal_hours(case: Case, keys: set[Any]) -> float:
    total = 0.0
    for r in raw_channels(case.kind, case.test):
        if _key(r.object_id, r.run_id) in keys and len(r.t_ns) > 1:
            total += (r.t_ns[-1] - r.t_ns[0]) / 3.6e12
    return total


# -- online cost -----------------------------------------------------------------------------
def online_cost(case: Case, scorer: ResidualScorer, base: Baselines, n: int = 300) -> list[dict]:
    """Per-sample wall time (ms) of each method's online step on the test data's first run."""
    streams = _streams(case, case.test)
    s = streams[0]
    raw = raw_channels(case.kind, case.test)[0]
    model = _model_for(case, case.test)
    model = model.get(s.object_id) if isinstance(model, dict) else model
    model = getattr(model, "model", model)
    dim = int(model.config.state_dim)
    x1 = np.zeros((2, dim))
    u1 = np.zeros((1, int(model.config.input_dim)))
    onl = scorer.online(s.object_id, s.units)
    x = np.nan_to_num(raw.x)
    w = base.rz.window
    feats = base.iso.features(x[: w + 10])

    def pred(k: int) -> None:
        predict_ahead(model, x1, u1, 1)

    def res(k: int) -> None:
        onl.step(int(s.t_ns[k % len(s.t_ns)]), s.residual[k % len(s.t_ns)],
                 s.sigma[k % len(s.t_ns)])  # fmt: skip

    def rz(k: int) -> None:
        i = w + 2 + k % (len(x) - w - 2)
        z = np.abs(last_residual(x[i - w - 2 : i], w) - base.rz.center) / base.rz.scale
        bool((z > base.rz_thr).any())

    def iso(k: int) -> None:
        from starbrain.models.anomaly.baselines import iforest_score_samples

        iforest_score_samples(base.iso.forest, feats[-1:])

    def lim(k: int) -> None:
        row = x[k % len(x)]
        bool(((row < base.lo) | (row > base.hi)).any())

    out = []
    for name, fn in (("world-model prediction", pred), ("residual scoring", res),
                     ("robust-z", rz), ("isolation-forest", iso), ("limits", lim)):  # fmt: skip
        times = []
        for k in range(n):
            t0 = time.perf_counter()
            fn(k)
            times.append((time.perf_counter() - t0) * 1e3)
        out.append({"fleet": case.kind, "method": name, "median_ms": statistics.median(times),
                    "p99_ms": float(np.percentile(times, 99))})  # fmt: skip
    return out


# -- driver ----------------------------------------------------------------------------------
def run_fleet(name: str) -> dict[str, Any]:
    case = CASES[name]()
    t0 = time.perf_counter()
    scorer = ResidualScorer().fit(_streams(case, case.calibration))
    base = fit_baselines(case)
    det = detect_all(case, scorer, base)
    rows = evaluate_case(case, det)
    cost = online_cost(case, scorer, base)
    example = next((e.message() for s in _streams(case, case.test) for e in scorer.events(s)), None)
    return {"fleet": name, "rows": rows, "cost": cost, "setup_s": case.setup_s,
            "score_s": time.perf_counter() - t0, "example_alert": example,
            "threshold_sigma": scorer.threshold.tolist(),
            "channels": list(scorer.channels)}  # fmt: skip


def markdown(results: list[dict[str, Any]]) -> str:
    lines = [
        "| fleet | fault kind | method | precision | recall | TP/FP/FN | median delay (s) |",
        "|---|---|---|---:|---:|---:|---:|",
    ]
    for res in results:
        for r in res["rows"]:
            if r["kind"] == "nominal":
                continue
            d = "-" if r["delay_median_s"] is None else f"{r['delay_median_s']:.2f}"
            lines.append(
                f"| {r['fleet']} | {r['kind']} | {r['method']} | {r['precision']:.2f} | "
                f"{r['recall']:.2f} | {r['tp']}/{r['fp']}/{r['fn']} | {d} |"
            )
    lines += ["", "| fleet | method | false alarms on held-out nominal runs | runs | hours |",
              "|---|---|---:|---:|---:|"]  # fmt: skip
    for res in results:
        for r in res["rows"]:
            if r["kind"] == "nominal":
                lines.append(f"| {r['fleet']} | {r['method']} | {r['false_alarms']} | "
                             f"{r['nominal_runs']} | {r['nominal_hours']:.3f} |")  # fmt: skip
    lines += ["", "| fleet | method | online cost per sample, median (ms) | p99 (ms) |",
              "|---|---|---:|---:|"]  # fmt: skip
    for res in results:
        for c in res["cost"]:
            lines.append(f"| {c['fleet']} | {c['method']} | {c['median_ms']:.3f} | "
                         f"{c['p99_ms']:.3f} |")  # fmt: skip
    for res in results:
        lines.append(f"\n{res['fleet']}: setup {res['setup_s']:.0f} s, scoring "
                     f"{res['score_s']:.0f} s; example alert: {res['example_alert']}")  # fmt: skip
    return "\n".join(lines)


def fleet_tables(fleets: tuple[str, ...] = FLEET_NAMES) -> str:
    """The markdown tables for ``fleets`` (what ``bench/anomalies.py`` prints)."""
    return markdown([run_fleet(f) for f in fleets])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fleet", choices=FLEET_NAMES, action="append")
    ap.add_argument("--format", choices=("md", "json"), default="md")
    a = ap.parse_args(argv)
    results = [run_fleet(f) for f in (a.fleet or FLEET_NAMES)]
    if a.format == "json":
        print(json.dumps(results, indent=1, default=float))
    else:
        print(markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
