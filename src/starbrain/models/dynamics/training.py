"""Fitting a world model: normalisers, bootstrapped ensemble training with early stopping on a
validation split, and OOD thresholds calibrated on that held-out split."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import scipy.stats
import torch
from torch import Tensor

from starbrain.models.dynamics.data import Trajectories
from starbrain.models.dynamics.ensemble import ResidualEnsemble
from starbrain.models.dynamics.estimation import estimate_theta
from starbrain.models.dynamics.prior import PhysicsPrior
from starbrain.models.dynamics.world_model import WorldModel, WorldModelConfig
from starbrain.physics.sgp4_init import resolve_device

__all__ = ["FitConfig", "FitHistory", "ProgressFn", "fit_world_model"]

ProgressFn = Callable[[dict[str, float]], None]
"""Called once per epoch with ``{"epoch", "n_epochs", "train_loss", "val_mse"}`` (no bars here)."""


@dataclass(frozen=True)
class FitConfig:
    """Training settings. ``estimate_theta``: fit the prior's parameters (least squares) on the
    training split first; ``ood_quantile``: the validation quantile the OOD thresholds sit at (times
    ``ood_margin``, and never below the chi-square quantile of the input dimension for the
    Mahalanobis test, nor below ``ood_disagree_floor`` residual standard deviations of member
    disagreement, so a small validation split cannot make every new input look unfamiliar)."""

    n_members: int = 5
    hidden: int = 64
    depth: int = 2
    epochs: int = 300
    batch_size: int = 256
    lr: float = 2e-3
    weight_decay: float = 1e-5
    val_frac: float = 0.2
    patience: int = 30
    seed: int = 0
    bootstrap: bool = True
    estimate_theta: bool = False
    ood_quantile: float = 0.999
    ood_margin: float = 1.5
    ood_disagree_floor: float = 0.25
    state_features: tuple[int, ...] | None = None
    residual_dims: tuple[int, ...] | None = None


@dataclass
class FitHistory:
    train_loss: list[float]
    val_mse: list[float]
    best_epoch: int
    seconds: float
    device: str
    theta: list[float]

    def summary(self) -> dict[str, Any]:
        return {
            "best_epoch": self.best_epoch,
            "epochs": len(self.train_loss),
            "val_mse": self.val_mse[self.best_epoch] if self.val_mse else None,
            "seconds": round(self.seconds, 3),
            "device": self.device,
            "theta": self.theta,
        }


def _targets(model: WorldModel, data: Trajectories) -> tuple[Tensor, Tensor]:
    """Residual inputs (un-normalised) and targets ``x_next - prior(x, u)`` of every transition."""
    x, u, x_next, traj = data.transitions()
    dev = model.device
    x, u, x_next = x.to(dev), u.to(dev), x_next.to(dev)
    theta = data.theta.to(dev)[traj.to(dev)] if data.theta is not None else None
    with torch.no_grad():
        base = model.prior_step(x, u, theta)
    z = torch.cat([x[:, model.feat_idx], u], dim=-1)
    return z, (x_next - base)[:, model.res_idx]


def fit_world_model(
    prior: PhysicsPrior,
    data: Trajectories,
    config: FitConfig | None = None,
    *,
    device: str | torch.device | None = None,
    progress: ProgressFn | None = None,
) -> tuple[WorldModel, FitHistory]:
    """Train a :class:`WorldModel` on ``data`` (held-out trajectories for early stopping and OOD
    calibration). Deterministic for a given ``config.seed`` on one device."""
    cfg = config or FitConfig()
    t0 = time.perf_counter()
    dev = resolve_device(device)
    torch.manual_seed(cfg.seed)
    train, val = data.split(cfg.val_frac, cfg.seed)
    theta = prior.theta_default()
    if cfg.estimate_theta and theta.numel():
        theta = estimate_theta(prior, train, theta).theta
    wcfg = WorldModelConfig(
        prior.state_dim, prior.input_dim, data.dt, cfg.n_members, cfg.hidden, cfg.depth,
        cfg.seed, cfg.state_features, cfg.residual_dims,
    )  # fmt: skip
    model = WorldModel(prior, wcfg, theta).to(dev)
    z_tr, y_tr = _targets(model, train)
    z_va, y_va = _targets(model, val)
    model.in_mean.copy_(z_tr.mean(0))
    model.in_std.copy_(z_tr.std(0).clamp_min(1e-8))
    model.out_mean.copy_(y_tr.mean(0))
    model.out_std.copy_(y_tr.std(0).clamp_min(1e-12))
    model.prior_var.copy_((y_tr**2).mean(0).clamp_min(1e-30))
    zn_tr = ((z_tr - model.in_mean) / model.in_std).float()
    yn_tr = ((y_tr - model.out_mean) / model.out_std).float()
    zn_va = ((z_va - model.in_mean) / model.in_std).float()
    yn_va = ((y_va - model.out_mean) / model.out_std).float()
    losses, val_mse, best_epoch = _train(model.ensemble, zn_tr, yn_tr, zn_va, yn_va, cfg, progress)
    _calibrate(model, z_tr, z_va, y_va, cfg)
    hist = FitHistory(
        losses, val_mse, best_epoch, time.perf_counter() - t0, str(dev), model.theta.tolist()
    )
    return model, hist


def _train(
    ens: ResidualEnsemble, zn_tr: Tensor, yn_tr: Tensor, zn_va: Tensor, yn_va: Tensor,
    cfg: FitConfig, progress: ProgressFn | None,
) -> tuple[list[float], list[float], int]:  # fmt: skip
    """Bootstrapped NLL training on normalised data with early stopping on the validation
    MSE of the member mean; leaves the best epoch's weights in ``ens``."""
    dev = zn_tr.device
    gen = torch.Generator(device="cpu").manual_seed(cfg.seed)
    n, e = zn_tr.shape[0], cfg.n_members
    boot = (
        torch.randint(0, n, (e, n), generator=gen)
        if cfg.bootstrap
        else torch.arange(n).expand(e, n).clone()
    ).to(dev)
    opt = torch.optim.AdamW(ens.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    best, best_state, best_epoch, bad = float("inf"), None, 0, 0
    losses: list[float] = []
    val_mse: list[float] = []
    bs = min(cfg.batch_size, n)
    for epoch in range(cfg.epochs):
        ens.train()
        perm = torch.randperm(n, generator=gen).to(dev)
        total, steps = 0.0, 0
        for s in range(0, n - bs + 1, bs):
            idx = boot[:, perm[s : s + bs]]  # (ensemble, batch)
            mean, log_var = ens(zn_tr[idx])
            nll = (((mean - yn_tr[idx]) ** 2) * torch.exp(-log_var) + log_var).mean()
            loss = nll + 0.01 * ens.bound_penalty() / yn_tr.shape[1]
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total, steps = total + float(nll.detach()), steps + 1
        ens.eval()
        with torch.no_grad():
            vm, _ = ens(zn_va)
            v = float(((vm.mean(0) - yn_va) ** 2).mean())
        losses.append(total / max(steps, 1))
        val_mse.append(v)
        if progress is not None:
            progress(
                {"epoch": epoch, "n_epochs": cfg.epochs, "train_loss": losses[-1], "val_mse": v}
            )
        if v < best - 1e-6:
            best, best_epoch, bad = v, epoch, 0
            best_state = {k: p.detach().clone() for k, p in ens.state_dict().items()}
        else:
            bad += 1
            if bad >= cfg.patience:
                break
    if best_state is not None:
        ens.load_state_dict(best_state)
    return losses, val_mse, best_epoch


@torch.no_grad()
def _calibrate(model: WorldModel, z_tr: Tensor, z_va: Tensor, y_va: Tensor, cfg: FitConfig) -> None:
    """OOD thresholds at ``ood_quantile`` of the held-out inputs (times ``ood_margin``), and the
    validation standardised squared error that :func:`drift_check` compares against."""
    zn_tr = (z_tr - model.in_mean) / model.in_std
    zn_va = (z_va - model.in_mean) / model.in_std
    model.maha_mean.copy_(zn_tr.mean(0))
    cov = torch.cov(zn_tr.T).reshape(zn_tr.shape[1], zn_tr.shape[1])
    cov = cov + 1e-6 * torch.eye(cov.shape[0], dtype=cov.dtype, device=cov.device)
    model.maha_prec.copy_(torch.linalg.inv(cov))
    q = cfg.ood_quantile
    maha = float(torch.quantile(model.mahalanobis2(zn_va), q)) * cfg.ood_margin
    model.maha_threshold.fill_(max(maha, float(scipy.stats.chi2.ppf(q, zn_tr.shape[1]))))
    rm, rv = model.residual(zn_va)
    spread = float(torch.quantile((rm / model.out_std).std(dim=0, correction=0).mean(-1), q))
    model.disagree_threshold.fill_(max(spread * cfg.ood_margin, cfg.ood_disagree_floor))
    var = rv.mean(0) + rm.var(0, correction=0)
    model.val_z2.copy_((((y_va - rm.mean(0)) ** 2) / var).mean())
    model.fitted_flag.fill_(True)
