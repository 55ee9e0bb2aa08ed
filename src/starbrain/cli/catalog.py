"""``starbrain catalog``: load, inspect and export element-set catalogues."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from starbrain.core.errors import StarbrainError

if TYPE_CHECKING:
    import pyarrow as pa

    from starbrain.store.database import AppendResult


from starbrain.cli._common import (
    ExportFormat,
    FormatOption,
    InputFormat,
    OutputFormat,
    _check_loadable,
    _emit,
    _notes,
    _open_store,
    _print_errors,
    _progress,
    _render,
    app,
    console,
    err_console,
)

catalog_app = typer.Typer(
    help="Load, inspect and export element-set catalogues.", no_args_is_help=True
)
app.add_typer(catalog_app, name="catalog")

ReplaceOption = Annotated[
    bool,
    typer.Option(
        "--replace",
        help="A record with a stored record's key (object and epoch) but other values replaces "
        "it (within one file the last such record wins). Default: keep the stored (or first) "
        "one and report the conflict.",
    ),
]


def _conflict_note(added: AppendResult, what: str, replace: bool) -> None:
    """On stderr: how many offered rows had a stored (or earlier) row's key but other values,
    their keys, and which were kept."""
    if not added.n_conflict:
        return
    action = (
        f"stored the file's (--replace: {added.n_replaced} stored {what} overwritten)"
        if replace
        else "kept the stored one, or the first in the file (--replace stores the file's)"
    )
    err_console.print(
        f"  [yellow]conflict[/] {added.n_conflict} {what} with the key of a stored or earlier "
        f"one but other values; {action}: {added.conflict_names()}",
        highlight=False,
        soft_wrap=True,
    )


@catalog_app.command("load")
def catalog_load(
    locations: Annotated[
        list[str], typer.Argument(help="Files or http(s) URLs (TLE, 3LE, OMM JSON/CSV/XML/KVN).")
    ],
    fmt: Annotated[
        InputFormat, typer.Option("--format", help="Input format; auto detects it.")
    ] = InputFormat.auto,
    strict: Annotated[
        bool, typer.Option(help="Any bad record is fatal and nothing is written.")
    ] = False,
    checksum: Annotated[
        bool, typer.Option(help="Check TLE checksums (--no-checksum accepts hand-edited lines).")
    ] = True,
    replace: ReplaceOption = False,
) -> None:
    """Load catalogues into the store; report every bad record with its file, line and field.

    An element set whose object and epoch are stored already is a duplicate when its orbital
    values are the same (skipped), else a conflict: reported, and the stored one kept unless
    --replace."""
    from starbrain.sources.catalogs.catalog import load_catalog

    results = []
    for location in locations:
        with _progress(f"parsing {Path(location).name}") as (progress, task):

            def on_progress(done: int, total: int) -> None:
                progress.update(task, completed=done, total=total)  # type: ignore[arg-type]

            result = load_catalog(
                location, fmt.value, check_checksums=checksum, on_progress=on_progress
            )
        results.append(result)
        _print_errors(result)
    _check_loadable(results, strict, "records")
    with _open_store() as store:
        for result in results:
            added = store.append(
                "elements",
                result.table,
                source=result.source,
                n_errors=len(result.errors),
                on_conflict="replace" if replace else "keep",
            )
            conflicts = f"{added.n_conflict} conflicting, " if added.n_conflict else ""
            console.print(
                f"{result.source}: {result.n_good} valid, {added.n_new} new, "
                f"{added.n_duplicate} duplicate, {conflicts}{len(result.errors)} bad",
                highlight=False,
            )
            _conflict_note(added, "element sets", replace)
        console.print(
            f"store {store.path}: {store.count('elements', current=True)} objects, "
            f"{store.count('elements')} element sets",
            highlight=False,
        )


def _elements_table(table: pa.Table, title: str) -> Table:
    import numpy as np

    out = Table(title=title)
    for col in ("NORAD", "name", "epoch (UTC)", "incl °", "ecc", "n rev/d", "period min", "B*"):
        out.add_column(col, justify="right" if col != "name" else "left")
    d = table.to_pydict()
    epochs = table.column("epoch").to_numpy().astype("datetime64[ms]")
    for k in range(table.num_rows):
        n = d["mean_motion_rev_per_day"][k]
        out.add_row(
            str(d["norad_id"][k]),
            d["object_name"][k] or "",
            str(np.datetime_as_string(epochs[k], unit="s")),
            f"{d['inclination_deg'][k]:.4f}",
            f"{d['eccentricity'][k]:.7f}",
            f"{n:.8f}",
            f"{1440.0 / n:.2f}",
            f"{d['bstar_per_earth_radius'][k]:.4e}",
        )
    return out


@catalog_app.command("show")
def catalog_show(
    norad: Annotated[list[int] | None, typer.Option(help="Catalogue number(s) to show.")] = None,
    history: Annotated[bool, typer.Option(help="Every stored epoch, not only the newest.")] = False,
    limit: Annotated[int, typer.Option(help="Rows to show at most.")] = 20,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Summarise the stored catalogue, or show objects' newest (or all) element sets.

    csv/json: the element sets' fields as stored (the elements schema: norad_id, epoch,
    inclination_deg, eccentricity, mean_motion_rev_per_day, bstar_per_earth_radius, ...)."""
    with _open_store(read_only=True) as store:
        n_obj, n_sets = store.count("elements", current=True), store.count("elements")
        if norad:
            if history:
                import pyarrow as pa

                table = pa.concat_tables([store.element_history(n) for n in norad])
            else:
                table = store.current_elements(norad)
            if table.num_rows == 0:
                raise StarbrainError(
                    f"no element sets stored for NORAD {', '.join(map(str, norad))}"
                )
        else:
            table = store.read("elements", current=not history, limit=limit)
        shown = table.slice(0, limit)
        title = f"{store.path}: {n_obj} objects, {n_sets} element sets"
        _emit(shown, fmt, lambda: _elements_table(shown, title))
        notes = _notes(fmt)
        if table.num_rows > limit:
            notes.print(f"({table.num_rows - limit} more rows; raise --limit)")
        loads = store.loads(5).to_pylist()
        if loads and not norad:
            notes.print("recent loads:")
            for row in loads:
                notes.print(
                    f"  {row['loaded_at']:%Y-%m-%d %H:%M:%S}  {row['source']}: "
                    f"{row['n_new']} new of "
                    f"{row['n_rows']}, {row['n_errors']} bad",
                    highlight=False,
                )


@catalog_app.command("export")
def catalog_export(
    fmt: Annotated[
        ExportFormat, typer.Option("--format", help="Output format.")
    ] = ExportFormat.tle,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="File to write (default: standard output)."),
    ] = None,
    norad: Annotated[list[int] | None, typer.Option(help="Only these catalogue numbers.")] = None,
    all_epochs: Annotated[
        bool, typer.Option(help="Every stored epoch, not only the newest.")
    ] = False,
) -> None:
    """Export stored element sets as TLE/3LE, OMM (JSON, CSV, XML, KVN) or Parquet."""
    with _open_store(read_only=True) as store:
        if fmt is ExportFormat.parquet:
            if output is None:
                raise StarbrainError("Parquet needs --output FILE")
            if norad:
                raise StarbrainError("Parquet export writes the whole stream; drop --norad")
            n = store.export_parquet("elements", output, current=not all_epochs)
            err_console.print(f"wrote {n} element sets to {output}")
            return
        if norad:
            import pyarrow as pa

            table = (
                pa.concat_tables([store.element_history(n) for n in norad])
                if all_epochs
                else store.current_elements(norad)
            )
        else:
            table = store.read("elements", current=not all_epochs)
    text = _render(table, fmt)
    if output is None:
        sys.stdout.write(text)
    else:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text)
        err_console.print(f"wrote {table.num_rows} element sets to {output}")
