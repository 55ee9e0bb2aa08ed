"""``starbrain ephemeris``: load, inspect and export precise ephemerides (OEM KVN/XML, SP3-c/d)."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from starbrain.cli._common import (
    FormatOption,
    OutputFormat,
    _check_loadable,
    _emit,
    _notes,
    _open_store,
    _print_errors,
    _progress,
    app,
    console,
    err_console,
)
from starbrain.cli.catalog import _conflict_note
from starbrain.core.errors import StarbrainError

ephemeris_app = typer.Typer(
    help="Precise ephemerides (truth data): CCSDS OEM (KVN, XML) and IGS SP3-c/d.",
    no_args_is_help=True,
)
app.add_typer(ephemeris_app, name="ephemeris")


class EphemerisFormat(StrEnum):
    auto = "auto"
    oem = "oem"
    oem_xml = "oem-xml"
    sp3 = "sp3"


class OemFormat(StrEnum):
    oem = "oem"
    oem_xml = "oem-xml"


@ephemeris_app.command("load")
def ephemeris_load(
    paths: Annotated[list[Path], typer.Argument(help="OEM (KVN or XML) or SP3-c/d files.")],
    fmt: Annotated[
        EphemerisFormat,
        typer.Option("--format", help="oem (KVN), oem-xml or sp3; auto detects it."),
    ] = EphemerisFormat.auto,
    strict: Annotated[
        bool, typer.Option(help="Any bad record is fatal and nothing is written.")
    ] = False,
    replace: Annotated[
        bool,
        typer.Option(
            "--replace",
            help="A state with a stored state's key (object, time, frame, file) but another "
            "position, velocity or centre replaces it (within one file the last wins). "
            "Default: keep the stored (or first) one and report the conflict.",
        ),
    ] = False,
) -> None:
    """Load ephemeris files into the store; report every bad record with its file, line and field.

    Times are stored in UTC (GPS, TAI, TT ... converted with leap seconds), positions in km,
    velocities in km/s, frames normalised (EME2000/J2000, GCRF, ICRF, TEME, ITRF).
    """
    from starbrain.sources.ephemerides.oem import load_ephemeris

    results = []
    from rich.progress import TaskID

    with _progress("parsing", total=len(paths)) as (progress, task_no):
        task = TaskID(task_no)
        for path in paths:
            progress.update(task, description=f"parsing {path.name}")
            results.append(load_ephemeris(path, fmt.value))
            progress.advance(task)
    for result in results:
        _print_errors(result)
    _check_loadable(results, strict, "states")
    with _open_store() as store:
        for result in results:
            added = store.append(
                "ephemeris",
                result.table,
                source=result.source,
                n_errors=len(result.errors),
                on_conflict="replace" if replace else "keep",
            )
            n_obj = len(set(result.table.column("object_id").to_pylist()))
            conflicts = f"{added.n_conflict} conflicting, " if added.n_conflict else ""
            console.print(
                f"{result.source}: {result.n_good} states of {n_obj} objects, {added.n_new} new, "
                f"{added.n_duplicate} duplicate, {conflicts}{len(result.errors)} bad",
                highlight=False,
            )
            _conflict_note(added, "states", replace)
        console.print(
            f"store {store.path}: {store.count('ephemeris')} ephemeris states",
            highlight=False,
        )


def _stamp(t: object) -> str:
    return str(t)[:23].replace("T", " ")


@ephemeris_app.command("show")
def ephemeris_show(
    object_id: Annotated[
        str | None, typer.Option("--object", help="An object's id (OEM OBJECT_ID, SP3 'G01').")
    ] = None,
    limit: Annotated[int, typer.Option(help="Rows to show at most.")] = 20,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Summarise stored ephemerides per object, frame and file; or list one object's states.

    csv/json: the summary's object_id, object_name, frame, center, source, n_states,
    n_velocities, first_time, last_time; or, with --object, the states with the ephemeris
    schema's fields (time, x, y, z in km, vx, vy, vz in km/s, frame, center, source, ...)."""
    with _open_store(read_only=True) as store:
        if object_id is None:
            from starbrain.store.queries import ephemeris_summary

            summary = ephemeris_summary(store).to_pylist()
            if not summary:
                raise StarbrainError(
                    "no ephemerides stored; load some first (starbrain ephemeris load FILE)"
                )
            view = Table(title=f"{store.path}: {store.count('ephemeris')} ephemeris states")
            for col in ("object", "name", "frame", "centre", "states", "velocities", "first (UTC)",
                        "last (UTC)", "source"):  # fmt: skip
                view.add_column(col)
            for row in summary[:limit]:
                view.add_row(
                    row["object_id"], row["name"] or "", row["frame"], row["center"],
                    str(row["n"]), str(row["n_vel"]), _stamp(row["first"]), _stamp(row["last"]),
                    row["source"],
                )  # fmt: skip
            records = [
                {"object_id": r["object_id"], "object_name": r["name"], "frame": r["frame"],
                 "center": r["center"], "source": r["source"], "n_states": r["n"],
                 "n_velocities": r["n_vel"], "first_time": r["first"], "last_time": r["last"]}
                for r in summary[:limit]
            ]  # fmt: skip
            _emit(records, fmt, view)
            if len(summary) > limit:
                _notes(fmt).print(f"({len(summary) - limit} more rows; raise --limit)")
            return
        table = store.read("ephemeris", where="object_id = ?", params=[object_id])
    if table.num_rows == 0:
        raise StarbrainError(f"no ephemeris stored for object {object_id!r}")
    d = table.slice(0, limit).to_pylist()
    view = Table(title=f"{object_id}: {table.num_rows} states")
    for col in ("time (UTC)", "x km", "y km", "z km", "vx km/s", "vy km/s", "vz km/s", "frame",
                "source"):  # fmt: skip
        view.add_column(col, justify="left" if col in ("frame", "source") else "right")
    for row in d:
        vel = [f"{row[c]:.9f}" if row[c] is not None else "-" for c in ("vx", "vy", "vz")]
        view.add_row(
            _stamp(row["time"].isoformat()), *(f"{row[c]:.6f}" for c in "xyz"), *vel,
            row["frame"], row["source"],
        )  # fmt: skip
    _emit(table.slice(0, limit), fmt, view)
    if table.num_rows > limit:
        _notes(fmt).print(f"({table.num_rows - limit} more rows; raise --limit)")


@ephemeris_app.command("export")
def ephemeris_export(
    output: Annotated[Path, typer.Argument(help="File to write; '-' for standard output.")],
    object_id: Annotated[str, typer.Option("--object", help="The object's id.")],
    fmt: Annotated[
        OemFormat, typer.Option("--format", help="oem (KVN) or oem-xml.")
    ] = OemFormat.oem,
    frame: Annotated[
        str | None, typer.Option(help="Only states in this frame (e.g. ITRF, EME2000).")
    ] = None,
    source: Annotated[str | None, typer.Option(help="Only states loaded from this file.")] = None,
) -> None:
    """Write one object's stored states as a CCSDS OEM (one segment per frame and source file)."""
    from starbrain.sources.ephemerides.oem import (
        normalise_frame,
        segments_from_table,
        write_oem_segments,
    )

    where, params = ["object_id = ?"], [object_id]
    if frame is not None:
        where.append("frame = ?")
        params.append(normalise_frame(frame))
    if source is not None:
        where.append("source = ?")
        params.append(source)
    with _open_store(read_only=True) as store:
        table = store.read("ephemeris", where=" AND ".join(where), params=params)
    if table.num_rows == 0:
        raise StarbrainError(f"no ephemeris stored for object {object_id!r} with those filters")
    if table.column("vx").null_count:
        raise StarbrainError(
            f"{table.column('vx').null_count} of {table.num_rows} stored states of {object_id} "
            "have no velocity (e.g. an SP3 'P' file); an OEM needs all six components"
        )
    segments = segments_from_table(table)
    text = write_oem_segments(
        segments, "xml" if fmt is OemFormat.oem_xml else "kvn", comment="exported by starbrain"
    )
    if str(output) == "-":
        sys.stdout.write(text)
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text)
    err_console.print(
        f"wrote {table.num_rows} states of {object_id} in {len(segments)} segment(s) to {output}"
    )
