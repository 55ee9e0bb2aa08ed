"""MCP tools over the planners: avoidance burns, downlink contacts, constellation routing
latency, Earth-Mars transfer windows. Only ``plan_avoidance(store_plan=true)`` writes, and only
on a server started with ``--allow-writes`` (logged)."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any, Literal

import numpy as np
from mcp.server.mcpserver import Context, MCPServer
from pydantic import Field

from starbrain.agents.tools._common import (
    json_value,
    log,
    open_store,
    progress,
    require_writes,
    rows,
    user_errors,
)
from starbrain.agents.tools.orbits import ModelField, _elements_and_propagator
from starbrain.core.errors import StarbrainError

TOOLS = ("plan_avoidance", "contacts_plan", "route_latency", "mars_windows")


def register(server: MCPServer, allow_writes: bool) -> None:
    """Add the planner tools to ``server``; ``allow_writes`` lets ``plan_avoidance`` store."""
    _register_avoidance(server, allow_writes)
    _register_contacts(server)
    _register_routes(server)


def _register_avoidance(server: MCPServer, allow_writes: bool) -> None:
    @server.tool(
        description="Plan the minimum-dv impulsive avoidance burn for a stored "
        "conjunction of `norad_id` (with `other`, default the highest-Pc one), "
        "verified by re-screening. store_plan=true stores the plan and the new element "
        "set, only if the server runs with --allow-writes (logged). Reports progress."
    )
    @user_errors
    async def plan_avoidance(
        norad_id: Annotated[int, Field(description="The object that manoeuvres.")],
        other: Annotated[int | None, Field(description="The other object.")] = None,
        tca: Annotated[str | None, Field(description="TCA, ISO-8601 UTC.")] = None,
        pc_max: Annotated[float, Field(gt=0, lt=1, description="Target Pc.")] = 1e-4,
        max_dv_mps: Annotated[float, Field(gt=0, le=100, description="m/s.")] = 1.0,
        verify: bool = True,
        store_plan: bool = False,
        ctx: Context | None = None,
    ) -> dict[str, Any]:
        from starbrain.planners.avoidance import avoid
        from starbrain.store.queries import latest_conjunctions

        if store_plan:
            require_writes(allow_writes, "store_plan", "plan without it to see the burn")
        await progress(ctx, 0, 2, "reading the screening")
        with open_store() as store:
            conj = latest_conjunctions(store)
            elements = store.current_elements()
        if conj.num_rows == 0:
            raise StarbrainError("no screening stored yet: run starbrain conjunctions screen")
        await progress(ctx, 1, 2, "planning (sensitivity, burn search, re-screening)")
        plan = avoid(
            conj,
            elements,
            norad_id=norad_id,
            other=other,
            tca=tca,
            pc_max=pc_max,
            max_dv_mps=max_dv_mps,
            verify=verify,
        )
        if store_plan:
            log.warning("plan_avoidance: storing the plan for NORAD %d (--allow-writes)", norad_id)
            with open_store(read_only=False) as store:
                store.append("manoeuvres", plan.to_arrow())
                if plan.verified:
                    store.append("elements", plan.elements, source="manoeuvre")
        await progress(ctx, 2, 2, "done")
        return {
            "summary": plan.summary(),
            "verified": bool(plan.verified),
            "stored": store_plan,
            "plan": rows(plan.to_arrow())[0],
        }


def _register_contacts(server: MCPServer) -> None:
    @server.tool(
        description="Plan downlink contacts of catalogued satellites over ground stations "
        "('NAME:LAT,LON[,ALT_M]' or a known name such as Svalbard), maximising delivered "
        "data (Mbit); greedy, or the MILP (HiGHS) warm-started from greedy. Says which "
        "propagator (model) was used. Reports progress."
    )
    @user_errors
    async def contacts_plan(
        norad_ids: Annotated[list[int], Field(min_length=1, max_length=500)],
        stations: Annotated[list[str], Field(min_length=1, max_length=50)],
        start: Annotated[str, Field(description="Horizon start, ISO-8601 UTC.")],
        hours: Annotated[float, Field(gt=0, le=72, description="Horizon, hours.")] = 6.0,
        antennas: Annotated[int, Field(ge=1, le=16, description="Per station.")] = 1,
        min_elevation_deg: Annotated[float, Field(ge=0, lt=90)] = 10.0,
        rate_mbps: Annotated[float, Field(gt=0, description="Per antenna, Mbit/s.")] = 100.0,
        demand_mbit: Annotated[float, Field(gt=0, description="Per satellite, Mbit.")] = 30_000.0,
        slot_s: Annotated[float, Field(ge=1, le=3600, description="Slot, seconds.")] = 60.0,
        method: Literal["greedy", "milp"] = "greedy",
        time_limit_s: Annotated[float, Field(gt=0, le=300, description="MILP limit.")] = 30.0,
        limit: Annotated[int, Field(ge=1, le=1000, description="Contacts returned.")] = 50,
        model: ModelField = None,
        ctx: Context | None = None,
    ) -> dict[str, Any]:
        from starbrain.core import timeconv
        from starbrain.planners.contacts import (
            ContactStation,
            Fleet,
            contact_problem,
            plan_greedy,
            plan_milp,
        )
        from starbrain.planners.passes import KNOWN_STATIONS, parse_station
        from starbrain.planners.propagator import utc_propagate

        sites = [parse_station(s, KNOWN_STATIONS) for s in stations]
        if len({s.name for s in sites}) != len(sites):
            raise StarbrainError("two stations have the same name")
        gs = [ContactStation(s, antennas, min_elevation_deg, rate_mbps, 60.0) for s in sites]
        t0 = timeconv.to_instant(start, "start")
        t1 = t0 + np.timedelta64(int(hours * 3600e9), "ns")
        elements, propagator = _elements_and_propagator(norad_ids, model)
        fleet = Fleet.uniform(elements.column("norad_id").to_numpy(), demand_mbit)
        await progress(ctx, 0, 2, "visibility")
        problem = contact_problem(
            utc_propagate(propagator, elements), fleet, gs, t0, t1, slot_s=slot_s
        )
        await progress(ctx, 1, 2, f"planning ({method})")
        plan = plan_greedy(problem)
        if method == "milp":
            plan = plan_milp(problem, time_limit_s=time_limit_s, warm_start=plan)
        await progress(ctx, 2, 2, "done")
        summary = {k: json_value(v) for k, v in dataclasses.asdict(plan.summary).items()}
        return {
            "model": propagator.name,
            "summary": summary,
            "contacts": rows(plan.table, limit),
        }


def _register_routes(server: MCPServer) -> None:
    @server.tool(
        description="Round-trip latency (ms, propagation only) between two cities (a "
        "name such as Tokyo, or 'NAME:LAT,LON') over a constellation preset's +Grid laser "
        "links, every step_ms for seconds from start: min/median/max RTT, path changes, "
        "hops, the fibre RTT, and the first snapshots' paths."
    )
    @user_errors
    def route_latency(
        source: Annotated[str, Field(min_length=1, description="City or 'NAME:LAT,LON'.")],
        destination: Annotated[str, Field(min_length=1, description="City or 'NAME:LAT,LON'.")],
        start: Annotated[str, Field(description="First snapshot, ISO-8601 UTC.")],
        seconds: Annotated[float, Field(gt=0, le=3600, description="Span, s.")] = 60.0,
        step_ms: Annotated[float, Field(ge=100, le=600_000, description="Step, ms.")] = 1000.0,
        preset: Annotated[str, Field(description="Constellation preset.")] = "starlink-gen1",
        shells: Annotated[list[int] | None, Field(description="1-based; default all.")] = None,
        min_elevation_deg: Annotated[float | None, Field(ge=0, lt=90)] = None,
        limit: Annotated[int, Field(ge=1, le=10_000, description="Snapshots returned.")] = 20,
    ) -> dict[str, Any]:
        from starbrain.core import timeconv
        from starbrain.planners.cities import city
        from starbrain.planners.routing import route
        from starbrain.planners.routing_networks import routing_network

        src, dst = city(source), city(destination)
        t0 = timeconv.to_instant(start, "start")
        network = routing_network(preset, shells, epoch=t0.astype("datetime64[D]"))
        result = route(
            src, dst, network, t0, seconds, step_ms=step_ms, min_elevation_deg=min_elevation_deg
        )
        summary = {k: json_value(float(v)) for k, v in result.summary().items()}
        return {
            "source": src.name,
            "destination": dst.name,
            "n_satellites": network.n_sat,
            "model": result.propagator,
            "summary": summary,
            "snapshots": rows(result.to_arrow(), limit),
        }

    @server.tool(
        description="Earth-Mars opportunities from start_year to end_year (launch years, "
        "1900-2052): each one's minimum-C3 type I and II ballistic transfers (launch and "
        "arrival UTC, tof_days, c3_km2_s2, vinf_arr_kms, dla_deg, rla_deg, dv_total_kms)."
    )
    @user_errors
    def mars_windows(
        start_year: Annotated[int, Field(ge=1900, le=2052)] = 2026,
        end_year: Annotated[int, Field(ge=1900, le=2052)] = 2030,
        departure: Literal["centre", "barycentre"] = "centre",
    ) -> dict[str, Any]:
        from starbrain.planners.transfers import windows_table

        if end_year < start_year:
            raise StarbrainError(f"end_year {end_year} is before start_year {start_year}")
        body = "earth" if departure == "centre" else "earth barycenter"
        found = windows_table(start_year, end_year, departure=body)
        return {
            "n": len(found),
            "windows": [{k: json_value(v) for k, v in r.items()} for r in found],
        }
