"""FastAPI app (REST + WebSocket) and the static web console."""
