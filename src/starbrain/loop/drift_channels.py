"""Which channel drifted: the per-state standardised one-step error behind a drift check, for the
fleet tasks' drift alerts (``channel`` and ``sigma`` fields)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

__all__ = ["channel_sigmas"]


@torch.no_grad()
def channel_sigmas(model: Any, recent: Any, names: Sequence[str]) -> dict[str, float]:
    """RMS of ``(x_next - mean) / sqrt(var)`` over the one-step transitions of ``recent``
    (:class:`~starbrain.models.dynamics.Trajectories`) for each state the residual corrects
    (``model.res_idx``), keyed by ``names[i]`` (the state's column name), worst first. In
    sigmas of the model's own predictive spread: about 1 where the model is calibrated, the
    drift check's ``ratio`` being the mean of their squares over its validation baseline."""
    x, u, x_next, traj = recent.transitions()
    dev = model.device
    theta = recent.theta[traj].to(dev) if recent.theta is not None else None
    pred = model.predict(x.to(dev), u.to(dev), theta)
    idx = model.res_idx
    r = (x_next.to(dev) - pred.mean)[:, idx].double()
    var = pred.var[:, idx].double().clamp_min(1e-30)
    z = (r**2 / var).mean(0).sqrt().cpu().tolist()
    out = {names[int(i)]: float(s) for i, s in zip(idx.tolist(), z, strict=True)}
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))
