"""Issue #15's done-when table for the vehicle fleet (BMW 320i of the simulator fleet).

1. Open loop: the five models (kinematic, linear single-track with estimated parameters, the
   same with tyres saturating at the road friction the logs show, PETS, physics+residual over
   the saturating prior), each fitted per road on multi-body logs of one friction (seed 0) and
   judged on that road's held-out logs (seed 1, the same drivers' other random phases), 1 s and
   2 s position RMSE by friction; then PETS and the residual model again on one tenth of the
   training windows.
2. Real log (comma2k19 example, 60 s): trained on the first 30 s, the 1 s open-loop yaw-rate
   RMSE on the last 30 s, physics+residual against the kinematic model with the fitted
   steering ratio.
3. Closed loop at friction 0.6: the highest ISO 3888-2 entry speed with no cone struck and no
   spin for MPC over single-track physics, PETS and physics+residual (1 m/s steps upward),
   each model trained on the friction-0.6 training logs.
4. MPC time per control step: median and p99 over each model's closed-loop runs of one
   vehicle, wall clock and process CPU time (the machine is shared: CPU time is the figure a
   quiet machine would show), and one batched step for 100 vehicles at once.

Run: .venv/bin/python bench/vehicle.py [--duration 20] [--heldout 10] [--frictions 1.0,0.6,0.3]
     [--epochs 150] [--speed-low 8] [--samples 256] [--skip-closed-loop] [--threads 1]
     [--json]
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import torch

from starbrain.models.dynamics import evaluate
from starbrain.models.vehicle_kinds import (
    DEFAULT_FIT,
    MODEL_KINDS,
    build_vehicle_model,
    position_rmse,
)
from starbrain.models.vehicle_model import vehicle_trajectories
from starbrain.physics.vehicles.single_track import VehicleParams
from starbrain.planners.lane_change import (
    DLCTrack,
    default_mpc_config,
    run_double_lane_change,
    search_max_speed,
    track_cost,
)
from starbrain.planners.mpc import CEM
from starbrain.sources.driving import read_comma2k19
from starbrain.sources.driving.simulator import DRIVERS, FLEET, simulate_log, vehicle_parameters

LOG = Path(__file__).parent.parent / "tests" / "data" / "comma2k19-example-1"
BMW = FLEET[1]


def _logs(frictions: list[float], duration: float, seed: int) -> pa.Table:
    return pa.concat_tables(
        [simulate_log(BMW, mu, d, duration, seed) for mu in frictions for d in DRIVERS]
    )


def _tenth(table: pa.Table) -> pa.Table:
    """The first tenth of every log (by time), so every friction and driver is still there."""
    parts = []
    for log in sorted(set(table["log_id"].to_pylist())):
        t = table.filter(pc.equal(table["log_id"], log))
        parts.append(t.slice(0, max(t.num_rows // 10, 45)))
    return pa.concat_tables(parts)


def open_loop(
    args: argparse.Namespace, nominal: VehicleParams
) -> tuple[dict, list[dict], pa.Table]:
    """Every model kind fitted per road (the training logs of one friction; the models take
    no friction input) and judged on that road's held-out logs; rows per friction stratum."""
    mus = [float(m) for m in args.frictions.split(",")]
    t0 = time.perf_counter()
    train, held = _logs(mus, args.duration, 0), _logs(mus, args.heldout, 1)
    print(f"simulated {train.num_rows + held.num_rows} samples in {time.perf_counter() - t0:.0f} s")
    cfg = replace(DEFAULT_FIT, epochs=args.epochs)
    rows: list[dict] = []
    models: dict = {}
    for mu in mus:
        road = train.filter(pc.equal(train["friction"], mu))
        models, infos = {}, {}
        for kind in MODEL_KINDS:
            t0 = time.perf_counter()
            params = infos["single-track"]["params"] if "single-track" in infos else None
            models[kind], infos[kind] = build_vehicle_model(
                kind, road, BMW.vehicle_id, nominal, cfg, params=params
            )
            print(f"mu {mu}: {kind} built in {time.perf_counter() - t0:.0f} s "
                  f"(road friction {infos[kind].get('road_friction')})")  # fmt: skip
        small = _tenth(road)
        for kind in ("pets", "residual"):
            models[f"{kind}-tenth"], _ = build_vehicle_model(
                kind, small, BMW.vehicle_id, nominal, cfg, params=infos["single-track"]["params"]
            )
        judged = held.filter(pc.equal(held["friction"], mu))
        rows += [r for r in position_rmse(models, judged) if r["stratum"] != "all"]
    return models, rows, train


def road_models(train: pa.Table, nominal: VehicleParams, epochs: int) -> tuple[dict, dict]:
    """The closed-loop models: each kind trained on the friction-0.6 training logs only (the
    road the lane change is driven on; the models take no friction input, so models fitted
    to all three frictions are a compromise no car on one road would use)."""
    road = train.filter(pc.equal(train["friction"], 0.6))
    cfg = replace(DEFAULT_FIT, epochs=epochs)
    models, infos = {}, {}
    for kind in ("single-track", "pets", "residual"):
        params = infos["single-track"]["params"] if kind == "residual" else None
        models[kind], infos[kind] = build_vehicle_model(
            kind, road, BMW.vehicle_id, nominal, cfg, params=params
        )
    return models, {"steering_ratio": infos["single-track"]["params"]["steering_ratio"]}


def real_log(epochs: int) -> dict:
    table = read_comma2k19(LOG).table
    t = pc.cast(table["time"], pa.int64())
    cut = int(pc.min(t).as_py()) + 30_000_000_000
    first = table.filter(pc.less(t, pa.scalar(cut)))
    last = table.filter(pc.greater_equal(t, pa.scalar(cut)))
    cfg = replace(DEFAULT_FIT, epochs=epochs)
    kin, info = build_vehicle_model("kinematic", first, "comma2k19", VehicleParams(), cfg)
    res, _ = build_vehicle_model("residual", first, "comma2k19", VehicleParams(), cfg,
                                 params=info["params"])  # fmt: skip
    data = vehicle_trajectories(last, window_steps=20).trajectories
    out = {"steering_ratio": info["params"]["steering_ratio"]}
    for name, m in (("kinematic", kin), ("residual", res)):
        r = next(r for r in evaluate(m, data, horizons=(20,)) if r["stratum"] == "all")
        out[name] = r["rmse_by_state"][5]
    out["ratio"] = out["residual"] / out["kinematic"]
    return out


def closed_loop(models: dict, params: dict, args: argparse.Namespace) -> tuple[dict, dict]:
    plant = vehicle_parameters(BMW, 0.6)
    ratio = params["steering_ratio"]
    cfg = default_mpc_config(ratio, float(plant.steering.v_max), 0.5, n_samples=args.samples)
    best, times = {}, {}
    for kind in ("single-track", "pets", "residual"):
        m = models[kind]
        if hasattr(m.prior, "substep_s"):
            m.prior.substep_s = 0.05

        def one(v: float, m=m, kind=kind) -> object:
            r = run_double_lane_change(m, plant, BMW.steering_ratio, v, ratio, cfg)
            print(f"  {kind} {v:.0f} m/s: {r.summary()}", flush=True)
            return r

        t0 = time.perf_counter()
        best[kind], runs = search_max_speed(one, lo_mps=args.speed_low, hi_mps=30.0)
        times[kind] = (
            [t for r in runs for t in r.step_seconds],
            [t for r in runs for t in r.step_cpu_seconds],
        )
        print(f"{kind}: highest pass {best[kind]} m/s ({time.perf_counter() - t0:.0f} s)")
    return best, times


def batched_step(
    model: object, ratio: float, samples: int, agents: int = 100
) -> tuple[float, float]:
    """Wall and CPU seconds for one MPC step of ``agents`` vehicles at once (median of 3)."""
    cfg = default_mpc_config(ratio, 0.4, 0.5, n_samples=samples)
    plant = vehicle_parameters(BMW, 0.6)
    cost = track_cost(DLCTrack(float(plant.w)), float(plant.l), float(plant.w))
    mpc = CEM(model, cost, 2, cfg)  # type: ignore[arg-type]
    x0 = torch.zeros(agents, 6)
    x0[:, 3] = 15.0
    x0[:, 1] = torch.linspace(0.5, 1.5, agents)
    ts, cs = [], []
    for _ in range(3):
        c0 = time.process_time()
        ts.append(mpc.step(x0).seconds)
        cs.append(time.process_time() - c0)
    return float(np.median(ts)), float(np.median(cs))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--duration", type=float, default=20.0)
    ap.add_argument("--heldout", type=float, default=10.0)
    ap.add_argument("--frictions", default="1.0,0.6,0.3")
    ap.add_argument("--epochs", type=int, default=150)
    ap.add_argument("--speed-low", type=float, default=8.0)
    ap.add_argument("--samples", type=int, default=256)
    ap.add_argument("--skip-closed-loop", action="store_true")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (1: steadier under load)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    nominal = VehicleParams.from_commonroad(vehicle_parameters(BMW), 16.0)
    models, rows, train = open_loop(args, nominal)
    print("\nopen loop, held-out multi-body logs: position RMSE (m)")
    print(f"{'model':<16}{'stratum':<9}{'1 s':>8}{'2 s':>8}{'ood':>7}")
    for s in sorted({r["stratum"] for r in rows}, reverse=True):
        for m in models:
            one = {r["horizon_s"]: r for r in rows if r["model"] == m and r["stratum"] == s}
            print(f"{m:<16}{s:<9}{one[1.0]['position_rmse_m']:8.3f}"
                  f"{one[2.0]['position_rmse_m']:8.3f}{one[1.0]['ood_fraction']:7.2f}")  # fmt: skip
    real = real_log(args.epochs)
    print(f"\nreal log, last 30 s, 1 s yaw-rate RMSE (rad/s): kinematic (steering ratio "
          f"{real['steering_ratio']:.2f}) {real['kinematic']:.4f}, residual "
          f"{real['residual']:.4f}, ratio {real['ratio']:.2f}")  # fmt: skip
    out = {"open_loop": rows, "real_log": real}
    models, params = road_models(train, nominal, args.epochs)
    print(f"closed-loop models trained on the friction-0.6 logs (steering ratio "
          f"{params['steering_ratio']:.2f})")  # fmt: skip
    if not args.skip_closed_loop:
        best, times = closed_loop(models, params, args)
        out["closed_loop_mps"] = best
        print(f"\nclosed loop, mu 0.6, highest entry speed (m/s): {best}")
        for kind, (wall, cpu) in times.items():
            st, ct = np.asarray(wall) * 1e3, np.asarray(cpu) * 1e3
            fig = [float(np.median(st)), float(np.quantile(st, 0.99)),
                   float(np.median(ct)), float(np.quantile(ct, 0.99))]  # fmt: skip
            out[f"mpc_ms_{kind}"] = fig
            print(f"MPC per step, one vehicle ({kind}, {len(st)} steps): wall median "
                  f"{fig[0]:.1f} ms, p99 {fig[1]:.1f} ms; CPU median {fig[2]:.1f} ms, "
                  f"p99 {fig[3]:.1f} ms")  # fmt: skip
    for kind in ("single-track", "residual"):
        s, c = batched_step(models[kind], params["steering_ratio"], args.samples)
        out[f"batched_100_{kind}_ms"] = [s * 1e3, c * 1e3]
        print(
            f"MPC one step for 100 vehicles at once ({kind}): wall {s * 1e3:.0f} ms "
            f"({s * 10:.1f} ms per vehicle), CPU {c * 1e3:.0f} ms"
        )
    print(
        f"torch threads {torch.get_num_threads()}; CUDA: not measured "
        f"(cuda available: {torch.cuda.is_available()})"
    )
    if args.json:
        print(json.dumps(out, default=float))


if __name__ == "__main__":
    main()
