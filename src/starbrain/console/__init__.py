"""FastAPI app (REST + WebSocket) and the static web console."""

from starbrain._lazy import lazy_exports

_EXPORTS = {
    "create_app": ("app", "create_app"),
    "serve": ("app", "serve"),
    "ConsoleSettings": ("settings", "ConsoleSettings"),
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
