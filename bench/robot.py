"""Reach on the worn MuJoCo arm with MPPI over three world models, against MPC on the true arm;
then a payload change mid-run (issue #16's done-when).

For each model kind and each training budget (excitation episodes of the worn arm, 200 control
periods = 4 s each) the script trains the model, runs the same reach tasks on the MuJoCo arm and
prints success rate (flange within 1 cm and under 0.05 m/s after 1.5 s), mean final distance,
the median and 99th percentile of the MPC time per control step, and the environment steps each
kind needed to reach 90 % of the upper bound's success rate (PETS: "not reached within N" when
its largest budget does not, with the ratio's lower bound). Upper bound: MPC over the true arm's
parameters (the torch prior with MuJoCo's 10 substeps; it differs from MuJoCo only by its
smoothed dry friction). Nominal physics: the datasheet arm, no data. Models plan with 2
integration substeps per 0.02 s step; the residual net is 2 x 64 (it only corrects a prior),
PETS's 3 x 128. Then: the physics+residual model of the smallest budget runs reach episodes while
the payload goes 0.5 -> 1.5 kg (detection delay, success before / after, re-estimated payload).

Run: .venv/bin/python bench/robot.py [--tasks 10] [--pets 4,16,64] [--residual 1,2] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from starbrain.loop.arm_adapt import run_payload_change
from starbrain.models.arm import fit_arm_model
from starbrain.models.dynamics import FitConfig, WorldModel, WorldModelConfig
from starbrain.physics.arms import ScaraPrior
from starbrain.planners.arm_tasks import reach_mpc_config, run_reach_episode, sample_reach_tasks
from starbrain.sources.robots import NOMINAL_ARM, WORN_ARM, MujocoArm, simulate_arm

STEPS_PER_EPISODE = 200


def _evaluate(model, tasks, samples: int) -> dict[str, float]:
    arm = MujocoArm(WORN_ARM)
    cfg = reach_mpc_config(WORN_ARM, n_samples=samples)
    res = [run_reach_episode(arm, model, t, cfg, WORN_ARM) for t in tasks]
    ms = np.concatenate([r.step_ms for r in res])
    return {
        "success_rate": float(np.mean([r.success for r in res])),
        "final_dist_m": float(np.mean([r.final_dist_m for r in res])),
        "ms_median": float(np.median(ms)),
        "ms_p99": float(np.percentile(ms, 99)),
    }


def _steps_to_bound(rows: list[dict], upper: float) -> None:
    got: dict[str, int | None] = {}
    for name in ("nominal physics", "physics+residual", "PETS ensemble"):
        mine = [r for r in rows if r["model"] == name]
        hit = [r["env_steps"] for r in mine if r["success_rate"] >= 0.9 * upper]
        got[name] = min(hit) if hit else None
        cap = max(r["env_steps"] for r in mine)
        print(f"{name}: steps to 90% of the upper bound ({upper:.0%}): "
              f"{got[name] if hit else f'not reached within {cap}'}")  # fmt: skip
    res, pets = got["physics+residual"], got["PETS ensemble"]
    if res:
        cap = max(r["env_steps"] for r in rows if r["model"] == "PETS ensemble")
        ratio = f"{pets / res:.0f}x" if pets else f"> {cap / res:.0f}x (lower bound)"
        print(f"PETS / physics+residual environment steps: {ratio}")


def _payload_change(model, args) -> None:
    tasks = sample_reach_tasks(args.change_episodes, seed=200)
    mpc = reach_mpc_config(WORN_ARM, n_samples=args.samples)
    run = run_payload_change(model, tasks, WORN_ARM, 1.5, args.change_at, mpc=mpc)
    for e in run.episodes:
        print(json.dumps({k: (round(v, 4) if isinstance(v, float) else v) for k, v in e.items()}))
    before = run.success_rate(0, args.change_at)
    det = run.detected_episode
    after = run.success_rate((args.change_at if det is None else det) + 1, len(tasks))
    est = None if det is None else run.episodes[det]["payload_est_kg"]
    print(f"payload 0.5 -> 1.5 kg at episode {args.change_at}: detected in episode "
          f"{run.detected_episode} (delay {run.detection_delay} episodes); success before "
          f"{before:.0%}, after the re-fit {after:.0%}; payload re-estimated "
          f"{est if est is None else round(est, 3)} kg")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", type=int, default=10)
    ap.add_argument("--samples", type=int, default=256)
    ap.add_argument("--pets", default="4,16,64", help="PETS budgets, in 200-step episodes")
    ap.add_argument("--residual", default="1,2", help="physics+residual budgets, episodes")
    ap.add_argument("--epochs", type=int, default=200)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (1 of the 2 cores)")
    ap.add_argument("--change-episodes", type=int, default=8)
    ap.add_argument("--change-at", type=int, default=3)
    ap.add_argument("--json", action="store_true", help="print the rows as JSON too")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    tasks = sample_reach_tasks(args.tasks, seed=100)
    rows: list[dict] = []
    first_residual = None

    def one(kind: str, steps: int, model, train_s: float = 0.0) -> None:
        r = {"model": kind, "env_steps": steps, "train_s": round(train_s, 1),
             **_evaluate(model, tasks, args.samples)}  # fmt: skip
        rows.append(r)
        print(json.dumps(r), flush=True)

    one("upper bound (true arm)", 0,
        WorldModel(ScaraPrior(WORN_ARM), WorldModelConfig(4, 2, WORN_ARM.dt, 1)))  # fmt: skip
    nominal = ScaraPrior(NOMINAL_ARM, 2)
    one("nominal physics", 0, WorldModel(nominal, WorldModelConfig(4, 2, NOMINAL_ARM.dt, 1)))
    sizes = {"residual": (64, 2), "pets": (128, 3)}
    budgets = [("residual", int(b)) for b in args.residual.split(",") if b]
    budgets += [("pets", int(b)) for b in args.pets.split(",") if b]
    for kind, n_ep in budgets:
        table = simulate_arm(WORN_ARM, n_episodes=n_ep, n_steps=STEPS_PER_EPISODE, seed=7)
        hidden, depth = sizes[kind]
        cfg = FitConfig(n_members=5, hidden=hidden, depth=depth, epochs=args.epochs, patience=25)
        t0 = time.perf_counter()
        model, _ = fit_arm_model(kind, table, config=cfg, n_substeps=2)
        name = "physics+residual" if kind == "residual" else "PETS ensemble"
        one(name, n_ep * STEPS_PER_EPISODE, model, time.perf_counter() - t0)
        if kind == "residual" and first_residual is None:
            first_residual = model
    upper = rows[0]["success_rate"]
    print(f"\n| model | env steps | success | final distance | MPC ms/step median / p99 "
          f"({args.threads} thread(s), 2 cores) |")  # fmt: skip
    print("| --- | --- | --- | --- | --- |")
    for r in rows:
        print(f"| {r['model']} | {r['env_steps']} | {r['success_rate']:.0%} | "
              f"{100 * r['final_dist_m']:.2f} cm | "
              f"{r['ms_median']:.0f} / {r['ms_p99']:.0f} |")  # fmt: skip
    _steps_to_bound(rows, upper)
    if first_residual is not None:
        _payload_change(first_residual, args)
    if args.json:
        print(json.dumps(rows))


if __name__ == "__main__":
    main()
