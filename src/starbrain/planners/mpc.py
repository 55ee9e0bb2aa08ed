"""Batched sampling model-predictive control (MPPI and CEM) over any world model's ``rollout``.

Every step evaluates ``n_samples x n_iters`` open-loop rollouts per agent in one batched call
per iteration (no Python loop over agents or samples), clamps inputs to hard limits, charges
soft constraints through the cost, rejects rollouts that break hard state limits, and warm-starts
from the previous plan shifted by one step. Shapes: states ``(agents, state)``, plans
``(agents, horizon, input)``, sampled rollouts ``(agents, samples, horizon, state)``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import torch
from torch import Tensor

from starbrain.core.errors import StarbrainError

__all__ = ["CEM", "MPPI", "CostFn", "MPCConfig", "MPCStep", "RolloutModel", "box_penalty"]


class RolloutModel(Protocol):
    """Anything with a batched open-loop rollout: ``x0 (B, state)``, ``U (B, horizon, input)`` ->
    ``X (B, horizon, state)`` (states after each input) and ``var`` of the same shape."""

    def rollout(self, x0: Tensor, U: Tensor) -> tuple[Tensor, Tensor]: ...


CostFn = Callable[[Tensor, Tensor, Tensor], Tensor]
"""``cost(X, U, var) -> (agents, samples)`` for ``X``/``var`` ``(agents, samples, horizon,
state)`` and ``U`` ``(agents, samples, horizon, input)``; ``var`` lets a cost penalise
uncertainty (e.g. ``+ beta * var.sum((-1, -2))``)."""


def box_penalty(values: Tensor, lo: Tensor | float, hi: Tensor | float, weight: float) -> Tensor:
    """Soft constraint ``weight * sum(max(lo - v, 0)^2 + max(v - hi, 0)^2)`` over the last two
    axes (time, component): ``(..., horizon, n) -> (...)``."""
    lo_t = torch.as_tensor(lo, dtype=values.dtype, device=values.device)
    hi_t = torch.as_tensor(hi, dtype=values.dtype, device=values.device)
    over = torch.relu(values - hi_t) ** 2 + torch.relu(lo_t - values) ** 2
    return weight * over.sum((-1, -2))


@dataclass(frozen=True)
class MPCConfig:
    """Sampling-MPC settings. The compute budget per step is fixed: ``n_iters`` iterations of
    ``n_samples`` rollouts per agent, cut short (never below one iteration) after
    ``time_budget_s`` seconds when given.

    ``noise_std``: input sampling standard deviation (per input or one for all, input units);
    ``u_min``/``u_max``: hard input limits (samples are clamped); ``du_max``: hard limit on the
    change of input per step; ``x_min``/``x_max``: hard state limits (a rollout that breaks one
    costs ``infeasible_cost`` extra); ``temperature``: MPPI's lambda, in cost units;
    ``control_cost``: weight of MPPI's information-theoretic term ``lambda u' Sigma^-1 eps``
    (1 is Williams et al.'s gamma = lambda; it adds an effective input cost
    ``lambda Sigma^-1``, so leave it at 0 when ``cost`` already charges the inputs);
    ``n_elites``/``smoothing``: CEM's elite count and the weight kept on the old distribution;
    ``plan_states``: roll the chosen plan out once more for :attr:`MPCStep.X` and ``cost``
    (default); when False that extra rollout is skipped and ``X``/``cost`` are those of the
    cheapest sample of the last iteration (a batch-1 rollout is mostly Python overhead: about
    a third of an arm MPC step).
    """

    horizon: int = 20
    n_samples: int = 1024
    n_iters: int = 1
    noise_std: float | Sequence[float] = 1.0
    u_min: float | Sequence[float] | None = None
    u_max: float | Sequence[float] | None = None
    du_max: float | Sequence[float] | None = None
    x_min: float | Sequence[float] | None = None
    x_max: float | Sequence[float] | None = None
    infeasible_cost: float = 1e6
    temperature: float = 1.0
    control_cost: float = 0.0
    n_elites: int = 64
    smoothing: float = 0.1
    seed: int = 0
    time_budget_s: float | None = None
    dtype: torch.dtype = torch.float32
    plan_states: bool = True


@dataclass
class MPCStep:
    """One planning step: ``u`` ``(agents, input)`` to apply now, the full ``plan`` ``(agents,
    horizon, input)``, its predicted states ``X`` ``(agents, horizon, state)`` and ``cost``
    ``(agents,)``, and what it cost to compute."""

    u: Tensor
    plan: Tensor
    X: Tensor
    cost: Tensor
    n_rollouts: int
    n_iters: int
    seconds: float


class _SamplingMPC:
    def __init__(
        self, model: RolloutModel, cost: CostFn, input_dim: int, config: MPCConfig
    ) -> None:
        if config.horizon < 1 or config.n_samples < 2 or config.n_iters < 1:
            raise StarbrainError("MPC needs horizon >= 1, n_samples >= 2 and n_iters >= 1")
        self.model, self.cost_fn, self.input_dim, self.config = model, cost, input_dim, config
        self.plan_mean: Tensor | None = None
        self.gen: torch.Generator | None = None
        self._vecs: dict[tuple[str, torch.device], Tensor | None] = {}

    def _vec(self, v: float | Sequence[float] | None, device: torch.device) -> Tensor | None:
        if v is None:
            return None
        t = torch.as_tensor(v, dtype=self.config.dtype, device=device)
        return t.expand(self.input_dim) if t.dim() == 0 else t

    def _limit(self, name: str, device: torch.device) -> Tensor | None:
        """The config's input vector ``name`` as a tensor, built once per device."""
        key = (name, device)
        if key not in self._vecs:
            self._vecs[key] = self._vec(getattr(self.config, name), device)
        return self._vecs[key]

    def reset(self) -> None:
        """Forget the warm start (the next step plans from zero inputs)."""
        self.plan_mean = None

    def _clamp(self, U: Tensor, u_prev: Tensor | None) -> Tensor:
        dev = U.device
        lo, hi = self._limit("u_min", dev), self._limit("u_max", dev)
        du = self._limit("du_max", dev)
        if du is not None:
            U = _rate_limit(U, u_prev, du)
        if lo is not None or hi is not None:
            U = torch.clamp(U, lo, hi)
        return U

    def _evaluate(self, x0: Tensor, V: Tensor) -> tuple[Tensor, Tensor]:
        """Cost ``(agents, samples)`` and states of ``V`` ``(agents, samples, horizon, input)``."""
        a, k, h, i = V.shape
        xb = x0[:, None, :].expand(a, k, x0.shape[-1]).reshape(a * k, -1)
        X, var = self.model.rollout(xb, V.reshape(a * k, h, i))
        X, var = X.reshape(a, k, h, -1), var.reshape(a, k, h, -1)
        cost = self.cost_fn(X, V, var)
        dev = X.device
        lo, hi = self.config.x_min, self.config.x_max
        if lo is not None or hi is not None:
            bad = torch.zeros(a, k, dtype=torch.bool, device=dev)
            if lo is not None:
                bad |= (X < torch.as_tensor(lo, dtype=X.dtype, device=dev)).any(-1).any(-1)
            if hi is not None:
                bad |= (X > torch.as_tensor(hi, dtype=X.dtype, device=dev)).any(-1).any(-1)
            cost = cost + bad.to(cost.dtype) * self.config.infeasible_cost
        return cost, X

    def _update(
        self, mean: Tensor, std: Tensor, V: Tensor, cost: Tensor
    ) -> tuple[Tensor, Tensor]:  # pragma: no cover - overridden
        raise NotImplementedError

    @torch.no_grad()
    def step(self, x0: Tensor, u_prev: Tensor | None = None) -> MPCStep:
        """Plan from ``x0`` ``(agents, state)`` (or ``(state,)``); ``u_prev`` ``(agents, input)``
        is the input applied last step, for the rate limit. Advances the warm start."""
        cfg = self.config
        t0 = time.perf_counter()
        single = x0.dim() == 1
        x0 = (x0[None] if single else x0).to(cfg.dtype)
        a, dev = x0.shape[0], x0.device
        if self.gen is None:
            self.gen = torch.Generator(device=dev).manual_seed(cfg.seed)
        if self.plan_mean is None or self.plan_mean.shape[0] != a:
            self.plan_mean = torch.zeros(
                a, cfg.horizon, self.input_dim, dtype=cfg.dtype, device=dev
            )
        noise = self._limit("noise_std", dev)
        assert noise is not None
        mean = self.plan_mean
        std = noise.expand(a, cfg.horizon, self.input_dim).clone()
        up = None if u_prev is None else u_prev.to(cfg.dtype).reshape(a, self.input_dim)
        iters = 0
        cost = X = torch.empty(0)
        for _ in range(cfg.n_iters):
            eps = torch.randn(a, cfg.n_samples, cfg.horizon, self.input_dim, generator=self.gen,
                              dtype=cfg.dtype, device=dev)  # fmt: skip
            eps[:, 0] = 0.0  # the current mean is always one of the candidates
            V = self._clamp(mean[:, None] + std[:, None] * eps, up)
            cost, X = self._evaluate(x0, V)
            mean, std = self._update(mean, std, V, cost)
            mean = self._clamp(mean, up)
            iters += 1
            if cfg.time_budget_s is not None and time.perf_counter() - t0 > cfg.time_budget_s:
                break
        if cfg.plan_states:
            final_cost, X = self._evaluate(x0, mean[:, None])
        else:  # the cheapest sample's rollout stands in for the plan's
            final_cost, best = cost.min(dim=1, keepdim=True)
            X = X[torch.arange(a, device=dev)[:, None], best]
        # warm start: shift by one step, repeat the last input
        self.plan_mean = torch.cat([mean[:, 1:], mean[:, -1:]], dim=1)
        u = mean[:, 0]
        out = MPCStep(u[0] if single else u, mean[0] if single else mean,
                      X[:, 0][0] if single else X[:, 0], final_cost[:, 0],
                      iters * cfg.n_samples * a, iters, time.perf_counter() - t0)  # fmt: skip
        return out


def _rate_limit(U: Tensor, u_prev: Tensor | None, du: Tensor) -> Tensor:
    """``U`` ``(..., horizon, input)`` with each step within ``du`` of the one before (the first
    within ``du`` of ``u_prev`` when known): a sequential clamp along the horizon, in NumPy on
    the CPU (a third of the per-call overhead of torch's, 40 steps x 2 calls per iteration)."""
    if u_prev is not None:  # (agents, input) against (agents, [samples,] input)
        u_prev = u_prev.reshape(u_prev.shape[:1] + (1,) * (U.dim() - 3) + u_prev.shape[1:])
    if U.device.type != "cpu":
        first = U[..., 0, :]
        steps = [first if u_prev is None else torch.clamp(first, u_prev - du, u_prev + du)]
        for k in range(1, U.shape[-2]):
            steps.append(torch.clamp(U[..., k, :], steps[-1] - du, steps[-1] + du))
        return torch.stack(steps, dim=-2)
    out = U.detach().clone(memory_format=torch.contiguous_format)
    a, d = out.numpy(), du.detach().cpu().numpy()
    lo, hi = np.empty_like(a[..., 0, :]), np.empty_like(a[..., 0, :])
    if u_prev is not None:
        up = u_prev.detach().cpu().numpy()
        _clip_into(a[..., 0, :], np.subtract(up, d, out=lo), np.add(up, d, out=hi))
    for k in range(1, a.shape[-2]):
        prev = a[..., k - 1, :]
        _clip_into(a[..., k, :], np.subtract(prev, d, out=lo), np.add(prev, d, out=hi))
    return out


def _clip_into(x: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> None:
    """``x = clip(x, lo, hi)`` in place with bare ufuncs (np.clip's wrapper costs more here)."""
    np.maximum(x, lo, out=x)
    np.minimum(x, hi, out=x)


class MPPI(_SamplingMPC):
    """Model-predictive path integral control (Williams et al. 2017, information-theoretic MPPI):
    the new plan is the average of sampled plans weighted by ``exp(-cost / temperature)``."""

    def _update(self, mean: Tensor, std: Tensor, V: Tensor, cost: Tensor) -> tuple[Tensor, Tensor]:
        lam, gamma = self.config.temperature, self.config.control_cost * self.config.temperature
        s = cost
        if gamma:  # gamma * u' Sigma^-1 eps, summed over the horizon
            s = s + gamma * (mean[:, None] * (V - mean[:, None]) / std[:, None] ** 2).sum((-1, -2))
        w = torch.softmax(-(s - s.min(dim=1, keepdim=True).values) / lam, dim=1)
        return (w[:, :, None, None] * V).sum(1), std


class CEM(_SamplingMPC):
    """Cross-entropy method: refit a diagonal Gaussian to the ``n_elites`` cheapest samples each
    iteration, keeping ``smoothing`` of the old mean and standard deviation."""

    def _update(self, mean: Tensor, std: Tensor, V: Tensor, cost: Tensor) -> tuple[Tensor, Tensor]:
        n = min(self.config.n_elites, V.shape[1])
        idx = cost.topk(n, dim=1, largest=False).indices
        elites = torch.gather(V, 1, idx[:, :, None, None].expand(-1, -1, *V.shape[2:]))
        a = self.config.smoothing
        new_mean = a * mean + (1 - a) * elites.mean(1)
        new_std = a * std + (1 - a) * elites.std(1, correction=0)
        return new_mean, new_std
