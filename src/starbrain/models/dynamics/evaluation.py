"""Judging a world model: open-loop error against horizon per stratum (model vs its own prior),
and the drift check the live loop calls on recent data."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from starbrain.core.errors import StarbrainError
from starbrain.models.dynamics.data import Trajectories
from starbrain.models.dynamics.world_model import WorldModel

__all__ = ["DriftReport", "drift_check", "evaluate", "windows"]


def windows(data: Trajectories, horizon: int, stride: int) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Every window of ``horizon`` steps starting each ``stride`` steps: ``x0 (W, state)``,
    ``U (W, horizon, input)``, ``X (W, horizon, state)`` (truth of x[1..H]) and ``traj (W,)``."""
    if horizon > data.n_steps:
        raise StarbrainError(f"horizon {horizon} is longer than the {data.n_steps}-step data")
    starts = torch.arange(0, data.n_steps - horizon + 1, stride)
    idx = starts[:, None] + torch.arange(horizon + 1)[None, :]  # (n_start, H+1)
    xw = data.x[:, idx]  # (n_traj, n_start, H+1, state)
    uw = data.u[:, idx[:, :-1]]
    n, s = xw.shape[:2]
    traj = torch.arange(n).repeat_interleave(s)
    return (
        xw[:, :, 0].reshape(n * s, -1), uw.reshape(n * s, horizon, -1),
        xw[:, :, 1:].reshape(n * s, horizon, -1), traj,
    )  # fmt: skip


def evaluate(
    model: WorldModel,
    data: Trajectories,
    horizons: Sequence[int] = (1, 5, 10, 20),
    stride: int | None = None,
    scale: Tensor | None = None,
) -> list[dict[str, Any]]:
    """Open-loop RMSE of the model and of its prior at each horizon, per stratum and overall.

    Errors are divided by ``scale`` ``(state,)`` before averaging over states (default 1: only
    meaningful when the states share a unit); ``rmse_by_state`` gives each state unscaled.
    Rows: ``stratum, horizon_steps, horizon_s, n_windows, rmse_model, rmse_prior, ratio,
    rmse_by_state, ood_fraction``; ``ratio`` < 1 means the model beats its prior.
    """
    h_max = max(horizons)
    x0, U, X, traj = windows(data, h_max, stride or max(1, h_max // 2))
    dev = model.device
    theta = data.theta[traj].to(dev) if data.theta is not None else None
    Xm, _ = model.rollout(x0.to(dev), U.to(dev), theta)
    with torch.no_grad():
        xp, Xp = x0.to(dev), []
        for k in range(h_max):
            xp = model.prior_step(xp, U[:, k].to(dev), theta)
            Xp.append(xp)
        Xp_t = torch.stack(Xp, 1)
        ood = model.predict(x0.to(dev), U[:, 0].to(dev), theta).ood.cpu()
    sc = torch.ones(X.shape[-1], dtype=torch.float64) if scale is None else scale.cpu()
    strata = data.strata or tuple("all" for _ in range(data.n_traj))
    labels = [strata[i] for i in traj.tolist()]
    groups: dict[str, Tensor] = {"all": torch.ones(len(labels), dtype=torch.bool)}
    if data.strata is not None:
        for s in sorted(set(labels)):
            groups[s] = torch.tensor([lab == s for lab in labels])
    rows = []
    for name, mask in groups.items():
        for h in horizons:
            em = (Xm[mask, h - 1].cpu().double() - X[mask, h - 1]) / sc
            ep = (Xp_t[mask, h - 1].cpu().double() - X[mask, h - 1]) / sc
            rm, rp = float(em.pow(2).mean().sqrt()), float(ep.pow(2).mean().sqrt())
            rows.append({
                "stratum": name, "horizon_steps": h, "horizon_s": h * data.dt,
                "n_windows": int(mask.sum()), "rmse_model": rm, "rmse_prior": rp,
                "ratio": rm / rp if rp > 0 else float("nan"),
                "rmse_by_state": (em * sc).pow(2).mean(0).sqrt().tolist(),
                "ood_fraction": float(ood[mask].double().mean()),
            })  # fmt: skip
    return rows


@dataclass(frozen=True)
class DriftReport:
    """``score``: mean standardised squared one-step error on the recent data; ``baseline``: the
    same on the validation split at fit time; drifted when ``score > factor * baseline`` or
    when more than ``max_ood`` of the recent inputs are out of distribution."""

    score: float
    baseline: float
    ratio: float
    ood_fraction: float
    n: int
    drifted: bool

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def drift_check(
    model: WorldModel, recent: Trajectories, factor: float = 3.0, max_ood: float = 0.5
) -> DriftReport:
    """Has the system moved away from what the model learnt? Cheap enough for every loop tick."""
    x, u, x_next, traj = recent.transitions()
    dev = model.device
    theta = recent.theta[traj].to(dev) if recent.theta is not None else None
    pred = model.predict(x.to(dev), u.to(dev), theta)
    r = (x_next.to(dev) - pred.mean)[:, model.res_idx].double()
    var = pred.var[:, model.res_idx].double().clamp_min(1e-30)
    score = float((r**2 / var).mean())
    base = float(model.val_z2)
    oodf = float(pred.ood.double().mean())
    ratio = score / base if base > 0 else float("inf")
    return DriftReport(score, base, ratio, oodf, int(x.shape[0]), ratio > factor or oodf > max_ood)
