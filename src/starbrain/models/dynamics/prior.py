"""The physics-prior protocol every world model builds on, and the trivial priors (identity, a
callable) used for pure-NN baselines and tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

import torch
from torch import Tensor

__all__ = ["CallablePrior", "IdentityPrior", "PhysicsPrior"]


@runtime_checkable
class PhysicsPrior(Protocol):
    """A discrete-time physics model ``x[k+1] = step(x[k], u[k], theta, dt)`` in torch.

    ``x`` is ``(..., state_dim)``, ``u`` is ``(..., input_dim)`` and ``theta`` is
    ``(n_theta,)`` or broadcastable to ``(..., n_theta)`` (one parameter vector per batch row, e.g.
    per vehicle). The step must be differentiable in ``theta`` (parameter estimation uses
    autograd) and must not loop in Python over the batch. Units are the prior's to document.
    """

    state_dim: int
    input_dim: int
    theta_names: tuple[str, ...]

    def theta_default(self) -> Tensor:
        """The nominal parameters, float64 ``(n_theta,)``."""
        ...

    def step(self, x: Tensor, u: Tensor, theta: Tensor, dt: float) -> Tensor: ...

    def config(self) -> dict[str, Any]:
        """JSON-serialisable constructor arguments (``type(self)(**config())`` rebuilds it)."""
        ...


class IdentityPrior:
    """``x[k+1] = x[k]``: with a residual on top this is the plain learned delta model (PETS)."""

    theta_names: tuple[str, ...] = ()

    def __init__(self, state_dim: int, input_dim: int) -> None:
        self.state_dim, self.input_dim = state_dim, input_dim

    def theta_default(self) -> Tensor:
        return torch.zeros(0, dtype=torch.float64)

    def step(self, x: Tensor, u: Tensor, theta: Tensor, dt: float) -> Tensor:
        return x

    def config(self) -> dict[str, Any]:
        return {"state_dim": self.state_dim, "input_dim": self.input_dim}


class CallablePrior:
    """A prior from a function ``fn(x, u, theta, dt) -> x_next`` (for tests and quick studies;
    it cannot be rebuilt from the registry, pass it to ``load_world_model`` instead)."""

    def __init__(
        self,
        fn: Callable[[Tensor, Tensor, Tensor, float], Tensor],
        state_dim: int,
        input_dim: int,
        theta: Tensor | list[float] | None = None,
        theta_names: tuple[str, ...] | None = None,
    ) -> None:
        self.fn, self.state_dim, self.input_dim = fn, state_dim, input_dim
        t = torch.as_tensor(theta if theta is not None else [], dtype=torch.float64)
        self._theta = t
        self.theta_names = theta_names or tuple(f"theta{i}" for i in range(t.numel()))

    def theta_default(self) -> Tensor:
        return self._theta.clone()

    def step(self, x: Tensor, u: Tensor, theta: Tensor, dt: float) -> Tensor:
        return self.fn(x, u, theta, dt)

    def config(self) -> dict[str, Any]:
        return {"state_dim": self.state_dim, "input_dim": self.input_dim}
