"""The issue #14 world model applied to a catalogue: element sets in, corrected TEME states out.

A registered OD world model (:func:`starbrain.models.registry.register_od_model`) is the learned
residual of :mod:`starbrain.models.orbit_residual` over the numerical OD prior of
:mod:`starbrain.models.orbit_od`. On a catalogue there is no truth to fit, so the prior is fitted
the way training fitted it, to the best positions at hand: each object's SGP4 positions over the
first ``fit_days`` after its epoch (rotated TEME -> GCRS), from its SGP4 state at epoch and the
drag of its B*, with the prior's own forces (EGM2008 ``prior_degree``, exponential atmosphere,
drag scale estimated). After the fit window the residual corrects the prior where the object is
inside the model's domain; an object outside it (regime never trained, a feature out of range)
gets the prior alone, and :class:`OdObjectInfo` says so. Inside the fit window (and before the
epoch) the states are the prior's, which follows SGP4 there to its fit residual.

Times are minutes since each object's own epoch; states TEME, km and km/s; positions are
corrected, velocities are the prior's. The prior's trajectory is tabulated every
``table_step_s`` (60 s) over the span asked for and interpolated with cubic Hermite polynomials
(under a metre in LEO), so repeated calls over the same span (root refinement in the planners)
integrate nothing new.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from starbrain.models.orbit_od import OdFit, fit_numerical, prior_force_model, propagate_fit
from starbrain.models.orbit_residual import OrbitResidual, SatelliteFeatures
from starbrain.models.truth import BSTAR_TO_BALLISTIC_M2KG
from starbrain.physics.forces import ForceModel

__all__ = ["OdObjectInfo", "OdState", "OdWorldModel", "od_prior_fit"]

#: Cr*A/m [m^2/kg] the prior assumes (as in training: a typical bus, not observable in a day).
SRP_M2KG = 0.01


def od_prior_fit(
    r_obs: np.ndarray, t_obs_s: np.ndarray, epoch: tuple[float, float], r0: np.ndarray,
    v0: np.ndarray, bstar: np.ndarray, prior_degree: int, iterations: int,
    t_out_s: np.ndarray | None = None, force_model: ForceModel | None = None,
) -> tuple[OdFit, np.ndarray | None, np.ndarray | None]:  # fmt: skip
    """The world model's OD prior: :func:`~starbrain.models.orbit_od.fit_numerical` of GCRS
    positions ``r_obs`` (n, m, 3) km at ``t_obs_s`` (m,) from the start ``r0``/``v0`` (n, 3),
    drag starting at Cd*A/m = 12.74 |B*| (at least 0.001 m^2/kg), SRP fixed at
    :data:`SRP_M2KG`; ``force_model`` (default EGM2008 ``prior_degree`` + exponential
    atmosphere, :func:`~starbrain.models.orbit_od.prior_force_model`). Training
    (:func:`~starbrain.models.orbit_world.epoch_data`) and prediction both fit through here."""
    b0 = np.maximum(BSTAR_TO_BALLISTIC_M2KG * np.abs(np.asarray(bstar, np.float64)), 1e-3)
    n = b0.size
    return fit_numerical(
        r_obs, t_obs_s, epoch, r0, v0, b0, np.full(n, SRP_M2KG),
        force_model or prior_force_model(prior_degree), iterations, t_out_s,
    )  # fmt: skip


@dataclass
class OdObjectInfo:
    """Per object of a population: ``prior`` (the prior's name), ``fell_back`` (n,) whether it
    is outside the model's domain (prior alone), ``reason`` (n,) why (or ''), ``fit_rms_km``
    (n,) the prior's RMS against the SGP4 positions it was fitted to."""

    prior: str
    fell_back: npt.NDArray[np.bool_]
    reason: list[str]
    fit_rms_km: npt.NDArray[np.float64]

    def subset(self, index: npt.ArrayLike) -> OdObjectInfo:
        i = np.asarray(index)
        return OdObjectInfo(self.prior, self.fell_back[i], [self.reason[k] for k in i],
                            self.fit_rms_km[i])  # fmt: skip


@dataclass
class OdState:
    """A prepared population: per object the ``fit`` (in epoch groups: ``groups`` (n,) the
    group index, ``fits`` one :class:`OdFit` per group and ``rows`` (n,) the object's row in
    its group's fit), ``feats``, the epoch ``jd``/``fr`` (n,), ``info``, and the cached prior
    tables ``table`` (per group: times [s] (k,), r, v (n_g, k, 3) GCRS)."""

    fits: list[OdFit]
    groups: npt.NDArray[np.int64]
    rows: npt.NDArray[np.int64]
    feats: SatelliteFeatures
    jd: npt.NDArray[np.float64]
    fr: npt.NDArray[np.float64]
    info: OdObjectInfo
    table: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = field(default_factory=dict)

    def select(self, index: npt.ArrayLike) -> OdState:
        i = np.asarray(index, dtype=np.int64)
        return OdState(self.fits, self.groups[i], self.rows[i], self.feats.subset(i), self.jd[i],
                       self.fr[i], self.info.subset(i), self.table)  # fmt: skip


def _hermite(
    t_tab: np.ndarray, r: np.ndarray, v: np.ndarray, t: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Cubic Hermite interpolation of one object's (k, 3) r [km], v [km/s] at times ``t`` [s]
    (m,) inside ``t_tab`` (k,) [s]."""
    j = np.clip(np.searchsorted(t_tab, t, side="right") - 1, 0, t_tab.size - 2)
    h = (t_tab[j + 1] - t_tab[j])[:, None]
    s = ((t - t_tab[j]) / h[:, 0])[:, None]
    p0, p1, m0, m1 = r[j], r[j + 1], v[j] * h, v[j + 1] * h
    h00, h10 = 2 * s**3 - 3 * s**2 + 1, s**3 - 2 * s**2 + s
    h01, h11 = -2 * s**3 + 3 * s**2, s**3 - s**2
    pos = h00 * p0 + h10 * m0 + h01 * p1 + h11 * m1
    d00, d10 = 6 * s**2 - 6 * s, 3 * s**2 - 4 * s + 1
    d01, d11 = -6 * s**2 + 6 * s, 3 * s**2 - 2 * s
    vel = (d00 * p0 + d10 * m0 + d01 * p1 + d11 * m1) / h
    return pos, vel


@dataclass
class OdWorldModel:
    """A registered OD world model ready to propagate catalogues (see the module docstring).

    ``residual`` the trained :class:`OrbitResidual`; ``prior_degree``, ``od_iterations`` and
    ``obs_step_min`` how the prior is fitted (the training config's); ``fit_days`` from the
    residual. ``name`` labels it."""

    residual: OrbitResidual
    prior_degree: int = 8
    od_iterations: int = 3
    obs_step_min: float = 20.0
    name: str = "od world model"
    table_step_s: float = 60.0

    @classmethod
    def from_registry_row(cls, residual: OrbitResidual, row: dict[str, Any]) -> OdWorldModel:
        cfg = (json.loads(row.get("data_json") or "{}") or {}).get("train_config") or {}
        return cls(
            residual, int(cfg.get("prior_degree", 8)), int(cfg.get("od_iterations", 3)),
            float(cfg.get("step_min", 20.0)), str(row.get("name", "od world model")),
        )  # fmt: skip

    @property
    def fit_days(self) -> float:
        return float(self.residual.fit_days)

    def init(self, elements: Any) -> OdState:
        """Fit the prior to each object's SGP4 positions over its fit window (one batch per
        common epoch) and decide, once, which objects the residual may correct."""
        import torch

        from starbrain.physics.frames import teme_to_gcrs_matrix
        from starbrain.physics.sgp4 import sgp4_propagate

        jd = elements.jdsatepoch.detach().cpu().numpy().astype(np.float64)
        fr = elements.jdsatepochF.detach().cpu().numpy().astype(np.float64)
        bstar = elements.bstar.detach().cpu().numpy().astype(np.float64)
        t_min = np.arange(0.0, self.fit_days * 1440.0 + 1e-9, self.obs_step_min)
        with torch.no_grad():
            r_t, v_t, _ = sgp4_propagate(elements, torch.as_tensor(t_min))
        r_teme, v_teme = r_t.cpu().numpy(), v_t.cpu().numpy()
        keys = np.round((jd + fr) * 86400e3).astype(np.int64)  # epochs to the millisecond
        uniq, groups = np.unique(keys, return_inverse=True)
        groups = np.asarray(groups).reshape(-1)
        obs = []
        for g in range(uniq.size):
            members = np.flatnonzero(groups == g)
            e = (float(jd[members[0]]), float(fr[members[0]]))
            m = teme_to_gcrs_matrix(e[0] + np.zeros_like(t_min), e[1] + t_min / 1440.0)
            r_g = np.einsum("tij,ntj->nti", m, r_teme[members])
            v0 = np.einsum("ij,nj->ni", m[0], v_teme[members, 0])
            obs.append((t_min * 60.0, r_g, v0))
        return self.prepare(jd, fr, groups, obs, bstar)

    def prepare(
        self, jd: np.ndarray, fr: np.ndarray, groups: np.ndarray,
        obs: list[tuple[np.ndarray, np.ndarray, np.ndarray]], bstar: np.ndarray,
        fit_days: float | None = None,
    ) -> OdState:  # fmt: skip
        """Fit the prior of a population from observed positions: objects (n,) with epochs
        ``jd``/``fr`` (split UTC JD), in epoch groups ``groups`` (n,) (0..G-1, one epoch each);
        per group ``obs[g]`` = (times [s since the epoch] (m,), GCRS positions (n_g, m, 3) km,
        the first at the epoch, GCRS velocity at the epoch (n_g, 3) km/s); ``bstar`` (n,) the
        drag's first guess. ``fit_days`` (default the model's): the span the positions cover;
        when it differs from the window the residual was trained after, every object falls
        back to the prior (the residual's times since the window would be wrong)."""
        from starbrain.models.orbit_world import od_features

        n = jd.size
        span = self.fit_days if fit_days is None else float(fit_days)
        rows, fits = np.zeros(n, np.int64), []
        values = np.zeros((n, len(self.residual.mu)))
        regime = np.empty(n, dtype=object)
        rms = np.full(n, np.nan)
        for g, (t_s, r_g, v0) in enumerate(obs):
            members = np.flatnonzero(groups == g)
            rows[members] = np.arange(members.size)
            e = (float(jd[members[0]]), float(fr[members[0]]))
            fit, _, _ = od_prior_fit(r_g, t_s, e, r_g[:, 0], v0, bstar[members],
                                     self.prior_degree, self.od_iterations)  # fmt: skip
            fits.append(fit)
            f = od_features(fit, None, span)
            values[members], regime[members], rms[members] = f.values, f.regime, fit.rms_km
        feats = SatelliteFeatures(values, regime.astype(str))
        reasons = self.residual.domain.reasons(feats)
        if abs(span - self.fit_days) > 1e-6:
            why = f"fit window {span * 24:g} h, the model's is {self.fit_days * 24:g} h"
            reasons = [why] * n
        info = OdObjectInfo(self.residual.prior_name, np.array([bool(x) for x in reasons]),
                            reasons, rms)  # fmt: skip
        return OdState(fits, groups, rows, feats, jd, fr, info)

    def _prior_table(self, state: OdState, g: int, lo_s: float, hi_s: float) -> tuple:
        """Group ``g``'s prior tabulated over at least [lo_s, hi_s] s (cached, extended)."""
        have = state.table.get(g)
        if have is not None and have[0][0] <= lo_s and have[0][-1] >= hi_s:
            return have
        if have is not None:
            lo_s, hi_s = min(lo_s, have[0][0]), max(hi_s, have[0][-1])
        step = self.table_step_s
        t = np.arange(np.floor(lo_s / step) * step, np.ceil(hi_s / step) * step + step / 2, step)
        if t.size < 2:
            t = np.array([t[0], t[0] + step])
        r, v = propagate_fit(state.fits[g], t)
        state.table[g] = (t, r, v)
        return state.table[g]

    def propagate(
        self, state: OdState, tsince_min: np.ndarray, residual: bool = True
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """TEME r [km], v [km/s] (n, m, 3), validity (n, m) and ``corrected`` (n, m) (whether
        the residual was applied) at ``tsince_min`` (n, m) or (1, m) minutes since each
        object's epoch; ``residual`` False: the prior alone for every object."""
        from starbrain.physics.frames import teme_to_gcrs_matrix

        n = state.jd.size
        t = np.atleast_2d(np.asarray(tsince_min, dtype=np.float64))
        if t.shape[0] != n:
            t = np.broadcast_to(t[:1], (n, t.shape[1]))
        m = t.shape[1]
        r_g = np.full((n, m, 3), np.nan)
        v_g = np.full((n, m, 3), np.nan)
        for g in np.unique(state.groups):
            members = np.flatnonzero(state.groups == g)
            ts = t[members] * 60.0
            t_tab, r_tab, v_tab = self._prior_table(state, int(g), float(ts.min()), float(ts.max()))
            for j, row in zip(members, state.rows[members], strict=True):
                r_g[j], v_g[j] = _hermite(t_tab, r_tab[row], v_tab[row], t[j] * 60.0)
        r_c, corrected = r_g.copy(), np.zeros((n, m), bool)
        todo = np.flatnonzero(~state.info.fell_back) if residual else np.zeros(0, np.int64)
        for i in todo:  # each object has its own times since its epoch
            pred = self.residual.correct(state.feats.subset([i]), t[i] / 1440.0, r_g[i : i + 1],
                                         v_g[i : i + 1])  # fmt: skip
            r_c[i] = pred.r[0]
            corrected[i] = pred.corrected & ~pred.fell_back[0]
        rot = teme_to_gcrs_matrix((state.jd[:, None] + 0 * t).ravel(),
                                  (state.fr[:, None] + t / 1440.0).ravel())  # fmt: skip
        rot = rot.reshape(n, m, 3, 3)
        r_teme = np.einsum("nmji,nmj->nmi", rot, r_c)
        v_teme = np.einsum("nmji,nmj->nmi", rot, v_g)
        ok = np.isfinite(r_teme).all(-1) & np.isfinite(v_teme).all(-1)
        return r_teme, v_teme, ok, corrected
