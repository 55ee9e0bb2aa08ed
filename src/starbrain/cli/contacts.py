"""``starbrain contacts``: ground-station contact plans (MILP and a greedy baseline)."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

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

if TYPE_CHECKING:
    import pyarrow as pa

    from starbrain.planners.contacts import ContactPlan, ContactProblem, ContactStation, Fleet
    from starbrain.planners.propagator import Propagator

contacts_app = typer.Typer(
    help="Ground-station contact planning: which satellite each antenna tracks when.",
    no_args_is_help=True,
)
app.add_typer(contacts_app, name="contacts")


class Method(StrEnum):
    milp = "milp"
    greedy = "greedy"
    both = "both"


def _check_plan_options(
    hours: float, slot_s: float, time_limit: float, mip_gap: float, max_satellites: int
) -> None:
    """``contacts plan``'s option ranges, each a one-sentence error."""
    if not 0 < hours <= 72:
        raise StarbrainError("--hours must be in (0, 72]")
    if not 1 <= slot_s <= 3600:
        raise StarbrainError("--slot-s must be in [1, 3600]")
    if not time_limit > 0 or not 0 <= mip_gap < 1:
        raise StarbrainError("--time-limit must be positive and --mip-gap in [0, 1)")
    if max_satellites < 1:
        raise StarbrainError("--max-satellites must be at least 1")


def _contact_stations(
    specs: list[str], antennas: int, min_elevation: float, rate_mbps: float, setup_s: float
) -> list[ContactStation]:
    """The ``--station`` specs (known names or NAME:LAT,LON[,ALT_M]) as contact stations, each
    with ``antennas`` antennas; a bad spec or a repeated name is one sentence."""
    from starbrain.planners.contacts import ContactStation
    from starbrain.planners.passes import KNOWN_STATIONS, parse_station

    try:
        sites = [parse_station(s, KNOWN_STATIONS) for s in specs]
        stations = [ContactStation(s, antennas, min_elevation, rate_mbps, setup_s) for s in sites]
    except ValueError as exc:
        raise StarbrainError(str(exc)) from None
    if len({s.name for s in sites}) != len(sites):
        raise StarbrainError("two stations have the same name")
    return stations


def _plan_elements(
    norad: list[int] | None, max_satellites: int, model: str | None
) -> tuple[pa.Table, Propagator]:
    """The stored element sets to plan for (``--norad``, else the first ``max_satellites`` by
    catalogue number, said on standard error) and the ``--model`` propagator."""
    with _open_store(read_only=True) as store:
        table = _elements_for(store, norad)
        propagator = _propagator(store, model)
    if not norad and table.num_rows > max_satellites:
        err_console.print(
            f"planning for the first {max_satellites} of {table.num_rows} stored objects "
            "(raise --max-satellites or pick with --norad)"
        )
        table = table.sort_by("norad_id").slice(0, max_satellites)
    return table, propagator


def _fleet(
    table: pa.Table, demand_mbit: float, storage_mbit: float | None, generation_mbps: float
) -> Fleet:
    """One uniform fleet for ``table``'s satellites (Mbit, Mbit/s); bad values: one sentence."""
    from starbrain.planners.contacts import Fleet

    try:
        return Fleet.uniform(
            table.column("norad_id").to_numpy(),
            demand_mbit,
            storage_mbit=storage_mbit,
            generation_mbps=generation_mbps,
            initial_mbit=None if storage_mbit is None else min(demand_mbit, storage_mbit),
        )
    except ValueError as exc:
        raise StarbrainError(str(exc)) from None


def _run_plans(
    problem: ContactProblem, method: Method, time_limit: float, mip_gap: float
) -> list[ContactPlan]:
    """The plans ``--method`` asks for: greedy first, then the MILP (warm-started from it)."""
    from starbrain.planners.contacts import plan_greedy, plan_milp

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
    return plans


def _methods_view(plans: list[ContactPlan], title: str) -> Table:
    """One row per plan: contacts, delivered Gbit, share of demand, solve time, status, gap."""
    view = Table(title=title)
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
    return view


def _show_methods(plans: list[ContactPlan], title: str, fmt: OutputFormat) -> None:
    """The methods' table, then (greedy and MILP both run) the MILP's gain over greedy."""
    _show(_methods_view(plans, title), fmt)
    if len(plans) == 2:
        g, m = (p.summary.delivered_mbit for p in plans)
        gain = 100 * (m - g) / g if g > 0 else 0.0
        _notes(fmt).print(f"MILP gain over greedy: {gain:+.2f} % ({(m - g) / 1e3:+.2f} Gbit)")


def _contacts_view(plan: ContactPlan, limit: int) -> Table:
    """The first ``limit`` contacts of ``plan`` (times to the second, UTC)."""
    best = plan.table
    shown = Table(title=f"first {min(limit, best.num_rows)} contacts ({plan.summary.method})")
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
    return shown


def _write_plans(plans: list[ContactPlan], output: Path) -> None:
    """Every plan's contacts, with a leading ``method`` column, to a .csv or .parquet file."""
    import pyarrow as pa

    out = pa.concat_tables(
        [
            p.table.add_column(0, "method", pa.array([p.summary.method] * p.table.num_rows))
            for p in plans
        ]
    )
    _write_table(out, output, "contacts")


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

    from starbrain.core import timeconv
    from starbrain.planners.contacts import contact_problem
    from starbrain.planners.propagator import utc_propagate

    _check_plan_options(hours, slot_s, time_limit, mip_gap, max_satellites)
    stations = _contact_stations(station, antennas, min_elevation, rate_mbps, setup_s)
    t0 = _time_option(start, timeconv.utc_now(), "--from")
    t1 = t0 + np.timedelta64(int(hours * 3600e9), "ns")
    table, propagator = _plan_elements(norad, max_satellites, model)
    fleet = _fleet(table, demand_mbit, storage_mbit, generation_mbps)
    with err_console.status(
        f"visibility: {len(fleet)} satellites x {len(stations)} stations x {hours:g} h"
    ):
        problem = contact_problem(
            utc_propagate(propagator, table), fleet, stations, t0, t1, slot_s=slot_s
        )
    plans = _run_plans(problem, method, time_limit, mip_gap)
    title = (
        f"{len(fleet)} satellites, {len(stations)} stations x {antennas} antennas, "
        f"{hours:g} h from {str(t0)[:19]} UTC"
    )
    _show_methods(plans, title, fmt)
    _emit(plans[-1].table.slice(0, limit), fmt, _contacts_view(plans[-1], limit))
    if output is not None:
        _write_plans(plans, output)
