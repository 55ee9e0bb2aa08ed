"""Run a power schedule's jobs for real on a Ray cluster (local by default): each job is a
small torch training run started at its planned time (scaled by ``time_scale``) with its power
limit passed along. On CPU nodes the limit is recorded, not enforced (it is an NVML setting
that needs a GPU and privileges; this runner never changes one). The smoke test of issue #18.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from starbrain.planners.power_schedule import Schedule

__all__ = ["run_schedule_on_ray"]


def _train_job(job: int, power_limit_w: float, steps: int, seed: int) -> dict[str, Any]:
    import torch

    torch.manual_seed(seed)
    torch.set_num_threads(1)
    x = torch.randn(256, 8)
    y = x @ torch.randn(8, 1) + 0.01 * torch.randn(256, 1)
    model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.Tanh(), torch.nn.Linear(16, 1))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    t0 = time.time()
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(model(x), y)
        loss.backward()
        opt.step()
        losses.append(float(loss))
    return {"job": job, "power_limit_w": power_limit_w, "started": t0, "ended": time.time(),
            "loss_first": losses[0], "loss_last": losses[-1]}  # fmt: skip


def run_schedule_on_ray(
    sched: Schedule, time_scale: float = 1e-3, steps: int = 200, address: str | None = None
) -> list[dict[str, Any]]:
    """Start each job at ``start_s * time_scale`` wall seconds from now as a Ray task; returns
    one row per job (start/end wall time, losses, the power limit it ran under)."""
    import ray

    own = not ray.is_initialized()
    if own:
        ray.init(address=address, num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        task = ray.remote(num_cpus=1)(_train_job)
        t0, refs = time.time(), []
        for j in np.argsort(sched.start_s, kind="stable"):
            wait = t0 + sched.start_s[j] * time_scale - time.time()
            if wait > 0:
                time.sleep(wait)
            refs.append(task.remote(int(j), float(sched.power_limit_w[j]), steps, int(j)))
        rows = ray.get(refs)
        for r in rows:
            r["planned_start_s"] = float(sched.start_s[r["job"]] * time_scale)
            r["started"] -= t0
            r["ended"] -= t0
        return sorted(rows, key=lambda r: r["job"])
    finally:
        if own:
            ray.shutdown()
