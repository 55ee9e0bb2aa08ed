"""Figures of an orbit world model's evaluation: position error against horizon, vs SGP4."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from starbrain.models.evaluation import position_errors

if TYPE_CHECKING:
    from starbrain.models.orbit_model import OrbitWorldModel, PriorArcs
    from starbrain.models.truth_eval import TruthEvaluation

__all__ = ["plot_errors", "plot_truth_evaluation"]


def plot_errors(
    model: OrbitWorldModel, arcs: PriorArcs, path: str | Path, title: str = "held-out satellites"
) -> Path:
    """PNG of median and 95th-percentile position error [km] vs horizon, SGP4 vs SGP4 + model."""
    tr = arcs.truth
    ok = tr.ok
    e_prior, t = position_errors(None, arcs)
    e_model, _ = position_errors(model, arcs)
    days = t / 1440.0
    fig, ax = _figure()
    for e, name, color in (
        (e_prior, "SGP4 (fitted)", "tab:red"),
        (e_model, "SGP4 + model", "tab:blue"),
    ):
        ax.plot(days, np.median(e[ok], axis=0), color=color, label=f"{name} median")
        ax.plot(days, np.percentile(e[ok], 95, axis=0), color=color, ls="--", label=f"{name} p95")
    return _finish(fig, ax, "days since epoch", f"{title} (n={int(ok.sum())})", path)


def _figure() -> tuple[Any, Any]:
    """A 7 x 4.5 in Agg figure and its one axes."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 4.5))
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot(1, 1, 1)


def _finish(fig: Any, ax: Any, xlabel: str, title: str, path: str | Path) -> Path:
    """Log error axis, labels, grid and legend; the PNG written to ``path``."""
    ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("position error [km]")
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    out = Path(path)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    return out


def plot_truth_evaluation(
    evaluation: TruthEvaluation, path: str | Path, title: str = "your truth"
) -> Path:
    """PNG of median and 95th-percentile position error [km] vs horizon [h] on a user's truth
    (:func:`starbrain.models.truth_eval.evaluate_on_truth`): fitted SGP4, and the model if any."""
    rows = evaluation.rows()
    hours = [r["horizon_h"] for r in rows]
    fig, ax = _figure()
    curves = [("sgp4", "SGP4 (fitted)", "tab:red")]
    if evaluation.model_err_km is not None:
        curves.append(("model", "SGP4 + model", "tab:blue"))
    for key, name, color in curves:
        # a floor of 1 mm keeps an exact fit on the log axis
        med = [max(r[f"{key}_median_km"], 1e-6) for r in rows]
        p95 = [max(r[f"{key}_p95_km"], 1e-6) for r in rows]
        ax.plot(hours, med, "o-", color=color, label=f"{name} median")
        ax.plot(hours, p95, "s--", color=color, label=f"{name} p95")
    ax.axvline(evaluation.fit_hours, color="0.5", lw=1, ls=":", label="end of fit window")
    n = len(evaluation.object_ids)
    return _finish(fig, ax, "hours since the start of each truth arc", f"{title} (n={n})", path)
