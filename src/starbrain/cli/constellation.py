"""``starbrain constellation``: Walker-delta shells and debris populations."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from starbrain.cli._common import ExportFormat, _open_store, _render, app, err_console
from starbrain.core.errors import StarbrainError

constellation_app = typer.Typer(help="Generate Walker-delta constellations.", no_args_is_help=True)
app.add_typer(constellation_app, name="constellation")


@constellation_app.command("generate")
def constellation_generate(
    preset: Annotated[str | None, typer.Option(help="Named preset: starlink-gen1.")] = None,
    altitude_km: Annotated[float | None, typer.Option(help="Custom shell: altitude (km).")] = None,
    inclination_deg: Annotated[
        float | None, typer.Option(help="Custom shell: inclination (deg).")
    ] = None,
    planes: Annotated[int | None, typer.Option(help="Custom shell: number of planes.")] = None,
    per_plane: Annotated[
        int | None, typer.Option(help="Custom shell: satellites per plane.")
    ] = None,
    phasing: Annotated[int, typer.Option(help="Custom shell: Walker phasing factor F.")] = 1,
    epoch: Annotated[
        str | None, typer.Option(help="Epoch, ISO 8601 UTC (default: today 00:00).")
    ] = None,
    first_norad: Annotated[int, typer.Option(help="First catalogue number.")] = 200_001,
    fmt: Annotated[
        ExportFormat, typer.Option("--format", help="Output file format.")
    ] = ExportFormat.tle,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="File to write.")] = None,
    store: Annotated[bool, typer.Option(help="Also append the element sets to the store.")] = True,
) -> None:
    """Generate a preset constellation or a custom Walker-delta shell as valid TLE/OMM."""
    from starbrain.sources.generators.constellation import WalkerShell, generate, generate_preset

    custom = (altitude_km, inclination_deg, planes, per_plane)
    if preset and any(v is not None for v in custom):
        raise StarbrainError("give either --preset or a custom shell, not both")
    if preset:
        table = generate_preset(preset, epoch=epoch, first_norad=first_norad)
    elif all(v is not None for v in custom):
        shell = WalkerShell(altitude_km, inclination_deg, planes, per_plane, phasing, name="C")  # type: ignore[arg-type]
        table = generate([shell], epoch=epoch, first_norad=first_norad, source="generated:custom")
    else:
        raise StarbrainError(
            "give --preset starlink-gen1, or all of --altitude-km, --inclination-deg, "
            "--planes and --per-plane"
        )
    if output is not None:
        if fmt is ExportFormat.parquet:
            import pyarrow.parquet as pq

            pq.write_table(table, output)
        else:
            output.write_text(_render(table, fmt))
        err_console.print(f"wrote {table.num_rows} element sets to {output}")
    if store:
        with _open_store() as db:
            added = db.append("elements", table, source=table.column("source")[0].as_py())
            err_console.print(f"stored {added.n_new} new element sets in {db.path}")
    if output is None and not store:
        sys.stdout.write(_render(table, fmt))


@constellation_app.command("debris")
def constellation_debris(
    count: Annotated[int, typer.Option(help="Number of debris-like objects.")] = 6000,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 20260101,
    epoch: Annotated[
        str | None, typer.Option(help="Epoch, ISO 8601 UTC (default: today 00:00).")
    ] = None,
) -> None:
    """Store a debris-like LEO population (catalogue numbers from 300001), for screening."""
    from starbrain.sources.generators.debris import generate_debris

    if not 1 <= count <= 39_999:
        raise StarbrainError(
            "--count must be between 1 and 39999 (catalogue numbers 300001-339999)"
        )
    table = generate_debris(count, epoch=epoch, seed=seed)
    with _open_store() as db:
        added = db.append("elements", table, source=f"generated:debris:{seed}")
    err_console.print(f"stored {added.n_new} new debris element sets in {db.path}")
