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

__all__ = ["DEFAULT_HORIZONS_MIN", "evaluate_orbit_model", "position_errors"]

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
