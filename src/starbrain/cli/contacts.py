"""``starbrain contacts``: ground-station contact plans (MILP and a greedy baseline)."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from starbrain.cli._common import (
    FormatOption,
    OutputFormat,
    _elements_for,
    _emit,
    _notes,
    _open_store,
    _show,
    _time_option,
    _write_table,
    app,
    err_console,
)
from starbrain.cli._propagator import ModelOption, _propagator
from starbrain.core.errors import StarbrainError

contacts_app = typer.Typer(
    help="Ground-station contact planning: which satellite each antenna tracks when.",
    no_args_is_help=True,
)
app.add_typer(contacts_app, name="contacts")


class Method(StrEnum):
    milp = "milp"
    greedy = "greedy"
    both = "both"


@contacts_app.command("plan")
def contacts_plan(
    station: Annotated[
        list[str],
        typer.Option(
            help='Station "NAME:LAT,LON[,ALT_M]" or a known name (e.g. Svalbard); repeatable.'
        ),
    ],
    antennas: Annotated[int, typer.Option(help="Antennas per station.")] = 1,
    min_elevation: Annotated[float, typer.Option(help="Minimum elevation in degrees.")] = 10.0,
    rate_mbps: Annotated[float, typer.Option(help="Downlink rate per antenna, Mbit/s.")] = 100.0,
    setup_s: Annotated[
        float, typer.Option(help="Set-up (slew, acquisition) between contacts on one antenna, s.")
    ] = 60.0,
    demand_mbit: Annotated[
        float, typer.Option(help="Data each satellite wants down, Mbit.")
    ] = 30_000.0,
    storage_mbit: Annotated[
        float | None, typer.Option(help="Onboard storage per satellite, Mbit (default: unlimited).")
    ] = None,
    generation_mbps: Annotated[
        float, typer.Option(help="Data each satellite generates, Mbit/s (0: what it holds now).")
    ] = 0.0,
    hours: Annotated[float, typer.Option(help="Planning horizon in hours.")] = 6.0,
    start: Annotated[
        str | None, typer.Option("--from", help="Horizon start, ISO 8601 UTC (default: now).")
    ] = None,
    slot_s: Annotated[float, typer.Option(help="Slot length, s.")] = 60.0,
    norad: Annotated[
        list[int] | None,
        typer.Option(help="Only these catalogue numbers (default: the stored catalogue)."),
    ] = None,
    max_satellites: Annotated[
        int, typer.Option(help="Without --norad, plan for the first N stored objects.")
    ] = 200,
    method: Annotated[Method, typer.Option(help="Planner(s) to run.")] = Method.both,
    time_limit: Annotated[float, typer.Option(help="MILP time limit, s.")] = 60.0,
    mip_gap: Annotated[float, typer.Option(help="MILP relative optimality gap to stop at.")] = 1e-3,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write the plan(s) to a .csv or .parquet file."),
    ] = None,
    limit: Annotated[int, typer.Option(help="Contacts to print.")] = 15,
    model: ModelOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Plan downlink contacts maximising delivered data; compare the MILP with greedy.

    csv/json: the first --limit contacts of the last plan run (the MILP with --method both),
    with the contacts schema's fields (norad_id, station, antenna, start, end, data_mbit, ...);
    the comparison of the methods then goes to standard error."""
    import numpy as np
    import pyarrow as pa

    from starbrain.core import timeconv
    from starbrain.planners.contacts import (
        ContactPlan,
        ContactStation,
        Fleet,
        contact_problem,
        plan_greedy,
        plan_milp,
    )
    from starbrain.planners.passes import KNOWN_STATIONS, parse_station
    from starbrain.planners.propagator import utc_propagate

    if not 0 < hours <= 72:
        raise StarbrainError("--hours must be in (0, 72]")
    if not 1 <= slot_s <= 3600:
        raise StarbrainError("--slot-s must be in [1, 3600]")
    if not time_limit > 0 or not 0 <= mip_gap < 1:
        raise StarbrainError("--time-limit must be positive and --mip-gap in [0, 1)")
    if max_satellites < 1:
        raise StarbrainError("--max-satellites must be at least 1")
    try:
        sites = [parse_station(s, KNOWN_STATIONS) for s in station]
        stations = [ContactStation(s, antennas, min_elevation, rate_mbps, setup_s) for s in sites]
    except ValueError as exc:
        raise StarbrainError(str(exc)) from None
    if len({s.name for s in sites}) != len(sites):
        raise StarbrainError("two stations have the same name")
    t0 = _time_option(start, timeconv.utc_now(), "--from")
    t1 = t0 + np.timedelta64(int(hours * 3600e9), "ns")
    with _open_store(read_only=True) as store:
        table = _elements_for(store, norad)
        propagator = _propagator(store, model)
    if not norad and table.num_rows > max_satellites:
        err_console.print(
            f"planning for the first {max_satellites} of {table.num_rows} stored objects "
            "(raise --max-satellites or pick with --norad)"
        )
        table = table.sort_by("norad_id").slice(0, max_satellites)
    try:
        fleet = Fleet.uniform(
            table.column("norad_id").to_numpy(),
            demand_mbit,
            storage_mbit=storage_mbit,
            generation_mbps=generation_mbps,
            initial_mbit=None if storage_mbit is None else min(demand_mbit, storage_mbit),
        )
    except ValueError as exc:
        raise StarbrainError(str(exc)) from None
    with err_console.status(
        f"visibility: {len(fleet)} satellites x {len(stations)} stations x {hours:g} h"
    ):
        problem = contact_problem(
            utc_propagate(propagator, table), fleet, stations, t0, t1, slot_s=slot_s
        )
    plans: list[ContactPlan] = []
    if method in (Method.greedy, Method.both):
        plans.append(plan_greedy(problem))
    if method in (Method.milp, Method.both):
        with err_console.status(f"MILP (HiGHS, up to {time_limit:g} s)"):
            plans.append(
                plan_milp(
                    problem,
                    time_limit_s=time_limit,
                    mip_rel_gap=mip_gap,
                    warm_start=plans[0] if plans else None,
                )
            )
    view = Table(
        title=(
            f"{len(fleet)} satellites, {len(stations)} stations x {antennas} antennas, "
            f"{hours:g} h from {str(t0)[:19]} UTC"
        )
    )
    for col in ("method", "contacts", "delivered Gbit", "of demand", "solve s", "status", "gap"):
        view.add_column(col, justify="right")
    for plan in plans:
        s = plan.summary
        share = s.delivered_mbit / s.demand_mbit if s.demand_mbit > 0 else 0.0
        view.add_row(
            s.method,
            str(s.contacts),
            f"{s.delivered_mbit / 1e3:.2f}",
            f"{100 * share:.1f} %",
            f"{s.solve_s:.2f}",
            s.status,
            "-" if s.gap is None else f"{100 * s.gap:.2f} %",
        )
    _show(view, fmt)
    notes = _notes(fmt)
    if len(plans) == 2:
        g, m = (p.summary.delivered_mbit for p in plans)
        gain = 100 * (m - g) / g if g > 0 else 0.0
        notes.print(f"MILP gain over greedy: {gain:+.2f} % ({(m - g) / 1e3:+.2f} Gbit)")
    best = plans[-1].table
    shown = Table(title=f"first {min(limit, best.num_rows)} contacts ({plans[-1].summary.method})")
    for col in ("NORAD", "station", "antenna", "start", "end", "Mbit"):
        shown.add_column(col, justify="right")
    for row in best.slice(0, limit).to_pylist():
        shown.add_row(
            str(row["norad_id"]),
            row["station"],
            str(row["antenna"]),
            str(row["start"])[:19],
            str(row["end"])[:19],
            f"{row['data_mbit']:.0f}",
        )
    _emit(best.slice(0, limit), fmt, shown)
    if output is not None:
        out = pa.concat_tables(
            [
                p.table.add_column(0, "method", pa.array([p.summary.method] * p.table.num_rows))
                for p in plans
            ]
        )
        _write_table(out, output, "contacts")
