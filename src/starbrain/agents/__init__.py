"""The agents' door: the MCP server (tools over the store and the planners, for any LLM agent)."""

from starbrain._lazy import lazy_exports

_EXPORTS = {
    "build_server": ("mcp_server", "build_server"),
    "serve_mcp": ("mcp_server", "serve"),
    "TOOL_NAMES": ("mcp_server", "TOOL_NAMES"),
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
