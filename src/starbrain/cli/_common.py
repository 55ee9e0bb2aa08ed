"""Shared pieces of the command line: the root app, consoles, progress, store and option helpers."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from starbrain.core.errors import StarbrainError
from starbrain.report.tables import OutputFormat

if TYPE_CHECKING:
    import pyarrow as pa

    from starbrain.planners.passes import GroundStation
    from starbrain.sources.records import LoadResult
    from starbrain.store.database import Store

app = typer.Typer(
    name="starbrain",
    help="From fleet telemetry to decisions: catalogues, physics, world models and planners.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

# Off a terminal (a pipe, a file, a test runner) a line is printed whole: wrapping a summary at
# 80 columns would break it for grep and for whoever parses it.
console = Console()
err_console = Console(stderr=True)
for _c in (console, err_console):
    _c.soft_wrap = not _c.is_terminal
MAX_ERRORS_SHOWN = 50


class ExportFormat(StrEnum):
    tle = "tle"
    three_le = "3le"
    omm_json = "omm-json"
    omm_csv = "omm-csv"
    omm_xml = "omm-xml"
    omm_kvn = "omm-kvn"
    parquet = "parquet"


FormatOption = Annotated[
    OutputFormat,
    typer.Option(
        "--format",
        case_sensitive=False,
        help="table (for people), csv or json (a JSON array, one object per row) on standard "
        "output: the schema's field names and units, raw values, ISO-8601 UTC times with Z, "
        "NaN as null; notes and progress then go to standard error.",
    ),
]
"""``--format table|csv|json`` of every command that prints a table."""


def _notes(fmt: OutputFormat) -> Console:
    """Where a command's summaries and notes go: standard output for a table, standard error
    when standard output carries csv or json (so it parses cleanly)."""
    return console if fmt is OutputFormat.table else err_console


def _show(renderable: Any, fmt: OutputFormat = OutputFormat.table) -> None:
    """A table or text for a person: on standard output for ``--format table`` (never truncated
    off a terminal), else on standard error."""
    from starbrain.report.tables import print_view

    print_view(_notes(fmt), renderable)


def _emit(data: Any, fmt: OutputFormat, view: Any = None, **kwargs: Any) -> int:
    """:func:`starbrain.report.emit` on the command line's console."""
    from starbrain.report.tables import emit

    return emit(data, fmt, view=view, console=console, **kwargs)


class InputFormat(StrEnum):
    auto = "auto"
    tle = "tle"
    omm_json = "omm-json"
    omm_csv = "omm-csv"
    omm_xml = "omm-xml"
    omm_kvn = "omm-kvn"


@app.callback()
def _root(
    db: Annotated[
        Path | None,
        typer.Option(
            help="DuckDB store file.",
            envvar="STARBRAIN_DB",
            show_default="./starbrain-data/starbrain.duckdb",
        ),
    ] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
) -> None:
    if db is not None:
        os.environ["STARBRAIN_DB"] = str(db)
    if debug:
        os.environ["STARBRAIN_DEBUG"] = "1"


@contextmanager
def _progress(description: str, total: int | None = None) -> Iterator[tuple[Progress, int]]:
    """A rich progress bar (shown on terminals only; logs stay clean)."""
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
        disable=not err_console.is_terminal,
    ) as progress:
        task = progress.add_task(description, total=total)
        yield progress, task


def _open_store(read_only: bool = False) -> Store:
    """The store; ``read_only`` for commands that only read (other readers may share it; while
    another process writes, it waits briefly, then says the store is busy: StoreBusyError)."""
    from starbrain.store.database import Store

    return Store(read_only=read_only)


def _check_loadable(results: list[LoadResult], strict: bool, what: str) -> None:
    """The gate every ``load`` command applies before writing: ``--strict`` with any bad record,
    or no valid ``what`` at all, is one sentence and nothing is written."""
    n_bad = sum(len(r.errors) for r in results)
    if strict and n_bad:
        raise StarbrainError(f"{n_bad} bad record(s) and --strict: nothing was written")
    if sum(r.n_good for r in results) == 0:
        raise StarbrainError(f"no valid {what} were found; nothing was written")


def _print_errors(result: LoadResult) -> None:
    for err in result.errors[:MAX_ERRORS_SHOWN]:
        err_console.print(f"  [red]bad record[/] {err}", highlight=False, soft_wrap=True)
    if len(result.errors) > MAX_ERRORS_SHOWN:
        err_console.print(f"  ... and {len(result.errors) - MAX_ERRORS_SHOWN} more bad records")


def _time_option(value: str | None, default: object, what: str) -> Any:
    from starbrain.core import timeconv

    if value is None:
        return default
    try:
        return timeconv.to_datetime64(value).astype("datetime64[ns]")
    except ValueError as exc:
        raise StarbrainError(f"{what}: {exc}") from None


def _elements_for(store: Store, norad: list[int] | None) -> pa.Table:
    table = store.current_elements(norad) if norad else store.current_elements()
    if table.num_rows == 0:
        which = f"NORAD {', '.join(map(str, norad))}" if norad else "any object"
        raise StarbrainError(
            f"no element sets stored for {which}; load a catalogue first "
            "(starbrain catalog load FILE, or starbrain demo)"
        )
    if norad:
        missing = sorted(set(norad) - set(table.column("norad_id").to_pylist()))
        if missing:
            raise StarbrainError(f"no element sets stored for NORAD {', '.join(map(str, missing))}")
    return table


def _station(spec: str) -> GroundStation:
    from starbrain.planners.passes import parse_station

    try:
        return parse_station(spec)
    except ValueError as exc:
        raise StarbrainError(str(exc)) from None


def _vector(text: str, n: int, what: str) -> tuple[float, ...]:
    try:
        values = tuple(float(x) for x in text.split(","))
    except ValueError:
        values = ()
    if len(values) != n:
        raise StarbrainError(f"{what} must be {n} comma-separated numbers, got {text!r}")
    return values


def _write_table(table: pa.Table, output: Path, what: str = "rows") -> None:
    """A table to ``output``: Parquet for a .parquet suffix, else CSV."""
    if output.suffix == ".parquet":
        import pyarrow.parquet as pq

        pq.write_table(table, output)
    else:
        import pyarrow.csv as pcsv

        pcsv.write_csv(table, output)
    err_console.print(f"wrote {table.num_rows} {what} to {output}")


def _render(table: pa.Table, fmt: ExportFormat) -> str:
    from starbrain.sources.catalogs.omm import write_omm
    from starbrain.sources.catalogs.tle import format_tle

    if fmt in (ExportFormat.tle, ExportFormat.three_le):
        return "\n".join(format_tle(table, names=fmt is ExportFormat.three_le)) + "\n"
    return write_omm(table, fmt.value.removeprefix("omm-"))
