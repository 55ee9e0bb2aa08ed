"""Physics-parameter estimation: fit a prior's ``theta`` to transitions by least squares (SciPy,
one parameter set) or by gradient (torch L-BFGS, one parameter set per group, all at once)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.optimize
import torch
from torch import Tensor

from starbrain.core.errors import StarbrainError
from starbrain.models.dynamics.data import Trajectories
from starbrain.models.dynamics.prior import PhysicsPrior

__all__ = ["ThetaEstimate", "estimate_theta"]


@dataclass(frozen=True)
class ThetaEstimate:
    """``theta`` ``(n_theta,)`` or ``(n_groups, n_theta)``; ``rms_before``/``rms_after``: RMS of
    the scaled one-step residuals at the start and at the end; ``std``: 1-sigma from the
    Gauss-Newton covariance (least squares only)."""

    theta: Tensor
    rms_before: float
    rms_after: float
    std: Tensor | None
    method: str


def estimate_theta(
    prior: PhysicsPrior,
    data: Trajectories,
    theta0: Tensor | None = None,
    *,
    method: str = "lsq",
    free: Sequence[int] | None = None,
    groups: Tensor | None = None,
    n_groups: int | None = None,
    dims: Sequence[int] | None = None,
    max_iter: int = 200,
) -> ThetaEstimate:
    """Estimate the prior's parameters from one-step prediction errors of ``data``.

    Residuals are scaled per state by the standard deviation of the one-step change, so states
    in different units weigh alike; ``dims`` restricts them to some states. ``free`` lists the
    indices of ``theta`` to fit (the rest stay at ``theta0``). ``method="lsq"``: SciPy
    trust-region least squares with a finite-difference Jacobian and a covariance estimate;
    ``method="gradient"``: torch L-BFGS through the prior, with ``groups`` ``(n_traj,)`` giving
    each trajectory's group (e.g. vehicle): one ``theta`` per group, all fitted together.
    """
    th0 = (prior.theta_default() if theta0 is None else theta0).to(torch.float64)
    if th0.numel() == 0:
        raise StarbrainError("this prior has no parameters to estimate")
    x, u, x_next, traj = data.transitions()
    free_idx = torch.as_tensor(
        list(free) if free is not None else range(th0.numel()), dtype=torch.long
    )
    pb = _Problem(
        prior, x, u, x_next, traj, data.dt, (x_next - x).std(0).clamp_min(1e-12),
        torch.as_tensor(list(dims) if dims is not None else range(x.shape[1]), dtype=torch.long),
        th0, free_idx, th0[free_idx].abs().clamp_min(1e-3),
    )  # fmt: skip
    if method == "lsq":
        if groups is not None:
            raise StarbrainError("per-group estimation uses method='gradient'")
        return _lsq(pb, max_iter)
    if method != "gradient":
        raise StarbrainError(f"unknown estimation method {method!r}: use 'lsq' or 'gradient'")
    return _gradient(pb, groups, n_groups, data.n_traj, max_iter)


@dataclass(frozen=True)
class _Problem:
    """One estimation: transitions, residual scaling and which parameters are free (fitted as
    ``theta0 + typical * p``, so every free parameter moves on the scale of its nominal)."""

    prior: PhysicsPrior
    x: Tensor
    u: Tensor
    x_next: Tensor
    traj: Tensor
    dt: float
    scale: Tensor
    dim_idx: Tensor
    th0: Tensor
    free_idx: Tensor
    typical: Tensor

    def residual(self, theta: Tensor) -> Tensor:
        pred = self.prior.step(self.x, self.u, theta, self.dt)
        return (pred - self.x_next)[:, self.dim_idx] / self.scale[self.dim_idx]


def _lsq(pb: _Problem, max_iter: int) -> ThetaEstimate:
    def theta_of(p: np.ndarray) -> Tensor:
        th = pb.th0.clone()
        th[pb.free_idx] = pb.th0[pb.free_idx] + pb.typical * torch.as_tensor(p)
        return th

    def fun(p: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return pb.residual(theta_of(p)).reshape(-1).numpy()

    p0 = np.zeros(len(pb.free_idx))
    r0 = fun(p0)
    sol = scipy.optimize.least_squares(fun, p0, method="trf", x_scale=1.0, max_nfev=max_iter)
    dof = max(sol.fun.size - sol.x.size, 1)
    s2 = float(sol.fun @ sol.fun) / dof
    try:
        cov_p = np.linalg.inv(sol.jac.T @ sol.jac) * s2
        std_full = torch.zeros_like(pb.th0)
        std_full[pb.free_idx] = pb.typical * torch.as_tensor(np.sqrt(np.diag(cov_p)))
        std: Tensor | None = std_full
    except np.linalg.LinAlgError:
        std = None
    return ThetaEstimate(
        theta_of(sol.x), float(np.sqrt(np.mean(r0**2))),
        float(np.sqrt(np.mean(sol.fun**2))), std, "lsq",
    )  # fmt: skip


def _gradient(
    pb: _Problem, groups: Tensor | None, n_groups: int | None, n_traj: int, max_iter: int
) -> ThetaEstimate:
    g = torch.zeros(n_traj, dtype=torch.long) if groups is None else groups.long()
    ng = int(n_groups if n_groups is not None else int(g.max()) + 1)
    row_group = g[pb.traj]
    p = torch.zeros(ng, len(pb.free_idx), dtype=torch.float64, requires_grad=True)

    def thetas() -> Tensor:
        th = pb.th0.expand(ng, -1).clone()
        th[:, pb.free_idx] = pb.th0[pb.free_idx] + pb.typical * p
        return th

    def loss_fn() -> Tensor:
        return (pb.residual(thetas()[row_group]) ** 2).mean()

    with torch.no_grad():
        before = float(loss_fn()) ** 0.5
    opt = torch.optim.LBFGS([p], lr=1.0, max_iter=max_iter, line_search_fn="strong_wolfe",
                            tolerance_grad=1e-12, tolerance_change=1e-15)  # fmt: skip

    def closure() -> Tensor:
        opt.zero_grad()
        loss = loss_fn()
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        after = float(loss_fn()) ** 0.5
        th = thetas().detach()
    return ThetaEstimate(th[0] if groups is None else th, before, after, None, "gradient")
