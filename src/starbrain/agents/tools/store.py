"""MCP tools that read the store: catalogue, telemetry anomalies and samples, conjunctions."""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
import pyarrow as pa
from mcp.server.mcpserver import MCPServer
from pydantic import Field

from starbrain.agents.tools._common import MAX_ROWS, open_store, py_time, rows, user_errors

TOOLS = ("catalog_query", "telemetry_anomalies", "telemetry_window", "conjunctions")

CONJUNCTION_FIELDS = (
    "norad_id_1",
    "norad_id_2",
    "object_name_1",
    "object_name_2",
    "tca",
    "miss_distance_km",
    "relative_speed_kmps",
    "collision_probability",
)


def register(server: MCPServer, allow_writes: bool) -> None:
    """Add the store-reading tools to ``server`` (all read-only)."""
    _register_catalog(server)
    _register_telemetry(server)


def _register_catalog(server: MCPServer) -> None:
    @server.tool(
        description="Current element sets (OMM/GP fields, angles in degrees) by "
        "NORAD ids or by a case-insensitive name fragment."
    )
    @user_errors
    def catalog_query(
        norad_ids: Annotated[list[int] | None, Field(description="NORAD catalogue ids.")] = None,
        name_contains: Annotated[str | None, Field(description="Part of OBJECT_NAME.")] = None,
        limit: Annotated[int, Field(ge=1, le=MAX_ROWS)] = 50,
    ) -> dict[str, Any]:
        with open_store() as store:
            t = store.current_elements(norad_ids) if norad_ids else store.current_elements()
        if name_contains:
            names = [(n or "").lower() for n in t.column("object_name").to_pylist()]
            keep = [i for i, n in enumerate(names) if name_contains.lower() in n]
            t = t.take(pa.array(keep, pa.int64()))
        cols = [c for c in t.schema.names if c not in ("tle_line1", "tle_line2")]
        return {"n": t.num_rows, "elements": rows(t.select(cols), limit)}

    @server.tool(
        description="The latest stored conjunction screening, highest collision "
        "probability first (miss distance km, relative speed km/s, TCA UTC). Reads the "
        "store only; a new screening is `starbrain conjunctions screen`."
    )
    @user_errors
    def conjunctions(limit: Annotated[int, Field(ge=1, le=MAX_ROWS)] = 20) -> dict[str, Any]:
        from starbrain.store.queries import latest_conjunctions

        with open_store() as store:
            t = latest_conjunctions(store)
        keep = [c for c in CONJUNCTION_FIELDS if c in t.schema.names]
        found = rows(t.select(keep), t.num_rows)
        found.sort(key=lambda r: -(r.get("collision_probability") or 0.0))
        return {"n": len(found), "conjunctions": found[:limit]}


def _register_telemetry(server: MCPServer) -> None:
    @server.tool(
        description="Stored telemetry anomalies (start/end UTC, parameter, score, "
        "method), newest first; optionally of one source (flight / packet source)."
    )
    @user_errors
    def telemetry_anomalies(
        source: Annotated[str | None, Field(description="Flight or source id.")] = None,
        since: Annotated[str | None, Field(description="ISO time or duration.")] = None,
        limit: Annotated[int, Field(ge=1, le=MAX_ROWS)] = 50,
    ) -> dict[str, Any]:
        from starbrain.models.text.queries import parse_since

        with open_store() as store:
            t = store.read("anomalies")
        found = rows(t, t.num_rows)
        lo = parse_since(since)
        if source is not None:
            found = [r for r in found if r["source"] == source]
        if lo is not None:
            cut = str(np.datetime_as_string(lo, unit="us")) + "Z"
            found = [r for r in found if r["start"] >= cut]
        found.sort(key=lambda r: r["start"], reverse=True)
        return {"n": len(found), "anomalies": found[:limit]}

    @server.tool(
        description="Telemetry samples (time UTC, apid, seq, parameter, raw, value in "
        "engineering units) of one parameter between start and end, oldest first."
    )
    @user_errors
    def telemetry_window(
        parameter: Annotated[str, Field(min_length=1, description="Channel name.")],
        start: Annotated[str, Field(description="ISO-8601 UTC.")],
        end: Annotated[str, Field(description="ISO-8601 UTC.")],
        apid: Annotated[int | None, Field(ge=0, le=2047)] = None,
        limit: Annotated[int, Field(ge=1, le=100_000)] = MAX_ROWS,
    ) -> dict[str, Any]:
        from starbrain.models.text.queries import parse_since

        lo, hi = parse_since(start, what="start"), parse_since(end, what="end")
        assert lo is not None and hi is not None
        where = "parameter = ? AND time >= ? AND time < ?"
        params: list[Any] = [parameter, py_time(lo), py_time(hi)]
        if apid is not None:
            where += " AND apid = ?"
            params.append(apid)
        with open_store() as store:
            t = store.read("telemetry", where=where, params=params, limit=limit)
        return {"n": t.num_rows, "samples": rows(t, limit)}
