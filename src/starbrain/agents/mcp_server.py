"""``starbrain mcp``: a Model Context Protocol server over the store and the planners.

Built on the official python SDK (``mcp``, MIT; ``MCPServer``). Transports: stdio (the default;
an agent host launches ``starbrain mcp``) and streamable HTTP (``--transport http``, endpoint
``/mcp``), which binds loopback (127.0.0.1) by default and needs ``--token`` (>= 16 characters,
sent as ``Authorization: Bearer TOKEN``) on any other address; the console's guard checks the
token in constant time and, without one, refuses non-loopback ``Host`` headers.

Tools (JSON in and out, input schemas from their pydantic-annotated parameters; times ISO-8601
UTC with ``Z``, units in the field names and descriptions), one module per group under
:mod:`starbrain.agents.tools`:

=========================  =====================================================================
``search_posts``           hybrid/lexical/embedding search of stored posts (``--since 1h`` style)
``post_bursts``            topic bursts in stored posts, linked to fleet events with a confidence
``catalog_query``          current element sets by NORAD id or name
``telemetry_anomalies``    stored telemetry anomalies (``anomalies`` stream)
``telemetry_window``       telemetry samples of one source/parameter in a time window
``conjunctions``           the latest stored conjunction screening, highest Pc first
``screen_conjunctions``    run a screening (stores it only with --allow-writes, progress)
``orbit_predict``          TEME states from the newest element sets (``model``: latest|NAME|sgp4)
``passes``                 passes of catalogued satellites over a ground station (progress)
``plan_avoidance``         minimum-dv avoidance burn for a stored conjunction (progress)
``contacts_plan``          downlink contacts, greedy or MILP, over ground stations (progress)
``route_latency``          city-to-city RTT over a constellation preset's laser links
``mars_windows``           Earth-Mars minimum-C3 type I/II transfers per opportunity
``fleet_state``            latest stored state per vehicle / arm / GPU (the new fleets)
``arm_estimate``           an arm's payload kg, damping, friction from its stored telemetry
``compute_schedule``       power-capped GPU job schedules: no cap, 60% cap, Zeus, starbrain
=========================  =====================================================================

Tools that propagate orbits answer with ``model``, the propagator they used.

Resources: ``starbrain://streams`` (every stream with its row count) and
``starbrain://streams/{name}`` (a stream's schema, key and newest rows).

**Read-only by default.** A tool that changes the store (``plan_avoidance`` with
``store_plan=true``, ``screen_conjunctions`` with ``store_result=true``) needs the server
started with ``--allow-writes``; every such call is logged (logger ``starbrain.agents``, on
standard error, never standard output, which carries stdio MCP). Without the flag the tool
still plans or screens, and says it stored nothing.
"""

from __future__ import annotations

import logging
from typing import Literal

from mcp.server.mcpserver import MCPServer

from starbrain.agents.tools import TOOL_NAMES, register_all
from starbrain.core.errors import StarbrainError

__all__ = ["TOOL_NAMES", "build_server", "serve"]

log = logging.getLogger("starbrain.agents")


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
    register_all(server, allow_writes)
    return server


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
