"""Push a puck to a goal on the worn MuJoCo arm with MPPI over three arm models (issue #16 item 4).

Success: the puck's centre within 2 cm of the goal after 3 s (150 control periods). The arm is
predicted by the model named (upper bound: the true arm's parameters; nominal physics;
physics+residual trained on one 200-step excitation episode), the puck by the quasi-static
contact prior ``physics.arms.push_puck`` in every case.

Run: .venv/bin/python bench/robot_push.py [--tasks 4] [--samples 128] [--threads 1]
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import torch

from starbrain.models.arm import fit_arm_model
from starbrain.models.dynamics import FitConfig, WorldModel, WorldModelConfig
from starbrain.physics.arms import ScaraPrior
from starbrain.planners.arm_push import run_push_episode, sample_push_tasks
from starbrain.planners.arm_tasks import reach_mpc_config
from starbrain.sources.robots import NOMINAL_ARM, WORN_ARM, MujocoArm, Puck, simulate_arm


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", type=int, default=4)
    ap.add_argument("--samples", type=int, default=128)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    table = simulate_arm(WORN_ARM, n_episodes=1, n_steps=200, seed=7)
    cfg = FitConfig(n_members=5, hidden=64, depth=2, epochs=200, patience=25)
    models = {
        "upper bound (true arm)": WorldModel(ScaraPrior(WORN_ARM, 2),
                                             WorldModelConfig(4, 2, 0.02, 1)),
        "nominal physics": WorldModel(ScaraPrior(NOMINAL_ARM, 2), WorldModelConfig(4, 2, 0.02, 1)),
        "physics+residual (200 steps)": fit_arm_model("residual", table, config=cfg,
                                                      n_substeps=2)[0],
    }  # fmt: skip
    tasks = sample_push_tasks(args.tasks, seed=1)
    mpc = reach_mpc_config(WORN_ARM, n_samples=args.samples)
    print("| model | push success | mean final puck distance | start distance | MPC ms/step |")
    print("| --- | --- | --- | --- | --- |")
    start = np.mean([np.hypot(*(np.subtract(t.puck_xy, t.goal_xy))) for t in tasks])
    for name, model in models.items():
        res = [run_push_episode(MujocoArm(WORN_ARM, Puck()), model, t, mpc, WORN_ARM)
               for t in tasks]  # fmt: skip
        print(json.dumps({"model": name, "dist": [round(r.final_dist_m, 4) for r in res]}))
        print(
            f"| {name} | {np.mean([r.success for r in res]):.0%} | "
            f"{100 * np.mean([r.final_dist_m for r in res]):.1f} cm | {100 * start:.1f} cm | "
            f"{np.median(np.concatenate([r.step_ms for r in res])):.0f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
