"""The compute world model: per-GPU die and HBM temperature, an RC physics prior plus the
domain-neutral residual ensemble (``models.dynamics``), forecasting 60 s ahead.

Data: ``compute`` samples at 1 Hz (the simulator's :class:`Recording`, or the stream read back).
State ``x = (gpu_temp_c, memory_temp_c, plate_temp_c)``: the plate is inferred from the stream
by ``physics.thermal.plate_observer``; input ``u = (power_w, inlet_temp_c, coolant_flow_lpm)``,
the power over the next step (for a forecast: the power the schedule plans, e.g. the job's
phase profile under its power limit). Forecasts are scored on the measured die temperature.

Per-GPU parameters: every GPU's resistances, flow sensitivity and plate capacity are fitted
from its own recent history (``models.compute_estimation``, least squares on the simulation
error) and ride along as per-trajectory ``theta``; the residual then learns what the prior's
form misses (the flow law under a degrading pump). :func:`heldout_forecast` is issue #18's
protocol.

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
from starbrain.models.compute_estimation import estimate_gpu_theta
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
    "heldout_forecast",
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
    history_steps: int | None = None,
) -> Trajectories:
    """Windows of ``window_steps`` steps for the GPUs ``gpus`` from 1-sample-per-``dt_s``
    metrics ``(n_time, n_gpu)``. ``metrics[name][k]`` is the state at the end of step ``k``
    and ``power_w[k]`` the mean power over it, so ``u[k] = inputs[k + 1]`` drives
    ``x[k] -> x[k + 1]``. The first ``warmup_steps`` let the plate observer converge.
    ``strata`` names each GPU's stratum (repeated over its windows).

    ``history_steps``: when given, every window carries per-GPU parameters ``(n_traj, 8)``
    (``Trajectories.theta``) estimated by :func:`~starbrain.models.compute_estimation.
    estimate_gpu_theta` from that GPU's ``history_steps`` samples just before the window (what
    the stream held when a forecast from there is made; ``theta`` is the nominal start), and
    the plate observer runs with them; the windows then start after ``max(warmup_steps,
    history_steps)`` samples. Without it every window uses ``theta``."""
    g = np.asarray(gpus)
    warm = warmup_steps if history_steps is None else max(warmup_steps, history_steps)
    n_win = (metrics["power_w"].shape[0] - warm - 1) // window_steps
    if n_win < 1:
        raise StarbrainError(
            f"{metrics['power_w'].shape[0] - warm - 1} steps after the warm-up are fewer than "
            f"one {window_steps}-step window"
        )
    if history_steps is None:
        tp = _plate(metrics, g, theta, dt_s, 0, metrics["power_w"].shape[0])
        x = _state(metrics, g, tp, 0)
        xs = [x[warm + w * window_steps : warm + (w + 1) * window_steps + 1] for w in range(n_win)]
        thetas = None
    else:
        xs, th_w = [], []
        for w in range(n_win):
            s0 = warm + w * window_steps
            th, _rms = estimate_gpu_theta(metrics, g, dt_s, theta, s0 - history_steps, s0)
            a = max(0, s0 - warmup_steps)
            tp = _plate(metrics, g, th.T, dt_s, a, s0 + window_steps + 1)
            xs.append(_state(metrics, g, tp, a)[s0 - a :])
            th_w.append(th)
        thetas = np.concatenate(th_w)
    u = np.stack([metrics[c][:, g] for c in INPUT], -1)
    us = [u[warm + w * window_steps + 1 : warm + (w + 1) * window_steps + 1] for w in range(n_win)]
    X = np.concatenate([a.transpose(1, 0, 2) for a in xs])  # (n_win * n_gpu, steps+1, 3)
    U = np.concatenate([a.transpose(1, 0, 2) for a in us])
    lab = None if strata is None else [s for _ in range(n_win) for s in strata]
    return Trajectories.from_numpy(X, U, dt_s, strata=lab, theta=thetas)


def _plate(
    metrics: dict[str, np.ndarray], g: np.ndarray, theta: Any, dt_s: float, a: int, b: int
) -> np.ndarray:
    """The plate observer over samples ``a..b-1``; ``theta`` ``(8,)`` or ``(8, n_gpu)``."""
    tg, tm, t_in, flow = (metrics[c][a:b, g] for c in (*STATE, *INPUT[1:]))
    return plate_observer(tg, tm, t_in, flow, theta, dt_s)


def _state(metrics: dict[str, np.ndarray], g: np.ndarray, tp: np.ndarray, a: int) -> np.ndarray:
    """``(n, n_gpu, 3)``: die, HBM and plate from sample ``a`` on (``n`` rows of ``tp``)."""
    n = tp.shape[0]
    return np.stack([metrics[c][a : a + n, g] for c in STATE] + [tp], -1)


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
    world model, its three-node prior alone (with the data's per-GPU parameters where it has
    them: ``rmse_prior_c``; with the nominal ones: ``rmse_prior_nominal_c``) and the
    single-node RC model. Windows start every ``horizon_steps // 2`` steps."""
    from starbrain.models.dynamics.evaluation import windows

    x0, U, X, traj = windows(data, horizon_steps, max(1, horizon_steps // 2))
    theta = data.theta[traj] if data.theta is not None else None
    Xm, _ = cm.model.rollout(x0, U, theta)
    with torch.no_grad():
        xp, xn = x0, x0
        for k in range(horizon_steps):
            xp = cm.model.prior_step(xp, U[:, k], theta)
            xn = cm.model.prior_step(xn, U[:, k])
        Xr = cm.rc_rollout(x0, U)
        ood = cm.model.predict(x0, U[:, 0], theta).ood
    truth = X[:, -1, 0]
    errs = {
        "model": Xm[:, -1, 0] - truth,
        "prior": xp[:, 0] - truth,
        "prior_nominal": xn[:, 0] - truth,
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


def heldout_forecast(
    seed: int = 1,
    duration_s: float = 900.0,
    history_steps: int | None = 180,
    horizon_steps: int = 60,
    config: FitConfig | None = None,
) -> list[dict[str, Any]]:
    """Issue #18's thermal protocol: fit on the even GPUs of a simulated fleet (``seed``; two
    racks, one coolant loop each, the pump of loop 0 degrading 1.5/h from the start), score the
    ``horizon_steps``-s die forecast (:func:`forecast_rmse`) on the odd GPUs of another fleet
    (``seed + 1``, the pump of loop 1 degrading), strata ``healthy`` and ``pump``. With
    ``history_steps`` every window uses per-GPU parameters estimated from that GPU's preceding
    ``history_steps`` s; ``None``: nominal parameters everywhere."""
    from starbrain.sources.compute.simulator import FleetConfig, simulate_fleet

    def fleet(s: int, loop: int) -> Any:
        cfg = FleetConfig(n_racks=2, racks_per_loop=1, seed=s, pump_fault_loop=loop,
                          pump_fault_start_s=0.0, pump_fault_per_h=1.5)  # fmt: skip
        return simulate_fleet(cfg, duration_s)

    tr, te = fleet(seed, 0), fleet(seed + 1, 1)
    th = PlateRCPrior().theta_default().tolist()
    g_tr, g_te = np.arange(0, tr.job.size, 2), np.arange(1, te.job.size, 2)
    dtr = compute_trajectories(tr.metrics, g_tr, 1.0, 120, th, history_steps=history_steps)
    lab = ["pump" if v == 1 else "healthy" for v in te.loop[g_te]]
    dte = compute_trajectories(
        te.metrics, g_te, 1.0, 120, th, strata=lab, history_steps=history_steps
    )
    return forecast_rmse(fit_compute_model(dtr, config), dte, horizon_steps)
