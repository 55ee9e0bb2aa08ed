"""The residual world model ``x[k+1] = f_phys(x, u; theta) + g(x, u)``: prediction with
uncertainty, batched multi-step rollouts, out-of-distribution detection and fallback to the prior.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from starbrain.models.dynamics.ensemble import ResidualEnsemble
from starbrain.models.dynamics.prior import PhysicsPrior

__all__ = ["Prediction", "WorldModel", "WorldModelConfig"]


@dataclass(frozen=True)
class WorldModelConfig:
    """Shape of a world model. ``state_features``: state indices fed to the residual (leave out
    absolute position and heading so the residual is translation-invariant; default all);
    ``residual_dims``: state indices the residual corrects (default all)."""

    state_dim: int
    input_dim: int
    dt: float
    n_members: int = 5
    hidden: int = 64
    depth: int = 2
    seed: int = 0
    state_features: tuple[int, ...] | None = None
    residual_dims: tuple[int, ...] | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> WorldModelConfig:
        d = dict(d)
        for k in ("state_features", "residual_dims"):
            if d.get(k) is not None:
                d[k] = tuple(d[k])
        return cls(**d)


@dataclass
class Prediction:
    """One-step prediction for a batch: ``mean``/``var`` ``(batch, state)`` (total variance:
    member spread + mean aleatoric), ``members`` ``(ensemble, batch, state)``, ``ood`` ``(batch,)``
    True where the input is out of the training distribution and the prior was used."""

    mean: Tensor
    var: Tensor
    members: Tensor
    ood: Tensor
    extra: dict[str, Tensor] = field(default_factory=dict)


class WorldModel(nn.Module):
    """A physics prior plus a residual ensemble, with normalisation and OOD fallback.

    ``theta`` (float64 buffer) holds the prior's parameters; ``rollout`` accepts per-row ``theta``
    ``(batch, n_theta)`` too. Until :func:`~starbrain.models.dynamics.training.fit_world_model`
    has run, the residual is switched off (``fitted`` is False) and the model is the prior.
    """

    feat_idx: Tensor
    res_idx: Tensor
    theta: Tensor
    in_mean: Tensor
    in_std: Tensor
    out_mean: Tensor
    out_std: Tensor
    maha_mean: Tensor
    maha_prec: Tensor
    maha_threshold: Tensor
    disagree_threshold: Tensor
    prior_var: Tensor
    val_z2: Tensor
    fitted_flag: Tensor

    def __init__(
        self, prior: PhysicsPrior, config: WorldModelConfig, theta: Tensor | None = None
    ) -> None:
        super().__init__()
        self.prior, self.config = prior, config
        s, i = config.state_dim, config.input_dim
        feats = list(config.state_features) if config.state_features is not None else list(range(s))
        res = list(config.residual_dims) if config.residual_dims is not None else list(range(s))
        self.register_buffer("feat_idx", torch.tensor(feats, dtype=torch.long))
        self.register_buffer("res_idx", torch.tensor(res, dtype=torch.long))
        in_dim, out_dim = len(feats) + i, len(res)
        self.ensemble = ResidualEnsemble(
            in_dim, out_dim, config.n_members, config.hidden, config.depth, config.seed
        )
        th = prior.theta_default() if theta is None else theta
        self.register_buffer("theta", th.detach().to(torch.float64).clone())
        for name, n in (("in_mean", in_dim), ("out_mean", out_dim)):
            self.register_buffer(name, torch.zeros(n, dtype=torch.float64))
        for name, n in (("in_std", in_dim), ("out_std", out_dim)):
            self.register_buffer(name, torch.ones(n, dtype=torch.float64))
        # OOD detector: Mahalanobis distance on normalised inputs + ensemble disagreement
        self.register_buffer("maha_mean", torch.zeros(in_dim, dtype=torch.float64))
        self.register_buffer("maha_prec", torch.eye(in_dim, dtype=torch.float64))
        self.register_buffer("maha_threshold", torch.tensor(float("inf"), dtype=torch.float64))
        self.register_buffer("disagree_threshold", torch.tensor(float("inf"), dtype=torch.float64))
        # per-step variance of the prior's own error (used when falling back), and the validation
        # standardised error the drift check compares against
        self.register_buffer("prior_var", torch.ones(out_dim, dtype=torch.float64))
        self.register_buffer("val_z2", torch.tensor(1.0, dtype=torch.float64))
        self.register_buffer("fitted_flag", torch.tensor(False))

    # -- pieces -------------------------------------------------------------------------------
    @property
    def fitted(self) -> bool:
        return bool(self.fitted_flag)

    @property
    def device(self) -> torch.device:
        return self.theta.device

    def prior_step(self, x: Tensor, u: Tensor, theta: Tensor | None = None) -> Tensor:
        """The prior alone, ``(..., state)`` in the dtype of ``x``."""
        th = (self.theta if theta is None else theta).to(x.dtype)
        return self.prior.step(x, u, th, self.config.dt)

    def features(self, x: Tensor, u: Tensor) -> Tensor:
        """Normalised residual inputs ``(..., in_dim)``, float64."""
        z = torch.cat([x[..., self.feat_idx].to(torch.float64), u.to(torch.float64)], dim=-1)
        return (z - self.in_mean) / self.in_std

    def mahalanobis2(self, z: Tensor) -> Tensor:
        """Squared Mahalanobis distance of normalised inputs ``z`` to the training inputs."""
        d = z - self.maha_mean
        return torch.einsum("...i,ij,...j->...", d, self.maha_prec, d)

    def residual(self, z: Tensor) -> tuple[Tensor, Tensor]:
        """Residual mean and variance in state units for normalised inputs ``z``, shaped
        ``(ensemble, batch, in_dim)`` or ``(batch, in_dim)``; both ``(ensemble, batch, out)``."""
        dtype = next(self.ensemble.parameters()).dtype
        m, lv = self.ensemble(z.to(dtype))
        mean = m.to(torch.float64) * self.out_std + self.out_mean
        var = torch.exp(lv.to(torch.float64)) * self.out_std**2
        return mean, var

    def ood_mask(self, z: Tensor, res_mean: Tensor) -> Tensor:
        """True where ``z`` ``(..., batch, in_dim)`` is out of distribution (either test fires)."""
        maha = self.mahalanobis2(z)
        if maha.dim() > 1:  # per-member inputs: judge the first member's (they share x at k=0)
            maha = maha.amax(dim=0)
        spread = ((res_mean / self.out_std).std(dim=0, correction=0)).mean(dim=-1)
        return (maha > self.maha_threshold) | (spread > self.disagree_threshold)

    # -- prediction ---------------------------------------------------------------------------
    @torch.no_grad()
    def predict(self, x: Tensor, u: Tensor, theta: Tensor | None = None) -> Prediction:
        """One step for ``x`` ``(batch, state)``, ``u`` ``(batch, input)``."""
        base = self.prior_step(x, u, theta)
        e = self.config.n_members
        members = base.unsqueeze(0).expand(e, *base.shape).clone()
        if not self.fitted:
            zero = torch.zeros_like(base)
            return Prediction(
                base,
                zero,
                members,
                torch.zeros(base.shape[0], dtype=torch.bool, device=base.device),
            )
        z = self.features(x, u)
        rm, rv = self.residual(z)
        ood = self.ood_mask(z, rm)
        keep = (~ood).to(rm.dtype)[None, :, None]
        members[..., self.res_idx] += (rm * keep).to(base.dtype)
        var = torch.zeros_like(base, dtype=torch.float64)
        alea = torch.where(ood[:, None], self.prior_var, rv.mean(0))
        var[..., self.res_idx] = alea + members[..., self.res_idx].to(torch.float64).var(
            0, correction=0
        )
        mean = torch.where(ood[:, None], base, members.mean(0))  # exactly the prior where OOD
        return Prediction(mean, var.to(base.dtype), members, ood)

    def rollout(self, x0: Tensor, U: Tensor, theta: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """``X, var`` of :meth:`rollout_members`, each ``(batch, horizon, state)``."""
        X, var, _ = self.rollout_members(x0, U, theta)
        return X, var

    @torch.no_grad()
    def rollout_members(
        self, x0: Tensor, U: Tensor, theta: Tensor | None = None
    ) -> tuple[Tensor, Tensor, Tensor]:
        """Open-loop rollout of ``x0`` ``(batch, state)`` under ``U`` ``(batch, horizon, input)``.

        Each member propagates its own trajectory (PETS "TS-inf" with mean propagation). Returns
        ``X`` ``(batch, horizon, state)`` (the member mean of ``x[1..H]``) and ``var`` of the same
        shape: member spread plus the accumulated per-step aleatoric variance (the prior's error
        variance on steps that fell back), and the member trajectories
        ``(ensemble, batch, horizon, state)`` (one member while unfitted). Works in the dtype of
        ``x0``: float32 for planning.
        """
        # an unfitted model is its prior: one trajectory per row is enough, and a prior with
        # its own multi-step ``rollout(x0, U, theta, dt)`` (a fast exact path) rolls it
        if not self.fitted and hasattr(self.prior, "rollout"):
            th0 = (self.theta if theta is None else theta).to(x0.dtype)
            X = self.prior.rollout(x0, U, th0, self.config.dt)
            return X, torch.zeros_like(X), X[None]
        e, (b, h, _) = (self.config.n_members if self.fitted else 1), U.shape
        xs = x0.unsqueeze(0).expand(e, *x0.shape).contiguous()
        th = None if theta is None else theta.unsqueeze(0).expand(e, *theta.shape)
        Ue = U.unsqueeze(0).expand(e, *U.shape)
        out = torch.empty(e, b, h, x0.shape[-1], dtype=x0.dtype, device=x0.device)
        acc = torch.zeros(b, len(self.res_idx), dtype=torch.float64, device=x0.device)
        accs = torch.zeros(b, h, len(self.res_idx), dtype=torch.float64, device=x0.device)
        for k in range(h):
            u = Ue[:, :, k]
            nxt = self.prior_step(xs, u, th)
            if self.fitted:
                z = self.features(xs, u)
                rm, rv = self.residual(z)
                ood = self.ood_mask(z, rm)
                keep = (~ood).to(rm.dtype)[None, :, None]
                nxt = nxt.clone()
                nxt[..., self.res_idx] += (rm * keep).to(nxt.dtype)
                acc = acc + torch.where(ood[:, None], self.prior_var, rv.mean(0))
                accs[:, k] = acc
            xs = nxt
            out[:, :, k] = xs
        X = out.mean(0)
        var = torch.zeros_like(X, dtype=torch.float64)
        var[..., self.res_idx] = out[..., self.res_idx].to(torch.float64).var(0, correction=0)
        var[..., self.res_idx] += accs
        return X, var.to(X.dtype), out
