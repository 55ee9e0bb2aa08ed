"""The learned residual of the orbit world model on top of the numerical OD prior.

After the fit window the prior (:mod:`starbrain.models.orbit_od`) drifts from the truth mostly
along track, as the density it assumed (static exponential atmosphere, drag scale frozen at its
fit-window value) departs from the real one. A PETS-style ensemble
(:class:`starbrain.models.dynamics.ensemble.ResidualEnsemble`, mean and log-variance heads)
maps what is known at the end of the fit window (altitude, inclination, estimated Cd*A/m, the
F10.7, 81-day F10.7 and Ap of that day, the node's local solar time, the fit residual) and the
time since the window's end to the residual truth - prior in the prior's RTN frame [km].

Uncertainty: per RTN component, the ensemble's aleatoric variance plus the spread of its
members, times a per-horizon factor fitted on a validation split so that the 2-sigma band
holds 95 % there. "Never worse than physics": a per-horizon switch, set on the same validation
split, keeps the correction only where it lowers both the median and the p95 error; and a
satellite outside the training domain (:class:`OrbitDomain`: its orbit regime never trained on,
or a feature outside the trained range, or a time beyond the trained horizon) gets the prior
alone, with ``fell_back`` set and the prior's own empirical error envelope as its sigma.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import torch

from starbrain.models.dynamics.ensemble import ResidualEnsemble, gaussian_nll

__all__ = [
    "FEATURE_NAMES",
    "OrbitDomain",
    "ResidualConfig",
    "ResidualPrediction",
    "SatelliteFeatures",
    "fit_residual",
    "orbit_regime",
    "rtn_basis",
]

#: Per-satellite inputs of the residual (:class:`SatelliteFeatures` columns).
FEATURE_NAMES = (
    "altitude_km", "inclination_deg", "log10_ballistic_m2kg", "f107_sfu", "f107a_sfu", "ap",
    "cos_node_sun", "sin_node_sun", "log10_fit_rms_km",
)  # fmt: skip
_ALT_EDGES = (300.0, 500.0, 800.0, 1200.0)
_INC_EDGES = (0.0, 40.0, 80.0, 180.0)


def orbit_regime(altitude_km: npt.ArrayLike, inclination_deg: npt.ArrayLike) -> np.ndarray:
    """(n,) regime labels "<alt band> km / <inc band> deg" (altitude 300-500, 500-800,
    800-1200 km; inclination 0-40, 40-80, 80-180 deg): the cells held out by orbit regime."""
    alt = np.asarray(altitude_km, dtype=np.float64)
    inc = np.asarray(inclination_deg, dtype=np.float64)
    ia = np.clip(np.searchsorted(_ALT_EDGES, alt, side="right") - 1, 0, len(_ALT_EDGES) - 2)
    ii = np.clip(np.searchsorted(_INC_EDGES, inc, side="right") - 1, 0, len(_INC_EDGES) - 2)
    return np.array(
        [f"{_ALT_EDGES[a]:.0f}-{_ALT_EDGES[a + 1]:.0f} km / "
         f"{_INC_EDGES[i]:.0f}-{_INC_EDGES[i + 1]:.0f} deg" for a, i in zip(ia, ii, strict=True)]
    )  # fmt: skip


def rtn_basis(r: np.ndarray, v: np.ndarray) -> np.ndarray:
    """(..., 3, 3) rows R, T, N unit vectors of states r, v (..., 3)."""
    rh = r / np.linalg.norm(r, axis=-1, keepdims=True)
    nh = np.cross(r, v)
    nh = nh / np.linalg.norm(nh, axis=-1, keepdims=True)
    return np.stack([rh, np.cross(nh, rh), nh], axis=-2)


@dataclass
class SatelliteFeatures:
    """``values`` (n, len(FEATURE_NAMES)) raw features and ``regime`` (n,) labels."""

    values: npt.NDArray[np.float64]
    regime: npt.NDArray[np.str_]

    def subset(self, idx: npt.ArrayLike) -> SatelliteFeatures:
        i = np.asarray(idx)
        return SatelliteFeatures(self.values[i], self.regime[i])


@dataclass
class OrbitDomain:
    """Where the residual is valid: trained ``regimes``, per-feature ``lo``/``hi`` (widened by
    ``margin`` of the range), ``max_dt_days`` since the fit window's end, and the training
    ``epoch_range`` (ISO UTC, recorded, not enforced: space weather covers the epoch)."""

    regimes: list[str]
    lo: list[float]
    hi: list[float]
    max_dt_days: float
    epoch_range: tuple[str, str] = ("", "")
    margin: float = 0.05

    @classmethod
    def of(cls, feats: SatelliteFeatures, max_dt_days: float, epoch_range: Any) -> OrbitDomain:
        lo, hi = feats.values.min(axis=0), feats.values.max(axis=0)
        pad = 0.05 * (hi - lo)
        return cls(sorted(set(feats.regime.tolist())), (lo - pad).tolist(), (hi + pad).tolist(),
                   float(max_dt_days), (str(epoch_range[0]), str(epoch_range[1])))  # fmt: skip

    def reasons(self, feats: SatelliteFeatures) -> list[str]:
        """(n,) '' inside the domain, else why not (the first reason found)."""
        out = []
        lo, hi = np.asarray(self.lo), np.asarray(self.hi)
        for x, reg in zip(feats.values, feats.regime, strict=True):
            if reg not in self.regimes:
                out.append(f"orbit regime {reg} not in training")
                continue
            bad = np.flatnonzero((x < lo) | (x > hi))
            out.append(
                f"{FEATURE_NAMES[bad[0]]} {x[bad[0]]:.4g} outside the trained "
                f"{lo[bad[0]]:.4g}..{hi[bad[0]]:.4g}"
                if bad.size
                else ""
            )
        return out


@dataclass(frozen=True)
class ResidualConfig:
    """Ensemble and training settings of the residual (JSON-serialisable)."""

    n_members: int = 5
    hidden: int = 64
    depth: int = 2
    epochs: int = 400
    lr: float = 3e-3
    weight_decay: float = 1e-5
    val_frac: float = 0.25
    seed: int = 0
    coverage: float = 0.95  # the 2-sigma band's target coverage on the validation split


def _scale_km(dt_days: np.ndarray) -> np.ndarray:
    """The residual's normalisation [km] at ``dt_days`` after the fit window."""
    return 0.05 + 0.5 * np.maximum(dt_days, 0.0) ** 2


@dataclass
class ResidualPrediction:
    """Corrected GCRS positions ``r`` (n, k, 3) km, one-sigma RTN uncertainty ``sigma_rtn``
    (n, k, 3) km, ``fell_back`` (n,) bool, ``reason`` (n,) why (or ''), ``prior`` the prior's
    name, ``corrected`` (k,) whether the residual was applied at each time."""

    r: np.ndarray
    sigma_rtn: np.ndarray
    fell_back: np.ndarray
    reason: list[str]
    prior: str
    corrected: np.ndarray

    @property
    def sigma_km(self) -> np.ndarray:
        """(n, k) one-sigma position uncertainty (root sum of the RTN variances) [km]."""
        return np.sqrt(np.sum(self.sigma_rtn**2, axis=-1))


@dataclass
class OrbitResidual:
    """The trained residual: ensemble, normalisers, domain, per-horizon switch and calibration.

    ``dt_grid`` (h,) days after the fit window where ``use`` (h,) and ``inflate`` (h,) were
    set; ``prior_sigma`` (h, 3) the prior's RTN error RMS over the training satellites there."""

    ensemble: ResidualEnsemble
    mu: np.ndarray
    sd: np.ndarray
    domain: OrbitDomain
    dt_grid: np.ndarray
    use: np.ndarray
    inflate: np.ndarray
    prior_sigma: np.ndarray
    fit_days: float
    prior_name: str
    config: ResidualConfig = field(default_factory=ResidualConfig)

    def meta_json(self) -> str:
        """Everything but the weights, as JSON (the registry's config_json)."""
        return json.dumps({
            "kind": "orbit-od-residual", "config": asdict(self.config), "mu": self.mu.tolist(),
            "sd": self.sd.tolist(), "domain": asdict(self.domain), "dt_grid": self.dt_grid.tolist(),
            "use": self.use.tolist(), "inflate": self.inflate.tolist(),
            "prior_sigma": self.prior_sigma.tolist(), "fit_days": self.fit_days,
            "prior": self.prior_name, "features": list(FEATURE_NAMES),
        }, sort_keys=True)  # fmt: skip

    @classmethod
    def from_meta(cls, text: str, state: dict[str, torch.Tensor]) -> OrbitResidual:
        m = json.loads(text)
        cfg = ResidualConfig(**m["config"])
        ens = ResidualEnsemble(len(FEATURE_NAMES) + 2, 3, cfg.n_members, cfg.hidden, cfg.depth)
        ens.load_state_dict(state)
        d = m["domain"]
        dom = OrbitDomain(d["regimes"], d["lo"], d["hi"], d["max_dt_days"],
                          tuple(d["epoch_range"]), d["margin"])  # fmt: skip
        arr = lambda k: np.asarray(m[k], dtype=np.float64)  # noqa: E731
        return cls(ens, arr("mu"), arr("sd"), dom, arr("dt_grid"), np.asarray(m["use"], bool),
                   arr("inflate"), arr("prior_sigma"), m["fit_days"], m["prior"], cfg)  # fmt: skip

    def _inputs(self, feats: np.ndarray, dt_days: np.ndarray) -> torch.Tensor:
        """(n*k, F+2) normalised rows for satellites (n, F) at times dt_days (k,)."""
        z = (feats - self.mu) / self.sd
        n, k = z.shape[0], dt_days.size
        zt = np.stack([dt_days / max(self.domain.max_dt_days, 1e-9), np.sqrt(dt_days.clip(0))], -1)
        rows = np.concatenate([np.repeat(z, k, 0), np.tile(zt, (n, 1))], axis=1)
        return torch.as_tensor(rows, dtype=torch.float32)

    def moments(self, feats: np.ndarray, dt_days: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Residual mean and one-sigma (n, k, 3) km in RTN, before calibration."""
        with torch.no_grad():
            mean, log_var = self.ensemble(self._inputs(feats, dt_days))
        m, var = mean.double().numpy(), np.exp(log_var.double().numpy())
        mu = m.mean(0)
        sig = np.sqrt(var.mean(0) + m.var(0))
        n, k = feats.shape[0], dt_days.size
        s = np.tile(_scale_km(dt_days), n)[:, None]
        return (mu * s).reshape(n, k, 3), (sig * s).reshape(n, k, 3)

    def _table(self, values: np.ndarray, dt_days: np.ndarray) -> np.ndarray:
        """Per-horizon values (h, ...) interpolated to dt_days (k,)."""
        idx = np.clip(np.searchsorted(self.dt_grid, dt_days), 0, self.dt_grid.size - 1)
        return values[idx]

    def correct(
        self, feats: SatelliteFeatures, t_days: np.ndarray, r_prior: np.ndarray,
        v_prior: np.ndarray,
    ) -> ResidualPrediction:  # fmt: skip
        """Apply the residual to prior GCRS states (n, k, 3) at ``t_days`` (k,) since epoch."""
        t_days = np.asarray(t_days, dtype=np.float64)
        dt = t_days - self.fit_days
        reasons = self.domain.reasons(feats)
        ood = np.array([bool(x) for x in reasons])
        mean, sig = self.moments(feats.values, dt)
        after = dt > 0
        on = after & self._table(self.use, dt) & (dt <= self.domain.max_dt_days + 1e-9)
        sig = sig * self._table(self.inflate, dt)[None, :, None]
        prior_sig = np.broadcast_to(self._table(self.prior_sigma, dt)[None], sig.shape)
        apply = on[None, :] & ~ood[:, None]
        mean = np.where(apply[..., None], mean, 0.0)
        sig = np.where(apply[..., None], sig, prior_sig)
        basis = rtn_basis(r_prior, v_prior)
        r = r_prior + np.einsum("nkc,nkcj->nkj", mean, basis)
        return ResidualPrediction(r, sig, ood, reasons, self.prior_name, on)


def _train_ensemble(x: torch.Tensor, y: torch.Tensor, cfg: ResidualConfig) -> ResidualEnsemble:
    """Full-batch AdamW on the Gaussian NLL, each member on its own bootstrap of the rows."""
    ens = ResidualEnsemble(x.shape[1], y.shape[1], cfg.n_members, cfg.hidden, cfg.depth, cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    boot = torch.randint(0, x.shape[0], (cfg.n_members, x.shape[0]), generator=gen)
    xb, yb = x[boot], y[boot]
    opt = torch.optim.AdamW(ens.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=cfg.epochs)
    for _ in range(cfg.epochs):
        opt.zero_grad()
        mean, log_var = ens(xb)
        loss = gaussian_nll(mean, log_var, yb) + 0.01 * ens.bound_penalty()
        loss.backward()
        opt.step()
        sched.step()
    ens.eval()
    return ens


def _residual_rtn(r_truth: np.ndarray, r_prior: np.ndarray, v_prior: np.ndarray) -> np.ndarray:
    return np.einsum("nkcj,nkj->nkc", rtn_basis(r_prior, v_prior), r_truth - r_prior)


def fit_residual(
    feats: SatelliteFeatures,
    t_days: np.ndarray,
    r_truth: np.ndarray,
    r_prior: np.ndarray,
    v_prior: np.ndarray,
    fit_days: float,
    prior_name: str,
    config: ResidualConfig | None = None,
    epoch_range: Any = ("", ""),
) -> OrbitResidual:
    """Train the residual on training satellites: features (n,), GCRS truth and prior states
    (n, k, 3) at ``t_days`` (k,) days since epoch (times after ``fit_days`` are used).

    A ``val_frac`` share of the satellites (drawn with the seed) is kept out of the ensemble's
    training and sets the per-horizon switch and the 2-sigma calibration; the ensemble is not
    refitted on it, so the calibration is measured on satellites it never saw."""
    cfg = config or ResidualConfig()
    ok = np.isfinite(r_truth).all(axis=(1, 2)) & np.isfinite(r_prior).all(axis=(1, 2))
    t_days = np.asarray(t_days, dtype=np.float64)
    after = t_days > fit_days + 1e-9
    dt = t_days[after] - fit_days
    res = _residual_rtn(r_truth[:, after], r_prior[:, after], v_prior[:, after])
    idx = np.flatnonzero(ok)
    perm = np.random.default_rng(cfg.seed).permutation(idx)
    n_val = max(1, round(cfg.val_frac * idx.size))
    val, tr = np.sort(perm[:n_val]), np.sort(perm[n_val:])
    mu = feats.values[tr].mean(axis=0)
    sd = feats.values[tr].std(axis=0) + 1e-6
    dom = OrbitDomain.of(feats.subset(idx), float(dt.max()), epoch_range)
    prior_sigma = np.sqrt(np.mean(res[tr] ** 2, axis=0))  # (k, 3)
    model = OrbitResidual(
        ResidualEnsemble(len(FEATURE_NAMES) + 2, 3, 1), mu, sd, dom, dt,
        np.ones(dt.size, bool), np.ones(dt.size), prior_sigma, fit_days, prior_name, cfg,
    )  # fmt: skip
    x = model._inputs(feats.values[tr], dt)
    y = torch.as_tensor(
        (res[tr] / _scale_km(dt)[None, :, None]).reshape(-1, 3), dtype=torch.float32
    )
    model.ensemble = _train_ensemble(x, y, cfg)
    _calibrate(model, feats.values[val], dt, res[val])
    return model


def _calibrate(model: OrbitResidual, feats: np.ndarray, dt: np.ndarray, res: np.ndarray) -> None:
    """Per horizon on the validation satellites: keep the correction only if it lowers the
    median and the p95 position error; inflate sigma so the 2-sigma band holds ``coverage``."""
    mean, sig = model.moments(feats, dt)
    e_prior = np.linalg.norm(res, axis=-1)
    e_model = np.linalg.norm(res - mean, axis=-1)
    better_med = np.median(e_model, 0) < np.median(e_prior, 0)
    better_p95 = np.percentile(e_model, 95, 0) <= np.percentile(e_prior, 95, 0)
    model.use = better_med & better_p95
    z = np.abs(res - mean) / np.maximum(sig, 1e-12)  # (n, k, 3)
    q = np.quantile(z.reshape(-1, dt.size, 3).transpose(1, 0, 2).reshape(dt.size, -1),
                    model.config.coverage, axis=1)  # fmt: skip
    model.inflate = np.maximum(q / 2.0, 1e-3)
    if not math.isfinite(float(model.inflate.sum())):
        model.inflate = np.ones(dt.size)
