"""Reach on the worn MuJoCo arm with MPPI over three world models, against MPC on the true arm.

For each model kind and each training budget (excitation episodes of the worn arm, 200 control
periods = 4 s each) the script trains the model, runs the same reach tasks on the MuJoCo arm and
prints success rate (flange within 1 cm and under 0.05 m/s after 1.5 s), mean final distance,
MPC ms per step, and the environment steps each kind needed to reach 90 % of the upper bound's
success rate. Upper bound: MPC over the true arm's parameters (the torch prior with MuJoCo's
integration; it differs from MuJoCo only by its smoothed dry friction). Nominal physics: the
datasheet arm, no data. Models plan with 2 integration substeps per 0.02 s step.

Run: .venv/bin/python bench/robot.py [--tasks 10] [--pets 2,8,32,64] [--residual 1,2,4]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

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
    return {
        "success_rate": float(np.mean([r.success for r in res])),
        "final_dist_m": float(np.mean([r.final_dist_m for r in res])),
        "ms_per_step": float(np.median([r.ms_per_step for r in res])),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", type=int, default=10)
    ap.add_argument("--samples", type=int, default=256)
    ap.add_argument("--pets", default="2,8,32,64", help="PETS budgets, in 200-step episodes")
    ap.add_argument("--residual", default="1,2,4", help="physics+residual budgets, episodes")
    ap.add_argument("--epochs", type=int, default=200)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", action="store_true", help="print the rows as JSON too")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    tasks = sample_reach_tasks(args.tasks, seed=100)
    rows = []

    def one(kind: str, steps: int, model, train_s: float = 0.0) -> None:
        r = {"model": kind, "env_steps": steps, "train_s": round(train_s, 1),
             **_evaluate(model, tasks, args.samples)}  # fmt: skip
        rows.append(r)
        print(json.dumps(r), flush=True)

    one("upper bound (true arm)", 0,
        WorldModel(ScaraPrior(WORN_ARM), WorldModelConfig(4, 2, WORN_ARM.dt, 1)))  # fmt: skip
    nominal = ScaraPrior(NOMINAL_ARM, 2)
    one("nominal physics", 0, WorldModel(nominal, WorldModelConfig(4, 2, NOMINAL_ARM.dt, 1)))
    cfg = FitConfig(n_members=5, hidden=128, depth=3, epochs=args.epochs, patience=25)
    budgets = [("residual", int(b)) for b in args.residual.split(",") if b]
    budgets += [("pets", int(b)) for b in args.pets.split(",") if b]
    for kind, n_ep in budgets:
        table = simulate_arm(WORN_ARM, n_episodes=n_ep, n_steps=STEPS_PER_EPISODE, seed=7)
        t0 = time.perf_counter()
        model, _ = fit_arm_model(kind, table, config=cfg, n_substeps=2)
        name = "physics+residual" if kind == "residual" else "PETS ensemble"
        one(name, n_ep * STEPS_PER_EPISODE, model, time.perf_counter() - t0)
    upper = rows[0]["success_rate"]
    print(
        f"\n| model | env steps | success | final distance | MPC ms/step ({args.threads} threads) |"
    )
    print("| --- | --- | --- | --- | --- |")
    for r in rows:
        print(f"| {r['model']} | {r['env_steps']} | {r['success_rate']:.0%} | "
              f"{100 * r['final_dist_m']:.2f} cm | {r['ms_per_step']:.0f} |")  # fmt: skip
    for name in ("nominal physics", "physics+residual", "PETS ensemble"):
        hit = [r["env_steps"] for r in rows
               if r["model"] == name and r["success_rate"] >= 0.9 * upper]  # fmt: skip
        print(f"{name}: steps to 90% of the upper bound ({upper:.0%}): "
              f"{min(hit) if hit else 'not reached'}")  # fmt: skip
    if args.json:
        print(json.dumps(rows))


if __name__ == "__main__":
    main()
