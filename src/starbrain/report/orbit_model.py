"""Figures of an orbit world model's evaluation: position error against horizon, vs SGP4."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from starbrain.models.evaluation import position_errors

if TYPE_CHECKING:
    from starbrain.models.orbit_model import OrbitWorldModel, PriorArcs

__all__ = ["plot_errors"]


def plot_errors(
    model: OrbitWorldModel, arcs: PriorArcs, path: str | Path, title: str = "held-out satellites"
) -> Path:
    """PNG of median and 95th-percentile position error [km] vs horizon, SGP4 vs SGP4 + model."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    tr = arcs.truth
    ok = tr.ok
    e_prior, t = position_errors(None, arcs)
    e_model, _ = position_errors(model, arcs)
    days = t / 1440.0
    fig = Figure(figsize=(7, 4.5))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    for e, name, color in (
        (e_prior, "SGP4 (fitted)", "tab:red"),
        (e_model, "SGP4 + model", "tab:blue"),
    ):
        ax.plot(days, np.median(e[ok], axis=0), color=color, label=f"{name} median")
        ax.plot(days, np.percentile(e[ok], 95, axis=0), color=color, ls="--", label=f"{name} p95")
    ax.set_yscale("log")
    ax.set_xlabel("days since epoch")
    ax.set_ylabel("position error [km]")
    ax.set_title(f"{title} (n={int(ok.sum())})")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    out = Path(path)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    return out
