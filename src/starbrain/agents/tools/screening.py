"""MCP tool that runs a conjunction screening of the stored catalogue; it stores the result
(conjunction rows and the record of the run) only when asked and only on a server started with
``--allow-writes`` (logged)."""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
from mcp.server.mcpserver import Context, MCPServer
from pydantic import Field

from starbrain.agents.tools._common import (
    MAX_ROWS,
    log,
    open_store,
    progress,
    require_writes,
    rows,
    user_errors,
)
from starbrain.agents.tools.orbits import ModelField
from starbrain.agents.tools.store import CONJUNCTION_FIELDS
from starbrain.core.errors import StarbrainError

TOOLS = ("screen_conjunctions",)


def register(server: MCPServer, allow_writes: bool) -> None:
    """Add ``screen_conjunctions`` to ``server``; ``allow_writes`` lets it store."""

    @server.tool(
        description="Screen the stored catalogue (all against all, or primaries against "
        "all) for days from start: pairs closer than threshold_km at TCA (UTC), miss km, "
        "relative speed km/s, Pc, highest Pc first; says which propagator (model). "
        "store_result=true stores the screening, only with --allow-writes (logged)."
    )
    @user_errors
    async def screen_conjunctions(
        start: Annotated[str, Field(description="Window start, ISO-8601 UTC.")],
        days: Annotated[float, Field(gt=0, le=14, description="Window, days.")] = 1.0,
        threshold_km: Annotated[float, Field(gt=0, le=50, description="km.")] = 5.0,
        primaries: Annotated[list[int] | None, Field(description="NORAD ids.")] = None,
        object_radius_m: Annotated[float, Field(gt=0, le=1000, description="m.")] = 10.0,
        model: ModelField = None,
        store_result: bool = False,
        limit: Annotated[int, Field(ge=1, le=MAX_ROWS)] = 20,
        ctx: Context | None = None,
    ) -> dict[str, Any]:
        from starbrain.core import timeconv
        from starbrain.planners.conjunctions import screen
        from starbrain.planners.propagator import resolve_propagator

        if store_result:
            require_writes(
                allow_writes, "store_result", "screen without it to see the conjunctions"
            )
        t0 = timeconv.to_instant(start, "start")
        with open_store() as store:
            elements = store.current_elements()
            propagator = resolve_propagator(store, model)
        if elements.num_rows < 2:
            raise StarbrainError("screening needs at least two stored element sets")
        await progress(ctx, 0, 1, f"screening {elements.num_rows} objects over {days:g} days")
        table, stats = screen(
            elements,
            start=t0,
            days=days,
            threshold_km=threshold_km,
            primaries=primaries,
            object_radius_m=object_radius_m,
            propagator=propagator,
        )
        if store_result:
            _store(table, t0, days, threshold_km)
        await progress(ctx, 1, 1, "done")
        keep = [c for c in CONJUNCTION_FIELDS if c in table.schema.names]
        found = rows(table.select(keep), table.num_rows)
        found.sort(key=lambda r: -(r.get("collision_probability") or 0.0))
        return {
            "model": propagator.name,
            "summary": stats.summary(),
            "stored": store_result,
            "n": len(found),
            "conjunctions": found[:limit],
        }


def _store(table: Any, t0: np.datetime64, days: float, threshold_km: float) -> None:
    """The rows and the record of the run, in one transaction (as ``conjunctions screen``)."""
    from starbrain.store.queries import store_screening

    log.warning("screen_conjunctions: storing %d conjunctions (--allow-writes)", table.num_rows)
    with open_store(read_only=False) as store:
        store_screening(
            store,
            table,
            start=t0,
            days=days,
            threshold_km=threshold_km,
            source="mcp:screen_conjunctions",
        )
