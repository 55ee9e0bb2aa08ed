"""Evaluation of orbit world models: position error against truth versus prediction horizon.

Errors are TEME position differences [km] between a prediction and the truth arc, reported per
horizon (minutes since the epoch of the fitted prior elements) as median and 95th percentile over
satellites, for SGP4 alone and for SGP4 + the learned model.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from starbrain.models.orbit_model import OrbitWorldModel, PriorArcs
from starbrain.physics.sgp4 import sgp4_propagate

__all__ = [
    "DEFAULT_HORIZONS_MIN",
    "evaluate_orbit_model",
    "evaluate_stratified",
    "position_errors",
    "stratified_table",
]

#: 1 h, 6 h, 1 d, 3 d, 7 d
DEFAULT_HORIZONS_MIN = (60.0, 360.0, 1440.0, 4320.0, 10080.0)


def position_errors(
    model: OrbitWorldModel | None, arcs: PriorArcs, t_min: Sequence[float] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Position error norms (n_sat, n_time) [km] at ``t_min`` (default: all truth times) of the
    model (SGP4 alone when ``model`` is None), and the times used."""
    tr = arcs.truth
    times = np.asarray(tr.t_min if t_min is None else t_min, dtype=np.float64)
    cols = np.array([int(np.argmin(np.abs(tr.t_min - x))) for x in times])
    t = torch.as_tensor(tr.t_min[cols], dtype=torch.float64)
    with torch.no_grad():
        if model is None:
            r, _, _ = sgp4_propagate(arcs.elements, t)
        else:
            dev = next(model.parameters()).device
            r, _ = model(arcs.elements.to(dev), t.to(dev))
    d = np.linalg.norm(r.cpu().numpy() - tr.r_teme[:, cols], axis=-1)
    return d, tr.t_min[cols]


def evaluate_orbit_model(
    model: OrbitWorldModel, arcs: PriorArcs, horizons_min: Sequence[float] = DEFAULT_HORIZONS_MIN
) -> list[dict[str, Any]]:
    """One row per horizon: ``horizon_min``, ``n_sat``, ``sgp4_median_km``, ``sgp4_p95_km``,
    ``model_median_km``, ``model_p95_km`` and ``median_ratio`` (model / SGP4).

    Horizons beyond the truth arc are left out. Satellites whose truth failed are skipped.
    """
    tr = arcs.truth
    hz = [h for h in horizons_min if h <= tr.t_min[-1] + 1e-9]
    ok = tr.ok
    e_prior, _ = position_errors(None, arcs, hz)
    e_model, _ = position_errors(model, arcs, hz)
    rows = []
    for j, h in enumerate(hz):
        p, m = e_prior[ok, j], e_model[ok, j]
        rows.append(
            {
                "horizon_min": float(h),
                "n_sat": int(ok.sum()),
                "sgp4_median_km": float(np.median(p)),
                "sgp4_p95_km": float(np.percentile(p, 95)),
                "model_median_km": float(np.median(m)),
                "model_p95_km": float(np.percentile(m, 95)),
                "median_ratio": float(np.median(m) / max(np.median(p), 1e-300)),
            }
        )
    return rows


def stratified_table(
    e_prior: np.ndarray,
    e_model: np.ndarray,
    horizons_min: Sequence[float],
    strata: dict[str, np.ndarray],
    ok: np.ndarray | None = None,
    *,
    p95_tolerance: float = 0.05,
) -> list[dict[str, Any]]:
    """One row per (stratum, label, horizon) from error matrices (n_sat, n_horizon) [km].

    ``strata`` maps a stratum name ('family', 'altitude', 'ballistic', 'solar', ...) to labels
    (n_sat,); an 'all' row set is always first. Each row: ``stratum``, ``label``,
    ``horizon_min``, ``n_sat``, ``sgp4_median_km``, ``sgp4_p95_km``, ``model_median_km``,
    ``model_p95_km``, ``median_ratio`` and ``p95_ratio`` (model / prior), and ``p95_ok``:
    whether the model's p95 is within ``p95_tolerance`` (default 5 %) of the prior's, the
    "never worse than physics" check of issue #14. Satellites with ``ok`` False are left out.
    """
    e_prior = np.asarray(e_prior, dtype=np.float64)
    e_model = np.asarray(e_model, dtype=np.float64)
    if e_prior.shape != e_model.shape or e_prior.shape[1] != len(horizons_min):
        raise ValueError(
            f"error matrices must both be (n_sat, {len(horizons_min)}); got {e_prior.shape} "
            f"and {e_model.shape}"
        )
    n = e_prior.shape[0]
    keep = np.ones(n, bool) if ok is None else np.asarray(ok, bool)
    groups: list[tuple[str, str, np.ndarray]] = [("all", "all", keep)]
    for name, labels in strata.items():
        labels = np.asarray(labels)
        if labels.shape != (n,):
            raise ValueError(f"stratum {name!r} has {labels.shape} labels for {n} satellites")
        for lab in sorted(set(labels[keep].tolist())):
            groups.append((name, str(lab), keep & (labels == lab)))
    rows = []
    for name, lab, sel in groups:
        if not sel.any():
            continue
        for j, h in enumerate(horizons_min):
            p, m = e_prior[sel, j], e_model[sel, j]
            p_med, m_med = float(np.median(p)), float(np.median(m))
            p95, m95 = float(np.percentile(p, 95)), float(np.percentile(m, 95))
            rows.append(
                {
                    "stratum": name,
                    "label": lab,
                    "horizon_min": float(h),
                    "n_sat": int(sel.sum()),
                    "sgp4_median_km": p_med,
                    "sgp4_p95_km": p95,
                    "model_median_km": m_med,
                    "model_p95_km": m95,
                    "median_ratio": m_med / max(p_med, 1e-300),
                    "p95_ratio": m95 / max(p95, 1e-300),
                    "p95_ok": bool(m95 <= (1.0 + p95_tolerance) * p95),
                }
            )
    return rows


def evaluate_stratified(
    model: OrbitWorldModel,
    arcs: PriorArcs,
    strata: dict[str, np.ndarray],
    horizons_min: Sequence[float] = DEFAULT_HORIZONS_MIN,
) -> list[dict[str, Any]]:
    """:func:`stratified_table` of ``model`` against its SGP4 prior on ``arcs`` (labels per
    satellite of ``arcs``, e.g. :func:`starbrain.models.truth.leo_strata` of its elements).
    Horizons beyond the truth arc are left out."""
    tr = arcs.truth
    hz = [h for h in horizons_min if h <= tr.t_min[-1] + 1e-9]
    e_prior, _ = position_errors(None, arcs, hz)
    e_model, _ = position_errors(model, arcs, hz)
    return stratified_table(e_prior, e_model, hz, strata, tr.ok)
