"""Trajectory data for world models: equal-length windows of states and inputs, with strata."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import torch
from torch import Tensor

from starbrain.core.errors import StarbrainError

__all__ = ["Trajectories"]


@dataclass(frozen=True)
class Trajectories:
    """``n_traj`` trajectories of ``n_steps`` steps sampled every ``dt`` seconds.

    ``x`` is ``(n_traj, n_steps + 1, state_dim)`` and ``u`` is ``(n_traj, n_steps, input_dim)``
    (``u[:, k]`` acts from ``x[:, k]`` to ``x[:, k + 1]``), both float64. ``strata`` labels each
    trajectory (vehicle, friction, regime...) for per-stratum evaluation; ``theta`` optionally
    gives per-trajectory physics parameters ``(n_traj, n_theta)`` (e.g. per-vehicle estimates).
    """

    x: Tensor
    u: Tensor
    dt: float
    strata: tuple[str, ...] | None = None
    theta: Tensor | None = None

    def __post_init__(self) -> None:
        if self.x.dim() != 3 or self.u.dim() != 3:
            raise StarbrainError("trajectories need x (n_traj, n_steps+1, state), u (.., input)")
        if self.x.shape[0] != self.u.shape[0] or self.x.shape[1] != self.u.shape[1] + 1:
            raise StarbrainError(
                f"x {tuple(self.x.shape)} and u {tuple(self.u.shape)} do not line up: x needs "
                "one more step than u"
            )
        if self.strata is not None and len(self.strata) != self.x.shape[0]:
            raise StarbrainError("one stratum label per trajectory is needed")
        if not (torch.isfinite(self.x).all() and torch.isfinite(self.u).all()):
            raise StarbrainError("trajectories contain NaN or infinite values; cut them out first")

    @classmethod
    def from_numpy(
        cls,
        x: npt.ArrayLike,
        u: npt.ArrayLike,
        dt: float,
        strata: list[str] | tuple[str, ...] | None = None,
        theta: npt.ArrayLike | None = None,
    ) -> Trajectories:
        return cls(
            torch.as_tensor(np.asarray(x, np.float64)),
            torch.as_tensor(np.asarray(u, np.float64)),
            float(dt),
            tuple(strata) if strata is not None else None,
            torch.as_tensor(np.asarray(theta, np.float64)) if theta is not None else None,
        )

    @property
    def n_traj(self) -> int:
        return int(self.x.shape[0])

    @property
    def n_steps(self) -> int:
        return int(self.u.shape[1])

    def transitions(self) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """``x (N, state), u (N, input), x_next (N, state), traj (N,)`` with N = n_traj*n_steps."""
        n, k = self.n_traj, self.n_steps
        x = self.x[:, :-1].reshape(n * k, -1)
        x_next = self.x[:, 1:].reshape(n * k, -1)
        traj = torch.arange(n).repeat_interleave(k)
        return x, self.u.reshape(n * k, -1), x_next, traj

    def subset(self, idx: Tensor | npt.ArrayLike) -> Trajectories:
        i = torch.as_tensor(idx, dtype=torch.long)
        strata = tuple(self.strata[j] for j in i.tolist()) if self.strata is not None else None
        theta = self.theta[i] if self.theta is not None else None
        return Trajectories(self.x[i], self.u[i], self.dt, strata, theta)

    def split(self, val_frac: float, seed: int = 0) -> tuple[Trajectories, Trajectories]:
        """Random split by whole trajectories (never by step), ``val_frac`` held out."""
        if self.n_traj < 2:
            raise StarbrainError("a validation split needs at least two trajectories")
        perm = torch.randperm(self.n_traj, generator=torch.Generator().manual_seed(seed))
        n_val = min(max(1, round(val_frac * self.n_traj)), self.n_traj - 1)
        return self.subset(perm[n_val:]), self.subset(perm[:n_val])

    def fingerprint(self) -> str:
        """sha256 over states, inputs, dt and strata."""
        h = hashlib.sha256()
        h.update(self.x.detach().cpu().numpy().tobytes())
        h.update(self.u.detach().cpu().numpy().tobytes())
        h.update(repr((self.dt, self.strata)).encode())
        return h.hexdigest()
