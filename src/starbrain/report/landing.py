"""What a person reads of a powered-descent solution: ``landing.json`` and two PNG figures
(:func:`write_landing_outputs`, moved from :mod:`starbrain.planners.landing`, which returns the
typed :class:`~starbrain.planners.landing.LandingResult` and writes no files)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from starbrain.planners.landing import LandingResult

__all__ = ["write_landing_outputs"]


def write_landing_outputs(result: LandingResult, out_dir: str | Path) -> list[Path]:
    """Write ``landing.json`` (the whole result) and, when the solve succeeded and matplotlib is
    installed, ``landing_trajectory.png`` (altitude vs downrange/crossrange with the glide-slope
    cone) and ``landing_thrust.png`` (thrust magnitude with the bounds and the slack ``Gamma``,
    tilt from vertical, mass). Returns the paths written."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "landing.json"
    text = json.dumps(result.as_dict(), indent=1, default=_json_default, allow_nan=False)
    path.write_text(text + "\n")
    paths = [path]
    if not result.ok:
        return paths
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:  # pragma: no cover - plots are optional
        return paths
    paths.append(_trajectory_png(result, out / "landing_trajectory.png", Figure, FigureCanvasAgg))
    paths.append(_thrust_png(result, out / "landing_thrust.png", Figure, FigureCanvasAgg))
    return paths


def _trajectory_png(result: LandingResult, p: Path, figure: Any, canvas: Any) -> Path:
    """Altitude against downrange and crossrange (m), the plume direction (-T) along the
    path, the glide-slope cone when constrained and the target; written at 120 dpi."""
    c = result.config
    assert c is not None
    r, t = result.r_m, result.t_s
    fig = figure(figsize=(10, 4.5))
    canvas(fig)
    for idx, (col, name) in enumerate(((2, "downrange z"), (1, "crossrange y"))):
        ax = fig.add_subplot(1, 2, idx + 1)
        ax.plot(r[:, col], r[:, 0], "-o", ms=2.5, label="trajectory")
        step = max(1, len(t) // 15)
        tn = result.thrust_n
        scale = 0.15 * max(np.ptp(r[:, 0]), 1.0) / max(np.max(np.linalg.norm(tn, axis=1)), 1.0)
        ax.quiver(
            r[::step, col],
            r[::step, 0],
            -tn[::step, col] * scale,
            -tn[::step, 0] * scale,
            angles="xy",
            scale_units="xy",
            scale=1,
            color="tab:red",
            width=0.003,
            label="plume (-T)",
        )
        if c.glide_slope_rad is not None:
            span = np.linspace(np.min(r[:, col]), np.max(r[:, col]), 50)
            lp = result.landing_point_m[col]
            ax.plot(
                span,
                np.tan(c.glide_slope_rad) * np.abs(span - lp),
                "k--",
                lw=0.8,
                label="glide-slope cone",
            )
        ax.plot([result.target_m[col]], [0.0], "g*", ms=10, label="target")
        ax.set_xlabel(f"{name} (m)")
        ax.set_ylabel("altitude x (m)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle(f"{result.objective}: tf {result.tf_s:.2f} s, fuel {result.fuel_kg:.2f} kg")
    fig.tight_layout()
    fig.savefig(p, dpi=120)
    return p


def _thrust_png(result: LandingResult, p: Path, figure: Any, canvas: Any) -> Path:
    """Thrust magnitude with its bounds and the slack ``Gamma`` (N), tilt from vertical (deg)
    and mass (kg) against time (s); written at 120 dpi."""
    c = result.config
    assert c is not None
    t = result.t_s
    fig = figure(figsize=(8, 8))
    canvas(fig)
    ax1, ax2, ax3 = (fig.add_subplot(3, 1, i) for i in (1, 2, 3))
    tnorm = np.linalg.norm(result.thrust_n, axis=1)
    ax1.plot(t, tnorm, "-o", ms=2.5, label="||T||")
    ax1.plot(t, result.gamma_n, "--", label="Gamma (slack)")
    ax1.axhline(c.thrust_min_n, color="k", lw=0.8, ls=":")
    ax1.axhline(c.thrust_max_n, color="k", lw=0.8, ls=":")
    ax1.set_ylabel("thrust (N)")
    ax1.legend(fontsize=8)
    tilt = np.degrees(np.arccos(np.clip(result.thrust_n[:, 0] / np.maximum(tnorm, 1e-12), -1, 1)))
    ax2.plot(t, tilt)
    if c.max_tilt_rad is not None:
        ax2.axhline(math.degrees(c.max_tilt_rad), color="k", lw=0.8, ls=":")
    ax2.set_ylabel("tilt from vertical (deg)")
    ax3.plot(t, result.mass_kg)
    ax3.axhline(c.dry_mass_kg, color="k", lw=0.8, ls=":")
    ax3.set_ylabel("mass (kg)")
    ax3.set_xlabel("time (s)")
    for ax in (ax1, ax2, ax3):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(p, dpi=120)
    return p


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    raise TypeError(f"cannot serialise {type(obj).__name__}")
