"""API routers, one module per resource."""

from starbrain.console.routes import catalog, health, live, mars, passes, positions

__all__ = ["catalog", "health", "live", "mars", "passes", "positions"]
