"""MCP resources: the store's streams (row counts; a stream's schema, key and head)."""

from __future__ import annotations

from typing import Any

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ResourceError

from starbrain.agents.tools._common import open_store, rows
from starbrain.core.errors import StarbrainError


def register(server: MCPServer) -> None:
    """Add ``starbrain://streams`` and ``starbrain://streams/{name}`` to ``server``."""

    @server.resource(
        "starbrain://streams",
        mime_type="application/json",
        description="Every stream of the store with its row count.",
    )
    def streams() -> dict[str, Any]:
        from starbrain.store.streams import STREAMS

        with open_store() as store:
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
        with open_store() as store:
            t = store.read(name, limit=20)
            n = store.count(name)
        return {
            "name": name,
            "rows": n,
            "key": list(s.key),
            "schema": {f.name: str(f.type) for f in s.schema},
            "head": rows(t),
        }
