"""The compute world model: per-GPU die and HBM temperature, an RC physics prior plus the
domain-neutral residual ensemble (``models.dynamics``), forecasting 60 s ahead.

Data: ``compute`` samples at 1 Hz (the simulator's :class:`Recording`, or the stream read back).
State ``x = (gpu_temp_c, memory_temp_c, plate_temp_c)``: the plate is inferred from the stream
by ``physics.thermal.plate_observer``; input ``u = (power_w, inlet_temp_c, coolant_flow_lpm)``,
the power over the next step (for a forecast: the power the schedule plans, e.g. the job's
phase profile under its power limit). Forecasts are scored on the measured die temperature.

Baselines: the single-node RC model (``RCThermalPrior``, parameters fitted to the same data)
and the three-node RC prior alone. Drift: ``dynamics.drift_check`` on recent windows; a pump
that loses flow takes the flow input outside what the residual saw (and the prior's flow law
off), and the check flags it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from starbrain.core.errors import StarbrainError
from starbrain.models.dynamics import (
    DriftReport,
    FitConfig,
    Trajectories,
    WorldModel,
    drift_check,
    estimate_theta,
    fit_world_model,
)
from starbrain.physics.thermal import PlateRCPrior, RCThermalPrior, plate_observer

__all__ = [
    "ComputeModel",
    "compute_trajectories",
    "fit_compute_model",
    "forecast_rmse",
]

STATE = ("gpu_temp_c", "memory_temp_c")
INPUT = ("power_w", "inlet_temp_c", "coolant_flow_lpm")


def compute_trajectories(
    metrics: dict[str, np.ndarray],
    gpus: Sequence[int] | np.ndarray,
    dt_s: float,
    window_steps: int,
    theta: Any,
    warmup_steps: int = 60,
    strata: Sequence[str] | None = None,
) -> Trajectories:
    """Windows of ``window_steps`` steps for the GPUs ``gpus`` from 1-sample-per-``dt_s``
    metrics ``(n_time, n_gpu)``. ``metrics[name][k]`` is the state at the end of step ``k``
    and ``power_w[k]`` the mean power over it, so ``u[k] = inputs[k + 1]`` drives
    ``x[k] -> x[k + 1]``. The first ``warmup_steps`` let the plate observer converge.
    ``strata`` names each GPU's stratum (repeated over its windows)."""
    g = np.asarray(gpus)
    tg, tm = metrics["gpu_temp_c"][:, g], metrics["memory_temp_c"][:, g]
    t_in, flow = metrics["inlet_temp_c"][:, g], metrics["coolant_flow_lpm"][:, g]
    tp = plate_observer(tg, tm, t_in, flow, theta, dt_s)
    x = np.stack([tg, tm, tp], -1)[warmup_steps:]
    u = np.stack([metrics[c][:, g] for c in INPUT], -1)[warmup_steps + 1 :]
    n_win = (u.shape[0]) // window_steps
    if n_win < 1:
        raise StarbrainError(
            f"{u.shape[0]} steps after the warm-up are fewer than one {window_steps}-step window"
        )
    xs = [x[w * window_steps : (w + 1) * window_steps + 1] for w in range(n_win)]
    us = [u[w * window_steps : (w + 1) * window_steps] for w in range(n_win)]
    X = np.concatenate([a.transpose(1, 0, 2) for a in xs])  # (n_win * n_gpu, steps+1, 3)
    U = np.concatenate([a.transpose(1, 0, 2) for a in us])
    lab = None if strata is None else [s for _ in range(n_win) for s in strata]
    return Trajectories.from_numpy(X, U, dt_s, strata=lab)


@dataclass
class ComputeModel:
    """A fitted compute world model with its baselines (all on the same training data)."""

    model: WorldModel
    prior_theta: list[float]
    rc_theta: list[float]
    dt_s: float

    def rc_rollout(self, x0: torch.Tensor, U: torch.Tensor) -> torch.Tensor:
        """The single-node RC model's forecast ``(batch, horizon, 2)`` of die and HBM."""
        prior, th = RCThermalPrior(self.rc_theta), torch.tensor(self.rc_theta, dtype=torch.float64)
        x, out = x0[:, :2].double(), []
        for k in range(U.shape[1]):
            x = prior.step(x, U[:, k].double(), th, self.dt_s)
            out.append(x)
        return torch.stack(out, 1)

    def drift(self, recent: Trajectories, factor: float = 3.0) -> DriftReport:
        return drift_check(self.model, recent, factor=factor)


def fit_compute_model(
    train: Trajectories, config: FitConfig | None = None, theta0: Sequence[float] | None = None
) -> ComputeModel:
    """Fit the prior's parameters (least squares on die and HBM one-step errors), then the
    residual ensemble on die and HBM (the plate follows the prior)."""
    base = PlateRCPrior(list(theta0) if theta0 is not None else None)
    n_est = min(train.n_traj, 48)  # least squares converges on a few thousand transitions
    sub = train.subset(np.linspace(0, train.n_traj - 1, n_est).round().astype(int))
    # the plate state comes from the observer with ``base``'s parameters, so the prior keeps
    # them (fitting them to die/HBM one-step errors alone leaves the plate node unconstrained)
    prior = base
    cfg = config or FitConfig(epochs=15, hidden=32, n_members=3, batch_size=2048, patience=5)
    cfg = FitConfig(**{**cfg.__dict__, "residual_dims": (0, 1)})
    model, _hist = fit_world_model(prior, train, cfg)
    rc_data = Trajectories(sub.x[..., :2], sub.u, sub.dt)
    rc = estimate_theta(RCThermalPrior(), rc_data)
    return ComputeModel(model, prior.theta_default().tolist(), rc.theta.tolist(), train.dt)


def forecast_rmse(cm: ComputeModel, data: Trajectories, horizon_steps: int) -> list[dict[str, Any]]:
    """Die-temperature RMSE (deg C) at ``horizon_steps`` ahead, per stratum and overall, for the
    world model, its three-node prior alone and the single-node RC model. Windows start every
    ``horizon_steps // 2`` steps."""
    from starbrain.models.dynamics.evaluation import windows

    x0, U, X, traj = windows(data, horizon_steps, max(1, horizon_steps // 2))
    Xm, _ = cm.model.rollout(x0, U)
    with torch.no_grad():
        xp, th = x0, cm.model.theta
        for k in range(horizon_steps):
            xp = cm.model.prior_step(xp, U[:, k], th)
        Xr = cm.rc_rollout(x0, U)
        ood = cm.model.predict(x0, U[:, 0]).ood
    truth = X[:, -1, 0]
    errs = {
        "model": Xm[:, -1, 0] - truth,
        "prior": xp[:, 0] - truth,
        "rc": Xr[:, -1, 0] - truth,
    }
    labels = np.array([(data.strata or ["all"] * data.n_traj)[i] for i in traj.tolist()])
    rows = []
    for name in ["all", *sorted({str(v) for v in labels} - {"all"})]:
        m = (
            torch.as_tensor(labels == name)
            if name != "all"
            else torch.ones(len(labels), dtype=torch.bool)
        )
        row: dict[str, Any] = {
            "stratum": name,
            "horizon_s": horizon_steps * data.dt,
            "n_windows": int(m.sum()),
            "ood_fraction": float(ood[m].double().mean()),
        }
        for key, e in errs.items():
            row[f"rmse_{key}_c"] = float(e[m].double().pow(2).mean().sqrt())
        rows.append(row)
    return rows
