"""What a person reads of an ascent solution: ``ascent.json`` and two PNG figures."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from starbrain.core.constants import G0_MPS2, WGS84_A_KM
from starbrain.planners.ascent import AscentResult

__all__ = ["write_ascent_outputs"]


def write_ascent_outputs(result: AscentResult, out_dir: str | Path) -> list[Path]:
    """Write ``ascent.json`` (the whole result) and, with matplotlib, ``ascent_trajectory.png``
    (altitude vs downrange, altitude / speed / dynamic pressure vs time) and
    ``ascent_controls.png`` (pitch, mass and thrust acceleration vs time). Returns the paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "ascent.json"
    path.write_text(json.dumps(result.as_dict(), indent=1, allow_nan=False) + "\n")
    paths = [path]
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:  # pragma: no cover - plots are optional
        return paths
    t = result.t_s
    alt_km = result.altitude_m / 1e3
    down_km = result.states[:, 1] * WGS84_A_KM
    speed = np.hypot(result.states[:, 2], result.states[:, 3])
    st = result.stage

    fig = Figure(figsize=(11, 7))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(2, 2, 1)
    for i in (0, 1):
        ax.plot(down_km[st == i], alt_km[st == i], "-o", ms=2.5, label=f"stage {i + 1}")
    ax.set_xlabel("downrange (km)")
    ax.set_ylabel("altitude (km)")
    ax.legend(fontsize=8)
    ax = fig.add_subplot(2, 2, 2)
    ax.plot(t, alt_km)
    ax.axvline(result.staging_time_s, color="k", lw=0.8, ls=":")
    ax.set_ylabel("altitude (km)")
    ax = fig.add_subplot(2, 2, 3)
    ax.plot(t, speed / 1e3)
    ax.axvline(result.staging_time_s, color="k", lw=0.8, ls=":")
    ax.set_ylabel("inertial speed (km/s)")
    ax.set_xlabel("time (s)")
    ax = fig.add_subplot(2, 2, 4)
    ax.plot(t, result.dynamic_pressure_pa / 1e3)
    ax.plot([result.max_q_time_s], [result.max_q_pa / 1e3], "r*")
    ax.set_ylabel("dynamic pressure (kPa)")
    ax.set_xlabel("time (s)")
    for a in fig.axes:
        a.grid(alpha=0.3)
    o = result.orbit
    fig.suptitle(
        f"{result.vehicle.name}: payload {result.payload_kg / 1e3:.2f} t to "
        f"{o.perigee_alt_m / 1e3:.1f} x {o.apogee_alt_m / 1e3:.1f} km, "
        f"max q {result.max_q_pa / 1e3:.1f} kPa"
    )
    fig.tight_layout()
    p = out / "ascent_trajectory.png"
    fig.savefig(p, dpi=110)
    paths.append(p)

    fig = Figure(figsize=(8, 7))
    FigureCanvasAgg(fig)
    ax1, ax2, ax3 = (fig.add_subplot(3, 1, i) for i in (1, 2, 3))
    ax1.plot(t, np.degrees(result.pitch_rad), "-o", ms=2.5)
    ax1.set_ylabel("pitch above horizontal (deg)")
    ax2.plot(t, result.states[:, 4] / 1e3)
    ax2.set_ylabel("mass (t)")
    thrust = np.array(
        [
            result.vehicle.stages[s].thrust_n(result.atmosphere.pressure(h))
            for s, h in zip(st, result.altitude_m, strict=True)
        ]
    )
    ax3.plot(t, thrust / result.states[:, 4] / G0_MPS2)
    ax3.set_ylabel("thrust acceleration (g0)")
    ax3.set_xlabel("time (s)")
    for a in (ax1, ax2, ax3):
        a.axvline(result.staging_time_s, color="k", lw=0.8, ls=":")
        a.grid(alpha=0.3)
    fig.tight_layout()
    p = out / "ascent_controls.png"
    fig.savefig(p, dpi=110)
    paths.append(p)
    return paths
