"""The MCP tool groups and their registry: each group module has ``TOOLS`` (its tool names)
and ``register(server, allow_writes)``; :func:`register_all` adds every group and the stream
resources to a server."""

from __future__ import annotations

from types import ModuleType

from mcp.server.mcpserver import MCPServer

from starbrain.agents.tools import fleets, orbits, planners, posts, resources, screening, store

GROUPS: tuple[ModuleType, ...] = (posts, store, screening, orbits, planners, fleets)
TOOL_NAMES: tuple[str, ...] = tuple(name for group in GROUPS for name in group.TOOLS)


def register_all(server: MCPServer, allow_writes: bool) -> None:
    """Every group's tools, then the ``starbrain://streams`` resources."""
    for group in GROUPS:
        group.register(server, allow_writes)
    resources.register(server)
