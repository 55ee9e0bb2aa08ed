"""``starbrain mars``: Earth-Mars transfer windows and porkchop plots."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from starbrain.cli._common import (
    FormatOption,
    OutputFormat,
    _emit,
    _notes,
    app,
    console,
    err_console,
)
from starbrain.core.errors import StarbrainError

mars_app = typer.Typer(help="Earth-Mars transfer windows and porkchop plots.", no_args_is_help=True)
app.add_typer(mars_app, name="mars")


@mars_app.command("windows")
def mars_windows(
    start: Annotated[int, typer.Option("--from", help="First opportunity (launch year).")] = 2026,
    end: Annotated[int, typer.Option("--to", help="Last opportunity (launch year).")] = 2035,
    earth: Annotated[
        str,
        typer.Option(
            help="Depart from the Earth's centre, or from the Earth-Moon barycentre "
            "(barycentre: the NASA handbook's convention)."
        ),
    ] = "centre",
    ridge_margin_deg: Annotated[
        float, typer.Option(help="Leave out transfers this close to 180 degrees.")
    ] = 3.0,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Each Earth-Mars opportunity's minimum-C3 type I and type II ballistic transfers (DE421).

    csv/json fields: opportunity (window centre date), departure, target, type (1 or 2), launch,
    arrival (UTC), tof_days, c3_km2_s2, vinf_arr_kms, dla_deg, rla_deg, dv_total_kms, on_boundary,
    boundary (which edge of the search the minimum lies on; empty when interior).
    """
    import numpy as np

    from starbrain.planners.transfers import windows_table

    if end < start:
        raise StarbrainError(f"--to {end} is before --from {start}")
    if start < 1900 or end > 2052:
        raise StarbrainError("DE421 (skyfield-data) covers launches from 1900 to 2052 only")
    points = {"centre": "earth", "center": "earth", "barycentre": "earth barycenter"}
    departure = points.get(earth.lower(), "earth barycenter" if earth == "barycenter" else "")
    if not departure:
        raise StarbrainError(f"--earth must be centre or barycentre, not {earth!r}")
    if not 0.0 <= ridge_margin_deg < 30.0:
        raise StarbrainError("--ridge-margin-deg must be between 0 and 30")
    with err_console.status(f"searching {start}-{end} (grid, then local optimisation)"):
        rows = windows_table(start, end, departure=departure, ridge_margin_deg=ridge_margin_deg)
    table = Table(title=f"Earth-Mars opportunities {start}-{end}: minimum launch C3")
    for col in (
        "window centre",
        "type",
        "launch (UTC)",
        "arrival (UTC)",
        "TOF d",
        "C3 km²/s²",
        "v∞ arr km/s",
        "DLA °",
        "Δv km/s",
    ):
        table.add_column(col, justify="right")
    for r in rows:
        note = "*" if r["on_boundary"] else ""
        table.add_row(
            r["opportunity"][:7],
            "I" if r["type"] == 1 else "II",
            r["launch"][:16],
            r["arrival"][:16],
            f"{r['tof_days']:.0f}",
            f"{r['c3_km2_s2']:.2f}{note}",
            f"{r['vinf_arr_kms']:.2f}",
            f"{r['dla_deg']:.1f}",
            f"{r['dv_total_kms']:.2f}",
        )
    records = [
        {**r, "launch": np.datetime64(r["launch"]), "arrival": np.datetime64(r["arrival"])}
        for r in rows
    ]
    _emit(records, fmt, table)
    _notes(fmt).print(
        "Ballistic zero-revolution Lambert arcs from the "
        f"{'Earth' if departure == 'earth' else 'Earth-Moon barycentre'} to Mars (centres); "
        "Δv from a 200 km circular parking orbit plus capture into a 300 km circular Mars "
        f"orbit; transfers within {ridge_margin_deg:g}° of 180° left out. * minimum on the edge "
        "of the searched region (no interior minimum): "
        + (", ".join(f"{r['launch'][:4]} {r['boundary']}" for r in rows if r["boundary"]) or "none")
        + ".",
        highlight=False,
    )


@mars_app.command("porkchop")
def mars_porkchop(
    window: Annotated[int, typer.Option(help="Opportunity (launch year), e.g. 2028.")] = 2028,
    step_days: Annotated[float, typer.Option(help="Grid step in days.")] = 2.0,
    output: Annotated[Path, typer.Option("--output", "-o", help="PNG file.")] = Path(
        "porkchop.png"
    ),
    html: Annotated[
        Path | None, typer.Option(help="Also write an interactive HTML plot here.")
    ] = None,
) -> None:
    """Porkchop plot (launch C3, arrival v∞, time of flight) for one opportunity."""
    from starbrain.planners.transfers import porkchop_for_window
    from starbrain.report.porkchop import write_porkchop_html, write_porkchop_png

    if not 0.25 <= step_days <= 30:
        raise StarbrainError("--step-days must be between 0.25 and 30")
    with err_console.status(f"computing the {window} porkchop grid"):
        grid = porkchop_for_window(window, step_days=step_days)
    try:
        write_porkchop_png(grid, output)
        if html is not None:
            write_porkchop_html(grid, html)
    except ImportError as exc:
        raise StarbrainError(
            f"plotting needs the [plots] extra ({exc.name} is missing): "
            "pip install 'starbrain[plots]'"
        ) from exc
    best = grid.best("c3", ridge_margin_deg=5.0)
    console.print(
        f"wrote {output}{' and ' + str(html) if html else ''}: minimum C3 {best.c3_km2_s2:.2f} "
        f"km²/s², launch {str(best.launch)[:16]}, arrival {str(best.arrival)[:16]}",
        highlight=False,
    )
