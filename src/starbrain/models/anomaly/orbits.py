"""Orbit anomalies (issue #19): manoeuvres and decay the orbit model did not predict, from the
catalogue's element sets (the store's ``elements`` stream, ELEMENTS_SCHEMA).

The model is the physics prior: SGP4 from an object's previous element set, propagated to the
epoch of its next one. For each consecutive pair (previous, next) of one object, vectorised over
every pair of a catalogue in one SGP4 batch:

* position residual (km) of the next set's epoch state against the prediction, curvilinear in
  the next state's frame: ``radial_km`` (difference of radii), ``along_track_km`` (in-plane
  arc, positive ahead), ``cross_track_km`` (out of plane);
* element residuals beyond the secular prediction: the predicted state converted back to mean
  elements (:func:`~starbrain.models.fitting.elements_from_state`, the previous set's B*) is
  the predicted element set, SGP4's secular drag decay and J2 node drift included;
  ``semi_major_axis_km`` (from the Kozai mean motions), ``inclination_deg`` and ``node_deg``
  (the RAAN residual times sin i: the node's shift as an arc, defined for equatorial orbits
  too, where the RAAN itself is not).

Uncertainty. SGP4 gives none, so it is calibrated on nominal objects (:class:`HorizonSigma`):
per channel ``sigma**2 = c0 + c1 h**2 + c2 d**2 + c3 (d h)**2`` with ``h`` the horizon (days
between the two sets) and ``d`` the decay SGP4 predicts over it (km of semi-major axis), the
non-negative coefficients fitted by NNLS to the nominal squared residuals, reweighted four
times by the inverse of the fitted variance (each pair counts relative to its own sigma, so
the few high-drag objects shape the drag terms) and clipped at 25 times it. ``d`` makes the
sigma follow the drag error: a low object's density error grows with its decay, a high
object's barely exists. The OD world model (:mod:`starbrain.models.orbit_od_model`) is not
used here: its numerical prior costs far more per object than one catalogue update allows.

:func:`orbit_streams` turns an element history into one :class:`~.residual.ResidualStream` per
object (at the next sets' epochs) for :class:`~.residual.ResidualScorer`; its alerts name the
model (``sgp4-prior``), the channel and the sigmas. :func:`score_update` is the online step: a
catalogue's previous and new sets ``(N,)`` in, scores ``(N, 6)`` out, one batched call.
:func:`element_changes` gives the raw element changes per pair for the simple baselines.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import torch

from starbrain.core.errors import StarbrainError
from starbrain.models.anomaly.residual import ResidualConfig, ResidualScorer, ResidualStream
from starbrain.models.fitting import elements_from_state
from starbrain.models.orbit_model import rtn_basis
from starbrain.physics.sgp4 import Sgp4Elements, sgp4_propagate
from starbrain.physics.sgp4_init import MU_KM3_S2

__all__ = [
    "CHANNELS",
    "MODEL_NAME",
    "ORBIT_CONFIG",
    "UNITS",
    "HorizonSigma",
    "OrbitPairs",
    "element_changes",
    "element_pairs",
    "fit_orbit_detector",
    "orbit_residuals",
    "orbit_streams",
    "score_update",
]

FloatArray = npt.NDArray[np.float64]
CHANNELS = ("radial_km", "along_track_km", "cross_track_km", "semi_major_axis_km",
            "inclination_deg", "node_deg")  # fmt: skip
UNITS = ("km", "km", "km", "km", "deg", "deg")
MODEL_NAME = "sgp4-prior"
#: Scoring per element set: no smoothing or widening (one set is hours of data), events closer
#: than two sets are one.
ORBIT_CONFIG = ResidualConfig(smoothing=1.0, error_buffer=0, merge_gap=2)


@dataclass(frozen=True)
class OrbitPairs:
    """Consecutive element sets of each object: ``prev`` and ``next`` ``(M,)`` Sgp4Elements,
    ``norad`` ``(M,)``, ``t_ns`` ``(M,)`` the next sets' epochs (UTC ns)."""

    prev: Sgp4Elements
    next: Sgp4Elements
    norad: npt.NDArray[np.int64]
    t_ns: npt.NDArray[np.int64]


def _take(el: Sgp4Elements, idx: npt.NDArray[np.int64]) -> Sgp4Elements:
    i = torch.as_tensor(idx)
    return Sgp4Elements(**{k: v[i] for k, v in el.__dict__.items()})


def element_pairs(history: pa.Table) -> OrbitPairs:
    """The consecutive pairs of an ELEMENTS_SCHEMA history (sorted here by object and epoch)."""
    if history.num_rows < 2:
        raise StarbrainError("an element history needs at least two sets")
    t = history.sort_by([("norad_id", "ascending"), ("epoch", "ascending")])
    el = Sgp4Elements.from_table(t, device="cpu")
    norad = t["norad_id"].to_numpy().astype(np.int64)
    t_ns = t["epoch"].cast(pa.int64()).to_numpy()
    j = np.flatnonzero((norad[1:] == norad[:-1]) & (t_ns[1:] > t_ns[:-1])) + 1
    return OrbitPairs(_take(el, j - 1), _take(el, j), norad[j], t_ns[j])


def _sma_km(n_radmin: torch.Tensor) -> torch.Tensor:
    return (MU_KM3_S2 / (n_radmin / 60.0) ** 2) ** (1.0 / 3.0)


def _wrap_deg(x: torch.Tensor) -> torch.Tensor:
    return torch.remainder(x + 180.0, 360.0) - 180.0


def orbit_residuals(prev: Sgp4Elements, nxt: Sgp4Elements) -> tuple[FloatArray, FloatArray]:
    """Residuals ``(M, 6)`` in ``CHANNELS`` order of ``nxt`` against SGP4 from ``prev``, and the
    features ``(M, 2)``: horizon (days) and predicted decay (km of semi-major axis)."""
    h_min = ((nxt.jdsatepoch - prev.jdsatepoch) + (nxt.jdsatepochF - prev.jdsatepochF)) * 1440.0
    with torch.no_grad():
        rp, vp, _ = sgp4_propagate(prev, h_min[:, None])
        ro, vo, _ = sgp4_propagate(nxt, torch.zeros(1, dtype=torch.float64))
        rp, vp, ro, vo = rp[:, 0], vp[:, 0], ro[:, 0], vo[:, 0]
        ric = _curvilinear(rp, ro, rtn_basis(ro, vo)[:, 2])
        pred = elements_from_state(rp, vp, nxt.jdsatepoch.numpy(), nxt.jdsatepochF.numpy(),
                                   prev.bstar.numpy())  # fmt: skip
        deg = 180.0 / math.pi
        d_a = _sma_km(nxt.no_kozai) - _sma_km(pred.no_kozai)
        d_i = (nxt.inclo - pred.inclo) * deg
        d_o = _wrap_deg((nxt.nodeo - pred.nodeo) * deg) * torch.sin(pred.inclo)
        decay = _sma_km(prev.no_kozai) - _sma_km(pred.no_kozai)
    resid = torch.cat([ric, torch.stack([d_a, d_i, d_o], 1)], 1).numpy()
    feats = torch.stack([h_min / 1440.0, decay], 1).numpy()
    return resid, feats


def _curvilinear(rp: torch.Tensor, ro: torch.Tensor, c_hat: torch.Tensor) -> torch.Tensor:
    """``(n, 3)`` radial (difference of radii), along-track (the observed radius times the
    in-plane angle from predicted to observed, positive ahead) and cross-track offsets [km]:
    curvilinear, so a large along-track error leaves no radial share (s**2 / 2r in a flat
    frame: 7 km for 300 km in LEO)."""
    ro_n = ro.norm(dim=-1)
    ang = torch.atan2((torch.linalg.cross(rp, ro) * c_hat).sum(-1), (rp * ro).sum(-1))
    return torch.stack([ro_n - rp.norm(dim=-1), ro_n * ang, ((ro - rp) * c_hat).sum(-1)], 1)


def _design(feats: FloatArray) -> FloatArray:
    h, d = feats[:, 0], np.abs(feats[:, 1])
    return np.stack([np.ones_like(h), h**2, d**2, (d * h) ** 2], 1)


@dataclass
class HorizonSigma:
    """The prior's calibrated standard deviation per channel as a function of horizon and
    predicted decay (see the module docstring); ``coef`` ``(6, 4)``."""

    coef: FloatArray = field(default_factory=lambda: np.zeros((0, 4)))

    def fit(self, resid: FloatArray, feats: FloatArray) -> HorizonSigma:
        """Fit on nominal pairs: ``resid`` ``(M, 6)``, ``feats`` ``(M, 2)``."""
        from scipy.optimize import nnls

        ok = np.isfinite(resid).all(1) & np.isfinite(feats).all(1)
        if ok.sum() < 10:
            raise StarbrainError(
                f"calibrating the orbit sigma needs >= 10 nominal pairs, got {ok.sum()}"
            )
        a = _design(feats[ok])
        scale = np.maximum(a.max(0), 1e-300)
        coef = []
        for c in range(resid.shape[1]):
            r2, x = resid[ok, c] ** 2, np.zeros(a.shape[1])
            fit = np.full(len(r2), max(float(np.median(r2)), 1e-30))
            for _ in range(4):  # reweighted: each pair counts relative to its own sigma**2
                w = 1.0 / fit
                x, _ = nnls(a / scale * w[:, None], np.minimum(r2, 25.0 * fit) * w)
                fit = np.maximum(a / scale @ x, 1e-30)
            coef.append(x / scale)
        self.coef = np.array(coef)
        return self

    def __call__(self, feats: FloatArray) -> FloatArray:
        """``(M, 6)`` predicted standard deviations."""
        if self.coef.size == 0:
            raise StarbrainError("the orbit sigma is not calibrated: call fit() on nominal pairs")
        return np.sqrt(np.maximum(_design(feats) @ self.coef.T, 0.0))

    def state(self) -> dict[str, Any]:
        return {"coef": self.coef.tolist()}

    @classmethod
    def from_state(cls, d: dict[str, Any]) -> HorizonSigma:
        return cls(np.asarray(d["coef"], np.float64))


def orbit_streams(history: pa.Table, sigma: HorizonSigma,
                  model_name: str = MODEL_NAME) -> list[ResidualStream]:  # fmt: skip
    """One residual stream per object of an element history (object id = NORAD id, samples at
    the epochs of its second and later sets)."""
    p = element_pairs(history)
    resid, feats = orbit_residuals(p.prev, p.next)
    sig = sigma(feats)
    starts = np.flatnonzero(np.r_[True, p.norad[1:] != p.norad[:-1]])
    bounds = zip(starts.tolist(), np.r_[starts[1:], len(p.norad)].tolist(), strict=True)
    return [ResidualStream(str(p.norad[a]), model_name, CHANNELS, UNITS, p.t_ns[a:b],
                           resid[a:b], sig[a:b]) for a, b in bounds]  # fmt: skip


def fit_orbit_detector(
    sigma_history: pa.Table, calibration_history: pa.Table, config: ResidualConfig = ORBIT_CONFIG
) -> tuple[HorizonSigma, ResidualScorer]:
    """The sigma model fitted on one nominal history and the scorer's thresholds on another
    (nominal objects only, never a fault)."""
    p = element_pairs(sigma_history)
    sigma = HorizonSigma().fit(*orbit_residuals(p.prev, p.next))
    scorer = ResidualScorer(config).fit(orbit_streams(calibration_history, sigma))
    return sigma, scorer


def score_update(prev: Sgp4Elements, new: Sgp4Elements, sigma: HorizonSigma,
                 scorer: ResidualScorer) -> tuple[FloatArray, npt.NDArray[np.bool_]]:  # fmt: skip
    """Online step for a catalogue: scores ``(N, 6)`` (calibrated sigmas) of each object's new
    set against SGP4 from its previous one, and ``(N,)`` whether any channel is at or above its
    threshold."""
    resid, feats = orbit_residuals(prev, new)
    s = scorer.kappa * np.sqrt(sigma(feats) ** 2 + scorer.floor**2)
    z = np.where(np.isfinite(resid) & scorer.active, np.abs(resid) / s, 0.0)
    return z, (z >= scorer.threshold).any(1)


def element_changes(history: pa.Table) -> tuple[FloatArray, npt.NDArray[np.int64], Any]:
    """Raw element changes per consecutive pair, for limit rules: ``(M, 3)`` semi-major axis
    change per day (km/day), inclination and eccentricity change; with ``norad`` and ``t_ns``."""
    p = element_pairs(history)
    h = (p.next.jdsatepoch - p.prev.jdsatepoch) + (p.next.jdsatepochF - p.prev.jdsatepochF)
    da = (_sma_km(p.next.no_kozai) - _sma_km(p.prev.no_kozai)) / h
    di = (p.next.inclo - p.prev.inclo) * 180.0 / math.pi
    de = p.next.ecco - p.prev.ecco
    return torch.stack([da, di, de], 1).numpy(), p.norad, p.t_ns
