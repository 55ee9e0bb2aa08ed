"""Porkchop plots of a :class:`~starbrain.planners.transfers.TransferGrid`: a handbook-style PNG
(matplotlib) and an interactive HTML page (plotly). Moved from :mod:`starbrain.planners.transfers`,
which computes the grid and writes no files."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from starbrain.planners.transfers import RIDGE_MARGIN_DEG, TransferGrid

__all__ = ["write_porkchop_html", "write_porkchop_png"]


def _nice_levels(vmin: float, vmax: float, steps: tuple[float, ...]) -> list[float]:
    levels = [s for s in steps if vmin <= s <= vmax]
    return levels or [vmin]


def _mark_minima(ax: Any, grid: TransferGrid, mdates: Any) -> None:
    """Mark the minimum-C3 type I (circle) and type II (square) transfers of ``grid`` on
    ``ax`` (dates as matplotlib numbers), each with a legend entry; a type with no transfer away
    from the 180-degree ridge is left out."""
    for kind, marker in ((1, "o"), (2, "s")):
        try:
            opt = grid.best("c3", transfer_type=kind, ridge_margin_deg=RIDGE_MARGIN_DEG)
        except ValueError:
            continue
        ax.plot(
            mdates.date2num(opt.launch.astype("datetime64[s]")),
            mdates.date2num(opt.arrival.astype("datetime64[s]")),
            marker=marker,
            color="k",
            markersize=6,
            linestyle="none",
            label=f"type {'I' if kind == 1 else 'II'} min C3 {opt.c3_km2_s2:.2f} km²/s²",
        )


def _dress_axes(fig: Any, ax: Any, grid: TransferGrid, title: str | None, mdates: Any) -> None:
    """Legend of the three contour families, date axes (UTC), labels, grid and title."""
    ax.plot([], [], color="tab:blue", label="C3 (km²/s²)")
    ax.plot([], [], color="tab:red", linestyle="--", label="arrival v∞ (km/s)")
    ax.plot([], [], color="0.5", linestyle=":", label="time of flight (days)")
    ax.legend(loc="upper left", fontsize=8)
    for axis in (ax.xaxis, ax.yaxis):
        axis.set_major_locator(mdates.AutoDateLocator())
        axis.set_major_formatter(mdates.DateFormatter("%Y-%m-%d"))
    fig.autofmt_xdate()
    ax.set_xlabel("launch date (UTC)")
    ax.set_ylabel("arrival date (UTC)")
    ax.grid(True, color="0.9", linewidth=0.5)
    ax.set_title(
        title or f"{grid.departure.capitalize()} to {grid.target.capitalize()}: ballistic transfers"
    )


def write_porkchop_png(
    grid: TransferGrid,
    path: str | Path,
    *,
    c3_levels: list[float] | None = None,
    vinf_levels: list[float] | None = None,
    tof_step_days: float = 50.0,
    title: str | None = None,
    dpi: int = 150,
) -> Path:
    """Write a handbook-style porkchop PNG: launch date (x) vs arrival date (y), C3 contours
    (solid, labelled, km^2/s^2), arrival v-infinity contours (dashed, km/s), time-of-flight
    lines (dotted, days) and the minimum-C3 type I / type II points. Needs matplotlib."""
    try:
        import matplotlib.dates as mdates
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("write_porkchop_png needs matplotlib: pip install matplotlib") from exc

    if grid.c3_km2_s2.ndim != 2:
        raise ValueError("write_porkchop_png needs a 2-D grid from porkchop()")
    x = mdates.date2num(grid.launch[:, 0].astype("datetime64[s]"))
    y = mdates.date2num(grid.arrival[0, :].astype("datetime64[s]"))
    c3 = grid.c3_km2_s2.T
    vinf = grid.vinf_arr_kms.T
    tof = grid.tof_days.T
    c3_min = float(np.nanmin(c3)) if np.isfinite(c3).any() else 0.0
    if c3_levels is None:
        steps = (
            *np.arange(4.0, 20.0, 1.0),
            *np.arange(20.0, 40.0, 2.5),
            *np.arange(40.0, 101.0, 10.0),
        )
        c3_levels = _nice_levels(c3_min, max(c3_min + 30.0, 3.0 * c3_min), tuple(steps))
    if vinf_levels is None:
        vinf_levels = [2.5, 3.0, 3.5, 4.0, 4.5, 5.0, 6.0, 7.0, 8.0]

    fig = Figure(figsize=(10, 8))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    masked_c3 = np.ma.masked_invalid(np.where(c3 <= max(c3_levels), c3, np.nan))
    cs = ax.contour(x, y, masked_c3, levels=c3_levels, colors="tab:blue", linewidths=1.0)
    ax.clabel(cs, fmt="%g", fontsize=7)
    masked_v = np.ma.masked_invalid(np.where(c3 <= max(c3_levels), vinf, np.nan))
    cv = ax.contour(
        x, y, masked_v, levels=vinf_levels, colors="tab:red", linewidths=0.8, linestyles="--"
    )
    ax.clabel(cv, fmt="%g", fontsize=7)
    tof_pos = np.where(tof > 0, tof, np.nan)
    if np.isfinite(tof_pos).any():
        lo = tof_step_days * math.ceil(np.nanmin(tof_pos) / tof_step_days)
        tof_levels = list(np.arange(lo, np.nanmax(tof_pos), tof_step_days))
        if tof_levels:
            ct = ax.contour(
                x, y, tof_pos, levels=tof_levels, colors="0.5", linewidths=0.6, linestyles=":"
            )
            ax.clabel(ct, fmt="%d d", fontsize=6)
    _mark_minima(ax, grid, mdates)
    _dress_axes(fig, ax, grid, title, mdates)
    out = Path(path)
    fig.savefig(out, dpi=dpi)
    return out


def write_porkchop_html(
    grid: TransferGrid,
    path: str | Path,
    *,
    c3_max: float | None = None,
    include_plotlyjs: bool | str = True,
    title: str | None = None,
) -> Path:
    """Write an interactive porkchop (plotly): C3 contours with hover values of arrival
    v-infinity, time of flight, DLA and type; v-infinity contour lines on top. The page embeds
    plotly.js by default so it opens offline. Needs plotly."""
    try:
        import plotly.graph_objects as go
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("write_porkchop_html needs plotly: pip install plotly") from exc

    if grid.c3_km2_s2.ndim != 2:
        raise ValueError("write_porkchop_html needs a 2-D grid from porkchop()")
    x = grid.launch[:, 0].astype("datetime64[s]").astype(str)
    y = grid.arrival[0, :].astype("datetime64[s]").astype(str)
    c3 = grid.c3_km2_s2.T
    c3_min = float(np.nanmin(c3)) if np.isfinite(c3).any() else 0.0
    c3_max = max(c3_min + 30.0, 3.0 * c3_min) if c3_max is None else c3_max
    shown = np.where(c3 <= c3_max, c3, np.nan)
    custom = np.stack(
        [
            grid.vinf_arr_kms.T,
            grid.tof_days.T,
            np.degrees(grid.dla_rad.T),
            grid.transfer_type.T.astype(float),
            grid.dv_total_kms.T,
        ],
        axis=-1,
    )
    fig = go.Figure()
    fig.add_trace(
        go.Contour(
            x=x,
            y=y,
            z=shown,
            customdata=custom,
            colorscale="Viridis",
            contours={"showlabels": True, "start": math.floor(c3_min), "end": c3_max, "size": 1},
            colorbar={"title": "C3 (km²/s²)"},
            hovertemplate=(
                "launch %{x}<br>arrival %{y}<br>C3 %{z:.2f} km²/s²"
                "<br>arrival v∞ %{customdata[0]:.2f} km/s<br>TOF %{customdata[1]:.0f} d"
                "<br>DLA %{customdata[2]:.1f}°<br>type %{customdata[3]:.0f}"
                "<br>Δv total %{customdata[4]:.2f} km/s<extra></extra>"
            ),
            name="C3",
        )
    )
    fig.add_trace(
        go.Contour(
            x=x,
            y=y,
            z=np.where(np.isfinite(shown), grid.vinf_arr_kms.T, np.nan),
            contours={"coloring": "lines", "showlabels": True, "start": 2.5, "end": 8, "size": 0.5},
            line={"dash": "dash", "color": "red", "width": 1},
            showscale=False,
            hoverinfo="skip",
            name="arrival v∞ (km/s)",
        )
    )
    fig.update_layout(
        title=title
        or f"{grid.departure.capitalize()} to {grid.target.capitalize()}: ballistic transfers",
        xaxis_title="launch date (UTC)",
        yaxis_title="arrival date (UTC)",
        width=1000,
        height=800,
    )
    out = Path(path)
    fig.write_html(out, include_plotlyjs=include_plotlyjs)
    return out
