"""``MPCConfig.plan_states=False``: the same plan without the extra rollout of the chosen plan."""

from __future__ import annotations

import torch

from starbrain.planners.mpc import MPPI, MPCConfig


class _DoubleIntegrator:
    """``x = (p, v)``, ``u`` = acceleration, dt 0.1 s; counts the rollouts and their batch."""

    def __init__(self) -> None:
        self.batches: list[int] = []

    def rollout(self, x0: torch.Tensor, U: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        self.batches.append(x0.shape[0])
        xs, x = [], x0
        for k in range(U.shape[1]):
            v = x[:, 1] + 0.1 * U[:, k, 0]
            x = torch.stack([x[:, 0] + 0.1 * v, v], -1)
            xs.append(x)
        X = torch.stack(xs, 1)
        return X, torch.zeros_like(X)


def _cost(X: torch.Tensor, U: torch.Tensor, var: torch.Tensor) -> torch.Tensor:
    return ((X[..., 0] - 1.0) ** 2).sum(-1) + 0.01 * (U**2).sum((-1, -2))


def test_skipping_the_plan_rollout_keeps_the_plan_and_reports_the_cheapest_sample() -> None:
    x0 = torch.tensor([[0.0, 0.0]])
    out = {}
    for flag in (True, False):
        m = _DoubleIntegrator()
        cfg = MPCConfig(horizon=10, n_samples=64, noise_std=1.0, temperature=0.1,
                        plan_states=flag)  # fmt: skip
        out[flag] = (MPPI(m, _cost, 1, cfg).step(x0), m.batches)
    (full, b_full), (fast, b_fast) = out[True], out[False]
    assert b_full == [64, 1] and b_fast == [64]  # one rollout fewer per step
    torch.testing.assert_close(fast.u, full.u)
    torch.testing.assert_close(fast.plan, full.plan)
    assert fast.X.shape == full.X.shape == (1, 10, 2)
    # X and cost are the cheapest sample's: no dearer than sample 0 (the zero warm start: the
    # cart stays 1 m short for 10 steps, cost 10), and at least its states' position cost
    assert float(fast.cost) < 10.0
    position = float(((fast.X[..., 0] - 1.0) ** 2).sum())
    assert position <= float(fast.cost) <= position + 0.01 * 10 * 9.0  # |u| <= 3 sigma
