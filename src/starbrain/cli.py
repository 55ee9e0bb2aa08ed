"""The ``starbrain`` command line: thin typer commands over the layers below.

Errors reach the user as one sentence (``error: ...``) and exit status 1; ``--debug`` (or
``STARBRAIN_DEBUG=1``) shows the traceback instead. Heavy modules are imported inside the
commands so ``starbrain --help`` stays fast.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from starbrain import __version__
from starbrain.sources.records import StarbrainError

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
catalog_app = typer.Typer(
    help="Load, inspect and export element-set catalogues.", no_args_is_help=True
)
constellation_app = typer.Typer(help="Generate Walker-delta constellations.", no_args_is_help=True)
mars_app = typer.Typer(help="Earth-Mars transfer windows and porkchop plots.", no_args_is_help=True)
app.add_typer(catalog_app, name="catalog")
app.add_typer(constellation_app, name="constellation")
telemetry_app = typer.Typer(
    help="Decode CCSDS packet streams (files, UDP) into the store.", no_args_is_help=True
)
landing_app = typer.Typer(
    help="Powered-descent guidance (lossless convexification).", no_args_is_help=True
)
ascent_app = typer.Typer(help="Launch-vehicle ascent optimisation.", no_args_is_help=True)
conjunctions_app = typer.Typer(
    help="Conjunction screening, CCSDS CDMs and avoidance manoeuvres.", no_args_is_help=True
)
app.add_typer(conjunctions_app, name="conjunctions")
app.add_typer(mars_app, name="mars")
app.add_typer(landing_app, name="landing")
app.add_typer(ascent_app, name="ascent")
app.add_typer(telemetry_app, name="telemetry")

console = Console()
err_console = Console(stderr=True)
MAX_ERRORS_SHOWN = 50


class ExportFormat(StrEnum):
    tle = "tle"
    three_le = "3le"
    omm_json = "omm-json"
    omm_csv = "omm-csv"
    omm_xml = "omm-xml"
    omm_kvn = "omm-kvn"
    parquet = "parquet"


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


def _open_store() -> Store:
    from starbrain.store.database import Store

    return Store()


def _print_errors(result: LoadResult) -> None:
    for err in result.errors[:MAX_ERRORS_SHOWN]:
        err_console.print(f"  [red]bad record[/] {err}", highlight=False, soft_wrap=True)
    if len(result.errors) > MAX_ERRORS_SHOWN:
        err_console.print(f"  ... and {len(result.errors) - MAX_ERRORS_SHOWN} more bad records")


@app.command()
def version() -> None:
    """Print the starbrain version and its key dependencies."""
    import duckdb
    import numpy
    import pyarrow

    console.print(f"starbrain {__version__}")
    console.print(
        f"python {sys.version.split()[0]}, numpy {numpy.__version__}, "
        f"pyarrow {pyarrow.__version__}, duckdb {duckdb.__version__}",
        highlight=False,
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
) -> None:
    """Load catalogues into the store; report every bad record with its file, line and field."""
    from starbrain.sources.catalog import load_catalog

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
    n_bad = sum(len(r.errors) for r in results)
    n_good = sum(r.n_good for r in results)
    if strict and n_bad:
        raise StarbrainError(f"{n_bad} bad record(s) and --strict: nothing was written")
    if n_good == 0:
        raise StarbrainError("no valid records were found; nothing was written")
    with _open_store() as store:
        for result in results:
            added = store.append(
                "elements", result.table, source=result.source, n_errors=len(result.errors)
            )
            console.print(
                f"{result.source}: {result.n_good} valid, {added.n_new} new, "
                f"{added.n_duplicate} duplicate, {len(result.errors)} bad",
                highlight=False,
            )
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
) -> None:
    """Summarise the stored catalogue, or show objects' newest (or all) element sets."""
    with _open_store() as store:
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
        console.print(
            _elements_table(
                table.slice(0, limit), f"{store.path}: {n_obj} objects, {n_sets} element sets"
            )
        )
        if table.num_rows > limit:
            console.print(f"({table.num_rows - limit} more rows; raise --limit)")
        loads = store.loads(5).to_pylist()
        if loads and not norad:
            console.print("recent loads:")
            for row in loads:
                console.print(
                    f"  {row['loaded_at']:%Y-%m-%d %H:%M:%S}  {row['source']}: "
                    f"{row['n_new']} new of "
                    f"{row['n_rows']}, {row['n_errors']} bad",
                    highlight=False,
                )


def _render(table: pa.Table, fmt: ExportFormat) -> str:
    from starbrain.sources.omm import write_omm
    from starbrain.sources.tle import format_tle

    if fmt in (ExportFormat.tle, ExportFormat.three_le):
        return "\n".join(format_tle(table, names=fmt is ExportFormat.three_le)) + "\n"
    return write_omm(table, fmt.value.removeprefix("omm-"))


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
    with _open_store() as store:
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
    from starbrain.sources.constellation import WalkerShell, generate, generate_preset

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


@mars_app.command("windows")
def mars_windows(
    start: Annotated[int, typer.Option("--from", help="First opportunity (launch year).")] = 2026,
    end: Annotated[int, typer.Option("--to", help="Last opportunity (launch year).")] = 2035,
) -> None:
    """Each Earth-Mars opportunity's minimum-C3 type I and type II ballistic transfers (DE421)."""
    from starbrain.planners.transfers import windows_table

    if end < start:
        raise StarbrainError(f"--to {end} is before --from {start}")
    if start < 1900 or end > 2052:
        raise StarbrainError("DE421 (skyfield-data) covers launches from 1900 to 2052 only")
    with err_console.status(f"searching {start}-{end} (grid, then local optimisation)"):
        rows = windows_table(start, end)
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
    console.print(table)
    console.print(
        "Ballistic zero-revolution Lambert arcs between planet centres; Δv from a 200 km "
        "circular parking orbit plus capture into a 300 km circular Mars orbit. "
        "* minimum on the edge of the searched region (no interior minimum).",
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
    from starbrain.planners.transfers import (
        porkchop_for_window,
        write_porkchop_html,
        write_porkchop_png,
    )

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


class OrbitFormat(StrEnum):
    csv = "csv"
    parquet = "parquet"
    oem = "oem"


class Frame(StrEnum):
    teme = "teme"
    gcrs = "gcrs"
    itrf = "itrf"


def _time_option(value: str | None, default: object, what: str) -> Any:
    from starbrain import timeconv

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


@app.command()
def propagate(
    norad: Annotated[list[int], typer.Option(help="Catalogue number(s) to propagate.")],
    start: Annotated[
        str | None, typer.Option("--from", help="Start, ISO 8601 UTC (default: now).")
    ] = None,
    stop: Annotated[
        str | None, typer.Option("--to", help="End, ISO 8601 UTC (default: start + 1 day).")
    ] = None,
    step: Annotated[float, typer.Option(help="Step in seconds.")] = 60.0,
    fmt: Annotated[OrbitFormat, typer.Option("--format", help="Output format.")] = OrbitFormat.csv,
    frame: Annotated[Frame, typer.Option(help="Output frame.")] = Frame.teme,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", help="File (default: standard output; Parquet needs a file)."
        ),
    ] = None,
    backend: Annotated[
        str,
        typer.Option(help="SGP4 backend: torch (batched, CUDA when present) or cpp (python-sgp4)."),
    ] = "torch",
) -> None:
    """Propagate stored element sets with SGP4 and write the states (CSV, Parquet or CCSDS OEM)."""
    import numpy as np
    import pyarrow as pa

    from starbrain import timeconv
    from starbrain.physics import frames as fr_mod
    from starbrain.physics.sgp4 import propagate as sgp4_propagate
    from starbrain.sources.oem import write_oem

    t0 = _time_option(start, timeconv.utc_now(), "--from")
    t1 = _time_option(stop, t0 + np.timedelta64(1, "D"), "--to")
    if not step > 0:
        raise StarbrainError("--step must be positive")
    span_s = (t1 - t0) / np.timedelta64(1, "s")
    if span_s < 0:
        raise StarbrainError(f"--to {t1} is before --from {t0}")
    n_time = int(span_s // step) + 1
    if n_time * len(norad) > 20_000_000:
        raise StarbrainError(
            f"{n_time * len(norad)} states is too many; raise --step or shorten the span"
        )
    if backend not in ("torch", "cpp"):
        raise StarbrainError("--backend must be torch or cpp")
    times = t0 + (np.arange(n_time) * step * 1e9).astype("timedelta64[ns]")
    with _open_store() as store:
        table = _elements_for(store, norad)
    jd, fr = timeconv.datetime64_to_jd(times)
    r_teme, v_teme, err = sgp4_propagate(table, jd, fr, backend=backend)  # type: ignore[arg-type]
    r_out: Any
    v_out: Any
    failed = err != 0
    r_out, v_out = r_teme, v_teme
    if frame is Frame.itrf:
        r_out, v_out = fr_mod.teme_to_itrf(r_teme, v_teme, jd, fr)
    elif frame is Frame.gcrs:
        r_out, v_out = fr_mod.teme_to_gcrs(r_teme, v_teme, jd, fr)
    r, v = np.asarray(r_out), np.asarray(v_out)
    r[failed], v[failed] = np.nan, np.nan
    ids = table.column("norad_id").to_pylist()
    if failed.any():
        from starbrain.physics.sgp4 import SGP4_ERRORS

        for k in np.flatnonzero(failed.any(axis=1)):
            first = int(np.flatnonzero(failed[k])[0])
            code = int(err[k, first])
            err_console.print(
                f"NORAD {ids[k]}: SGP4 error {code} ({SGP4_ERRORS.get(code, '?')}) from "
                f"{times[first]}; {int(failed[k].sum())} of {n_time} states left out",
                highlight=False,
            )
    if fmt is OrbitFormat.oem:
        names = [
            n or str(i) for n, i in zip(table.column("object_name").to_pylist(), ids, strict=True)
        ]
        oids = [
            o or str(i) for o, i in zip(table.column("object_id").to_pylist(), ids, strict=True)
        ]
        text = write_oem(
            times,
            r,
            v,
            names,
            oids,
            frame=frame.value,
            comment="SGP4 (starbrain) from the newest stored element set",
        )
    else:
        n_sat = len(ids)
        out = pa.table(
            {
                "time": pa.array(np.tile(times, n_sat), pa.timestamp("ns", tz="UTC")),
                "norad_id": pa.array(np.repeat(ids, n_time), pa.int32()),
                **{f"{c}_km": r[..., i].reshape(-1) for i, c in enumerate("xyz")},
                **{f"v{c}_kmps": v[..., i].reshape(-1) for i, c in enumerate("xyz")},
                "sgp4_error": pa.array(err.reshape(-1), pa.uint8()),
            }
        )
        if fmt is OrbitFormat.parquet:
            if output is None:
                raise StarbrainError("Parquet needs --output FILE")
            import pyarrow.parquet as pq

            pq.write_table(out, output)
            err_console.print(f"wrote {out.num_rows} states to {output}")
            return
        import io

        import pyarrow.csv as pcsv

        buf = io.BytesIO()
        pcsv.write_csv(out, buf)
        text = buf.getvalue().decode()
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text)
        err_console.print(f"wrote {len(ids)} x {n_time} states ({frame.value}) to {output}")


def _station(spec: str) -> GroundStation:
    from starbrain.planners.passes import parse_station

    try:
        return parse_station(spec)
    except ValueError as exc:
        raise StarbrainError(str(exc)) from None


@app.command()
def passes(
    station: Annotated[list[str], typer.Option(help='Station "NAME:LAT,LON[,ALT_M]"; repeatable.')],
    hours: Annotated[float, typer.Option(help="Window length in hours.")] = 24.0,
    start: Annotated[
        str | None, typer.Option("--from", help="Window start, ISO 8601 UTC (default: now).")
    ] = None,
    min_elevation: Annotated[float, typer.Option(help="Minimum elevation in degrees.")] = 10.0,
    norad: Annotated[
        list[int] | None,
        typer.Option(help="Only these catalogue numbers (default: every stored object)."),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write every pass to a .csv or .parquet file."),
    ] = None,
    limit: Annotated[int, typer.Option(help="Passes to print.")] = 20,
) -> None:
    """Ground passes (rise, culmination, set, maximum elevation, sunlit) over stations."""
    import numpy as np

    from starbrain import timeconv
    from starbrain.planners.passes import find_passes, sgp4_propagator

    stations = [_station(s) for s in station]
    if not 0 < hours <= 24 * 14:
        raise StarbrainError("--hours must be in (0, 336]")
    if not -5 <= min_elevation < 90:
        raise StarbrainError("--min-elevation must be in [-5, 90)")
    t0 = _time_option(start, timeconv.utc_now(), "--from")
    t1 = t0 + np.timedelta64(int(hours * 3600e9), "ns")
    with _open_store() as store:
        table = _elements_for(store, norad)
    ids = table.column("norad_id").to_numpy()
    with err_console.status(f"{len(ids)} satellites x {len(stations)} stations x {hours:g} h"):
        found = find_passes(
            sgp4_propagator(table),
            ids,
            stations,
            t0,
            t1,
            min_elevation_deg=min_elevation,
        )
    if output is not None:
        _write_table(found.to_arrow(), output, "passes")
    order = np.argsort(np.where(np.isnat(found.rise), found.culminate, found.rise), kind="stable")
    view = Table(
        title=f"{len(found)} passes above {min_elevation:g}° from {str(t0)[:19]} UTC, {hours:g} h"
    )
    for col in ("NORAD", "station", "rise", "culmination", "set", "max el °", "sunlit"):
        view.add_column(col, justify="right")

    def hhmmss(t: np.datetime64) -> str:
        return "(before)" if np.isnat(t) else str(t)[:19].replace("T", " ")

    for k in order[:limit]:
        view.add_row(
            str(found.norad_id[k]),
            str(found.station[k]),
            hhmmss(found.rise[k]),
            hhmmss(found.culminate[k]),
            hhmmss(found.set[k]) if not np.isnat(found.set[k]) else "(after)",
            f"{found.max_elevation_deg[k]:.1f}",
            "yes" if found.sunlit[k] else "no",
        )
    console.print(view)
    if len(found) > limit:
        console.print(f"({len(found) - limit} more; raise --limit or use --output)")


def _vector(text: str, n: int, what: str) -> tuple[float, ...]:
    try:
        values = tuple(float(x) for x in text.split(","))
    except ValueError:
        values = ()
    if len(values) != n:
        raise StarbrainError(f"{what} must be {n} comma-separated numbers, got {text!r}")
    return values


class LanderPreset(StrEnum):
    mars_2007 = "mars-2007"
    blackmore_2010 = "blackmore-2010"


@landing_app.command("solve")
def landing_solve(
    r0: Annotated[
        str, typer.Option(help="Initial position x,y,z (m); x is altitude.")
    ] = "1500,500,2000",
    v0: Annotated[str, typer.Option(help="Initial velocity (m/s).")] = "-75,0,100",
    target: Annotated[str, typer.Option(help="Landing site y,z (m).")] = "0,0",
    objective: Annotated[
        str, typer.Option(help="min-fuel, or min-error (Blackmore 2010).")
    ] = "min-fuel",
    tf: Annotated[
        float | None, typer.Option(help="Fixed time of flight (s); default: optimised.")
    ] = None,
    vehicle: Annotated[
        LanderPreset, typer.Option(help="Lander parameters.")
    ] = LanderPreset.mars_2007,
    glide_slope_deg: Annotated[
        float, typer.Option(help="Glide-slope angle above the surface.")
    ] = 4.0,
    max_tilt_deg: Annotated[
        float | None, typer.Option(help="Thrust pointing limit from vertical.")
    ] = None,
    intervals: Annotated[int, typer.Option(help="Time intervals of the discretisation.")] = 55,
    out: Annotated[Path, typer.Option(help="Directory for landing.json and the plots.")] = Path(
        "landing-out"
    ),
) -> None:
    """Fuel-optimal (or landing-error-optimal) powered descent as SOCPs, re-simulated in 3-DOF."""
    import dataclasses
    import math

    from starbrain.planners.landing import (
        BLACKMORE_2010_LANDER,
        MARS_LANDER_2007,
        solve_landing,
        write_landing_outputs,
    )

    if objective not in ("min-fuel", "min-error"):
        raise StarbrainError("--objective must be min-fuel or min-error")
    if not 5 <= intervals <= 400:
        raise StarbrainError("--intervals must be between 5 and 400")
    config = MARS_LANDER_2007 if vehicle is LanderPreset.mars_2007 else BLACKMORE_2010_LANDER
    config = dataclasses.replace(
        config,
        glide_slope_rad=math.radians(glide_slope_deg),
        max_tilt_rad=None if max_tilt_deg is None else math.radians(max_tilt_deg),
    )
    with err_console.status("solving (line search over the time of flight)"):
        result = solve_landing(
            _vector(r0, 3, "--r0"),
            _vector(v0, 3, "--v0"),
            config,
            target_m=_vector(target, 2, "--target"),
            objective=objective.replace("-", "_"),  # type: ignore[arg-type]
            tf_s=tf,
            n_intervals=intervals,
        )
    paths = write_landing_outputs(result, out)
    console.print(
        f"{result.status}: fuel {result.fuel_kg:.2f} kg, time of flight {result.tf_s:.2f} s, "
        f"landing error {result.landing_error_m:.2f} m, relaxation gap "
        f"{float(result.relaxation_gap_n):.1e} N, re-simulated landing off by "
        f"{float(result.resim_position_error_m):.3f} m ({result.n_solves} SOCP solves)",
        highlight=False,
    )
    console.print("wrote " + ", ".join(map(str, paths)), highlight=False)
    if result.status != "optimal":
        raise StarbrainError(f"no feasible landing: {result.status}")


@ascent_app.command("optimize")
def ascent_optimize(
    target_alt_km: Annotated[
        float, typer.Option(help="Target circular orbit altitude (km).")
    ] = 200.0,
    latitude_deg: Annotated[float, typer.Option(help="Launch latitude (deg).")] = 28.5,
    vertical_rise_s: Annotated[
        float, typer.Option(help="Vertical rise before pitch-over (s).")
    ] = 10.0,
    q_max_kpa: Annotated[float | None, typer.Option(help="Dynamic-pressure limit (kPa).")] = None,
    max_aoa_deg: Annotated[float | None, typer.Option(help="Angle-of-attack limit (deg).")] = None,
    out: Annotated[Path, typer.Option(help="Directory for ascent.json and the plots.")] = Path(
        "ascent-out"
    ),
) -> None:
    """Maximum-payload two-stage ascent (Falcon-9-like) to a circular orbit (direct collocation)."""
    import math

    from starbrain.planners.ascent import optimize_ascent, write_ascent_outputs

    if not 150 <= target_alt_km <= 2000:
        raise StarbrainError("--target-alt-km must be between 150 and 2000")
    with err_console.status("optimising (direct collocation)"):
        result = optimize_ascent(
            target_alt_m=target_alt_km * 1e3,
            latitude_rad=math.radians(latitude_deg),
            vertical_rise_s=vertical_rise_s,
            q_max_pa=None if q_max_kpa is None else q_max_kpa * 1e3,
            max_aoa_rad=None if max_aoa_deg is None else math.radians(max_aoa_deg),
        )
    paths = write_ascent_outputs(result, out)
    o = result.orbit_resim
    console.print(
        f"payload {result.payload_kg / 1e3:.2f} t, staging {result.staging_time_s:.1f} s, burnout "
        f"{result.final_time_s:.1f} s; re-flown orbit {o.perigee_alt_m / 1e3:.2f} x "
        f"{o.apogee_alt_m / 1e3:.2f} km; max q {result.max_q_pa / 1e3:.1f} kPa",
        highlight=False,
    )
    console.print("wrote " + ", ".join(map(str, paths)), highlight=False)
    if not result.success:
        raise StarbrainError("the ascent optimisation did not converge")


class _StoreSink:
    """Buffers decoded batches and appends them to the telemetry stream in large transactions."""

    def __init__(self, store: Store, flush_rows: int = 500_000) -> None:
        self.store, self.flush_rows = store, flush_rows
        self.pending: list[pa.RecordBatch] = []
        self.rows = self.stored = 0

    def __call__(self, batch: pa.RecordBatch) -> None:
        self.pending.append(batch)
        self.rows += batch.num_rows
        if self.rows >= self.flush_rows:
            self.flush()

    def flush(self) -> None:
        import pyarrow as pa

        if self.pending:
            self.stored += self.store.append("telemetry", pa.Table.from_batches(self.pending)).n_new
        self.pending, self.rows = [], 0


def _print_decode_stats(stats: object, what: str) -> None:
    import dataclasses

    values = {f.name: getattr(stats, f.name) for f in dataclasses.fields(stats)}  # type: ignore[arg-type]
    counts = {k: v for k, v in values.items() if isinstance(v, int) and not isinstance(v, bool)}
    bad = {
        k: v
        for k, v in counts.items()
        if v and k not in ("bytes", "packets", "parameters", "max_errors")
    }
    console.print(
        f"{what}: {counts.get('packets', 0)} packets, {counts.get('parameters', 0)} parameter "
        f"values from {counts.get('bytes', 0)} bytes",
        highlight=False,
    )
    if bad:
        console.print("  malformed input: " + ", ".join(f"{k} {v}" for k, v in bad.items()))
    for err in getattr(stats, "errors", [])[:MAX_ERRORS_SHOWN]:
        err_console.print(f"  [red]bad packet[/] {err}", highlight=False)


@telemetry_app.command("replay")
def telemetry_replay(
    path: Annotated[Path, typer.Argument(help="A recorded packet file.")],
    definitions: Annotated[
        Path | None, typer.Option(help="Packet definitions (YAML); default: the example launcher.")
    ] = None,
    realtime: Annotated[
        bool, typer.Option(help="Pace by packet time instead of max speed.")
    ] = False,
    speed: Annotated[float, typer.Option(help="With --realtime: times real time.")] = 1.0,
    store: Annotated[bool, typer.Option(help="Append the decoded values to the store.")] = True,
) -> None:
    """Decode a recorded CCSDS packet file; malformed packets are counted, never fatal."""
    from starbrain.sources.telemetry_io import replay

    if not path.is_file():
        raise StarbrainError(f"{path}: no such file")
    if store:
        with _open_store() as db:
            sink = _StoreSink(db)
            stats = replay(path, definitions, sink=sink, realtime=realtime, speed=speed)
            sink.flush()
            console.print(f"stored {sink.stored} parameter values in {db.path}", highlight=False)
    else:
        stats = replay(path, definitions, realtime=realtime, speed=speed)
    _print_decode_stats(stats, str(path))


@telemetry_app.command("listen")
def telemetry_listen(
    port: Annotated[int, typer.Option(help="UDP port.")] = 10015,
    host: Annotated[
        str, typer.Option(help="Address to bind (loopback unless --allow-remote).")
    ] = "127.0.0.1",
    definitions: Annotated[
        Path | None, typer.Option(help="Packet definitions (YAML); default: the example launcher.")
    ] = None,
    duration: Annotated[float | None, typer.Option(help="Stop after this many seconds.")] = None,
    max_packets: Annotated[int | None, typer.Option(help="Stop after this many packets.")] = None,
    allow_remote: Annotated[
        bool, typer.Option(help="Allow binding a non-loopback address.")
    ] = False,
) -> None:
    """Listen for CCSDS packets on UDP and append them to the store until stopped."""
    from starbrain.sources.telemetry_io import listen

    with _open_store() as db:
        sink = _StoreSink(db, flush_rows=100_000)
        err_console.print(f"listening on udp://{host}:{port} (Ctrl-C to stop)")
        report = listen(
            definitions,
            host,
            port,
            sink=sink,
            duration_s=duration,
            max_packets=max_packets,
            allow_remote=allow_remote,
        )
        sink.flush()
    _print_decode_stats(report.stats, f"udp://{host}:{port}")
    console.print(
        f"{report.datagrams} datagrams, {report.dropped_datagrams} dropped; stored {sink.stored} "
        "parameter values",
        highlight=False,
    )


@constellation_app.command("debris")
def constellation_debris(
    count: Annotated[int, typer.Option(help="Number of debris-like objects.")] = 6000,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 20260101,
    epoch: Annotated[
        str | None, typer.Option(help="Epoch, ISO 8601 UTC (default: today 00:00).")
    ] = None,
) -> None:
    """Store a debris-like LEO population (catalogue numbers from 300001), for screening."""
    from starbrain.sources.debris import generate_debris

    if not 1 <= count <= 39_999:
        raise StarbrainError(
            "--count must be between 1 and 39999 (catalogue numbers 300001-339999)"
        )
    table = generate_debris(count, epoch=epoch, seed=seed)
    with _open_store() as db:
        added = db.append("elements", table, source=f"generated:debris:{seed}")
    err_console.print(f"stored {added.n_new} new debris element sets in {db.path}")


def _latest_screening(store: Store) -> pa.Table:
    table = store.read(
        "conjunctions", where="screened_at = (SELECT max(screened_at) FROM conjunctions)"
    )
    if table.num_rows == 0:
        raise StarbrainError("no screening stored yet: run starbrain conjunctions screen")
    return table


@conjunctions_app.command("screen")
def conjunctions_screen(
    start: Annotated[
        str | None, typer.Option("--from", help="Start, ISO 8601 UTC (default: now).")
    ] = None,
    days: Annotated[float, typer.Option(help="Span in days.")] = 7.0,
    threshold_km: Annotated[float, typer.Option(help="Report pairs closer than this.")] = 5.0,
    step_s: Annotated[float, typer.Option(help="Coarse time step of the filter (s).")] = 60.0,
    primary: Annotated[
        list[int] | None, typer.Option(help="Screen only these objects against all.")
    ] = None,
    object_radius_m: Annotated[
        float, typer.Option(help="Hard-body radius of each object (m).")
    ] = 10.0,
    min_pc: Annotated[
        float, typer.Option(help="Keep only conjunctions with Pc at least this.")
    ] = 0.0,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Also write a .parquet or .csv file.")
    ] = None,
    cdm_dir: Annotated[
        Path | None,
        typer.Option(help="Write a CCSDS CDM (KVN) per conjunction with Pc >= --cdm-min-pc."),
    ] = None,
    cdm_min_pc: Annotated[float, typer.Option(help="Pc threshold for CDMs.")] = 1e-4,
) -> None:
    """All-against-all screening of the stored catalogue: TCA, miss, RTN components, Pc."""
    from starbrain.planners.cdm import write_cdms
    from starbrain.planners.conjunctions import screen, show

    if not 0 < days <= 14:
        raise StarbrainError("--days must be in (0, 14]")
    if not 0 < threshold_km <= 50:
        raise StarbrainError("--threshold-km must be in (0, 50]")
    t0 = _time_option(start, None, "--from")
    with _open_store() as store:
        elements = _elements_for(store, None)
        with err_console.status(
            f"screening {elements.num_rows} objects over {days:g} days"
        ) as status:
            table, stats = screen(
                elements,
                start=t0,
                days=days,
                threshold_km=threshold_km,
                step_s=step_s,
                primaries=primary,
                object_radius_m=object_radius_m,
                min_pc=min_pc,
                progress=lambda msg: status.update(msg),
            )
        store.append("conjunctions", table)
    console.print(stats.summary(), highlight=False)
    console.print(show(table, sort="pc", limit=10), highlight=False)
    if output is not None:
        _write_table(table, output)
    if cdm_dir is not None:
        import numpy as np

        pc_col = table.column("collision_probability").to_numpy(zero_copy_only=False)
        rows = np.flatnonzero(pc_col >= cdm_min_pc)
        paths = write_cdms(table, cdm_dir, rows=rows.tolist())
        err_console.print(f"wrote {len(paths)} CDMs to {cdm_dir}")


def _write_table(table: pa.Table, output: Path, what: str = "rows") -> None:
    """A table to ``output``: Parquet for a .parquet suffix, else CSV."""
    if output.suffix == ".parquet":
        import pyarrow.parquet as pq

        pq.write_table(table, output)
    else:
        import pyarrow.csv as pcsv

        pcsv.write_csv(table, output)
    err_console.print(f"wrote {table.num_rows} {what} to {output}")


@conjunctions_app.command("show")
def conjunctions_show(
    sort: Annotated[str, typer.Option(help="pc, miss or tca.")] = "pc",
    limit: Annotated[int, typer.Option(help="Rows to show.")] = 20,
    norad: Annotated[int | None, typer.Option(help="Only conjunctions of this object.")] = None,
    min_pc: Annotated[float | None, typer.Option(help="Only Pc at least this.")] = None,
    max_miss_m: Annotated[float | None, typer.Option(help="Only misses under this (m).")] = None,
    cdm: Annotated[
        int | None, typer.Option(help="Print the CCSDS CDM of this row (0 = first shown).")
    ] = None,
) -> None:
    """The newest screening's conjunctions, or one as a CCSDS CDM."""
    from starbrain.planners.cdm import conjunction_cdm
    from starbrain.planners.conjunctions import select_conjunctions, show

    with _open_store() as store:
        table = _latest_screening(store)
    max_miss_km = None if max_miss_m is None else max_miss_m / 1e3
    try:
        if cdm is None:
            text = show(
                table,
                sort=sort,
                limit=limit,
                norad_id=norad,
                min_pc=min_pc,
                max_miss_km=max_miss_km,
            )
            console.print(text, highlight=False)
            return
        chosen = select_conjunctions(
            table, sort=sort, norad_id=norad, min_pc=min_pc, max_miss_km=max_miss_km
        )
    except ValueError as exc:
        raise StarbrainError(str(exc)) from None
    if not 0 <= cdm < chosen.num_rows:
        raise StarbrainError(f"--cdm {cdm} is out of range (0..{chosen.num_rows - 1})")
    sys.stdout.write(conjunction_cdm(chosen, cdm))


@conjunctions_app.command("avoid")
def conjunctions_avoid(
    norad: Annotated[int, typer.Argument(help="The object that manoeuvres.")],
    other: Annotated[
        int | None, typer.Option(help="The other object (default: the highest-Pc one).")
    ] = None,
    tca: Annotated[str | None, typer.Option(help="Time of closest approach, ISO 8601 UTC.")] = None,
    pc_max: Annotated[float, typer.Option(help="Target probability of collision.")] = 1e-4,
    min_miss_m: Annotated[
        float | None, typer.Option(help="Also require this miss distance (m).")
    ] = None,
    lead_orbits: Annotated[float, typer.Option(help="Burn this many orbits before TCA.")] = 1.5,
    max_dv_mps: Annotated[float, typer.Option(help="Largest burn considered (m/s).")] = 1.0,
    three_d: Annotated[
        bool, typer.Option(help="Full 3-D burn instead of along-track only.")
    ] = False,
    verify: Annotated[
        bool, typer.Option(help="Re-screen the manoeuvred object against all.")
    ] = True,
    store_plan: Annotated[
        bool, typer.Option("--store/--no-store", help="Store the plan and the new element set.")
    ] = True,
) -> None:
    """Minimum-Δv impulsive avoidance burn for a stored conjunction, verified by re-screening."""
    from starbrain.planners.avoidance import avoid

    with _open_store() as store:
        conj = _latest_screening(store)
        elements = _elements_for(store, None)
        with err_console.status("planning (sensitivity, burn search, re-screening)"):
            try:
                plan = avoid(
                    conj,
                    elements,
                    norad_id=norad,
                    other=other,
                    tca=tca,
                    pc_max=pc_max,
                    min_miss_m=min_miss_m,
                    lead_orbits=lead_orbits,
                    max_dv_mps=max_dv_mps,
                    three_d=three_d,
                    verify=verify,
                )
            except ValueError as exc:
                raise StarbrainError(str(exc)) from None
        console.print(plan.summary(), highlight=False)
        if store_plan:
            store.append("manoeuvres", plan.to_arrow())
            if plan.verified:
                store.append("elements", plan.elements, source="manoeuvre")
    if verify and not plan.verified:
        raise StarbrainError("no burn within --max-dv-mps was verified; nothing was applied")


@app.command("fit-elements")
def fit_elements_command(
    path: Annotated[
        Path, typer.Argument(help="A CCSDS OEM file (KVN): TEME, GCRF/EME2000 or ITRF.")
    ],
    fmt: Annotated[
        ExportFormat, typer.Option("--format", help="Output format.")
    ] = ExportFormat.tle,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="File to write (default: standard output)."),
    ] = None,
    store: Annotated[
        bool, typer.Option(help="Also append the fitted element sets to the store.")
    ] = False,
) -> None:
    """Least-squares SGP4 mean elements (with B*) for each OEM segment, via differentiable SGP4."""
    from starbrain.models.fitting import fit_oem

    if not path.is_file():
        raise StarbrainError(f"{path}: no such file")
    with err_console.status("fitting (Levenberg-Marquardt through SGP4)"):
        result = fit_oem(path.read_text(errors="replace"), str(path))
    for err in result.errors[:MAX_ERRORS_SHOWN]:
        err_console.print(f"  [red]bad input[/] {err}", highlight=False)
    if result.table.num_rows == 0:
        raise StarbrainError(f"{path}: no segment could be fitted")
    ids = result.table.column("norad_id").to_pylist()
    for norad, rms in zip(ids, result.rms_km, strict=True):
        err_console.print(f"NORAD {norad}: fit RMS {rms * 1e3:.2f} m", highlight=False)
    text = _render(result.table, fmt)
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text)
        err_console.print(f"wrote {result.table.num_rows} element sets to {output}")
    if store:
        with _open_store() as db:
            db.append("elements", result.table, source=str(path))


@app.command()
def serve(
    host: Annotated[
        str, typer.Option(help="Address to bind; anything but loopback needs --token.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    token: Annotated[
        str | None,
        typer.Option(
            help="Access token (>= 16 characters).", envvar="STARBRAIN_TOKEN", show_default=False
        ),
    ] = None,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
) -> None:
    """The web console and REST/WebSocket API (OpenAPI docs at /api/docs)."""
    from starbrain.console import serve as serve_console

    serve_console(host=host, port=port, token=token, log_level=log_level)


@app.command()
def demo() -> None:
    """The whole loop on embedded defaults: build a catalogue, store it, summarise it."""
    from starbrain.loop.demo import run_demo

    run_demo(console)


def main() -> None:
    """Entry point: run the app, turning errors into one clear sentence."""
    debug = "--debug" in sys.argv or os.environ.get("STARBRAIN_DEBUG") == "1"
    started = time.perf_counter()
    try:
        app()
    except StarbrainError as exc:
        if debug:
            raise
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False)
        sys.exit(1)
    except KeyboardInterrupt:
        err_console.print("interrupted")
        sys.exit(130)
    except Exception as exc:  # the last resort: still one sentence, with the way to learn more
        if debug:
            raise
        err_console.print(
            f"[bold red]error:[/] {type(exc).__name__}: {exc} "
            f"(after {time.perf_counter() - started:.1f} s; rerun with --debug for the traceback)",
            highlight=False,
        )
        sys.exit(1)


if __name__ == "__main__":
    main()
