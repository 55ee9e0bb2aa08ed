"""The loop's world-model upkeep: measure prediction drift on each catalogue refresh, and re-fit
the orbit world model (physics prior + learned residual) when the drift passes a threshold.

Drift: each object's previous element set is propagated with SGP4 to the epoch of its new set
and compared with the new set's own position at that epoch (TEME, km) -- how far the last
prediction was from what the catalogue now says. Re-fit: a small full-force truth for a sample
of the current objects, SGP4 priors fitted to its first part, the residual model trained on it,
evaluated per horizon and registered in the store's model registry.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

__all__ = ["Drift", "measure_drift", "refit_orbit_model"]


@dataclass(frozen=True, slots=True)
class Drift:
    """Position differences [km] between predictions and new element sets."""

    n: int
    median_km: float
    p95_km: float
    max_km: float
    mean_gap_s: float  # mean time from the previous epoch to the new one

    def as_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "median_km": round(self.median_km, 4),
            "p95_km": round(self.p95_km, 4),
            "max_km": round(self.max_km, 4),
            "mean_gap_s": round(self.mean_gap_s, 1),
        }


def measure_drift(previous: pa.Table, new: pa.Table) -> Drift | None:
    """Drift of ``previous`` element sets (one per object) against ``new`` ones (same schema),
    for the objects in both whose new epoch is later; None when there are none."""
    import torch

    from starbrain.physics.sgp4 import sgp4_propagate
    from starbrain.physics.sgp4_init import Sgp4Elements

    ids_prev = previous.column("norad_id").to_numpy()
    ids_new = new.column("norad_id").to_numpy()
    common, i_prev, i_new = np.intersect1d(ids_prev, ids_new, return_indices=True)
    if common.size == 0:
        return None
    e_prev = previous.column("epoch").to_numpy().astype("datetime64[ns]")[i_prev]
    e_new = new.column("epoch").to_numpy().astype("datetime64[ns]")[i_new]
    later = e_new > e_prev
    if not later.any():
        return None
    i_prev, i_new, e_prev, e_new = i_prev[later], i_new[later], e_prev[later], e_new[later]
    old = previous.take(pa.array(i_prev))
    fresh = new.take(pa.array(i_new))
    # the previous sets at the new epochs (minutes since each previous epoch, one per object)
    # against the new sets at their own epochs (t = 0)
    gap_min = (e_new - e_prev).astype(np.int64) / 60e9
    with torch.no_grad():
        el_old = Sgp4Elements.from_table(old, device="cpu")
        el_new = Sgp4Elements.from_table(fresh, device="cpu")
        r_pred, _, _ = sgp4_propagate(el_old, torch.as_tensor(gap_min[:, None]))
        r_new, _, _ = sgp4_propagate(el_new, torch.zeros(1, dtype=torch.float64))
    d = np.linalg.norm((r_pred[:, 0] - r_new[:, 0]).numpy(), axis=-1)
    ok = np.isfinite(d)
    if not ok.any():
        return None
    d = d[ok]
    gap = gap_min[ok] * 60.0
    return Drift(
        int(d.size),
        float(np.median(d)),
        float(np.percentile(d, 95)),
        float(d.max()),
        float(gap.mean()),
    )


def refit_orbit_model(
    store: Any,
    elements: pa.Table,
    *,
    name: str,
    n_objects: int,
    epochs: int,
    trigger: dict[str, Any],
    truth_days: float = 0.25,
    fit_days: float = 0.1,
) -> dict[str, Any]:
    """Train and register an orbit world model on ``n_objects`` of ``elements`` (those sharing
    the most common epoch, evenly spaced); returns the metrics it registered."""
    from starbrain.models.evaluation import evaluate_orbit_model
    from starbrain.models.orbit_model import OrbitModelConfig, fit_priors, train_orbit_model
    from starbrain.models.registry import register_model
    from starbrain.models.truth import generate_truth

    t0 = time.perf_counter()
    epochs_ns = elements.column("epoch").to_numpy().astype("datetime64[ns]").astype(np.int64)
    values, counts = np.unique(epochs_ns, return_counts=True)
    same = np.flatnonzero(epochs_ns == values[np.argmax(counts)])
    pick = same[np.linspace(0, same.size - 1, min(n_objects, same.size)).round().astype(int)]
    sample = elements.take(pa.array(np.unique(pick)))
    truth = generate_truth(sample, days=truth_days, step_min=10.0)
    arcs = fit_priors(truth, fit_days=fit_days, max_iter=20)
    horizon = truth_days * 1440.0
    config = OrbitModelConfig(
        epochs=epochs, horizon_min=horizon, train_step_min=10.0, fit_days=fit_days
    )
    model, history = train_orbit_model(arcs, config, device="cpu")
    rows = evaluate_orbit_model(model, arcs, (60.0, 180.0, horizon))
    metrics = {
        "evaluation": rows,
        "history": {
            k: history[k]
            for k in ("seconds", "n_train", "initial_loss", "final_loss")
            if k in history
        },
        "trigger": trigger,
        "seconds": time.perf_counter() - t0,
    }
    metrics = _finite(metrics)
    register_model(store, name, model, truth, metrics=metrics)
    return metrics


def _finite(x: Any) -> Any:
    """NaN/inf -> None, recursively (JSON has no NaN)."""
    if isinstance(x, dict):
        return {k: _finite(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_finite(v) for v in x]
    if isinstance(x, float | np.floating):
        return float(x) if math.isfinite(x) else None
    if isinstance(x, np.integer):
        return int(x)
    return x
