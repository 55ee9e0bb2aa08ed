"""MCP tools over orbit prediction: states from the newest element sets (SGP4 or a registered
world model, ``model`` as the CLI's ``--model``), and passes over a ground station."""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
from mcp.server.mcpserver import Context, MCPServer
from pydantic import Field

from starbrain.agents.tools._common import open_store, progress, rows, user_errors
from starbrain.core.errors import StarbrainError

TOOLS = ("orbit_predict", "passes")
MAX_STATES = 20_000

ModelField = Annotated[
    str | None,
    Field(
        description="Propagator: 'sgp4', 'latest' (the newest registered world model), or a "
        "registered model's name; default: the latest world model if one is registered, "
        "else SGP4. The answer names the one used."
    ),
]


def _elements_and_propagator(norad_ids: list[int], model: str | None) -> tuple[Any, Any]:
    from starbrain.planners.propagator import resolve_propagator

    with open_store() as store:
        elements = store.current_elements(norad_ids)
        missing = sorted(set(norad_ids) - set(elements.column("norad_id").to_pylist()))
        if missing:
            raise StarbrainError(f"no element sets stored for NORAD {missing}")
        return elements, resolve_propagator(store, model)


def _states(times: np.ndarray, ids: np.ndarray, r: np.ndarray, v: np.ndarray) -> Any:
    """States ``(n_sat, n_time, 3)`` as one table, satellite-major."""
    import pyarrow as pa

    n_time = len(times)
    return pa.table(
        {
            "time": pa.array(np.tile(times, len(ids)), pa.timestamp("ns", tz="UTC")),
            "norad_id": pa.array(np.repeat(ids, n_time), pa.int32()),
            **{f"{c}_km": r[..., i].reshape(-1) for i, c in enumerate("xyz")},
            **{f"v{c}_kmps": v[..., i].reshape(-1) for i, c in enumerate("xyz")},
        }
    )


def register(server: MCPServer, allow_writes: bool) -> None:
    """Add the orbit tools to ``server`` (all read-only)."""

    @server.tool(
        description="Predicted TEME states (x/y/z km, vx/vy/vz km/s) of catalogued "
        "satellites every step_s seconds from start for hours, from the newest stored "
        "element sets; says which propagator (model) was used. NaN states -> null."
    )
    @user_errors
    def orbit_predict(
        norad_ids: Annotated[list[int], Field(min_length=1, max_length=500)],
        start: Annotated[str, Field(description="First state, ISO-8601 UTC.")],
        hours: Annotated[float, Field(gt=0, le=168, description="Span, hours.")] = 1.0,
        step_s: Annotated[float, Field(gt=0, le=86400, description="Step, seconds.")] = 60.0,
        model: ModelField = None,
    ) -> dict[str, Any]:
        from starbrain.core import timeconv
        from starbrain.planners.propagator import utc_propagate

        t0 = timeconv.to_instant(start, "start")
        n_time = int(hours * 3600.0 // step_s) + 1
        if n_time * len(norad_ids) > MAX_STATES:
            raise StarbrainError(
                f"{n_time * len(norad_ids)} states is more than {MAX_STATES}; "
                "raise step_s, shorten hours or ask for fewer satellites"
            )
        times = t0 + (np.arange(n_time) * step_s * 1e9).astype("timedelta64[ns]")
        elements, propagator = _elements_and_propagator(norad_ids, model)
        jd, fr = timeconv.datetime64_to_jd(times)
        r, v = utc_propagate(propagator, elements)(jd, fr)
        r, v = np.asarray(r), np.asarray(v)
        states = _states(times, elements.column("norad_id").to_numpy(), r, v)
        return {
            "model": propagator.name,
            "frame": "TEME",
            "n": states.num_rows,
            "states": rows(states, states.num_rows),
        }

    @server.tool(
        description="Passes of catalogued satellites over a ground station "
        "('NAME:LAT,LON[,ALT_M]', degrees and metres) in the next hours "
        "from start; says which propagator (model) was used; reports progress."
    )
    @user_errors
    async def passes(
        norad_ids: Annotated[list[int], Field(min_length=1, max_length=500)],
        station: Annotated[str, Field(description="'NAME:LAT,LON[,ALT_M]' (degrees, metres).")],
        start: Annotated[str, Field(description="ISO-8601 UTC.")],
        hours: Annotated[float, Field(gt=0, le=336, description="Span, hours.")] = 24.0,
        min_elevation_deg: Annotated[float, Field(ge=-5, lt=90)] = 10.0,
        model: ModelField = None,
        ctx: Context | None = None,
    ) -> dict[str, Any]:
        from starbrain.core import timeconv
        from starbrain.planners.passes import find_passes, parse_station
        from starbrain.planners.propagator import utc_propagate

        gs = parse_station(station)
        t0 = timeconv.to_instant(start, "start")
        t1 = t0 + np.timedelta64(int(hours * 3.6e12), "ns")
        await progress(ctx, 0, 2, "reading element sets")
        elements, propagator = _elements_and_propagator(norad_ids, model)
        await progress(ctx, 1, 2, "finding passes")
        found = find_passes(
            utc_propagate(propagator, elements),
            elements.column("norad_id").to_numpy(),
            [gs],
            t0,
            t1,
            min_elevation_deg=min_elevation_deg,
        )
        await progress(ctx, 2, 2, "done")
        return {"model": propagator.name, "n": len(found), "passes": rows(found.to_arrow())}
