"""``starbrain mcp``: the Model Context Protocol server for LLM agents (stdio or HTTP)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from starbrain.cli._common import app
from starbrain.core.errors import StarbrainError


class Transport(StrEnum):
    stdio = "stdio"
    http = "http"


@app.command("mcp")
def mcp(
    transport: Annotated[
        Transport, typer.Option(help="stdio (an agent host launches this) or streamable http.")
    ] = Transport.stdio,
    host: Annotated[
        str, typer.Option(help="HTTP address to bind; anything but loopback needs --token.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="HTTP port (endpoint /mcp).")] = 8765,
    token: Annotated[
        str | None,
        typer.Option(
            help="Bearer token for HTTP (>= 16 characters).",
            envvar="STARBRAIN_TOKEN",
            show_default=False,
        ),
    ] = None,
    allow_writes: Annotated[
        bool, typer.Option("--allow-writes", help="Let tools change the store (logged).")
    ] = False,
    log_level: Annotated[str, typer.Option(help="Log level (logs go to standard error).")] = (
        "warning"
    ),
) -> None:
    """Serve starbrain's tools and streams to any MCP client (read-only unless --allow-writes)."""
    try:
        from starbrain.agents.mcp_server import serve
    except ImportError as exc:
        raise StarbrainError(
            f"the MCP server needs the agents extra: pip install 'starbrain[agents]' ({exc})"
        ) from None
    if not 0 < port < 65536:
        raise StarbrainError("--port must be in 1..65535")
    serve(transport.value, host, port, token, allow_writes, log_level)
