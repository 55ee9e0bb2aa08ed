"""``starbrain propagate``, ``passes`` and ``fit-elements``: orbit prediction commands."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from starbrain.cli._common import (
    MAX_ERRORS_SHOWN,
    ExportFormat,
    FormatOption,
    OutputFormat,
    _elements_for,
    _emit,
    _notes,
    _open_store,
    _render,
    _station,
    _time_option,
    _write_table,
    app,
    err_console,
)
from starbrain.cli._propagator import ModelOption, _propagator, _report_provenance
from starbrain.core.errors import StarbrainError


class OrbitFormat(StrEnum):
    csv = "csv"
    parquet = "parquet"
    oem = "oem"


class Frame(StrEnum):
    teme = "teme"
    gcrs = "gcrs"
    itrf = "itrf"


def _propagate_times(
    start: str | None, stop: str | None, step: float, n_objects: int, backend: str
) -> Any:
    """The states' times (datetime64[ns], every ``step`` s from --from to --to); the options'
    checks, each a one-sentence error."""
    import numpy as np

    from starbrain.core import timeconv

    t0 = _time_option(start, timeconv.utc_now(), "--from")
    t1 = _time_option(stop, t0 + np.timedelta64(1, "D"), "--to")
    if not step > 0:
        raise StarbrainError("--step must be positive")
    span_s = (t1 - t0) / np.timedelta64(1, "s")
    if span_s < 0:
        raise StarbrainError(f"--to {t1} is before --from {t0}")
    n_time = int(span_s // step) + 1
    if n_time * n_objects > 20_000_000:
        raise StarbrainError(
            f"{n_time * n_objects} states is too many; raise --step or shorten the span"
        )
    if backend not in ("torch", "cpp"):
        raise StarbrainError("--backend must be torch or cpp")
    return t0 + (np.arange(n_time) * step * 1e9).astype("timedelta64[ns]")


def _sgp4_states(table: Any, times: Any, frame: Frame, backend: str) -> tuple[Any, Any, Any]:
    """SGP4 states of ``table``'s objects at ``times`` in ``frame``: r (km), v (km/s), each
    (n_objects, n_times, 3) with NaN where SGP4 failed, and the SGP4 error codes
    (n_objects, n_times); each failing object is said on standard error."""
    import numpy as np

    from starbrain.core import timeconv
    from starbrain.physics import frames as fr_mod
    from starbrain.physics.sgp4 import propagate as sgp4_propagate

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
    if failed.any():
        from starbrain.physics.sgp4 import SGP4_ERRORS

        ids = table.column("norad_id").to_pylist()
        for k in np.flatnonzero(failed.any(axis=1)):
            first = int(np.flatnonzero(failed[k])[0])
            code = int(err[k, first])
            err_console.print(
                f"NORAD {ids[k]}: SGP4 error {code} ({SGP4_ERRORS.get(code, '?')}) from "
                f"{times[first]}; {int(failed[k].sum())} of {len(times)} states left out",
                highlight=False,
            )
    return r, v, err


def _oem_text(table: Any, times: Any, r: Any, v: Any, frame: Frame) -> str:
    """The states as a CCSDS OEM (one segment per object)."""
    from starbrain.sources.ephemerides.oem import write_oem

    ids = table.column("norad_id").to_pylist()
    names = [n or str(i) for n, i in zip(table.column("object_name").to_pylist(), ids, strict=True)]
    oids = [o or str(i) for o, i in zip(table.column("object_id").to_pylist(), ids, strict=True)]
    return write_oem(
        times,
        r,
        v,
        names,
        oids,
        frame=frame.value,
        comment="SGP4 (starbrain) from the newest stored element set",
    )


def _states_table(table: Any, times: Any, r: Any, v: Any, err: Any) -> Any:
    """The states as one Arrow table: time, norad_id, x/y/z_km, vx/vy/vz_kmps, sgp4_error."""
    import numpy as np
    import pyarrow as pa

    ids = table.column("norad_id").to_pylist()
    return pa.table(
        {
            "time": pa.array(np.tile(times, len(ids)), pa.timestamp("ns", tz="UTC")),
            "norad_id": pa.array(np.repeat(ids, len(times)), pa.int32()),
            **{f"{c}_km": r[..., i].reshape(-1) for i, c in enumerate("xyz")},
            **{f"v{c}_kmps": v[..., i].reshape(-1) for i, c in enumerate("xyz")},
            "sgp4_error": pa.array(err.reshape(-1), pa.uint8()),
        }
    )


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
    times = _propagate_times(start, stop, step, len(norad), backend)
    with _open_store(read_only=True) as store:
        table = _elements_for(store, norad)
    r, v, err = _sgp4_states(table, times, frame, backend)
    if fmt is OrbitFormat.oem:
        text = _oem_text(table, times, r, v, frame)
    else:
        out = _states_table(table, times, r, v, err)
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
        n = f"{table.num_rows} x {len(times)}"
        err_console.print(f"wrote {n} states ({frame.value}) to {output}")


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
    model: ModelOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Ground passes (rise, culmination, set, maximum elevation, sunlit) over stations.

    csv/json: the passes schema (norad_id, station, rise, culminate, set, max_elevation_deg,
    sunlit), in time order; rise is null when already up at the start, set when still up at the
    end."""
    import numpy as np

    from starbrain.core import timeconv
    from starbrain.planners.passes import find_passes
    from starbrain.planners.propagator import utc_propagate

    stations = [_station(s) for s in station]
    if not 0 < hours <= 24 * 14:
        raise StarbrainError("--hours must be in (0, 336]")
    if not -5 <= min_elevation < 90:
        raise StarbrainError("--min-elevation must be in [-5, 90)")
    t0 = _time_option(start, timeconv.utc_now(), "--from")
    t1 = t0 + np.timedelta64(int(hours * 3600e9), "ns")
    with _open_store(read_only=True) as store:
        table = _elements_for(store, norad)
        propagator = _propagator(store, model)
    ids = table.column("norad_id").to_numpy()
    with err_console.status(f"{len(ids)} satellites x {len(stations)} stations x {hours:g} h"):
        found = find_passes(
            utc_propagate(propagator, table),
            ids,
            stations,
            t0,
            t1,
            min_elevation_deg=min_elevation,
        )
    _report_provenance(propagator)
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
    _emit(found.to_arrow().take(order[:limit]), fmt, view)
    if len(found) > limit:
        _notes(fmt).print(f"({len(found) - limit} more; raise --limit or use --output)")


@app.command("fit-elements")
def fit_elements_command(
    path: Annotated[
        Path, typer.Argument(help="A CCSDS OEM file (KVN or XML): TEME, GCRF/EME2000 or ITRF.")
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
    window_hours: Annotated[
        float | None,
        typer.Option(help="Fit only each segment's first H hours (default: all of it)."),
    ] = None,
    bstar: Annotated[
        float | None, typer.Option(help="Hold B* fixed at this value (1/earth radii).")
    ] = None,
    bstar_bounds: Annotated[
        str | None,
        typer.Option(metavar="LO,HI", help="Fit B* inside [LO, HI] (1/earth radii)."),
    ] = None,
) -> None:
    """Least-squares SGP4 mean elements (with B*) for each OEM segment, via differentiable SGP4.

    The epoch is each segment's first state; B* is fitted (from 1e-4) unless --bstar fixes it."""
    from starbrain.models.fitting import fit_oem

    if not path.is_file():
        raise StarbrainError(f"{path}: no such file")
    bounds = _bstar_options(window_hours, bstar, bstar_bounds)
    with err_console.status("fitting (Levenberg-Marquardt through SGP4)"):
        result = fit_oem(
            path.read_text(errors="replace"), str(path), window_hours=window_hours,
            bstar=bstar, bstar_bounds=bounds,
        )  # fmt: skip
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


def _bstar_options(
    window_hours: float | None, bstar: float | None, bstar_bounds: str | None
) -> tuple[float, float] | None:
    """--window-hours, --bstar and --bstar-bounds checked; the bounds as (lo, hi) or None."""
    import math

    if window_hours is not None and not window_hours > 0:
        raise StarbrainError("--window-hours must be positive")
    if bstar is not None and not math.isfinite(bstar):
        raise StarbrainError("--bstar must be a finite number")
    if bstar_bounds is None:
        return None
    if bstar is not None:
        raise StarbrainError("give --bstar (fixed) or --bstar-bounds (fitted), not both")
    try:
        lo, hi = (float(x) for x in bstar_bounds.split(","))
    except ValueError:
        raise StarbrainError(
            f"--bstar-bounds {bstar_bounds!r}: expected LO,HI (two numbers, e.g. 0,5e-4)"
        ) from None
    if not (math.isfinite(lo) and math.isfinite(hi) and lo <= hi):
        raise StarbrainError(f"--bstar-bounds {bstar_bounds!r}: need finite LO <= HI")
    return lo, hi
