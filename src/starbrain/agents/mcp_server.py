"""``starbrain mcp``: a Model Context Protocol server over the store and the planners.

Built on the official python SDK (``mcp``, MIT; ``MCPServer``). Transports: stdio (the default;
an agent host launches ``starbrain mcp``) and streamable HTTP (``--transport http``, endpoint
``/mcp``), which binds loopback (127.0.0.1) by default and needs ``--token`` (>= 16 characters,
sent as ``Authorization: Bearer TOKEN``) on any other address; the console's guard checks the
token in constant time and, without one, refuses non-loopback ``Host`` headers.

Tools (JSON in and out, input schemas from their pydantic-annotated parameters; times ISO-8601
UTC with ``Z``, units in the field names as in the store's schemas):

=========================  =====================================================================
``search_posts``           hybrid/lexical/embedding search of stored posts (``--since 1h`` style)
``post_bursts``            topic bursts in stored posts, linked to fleet events with a confidence
``catalog_query``          current element sets by NORAD id or name
``telemetry_anomalies``    stored telemetry anomalies (``anomalies`` stream)
``telemetry_window``       telemetry samples of one source/parameter in a time window
``conjunctions``           the latest stored conjunction screening, highest Pc first
``passes``                 passes of catalogued satellites over a ground station (progress)
``plan_avoidance``         minimum-dv avoidance burn for a stored conjunction (progress)
=========================  =====================================================================

Resources: ``starbrain://streams`` (every stream with its row count) and
``starbrain://streams/{name}`` (a stream's schema, key and newest rows).

**Read-only by default.** A tool that changes the store (``plan_avoidance`` with
``store_plan=true``) needs the server started with ``--allow-writes``; every such call is logged
(logger ``starbrain.agents``, on standard error, never standard output, which carries stdio
MCP). Without the flag the tool still plans, and says it stored nothing.
"""

from __future__ import annotations

import datetime as _dt
import functools
import inspect
import logging
import math
from collections.abc import Callable
from typing import Annotated, Any, Literal, TypeVar

import numpy as np
import pyarrow as pa
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ToolError
from pydantic import Field

from starbrain.core.errors import StarbrainError

__all__ = ["TOOL_NAMES", "build_server", "serve"]

log = logging.getLogger("starbrain.agents")

TOOL_NAMES = (
    "search_posts",
    "post_bursts",
    "catalog_query",
    "telemetry_anomalies",
    "telemetry_window",
    "conjunctions",
    "passes",
    "plan_avoidance",
)
MAX_ROWS = 1000


def _json_value(v: Any) -> Any:
    if isinstance(v, _dt.datetime):
        if v.tzinfo is not None:
            v = v.astimezone(_dt.UTC).replace(tzinfo=None)
        return v.isoformat(timespec="microseconds") + "Z"
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, np.generic):
        return _json_value(v.item())
    if isinstance(v, np.datetime64):
        return None if np.isnat(v) else str(np.datetime_as_string(v, unit="us")) + "Z"
    return v


def _rows(table: pa.Table, limit: int = MAX_ROWS) -> list[dict[str, Any]]:
    """Table rows as JSON-ready dicts (timestamps ISO-8601 UTC with nanoseconds and ``Z``,
    NaN -> null)."""
    sub = table.slice(0, limit)
    times: dict[str, list[str | None]] = {}
    for f in sub.schema:
        if pa.types.is_timestamp(f.type):
            col = sub.column(f.name)
            t = col.cast(pa.int64()).fill_null(np.iinfo(np.int64).min).to_numpy()
            iso = np.datetime_as_string(t.astype("datetime64[ns]"), unit="ns")
            nat = np.isnat(t.astype("datetime64[ns]"))
            times[f.name] = [None if bad else f"{x}Z" for x, bad in zip(iso, nat, strict=True)]
    rows = sub.drop_columns(list(times)).to_pylist()
    for i, r in enumerate(rows):
        for k, v in r.items():
            r[k] = _json_value(v)
        for k, col in times.items():
            r[k] = col[i]
    names = sub.schema.names
    return [{k: r[k] for k in names} for r in rows]


_F = TypeVar("_F", bound=Callable[..., Any])


def _user_errors(fn: _F) -> _F:
    """A tool whose :class:`StarbrainError` / ``ValueError`` reaches the agent as its sentence
    (a ``ToolError``), not as the SDK's generic crash message."""
    if inspect.iscoroutinefunction(fn):

        @functools.wraps(fn)
        async def run_async(*args: Any, **kwargs: Any) -> Any:
            try:
                return await fn(*args, **kwargs)
            except (StarbrainError, ValueError) as exc:
                raise ToolError(str(exc)) from exc

        return run_async  # type: ignore[return-value]

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (StarbrainError, ValueError) as exc:
            raise ToolError(str(exc)) from exc

    return run  # type: ignore[return-value]


def _store(read_only: bool = True) -> Any:
    from starbrain.store.database import Store

    return Store(read_only=read_only)


def build_server(allow_writes: bool = False) -> MCPServer:
    """The ``MCPServer`` with starbrain's tools and resources (see the module docstring)."""
    from starbrain import __version__

    server = MCPServer(
        "starbrain",
        version=__version__,
        instructions=(
            "starbrain: fleet telemetry, catalogues, post streams and planners. Tools are "
            "read-only unless the server runs with --allow-writes. Times are UTC ISO-8601."
        ),
    )

    @server.tool(
        description="Search stored public posts (BM25, embedding cosine, or both "
        "fused). since/until: ISO-8601 UTC or a duration back from `now` (15m, 1h, 2d)."
    )
    @_user_errors
    def search_posts(
        query: Annotated[str, Field(min_length=1, description="What to look for.")],
        since: Annotated[str | None, Field(description="ISO time or duration (1h).")] = None,
        until: Annotated[str | None, Field(description="ISO time or duration.")] = None,
        now: Annotated[str | None, Field(description="Durations count back from this.")] = None,
        limit: Annotated[int, Field(ge=1, le=MAX_ROWS)] = 10,
        mode: Literal["hybrid", "lexical", "embedding"] = "hybrid",
    ) -> dict[str, Any]:
        from starbrain.models.text.queries import search_store

        with _store() as store:
            hits = search_store(store, query, limit, mode, since, until, now)
        return {"query": query, "mode": mode, "hits": _rows(hits)}

    @server.tool(
        description="Topic bursts in stored posts (Kleinberg two-state per term), "
        "each linked to the fleet event it is about (stored launch anomalies and "
        "conjunction alerts) with a confidence in [0, 1]; spam bursts flagged."
    )
    @_user_errors
    def post_bursts(
        since: Annotated[str | None, Field(description="ISO time or duration (6h).")] = None,
        until: Annotated[str | None, Field(description="ISO time or duration.")] = None,
        now: Annotated[str | None, Field(description="Durations count back from this.")] = None,
        include_spam: bool = False,
    ) -> dict[str, Any]:
        from starbrain.models.text.bursts import bursts_table
        from starbrain.models.text.queries import store_bursts

        with _store() as store:
            bursts, _ = store_bursts(store, since, until, now)
        shown = [b for b in bursts if include_spam or not b.spam]
        return {
            "n_bursts": len(bursts),
            "n_spam": sum(b.spam for b in bursts),
            "bursts": _rows(bursts_table(shown)),
        }

    @server.tool(
        description="Current element sets (OMM/GP fields, angles in degrees) by "
        "NORAD ids or by a case-insensitive name fragment."
    )
    @_user_errors
    def catalog_query(
        norad_ids: Annotated[list[int] | None, Field(description="NORAD catalogue ids.")] = None,
        name_contains: Annotated[str | None, Field(description="Part of OBJECT_NAME.")] = None,
        limit: Annotated[int, Field(ge=1, le=MAX_ROWS)] = 50,
    ) -> dict[str, Any]:
        with _store() as store:
            t = store.current_elements(norad_ids) if norad_ids else store.current_elements()
        if name_contains:
            names = [(n or "").lower() for n in t.column("object_name").to_pylist()]
            keep = [i for i, n in enumerate(names) if name_contains.lower() in n]
            t = t.take(pa.array(keep, pa.int64()))
        cols = [c for c in t.schema.names if c not in ("tle_line1", "tle_line2")]
        return {"n": t.num_rows, "elements": _rows(t.select(cols), limit)}

    @server.tool(
        description="Stored telemetry anomalies (start/end UTC, parameter, score, "
        "method), newest first; optionally of one source (flight / packet source)."
    )
    @_user_errors
    def telemetry_anomalies(
        source: Annotated[str | None, Field(description="Flight or source id.")] = None,
        since: Annotated[str | None, Field(description="ISO time or duration.")] = None,
        limit: Annotated[int, Field(ge=1, le=MAX_ROWS)] = 50,
    ) -> dict[str, Any]:
        from starbrain.models.text.queries import parse_since

        with _store() as store:
            t = store.read("anomalies")
        rows = _rows(t, t.num_rows)
        lo = parse_since(since)
        if source is not None:
            rows = [r for r in rows if r["source"] == source]
        if lo is not None:
            cut = str(np.datetime_as_string(lo, unit="us")) + "Z"
            rows = [r for r in rows if r["start"] >= cut]
        rows.sort(key=lambda r: r["start"], reverse=True)
        return {"n": len(rows), "anomalies": rows[:limit]}

    @server.tool(
        description="Telemetry samples (time UTC, apid, seq, parameter, raw, value in "
        "engineering units) of one parameter between start and end, oldest first."
    )
    @_user_errors
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
        params: list[Any] = [parameter, _py(lo), _py(hi)]
        if apid is not None:
            where += " AND apid = ?"
            params.append(apid)
        with _store() as store:
            t = store.read("telemetry", where=where, params=params, limit=limit)
        return {"n": t.num_rows, "samples": _rows(t, limit)}

    @server.tool(
        description="The latest stored conjunction screening, highest collision "
        "probability first (miss distance km, relative speed km/s, TCA UTC)."
    )
    @_user_errors
    def conjunctions(limit: Annotated[int, Field(ge=1, le=MAX_ROWS)] = 20) -> dict[str, Any]:
        from starbrain.store.queries import latest_conjunctions

        with _store() as store:
            t = latest_conjunctions(store)
        keep = [
            "norad_id_1",
            "norad_id_2",
            "object_name_1",
            "object_name_2",
            "tca",
            "miss_distance_km",
            "relative_speed_kmps",
            "collision_probability",
        ]
        rows = _rows(t.select([c for c in keep if c in t.schema.names]), t.num_rows)
        rows.sort(key=lambda r: -(r.get("collision_probability") or 0.0))
        return {"n": len(rows), "conjunctions": rows[:limit]}

    @server.tool(
        description="Passes of catalogued satellites over a ground station "
        "('NAME:LAT,LON[,ALT_M]', degrees and metres) in the next hours "
        "from start; SGP4; reports progress."
    )
    @_user_errors
    async def passes(
        norad_ids: Annotated[list[int], Field(min_length=1, max_length=500)],
        station: Annotated[str, Field(description="'NAME:LAT,LON[,ALT_M]' (degrees, metres).")],
        start: Annotated[str, Field(description="ISO-8601 UTC.")],
        hours: Annotated[float, Field(gt=0, le=336)] = 24.0,
        min_elevation_deg: Annotated[float, Field(ge=-5, lt=90)] = 10.0,
        ctx: Context | None = None,
    ) -> dict[str, Any]:
        from starbrain.core import timeconv
        from starbrain.planners.passes import find_passes, parse_station, sgp4_propagator

        try:
            gs = parse_station(station)
        except ValueError as exc:
            raise StarbrainError(str(exc)) from None
        t0 = timeconv.to_instant(start, "start")
        t1 = t0 + np.timedelta64(int(hours * 3.6e12), "ns")
        if ctx is not None:
            await ctx.report_progress(0, 2, "reading element sets")
        with _store() as store:
            elements = store.current_elements(norad_ids)
        missing = sorted(set(norad_ids) - set(elements.column("norad_id").to_pylist()))
        if missing:
            raise StarbrainError(f"no element sets stored for NORAD {missing}")
        if ctx is not None:
            await ctx.report_progress(1, 2, "finding passes")
        found = find_passes(
            sgp4_propagator(elements),
            elements.column("norad_id").to_numpy(),
            [gs],
            t0,
            t1,
            min_elevation_deg=min_elevation_deg,
        )
        if ctx is not None:
            await ctx.report_progress(2, 2, "done")
        return {"n": len(found), "passes": _rows(found.to_arrow())}

    @server.tool(
        description="Plan the minimum-dv impulsive avoidance burn for a stored "
        "conjunction of `norad_id` (with `other`, default the highest-Pc one), "
        "verified by re-screening. store_plan=true stores the plan and the new element "
        "set, only if the server runs with --allow-writes (logged). Reports progress."
    )
    @_user_errors
    async def plan_avoidance(
        norad_id: Annotated[int, Field(description="The object that manoeuvres.")],
        other: Annotated[int | None, Field(description="The other object.")] = None,
        tca: Annotated[str | None, Field(description="TCA, ISO-8601 UTC.")] = None,
        pc_max: Annotated[float, Field(gt=0, lt=1)] = 1e-4,
        max_dv_mps: Annotated[float, Field(gt=0, le=100)] = 1.0,
        verify: bool = True,
        store_plan: bool = False,
        ctx: Context | None = None,
    ) -> dict[str, Any]:
        from starbrain.planners.avoidance import avoid
        from starbrain.store.queries import latest_conjunctions

        if store_plan and not allow_writes:
            raise StarbrainError(
                "store_plan needs the server started with --allow-writes; "
                "plan without it to see the burn"
            )
        if ctx is not None:
            await ctx.report_progress(0, 2, "reading the screening")
        with _store() as store:
            conj = latest_conjunctions(store)
            elements = store.current_elements()
        if conj.num_rows == 0:
            raise StarbrainError("no screening stored yet: run starbrain conjunctions screen")
        if ctx is not None:
            await ctx.report_progress(1, 2, "planning (sensitivity, burn search, re-screening)")
        try:
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
        except ValueError as exc:
            raise StarbrainError(str(exc)) from None
        stored = False
        if store_plan:
            log.warning("plan_avoidance: storing the plan for NORAD %d (--allow-writes)", norad_id)
            with _store(read_only=False) as store:
                store.append("manoeuvres", plan.to_arrow())
                if plan.verified:
                    store.append("elements", plan.elements, source="manoeuvre")
            stored = True
        if ctx is not None:
            await ctx.report_progress(2, 2, "done")
        return {
            "summary": plan.summary(),
            "verified": bool(plan.verified),
            "stored": stored,
            "plan": _rows(plan.to_arrow())[0],
        }

    @server.resource(
        "starbrain://streams",
        mime_type="application/json",
        description="Every stream of the store with its row count.",
    )
    def streams() -> dict[str, Any]:
        from starbrain.store.streams import STREAMS

        with _store() as store:
            return {n: {"rows": store.count(n), "key": list(s.key)} for n, s in STREAMS.items()}

    @server.resource(
        "starbrain://streams/{name}",
        mime_type="application/json",
        description="A stream's schema, key and first rows (by key).",
    )
    def stream(name: str) -> dict[str, Any]:
        from starbrain.store.database import Store

        try:
            s = Store.stream(name)
        except StarbrainError as exc:
            raise ResourceError(str(exc)) from None
        with _store() as store:
            t = store.read(name, limit=20)
            n = store.count(name)
        return {
            "name": name,
            "rows": n,
            "key": list(s.key),
            "schema": {f.name: str(f.type) for f in s.schema},
            "head": _rows(t),
        }

    return server


def _py(t: np.datetime64) -> _dt.datetime:
    return _dt.datetime.fromisoformat(str(np.datetime_as_string(t, unit="us")))


def serve(
    transport: Literal["stdio", "http"] = "stdio",
    host: str = "127.0.0.1",
    port: int = 8765,
    token: str | None = None,
    allow_writes: bool = False,
    log_level: str = "warning",
) -> None:
    """Run the server (blocking) on stdio or streamable HTTP (``http://host:port/mcp``)."""
    from starbrain.console.security import LOOPBACK_NAMES

    logging.basicConfig(level=log_level.upper(), format="%(name)s: %(message)s")
    if allow_writes:
        log.warning("write tools enabled (--allow-writes): every write is logged")
    server = build_server(allow_writes=allow_writes)
    if transport == "stdio":
        server.run("stdio")
        return
    if transport != "http":
        raise StarbrainError(f"unknown transport {transport!r}; choose stdio or http")
    if host not in LOOPBACK_NAMES and not token:
        raise StarbrainError(f"serving MCP on {host} needs --token (or STARBRAIN_TOKEN)")
    if token is not None and len(token) < 16:
        raise StarbrainError("the token must have at least 16 characters")
    import uvicorn

    from starbrain.console.security import GuardMiddleware

    app = server.streamable_http_app(host=host)
    guarded = GuardMiddleware(app, token, None if token else list(LOOPBACK_NAMES))
    uvicorn.run(guarded, host=host, port=port, log_level=log_level)
