"""MCP tools over the posts stream: search and bursts linked to fleet events."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from mcp.server.mcpserver import MCPServer
from pydantic import Field

from starbrain.agents.tools._common import MAX_ROWS, open_store, rows, user_errors

TOOLS = ("search_posts", "post_bursts")


def register(server: MCPServer, allow_writes: bool) -> None:
    """Add the posts tools to ``server`` (all read-only)."""

    @server.tool(
        description="Search stored public posts (BM25, embedding cosine, or both "
        "fused). since/until: ISO-8601 UTC or a duration back from `now` (15m, 1h, 2d)."
    )
    @user_errors
    def search_posts(
        query: Annotated[str, Field(min_length=1, description="What to look for.")],
        since: Annotated[str | None, Field(description="ISO time or duration (1h).")] = None,
        until: Annotated[str | None, Field(description="ISO time or duration.")] = None,
        now: Annotated[str | None, Field(description="Durations count back from this.")] = None,
        limit: Annotated[int, Field(ge=1, le=MAX_ROWS)] = 10,
        mode: Literal["hybrid", "lexical", "embedding"] = "hybrid",
    ) -> dict[str, Any]:
        from starbrain.models.text.queries import search_store

        with open_store() as store:
            hits = search_store(store, query, limit, mode, since, until, now)
        return {"query": query, "mode": mode, "hits": rows(hits)}

    @server.tool(
        description="Topic bursts in stored posts (Kleinberg two-state per term), "
        "each linked to the fleet event it is about (stored launch anomalies and "
        "conjunction alerts) with a confidence in [0, 1]; spam bursts flagged."
    )
    @user_errors
    def post_bursts(
        since: Annotated[str | None, Field(description="ISO time or duration (6h).")] = None,
        until: Annotated[str | None, Field(description="ISO time or duration.")] = None,
        now: Annotated[str | None, Field(description="Durations count back from this.")] = None,
        include_spam: bool = False,
    ) -> dict[str, Any]:
        from starbrain.models.text.bursts import bursts_table
        from starbrain.models.text.queries import store_bursts

        with open_store() as store:
            bursts, _ = store_bursts(store, since, until, now)
        shown = [b for b in bursts if include_spam or not b.spam]
        return {
            "n_bursts": len(bursts),
            "n_spam": sum(b.spam for b in bursts),
            "bursts": rows(bursts_table(shown)),
        }
