"""The orbit world model: an SGP4 prior plus a small learned residual, trained end to end.

The prior is SGP4 propagation of mean elements fitted (:func:`~starbrain.models.fitting.
fit_elements`) to the first ``fit_days`` of a tracked arc, as an operator fits a TLE to tracking
data. The learned part (a PyTorch MLP whose inputs are the normalised fitted elements) corrects
the prior in two ways, in the spirit of ESA's ML-dSGP4 (Acciarini et al., 2024):

* input corrections to the mean motion and B* (the two elements that drive along-track drift),
  propagated through the differentiable SGP4, so training back-propagates through the physics;
* output corrections in the radial / transverse / normal (RTN) frame of the corrected state, a
  cubic polynomial in the normalised time since epoch whose coefficients the MLP predicts.

Positions in TEME, km; times in minutes since each satellite's epoch. CPU by default, CUDA when
present (:func:`~starbrain.physics.sgp4_init.resolve_device`). Seeds are fixed by the config.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from starbrain.models.fitting import elements_from_state, fit_elements
from starbrain.models.truth import TruthSet
from starbrain.physics.sgp4 import sgp4_propagate
from starbrain.physics.sgp4_init import RADIUS_EARTH_KM, XKE, Sgp4Elements, resolve_device

__all__ = [
    "OrbitModelConfig",
    "OrbitWorldModel",
    "PriorArcs",
    "element_features",
    "fit_priors",
    "predict",
    "train_orbit_model",
]

_N_FEATURES = 11
_RTN_POWERS = (1, 2, 3)
_TWOPI = 2.0 * math.pi
# scales of the drifts of (lambda, i, raan, h, k) over the horizon: 1e-4 rad is ~0.7 km in LEO
_DRIFT_SCALES = (1e-4, 1e-4, 1e-4, 1e-4, 1e-4)
_ELEMENT_FIELDS = ("bstar", "ndot", "nddot", "no_kozai", "jdsatepoch", "jdsatepochF")
_RTN_SCALE_KM = 1.0


@dataclass(frozen=True)
class OrbitModelConfig:
    """Hyper-parameters of :class:`OrbitWorldModel` and of its training (JSON-serialisable)."""

    hidden: int = 64
    layers: int = 2
    epochs: int = 800
    lr: float = 1e-2
    weight_decay: float = 1e-4
    horizon_min: float = 7 * 1440.0  # time normalisation and training span
    train_step_min: float = 60.0
    fit_days: float = 1.0
    element_corrections: bool = True
    seed: int = 0

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> OrbitModelConfig:
        return cls(**json.loads(text))


def element_features(el: Sgp4Elements) -> Tensor:
    """Normalised inputs (n_sat, 11) from mean elements: altitude, eccentricity vector,
    inclination, node and argument of perigee (as sines and cosines), log |B*| and its sign."""
    a_er = (XKE / el.no_kozai) ** (2.0 / 3.0)
    alt = (a_er - 1.0) * RADIUS_EARTH_KM
    b = el.bstar
    return torch.stack(
        [
            (alt - 800.0) / 400.0,
            el.ecco * 100.0,
            torch.cos(el.inclo),
            torch.sin(el.inclo),
            torch.cos(el.nodeo),
            torch.sin(el.nodeo),
            el.ecco * 100.0 * torch.cos(el.argpo),
            el.ecco * 100.0 * torch.sin(el.argpo),
            (torch.log10(b.abs() + 1e-7) + 4.0),
            torch.tanh(b / 1e-5),
            torch.ones_like(b),
        ],
        dim=-1,
    ).to(torch.float32)


def _rtn_basis(r: Tensor, v: Tensor) -> Tensor:
    """(n, t, 3, 3) rows R, T, N unit vectors of the state (r, v)."""
    rh = r / r.norm(dim=-1, keepdim=True)
    nh = torch.linalg.cross(r, v)
    nh = nh / nh.norm(dim=-1, keepdim=True)
    th = torch.linalg.cross(nh, rh)
    return torch.stack([rh, th, nh], dim=-2)


class OrbitWorldModel(nn.Module):
    """SGP4 prior + learned residual. ``forward(elements, t_min) -> (r, v)`` TEME km, km/s,
    shape (n_sat, n_time, 3); ``elements`` are the fitted prior elements (n_sat,).

    The MLP maps the normalised elements to (a) drifts of five mean elements (mean argument of
    latitude, inclination, RAAN and the eccentricity vector), each ``a1 tau + a2 tau^2`` with
    ``tau = t / horizon_min``, so each (satellite, time) pair is propagated by SGP4 with its own
    drifted elements, and (b) a cubic RTN position correction applied to SGP4's output. Secular
    rate errors of the prior (zonal harmonics beyond J4, third bodies, drag model) show up as
    such drifts, which is why they are learnable from the elements.
    """

    def __init__(self, config: OrbitModelConfig | None = None) -> None:
        super().__init__()
        self.config = config or OrbitModelConfig()
        torch.manual_seed(self.config.seed)
        n_out = 2 * len(_DRIFT_SCALES) + 3 * len(_RTN_POWERS)
        dims = [_N_FEATURES] + [self.config.hidden] * self.config.layers
        mods: list[nn.Module] = []
        for a, b in itertools.pairwise(dims):
            mods += [nn.Linear(a, b), nn.SiLU()]
        last = nn.Linear(dims[-1], n_out)
        nn.init.zeros_(last.weight)  # start exactly at the prior
        nn.init.zeros_(last.bias)
        self.mlp = nn.Sequential(*mods, last)

    def _outputs(self, el: Sgp4Elements) -> tuple[Tensor, Tensor]:
        dev = next(self.parameters()).device
        out = self.mlp(element_features(el).to(dev)).double()
        k = len(_DRIFT_SCALES)
        scales = torch.tensor(_DRIFT_SCALES, dtype=torch.float64, device=dev)
        drift = out[:, : 2 * k].reshape(-1, 2, k) * scales  # (n, power 1..2, element)
        coef = _RTN_SCALE_KM * out[:, 2 * k :].reshape(-1, len(_RTN_POWERS), 3)
        return drift, coef

    def forward(self, el: Sgp4Elements, t_min: Tensor) -> tuple[Tensor, Tensor]:
        dev = next(self.parameters()).device
        el = el.to(dev)
        drift, coef = self._outputs(el)
        t = torch.as_tensor(t_min, dtype=torch.float64, device=dev).reshape(-1)
        n, nt = len(el), t.shape[0]
        tau = t / self.config.horizon_min
        if self.config.element_corrections:
            # (n, nt, 5): drifted (lambda, i, raan, h, k) per satellite and time
            dx = drift[:, 0, None, :] * tau[None, :, None] + drift[:, 1, None, :] * (
                tau[None, :, None] ** 2
            )
            base = torch.stack(
                [
                    el.mo + el.argpo,
                    el.inclo,
                    el.nodeo,
                    el.ecco * torch.sin(el.argpo),
                    el.ecco * torch.cos(el.argpo),
                ],
                dim=-1,
            )
            x = (base[:, None, :] + dx).reshape(n * nt, 5)
            h, k = x[:, 3], x[:, 4]
            argp = torch.atan2(h, k)
            rep = {f: getattr(el, f).repeat_interleave(nt) for f in _ELEMENT_FIELDS}
            el_t = Sgp4Elements(
                **rep,
                ecco=torch.sqrt(h * h + k * k + 1e-30),
                argpo=torch.remainder(argp, _TWOPI),
                mo=torch.remainder(x[:, 0] - argp, _TWOPI),
                inclo=x[:, 1],
                nodeo=torch.remainder(x[:, 2], _TWOPI),
            )
            r, v, _ = sgp4_propagate(el_t, t.repeat(n)[:, None])
            r, v = r.reshape(n, nt, 3), v.reshape(n, nt, 3)
        else:
            r, v, _ = sgp4_propagate(el, t)
        powers = torch.stack([tau**p for p in _RTN_POWERS], dim=-1)  # (nt, P)
        dpow = torch.stack([p * tau ** (p - 1) for p in _RTN_POWERS], dim=-1)
        d_rtn = torch.einsum("tp,spc->stc", powers, coef)
        dv_rtn = torch.einsum("tp,spc->stc", dpow, coef)
        basis = _rtn_basis(r, v).detach()  # the frame itself needs no gradient
        dr = torch.einsum("stc,stcj->stj", d_rtn, basis)
        dv = torch.einsum("stc,stcj->stj", dv_rtn, basis) / (self.config.horizon_min * 60.0)
        return r + dr, v + dv

    def prior(self, el: Sgp4Elements, t_min: Tensor) -> tuple[Tensor, Tensor]:
        """SGP4 alone on the fitted elements."""
        r, v, _ = sgp4_propagate(el, t_min)
        return r, v


@dataclass
class PriorArcs:
    """Fitted prior elements for a truth set: ``elements`` (n_sat,) fitted to the first
    ``fit_days``; ``fit_rms_km`` (n_sat,) the fit residual; ``truth`` the arcs themselves."""

    elements: Sgp4Elements
    fit_rms_km: Tensor
    truth: TruthSet
    fit_days: float

    def subset(self, index: Any) -> PriorArcs:
        """The same arcs for the satellites ``index`` (an integer array) only."""
        idx = torch.as_tensor(np.asarray(index), dtype=torch.long)
        el = Sgp4Elements(**{k: v[idx] for k, v in self.elements.__dict__.items()})
        return PriorArcs(el, self.fit_rms_km[idx], self.truth.subset(idx.numpy()), self.fit_days)

    def split(self, n_test: int, seed: int = 0) -> tuple[PriorArcs, PriorArcs]:
        """(train, test): ``n_test`` satellites drawn with ``seed`` are held out."""
        perm = np.random.default_rng(seed).permutation(len(self.elements))
        return self.subset(np.sort(perm[n_test:])), self.subset(np.sort(perm[:n_test]))


def fit_priors(truth: TruthSet, fit_days: float = 1.0, max_iter: int = 40) -> PriorArcs:
    """Fit SGP4 elements (B* included) to the first ``fit_days`` of each truth arc (TEME).

    The starting point of the fit comes from the truth state at epoch (no catalogue elements are
    used), with the catalogue B* as the only prior knowledge kept.
    """
    el0 = Sgp4Elements.from_table(truth.elements, device="cpu")
    use = truth.t_min <= fit_days * 1440.0 + 1e-9
    init = elements_from_state(
        truth.r_teme[:, 0], truth.v_teme[:, 0], el0.jdsatepoch.numpy(),
        el0.jdsatepochF.numpy(), bstar=el0.bstar.numpy(),
    )  # fmt: skip
    fit = fit_elements(truth.t_min[use], truth.r_teme[:, use], init, max_iter=max_iter)
    return PriorArcs(fit.elements, fit.rms_km, truth, fit_days)


def train_orbit_model(
    arcs: PriorArcs,
    config: OrbitModelConfig | None = None,
    device: str | torch.device | None = None,
    progress: bool = False,
    callback: Callable[[int, float], None] | None = None,
) -> tuple[OrbitWorldModel, dict[str, Any]]:
    """Train an :class:`OrbitWorldModel` on fitted priors against their truth arcs.

    Loss: mean over satellites and times (every ``train_step_min`` up to ``horizon_min``) of
    the position error norm [km] (smoothed at 1 m), full batch, AdamW. ``device``: default CUDA
    when present. Returns the model (on ``device``) and a history dict (loss per epoch, seconds).
    """
    cfg = config or OrbitModelConfig()
    dev = resolve_device(device)
    torch.manual_seed(cfg.seed)
    model = OrbitWorldModel(cfg).to(dev)
    tr = arcs.truth
    ok = torch.as_tensor(tr.ok) & torch.isfinite(arcs.fit_rms_km)
    idx = torch.nonzero(ok).flatten()
    stride = max(1, round(cfg.train_step_min / float(tr.t_min[1] - tr.t_min[0])))
    sel = np.flatnonzero(tr.t_min <= cfg.horizon_min + 1e-9)[::stride]
    t = torch.as_tensor(tr.t_min[sel], dtype=torch.float64, device=dev)
    target = torch.as_tensor(tr.r_teme[idx.numpy()][:, sel], dtype=torch.float64, device=dev)
    el = Sgp4Elements(**{k: v[idx] for k, v in arcs.elements.__dict__.items()}).to(dev)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=cfg.epochs)
    losses: list[float] = []
    t0 = time.perf_counter()
    bar = None
    if progress:
        try:
            from rich.progress import Progress

            bar = Progress()
            bar.start()
            task = bar.add_task("training orbit model", total=cfg.epochs)
        except ImportError:  # rich is optional here
            bar = None
    try:
        for epoch in range(cfg.epochs):
            opt.zero_grad()
            r, _ = model(el, t)
            err = torch.sqrt(((r - target) ** 2).sum(-1) + 1e-6)
            loss = err.mean()
            loss.backward()
            opt.step()
            sched.step()
            losses.append(float(loss.detach()))
            if callback is not None:
                callback(epoch, losses[-1])
            if bar is not None:
                bar.update(task, advance=1, description=f"loss {losses[-1] * 1e3:8.1f} m")
    finally:
        if bar is not None:
            bar.stop()
    seconds = time.perf_counter() - t0
    model.eval()
    history = {
        "loss_km": losses,
        "seconds": seconds,
        "n_train": int(idx.numel()),
        "device": str(dev),
        "initial_loss_km": losses[0] if losses else math.nan,
        "final_loss_km": losses[-1] if losses else math.nan,
    }
    return model, history


def predict(
    model: OrbitWorldModel | None, elements: Sgp4Elements, t_min: Any
) -> tuple[np.ndarray, np.ndarray]:
    """TEME positions [km] and velocities [km/s], (n_sat, n_time, 3) NumPy, at ``t_min`` minutes
    since each element set's epoch: SGP4 + model, or SGP4 alone when ``model`` is None (the
    backend of ``starbrain predict``). Beyond the model's ``horizon_min`` the learned drifts are
    extrapolated polynomials: trust them less."""
    t = torch.as_tensor(np.asarray(t_min, dtype=np.float64))
    with torch.no_grad():
        if model is None:
            r, v, _ = sgp4_propagate(elements, t)
        else:
            dev = next(model.parameters()).device
            r, v = model(elements.to(dev), t.to(dev))
    return r.cpu().numpy(), v.cpu().numpy()
