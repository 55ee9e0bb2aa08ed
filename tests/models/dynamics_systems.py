"""Test systems for the world-model core with known answers: a damped pendulum (torch, batched)."""

from __future__ import annotations

import torch
from torch import Tensor

from starbrain.models.dynamics import CallablePrior, Trajectories

G_OVER_L = 9.81  # 1/s^2 (g / 1 m)
TRUE_DAMPING = 0.5  # 1/s
WRONG_DAMPING = 0.05
DT = 0.05  # s


def pendulum_step(x: Tensor, u: Tensor, theta: Tensor, dt: float) -> Tensor:
    """RK4 step of theta'' = -g/l sin(theta) - c theta' + u; x = (angle rad, rate rad/s), u rad/s^2.
    ``theta`` = (c,) or (..., 1)."""
    c = theta[..., 0:1]

    def f(s: Tensor) -> Tensor:
        return torch.cat(
            [s[..., 1:2], -G_OVER_L * torch.sin(s[..., 0:1]) - c * s[..., 1:2] + u], -1
        )

    k1 = f(x)
    k2 = f(x + 0.5 * dt * k1)
    k3 = f(x + 0.5 * dt * k2)
    k4 = f(x + dt * k3)
    return x + dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4)


def pendulum_prior(damping: float = WRONG_DAMPING) -> CallablePrior:
    return CallablePrior(pendulum_step, 2, 1, [damping], ("damping_per_s",))


def pendulum_data(
    n_traj: int, n_steps: int, seed: int, damping: float = TRUE_DAMPING, noise: float = 0.0,
    u_max: float = 1.0, x_max: float = 1.0,
) -> Trajectories:  # fmt: skip
    """Trajectories from random starts under smooth random torques (within +-u_max)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.empty(n_traj, n_steps + 1, 2, dtype=torch.float64)
    x[:, 0] = (torch.rand(n_traj, 2, generator=g, dtype=torch.float64) * 2 - 1) * x_max
    knots = (
        torch.rand(n_traj, n_steps // 10 + 2, generator=g, dtype=torch.float64) * 2 - 1
    ) * u_max
    u = knots.repeat_interleave(10, dim=1)[:, :n_steps, None]
    th = torch.tensor([damping], dtype=torch.float64)
    for k in range(n_steps):
        x[:, k + 1] = pendulum_step(x[:, k], u[:, k], th, DT)
    if noise:
        x = x + noise * torch.randn(x.shape, generator=g, dtype=torch.float64)
    return Trajectories(x, u, DT, tuple("pendulum" for _ in range(n_traj)))
