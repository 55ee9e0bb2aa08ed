"""The MPC's hard rate limit with several agents, each with its own last input."""

from __future__ import annotations

import torch

from starbrain.planners.mpc import MPPI, MPCConfig


class _Integrator:
    """``x[k+1] = x[k] + u[k]`` (one state, one input)."""

    def rollout(self, x0: torch.Tensor, U: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        X = x0[:, None, :] + torch.cumsum(U, 1)
        return X, torch.zeros_like(X)


def _cost(X: torch.Tensor, U: torch.Tensor, var: torch.Tensor) -> torch.Tensor:
    return ((X[..., 0] - 5.0) ** 2).sum(-1)


def test_rate_limit_per_agent_from_each_agents_last_input() -> None:
    """Three agents, 16 samples each (agents != samples: the last input must broadcast per
    agent): every sampled and chosen plan starts within du of its own agent's last input and
    moves at most du per step; the plan equals a sequential clamp done by hand."""
    du = 0.25
    cfg = MPCConfig(horizon=8, n_samples=16, noise_std=2.0, du_max=du, temperature=1.0)
    mpc = MPPI(_Integrator(), _cost, 1, cfg)
    u_prev = torch.tensor([[-1.0], [0.0], [3.0]])
    step = mpc.step(torch.zeros(3, 1), u_prev)
    plan = step.plan[..., 0]
    first = plan[:, 0] - u_prev[:, 0]
    assert float(first.abs().max()) <= du + 1e-6
    assert float(torch.diff(plan, dim=1).abs().max()) <= du + 1e-6
    # the clamp itself, against a loop written out here
    V = 3.0 * torch.randn(3, 16, 8, 1, generator=torch.Generator().manual_seed(1))
    got = mpc._clamp(V, u_prev)
    ref = V.clone()
    for a in range(3):
        for s in range(16):
            last = float(u_prev[a, 0])
            for k in range(8):
                last = min(max(float(V[a, s, k, 0]), last - du), last + du)
                ref[a, s, k, 0] = last
    assert torch.allclose(got, ref, atol=1e-6)
