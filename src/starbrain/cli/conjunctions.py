"""``starbrain conjunctions``: screening, CDMs and avoidance manoeuvres."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from starbrain.core.errors import StarbrainError

if TYPE_CHECKING:
    import pyarrow as pa

    from starbrain.store.database import Store

from starbrain.cli._common import (
    FormatOption,
    OutputFormat,
    _elements_for,
    _emit,
    _notes,
    _open_store,
    _time_option,
    _write_table,
    app,
    console,
    err_console,
)
from starbrain.cli._propagator import ModelOption, _propagator

conjunctions_app = typer.Typer(
    help="Conjunction screening, CCSDS CDMs and avoidance manoeuvres.", no_args_is_help=True
)
app.add_typer(conjunctions_app, name="conjunctions")


def _latest_screening(store: Store) -> pa.Table:
    """The current conjunctions (:func:`starbrain.store.queries.latest_conjunctions`)."""
    from starbrain.store.queries import latest_conjunctions

    table = latest_conjunctions(store)
    if table.num_rows == 0:
        raise StarbrainError("no screening stored yet: run starbrain conjunctions screen")
    return table


def _check_screen_options(days: float, threshold_km: float, shards: int | None) -> None:
    """``conjunctions screen``'s option ranges, each a one-sentence error."""
    if not 0 < days <= 14:
        raise StarbrainError("--days must be in (0, 14]")
    if not 0 < threshold_km <= 50:
        raise StarbrainError("--threshold-km must be in (0, 50]")
    if shards is not None and shards < 1:
        raise StarbrainError("--shards must be at least 1")


def _run_screen(elements: pa.Table, ray_address: str | None, **kwargs: Any) -> tuple[pa.Table, Any]:
    """:func:`starbrain.planners.conjunctions.screen` here (with a status line) or on Ray:
    (the conjunctions table, its statistics); a ValueError becomes one sentence."""
    from starbrain.planners.conjunctions import screen

    what = f"screening {elements.num_rows} objects over {kwargs['days']:g} days"
    try:
        if ray_address is None:
            with err_console.status(what) as status:
                return screen(elements, progress=lambda msg: status.update(msg), **kwargs)
        err_console.print(f"{what} on Ray at {ray_address}", highlight=False)
        return screen(elements, ray_address=ray_address, **kwargs)
    except ValueError as exc:
        raise StarbrainError(str(exc)) from None


def _store_screening(
    store: Store, table: pa.Table, t0: Any, days: float, threshold_km: float
) -> None:
    """The screening's rows and the record of the run (span ``t0`` + ``days``), together."""
    from starbrain.store.queries import store_screening

    store_screening(
        store,
        table,
        start=t0,
        days=days,
        threshold_km=threshold_km,
        source="cli:conjunctions screen",
    )


def _write_screen_cdms(table: pa.Table, cdm_dir: Path, cdm_min_pc: float) -> None:
    """A CCSDS CDM (KVN) in ``cdm_dir`` per conjunction with Pc >= ``cdm_min_pc``."""
    import numpy as np

    from starbrain.report.cdm import write_cdms

    pc_col = table.column("collision_probability").to_numpy(zero_copy_only=False)
    rows = np.flatnonzero(pc_col >= cdm_min_pc)
    paths = write_cdms(table, cdm_dir, rows=rows.tolist())
    err_console.print(f"wrote {len(paths)} CDMs to {cdm_dir}")


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
    model: ModelOption = None,
    ray_address: Annotated[
        str | None,
        typer.Option(
            help="Shard the screening over Ray: 'local' starts Ray here, 'auto' or "
            "'ray://host:port' joins a cluster (default: in this process)."
        ),
    ] = None,
    shards: Annotated[
        int | None,
        typer.Option(help="Time shards of the window (default: 1 here, 2 per CPU on Ray)."),
    ] = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """All-against-all screening of the stored catalogue: TCA, miss, RTN components, Pc.

    The table shows the ten most probable; csv/json carry every conjunction found (most
    probable first) with the conjunctions schema's fields."""
    from starbrain.core import timeconv
    from starbrain.planners.conjunctions import select_conjunctions
    from starbrain.report.conjunctions import show

    _check_screen_options(days, threshold_km, shards)
    t0 = _time_option(start, None, "--from")
    if t0 is None:  # now, fixed here so that the recorded span is the one screened
        t0 = timeconv.utc_now()
    with _open_store() as store:
        elements = _elements_for(store, None)
        propagator = _propagator(store, model)
        table, stats = _run_screen(
            elements,
            ray_address,
            start=t0,
            days=days,
            threshold_km=threshold_km,
            step_s=step_s,
            primaries=primary,
            object_radius_m=object_radius_m,
            min_pc=min_pc,
            propagator=propagator,
            shards=shards,
        )
        _store_screening(store, table, t0, days, threshold_km)
    _notes(fmt).print(stats.summary(), highlight=False)
    _emit(
        select_conjunctions(table, sort="pc") if fmt is not OutputFormat.table else table,
        fmt,
        lambda: show(table, sort="pc", limit=10),
    )
    if output is not None:
        _write_table(table, output)
    if cdm_dir is not None:
        _write_screen_cdms(table, cdm_dir, cdm_min_pc)


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
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """The current conjunctions, or one as a CCSDS CDM: each pair's encounters as the newest
    screening covering their time found them (older screenings' rows where no newer screening
    looked; see the README's conjunctions section).

    csv/json: the conjunctions schema's fields (tca, norad_id_1/2, miss_distance_km, miss_r_km,
    miss_t_km, miss_n_km, relative_speed_kmps, collision_probability, ...), in the shown order."""
    from starbrain.planners.cdm import conjunction_cdm
    from starbrain.planners.conjunctions import select_conjunctions
    from starbrain.report.conjunctions import show

    with _open_store(read_only=True) as store:
        table = _latest_screening(store)
    max_miss_km = None if max_miss_m is None else max_miss_m / 1e3
    try:
        chosen = select_conjunctions(
            table, sort=sort, norad_id=norad, min_pc=min_pc, max_miss_km=max_miss_km
        )
        if cdm is None:
            text = show(
                table,
                sort=sort,
                limit=limit,
                norad_id=norad,
                min_pc=min_pc,
                max_miss_km=max_miss_km,
            )
            _emit(chosen.slice(0, limit), fmt, text)
            if fmt is not OutputFormat.table and chosen.num_rows > limit:
                _notes(fmt).print(f"({chosen.num_rows - limit} more rows; raise --limit)")
            return
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
    model: ModelOption = None,
) -> None:
    """Minimum-Δv impulsive avoidance burn for a stored conjunction, verified by re-screening
    (with the propagator ``--model`` names, as ``passes``, ``contacts plan`` and ``route``)."""
    from starbrain.planners.avoidance import avoid

    with _open_store() as store:
        conj = _latest_screening(store)
        elements = _elements_for(store, None)
        propagator = _propagator(store, model)
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
                    propagator=propagator,
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
