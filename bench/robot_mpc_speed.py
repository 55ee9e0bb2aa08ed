"""Arm MPC time per control step, this tree against an older commit, measured in one run.

Each configuration runs in its own process (``PYTHONPATH`` at this tree's ``src/`` or at
``git archive REV src`` unpacked in a temporary folder), configurations alternating for
``--rounds`` rounds, so both see the same machine load. A worker trains small models (2 epochs:
timing does not depend on fit quality), then runs one 75-step reach episode per model kind on
the MuJoCo arm and times every control step from the end of one ``plant.step`` to the start of
the next (planning plus bookkeeping: the same clock for both implementations, whatever their
API). Prints the median and 99th percentile per configuration and kind, and new/old ratios.

Run: .venv/bin/python bench/robot_mpc_speed.py [--baseline 0e9cba7] [--rounds 2]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from io import BytesIO
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def _worker(threads: int, hidden: int, depth: int) -> None:
    import torch

    from starbrain.models.arm import fit_arm_model
    from starbrain.models.dynamics import FitConfig, WorldModel, WorldModelConfig
    from starbrain.physics.arms import ScaraPrior
    from starbrain.planners.arm_tasks import reach_mpc_config, run_reach_episode, sample_reach_tasks
    from starbrain.sources.robots import NOMINAL_ARM, WORN_ARM, MujocoArm, simulate_arm

    torch.set_num_threads(threads)
    table = simulate_arm(WORN_ARM, n_episodes=2, n_steps=200, seed=7)
    res_cfg = FitConfig(n_members=5, hidden=hidden, depth=depth, epochs=2, patience=25)
    pets_cfg = FitConfig(n_members=5, hidden=128, depth=3, epochs=2, patience=25)
    models = {
        "upper bound": WorldModel(ScaraPrior(WORN_ARM), WorldModelConfig(4, 2, 0.02, 1)),
        "nominal": WorldModel(ScaraPrior(NOMINAL_ARM, 2), WorldModelConfig(4, 2, 0.02, 1)),
        "physics+residual": fit_arm_model("residual", table, config=res_cfg, n_substeps=2)[0],
        "PETS": fit_arm_model("pets", table, config=pets_cfg, n_substeps=2)[0],
    }
    task = sample_reach_tasks(1, seed=100)[0]
    out = {}
    for name, model in models.items():
        arm, stamps = MujocoArm(WORN_ARM), []
        step = arm.step

        def timed(u, _step=step, _s=stamps):
            _s.append(time.perf_counter())
            r = _step(u)
            _s.append(time.perf_counter())
            return r

        arm.step = timed  # type: ignore[method-assign]
        run_reach_episode(arm, model, task, reach_mpc_config(WORN_ARM, n_samples=256), WORN_ARM)
        s = np.array(stamps)
        out[name] = (1e3 * (s[2::2] - s[1:-1:2])).tolist()  # end of step k -> start of k+1
    print(json.dumps(out))


def _old_src(rev: str, into: Path) -> Path:
    data = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "src"], check=True,
                          capture_output=True).stdout  # fmt: skip
    with tarfile.open(fileobj=BytesIO(data)) as tar:
        tar.extractall(into, filter="data")
    return into / "src"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--baseline", default="0e9cba7", help="the old implementation's commit")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--worker", nargs=3, type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        _worker(*args.worker)
        return
    with tempfile.TemporaryDirectory() as tmp:
        old = _old_src(args.baseline, Path(tmp))
        configs = {  # name: (src, threads, residual hidden, depth)
            f"old {args.baseline} (2 threads, residual 3x128)": (old, 2, 128, 3),
            "new (1 thread, residual 2x64)": (ROOT / "src", 1, 64, 2),
            "new (1 thread, residual 3x128)": (ROOT / "src", 1, 128, 3),
        }
        times: dict[str, dict[str, list[float]]] = {c: {} for c in configs}
        for _ in range(args.rounds):
            for c, (src, th, hid, dep) in configs.items():
                env = {**os.environ, "PYTHONPATH": str(src)}
                cmd = [sys.executable, __file__, "--worker", str(th), str(hid), str(dep)]
                res = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True)
                for k, v in json.loads(res.stdout.strip().splitlines()[-1]).items():
                    times[c].setdefault(k, []).extend(v)
    old_name = next(iter(configs))
    print("| implementation | model | MPC ms/step median | p99 | median ratio old/new |")
    print("| --- | --- | --- | --- | --- |")
    for c, kinds in times.items():
        for k, v in kinds.items():
            med, ref = float(np.median(v)), float(np.median(times[old_name][k]))
            print(f"| {c} | {k} | {med:.1f} | {np.percentile(v, 99):.1f} | {ref / med:.2f}x |")


if __name__ == "__main__":
    main()
