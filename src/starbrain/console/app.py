"""The console's FastAPI application (REST + WebSocket + the static web console) and ``serve``.

``create_app()`` builds the app; ``serve()`` runs it with uvicorn, on 127.0.0.1 unless a token
guards it. OpenAPI: ``/api/openapi.json``, interactive docs at ``/api/docs``.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from starbrain import __version__
from starbrain.console.fleet import FleetCache, StoreProvider
from starbrain.console.routes import (
    arm,
    catalog,
    compute,
    conjunctions,
    health,
    links,
    live,
    mars,
    models,
    passes,
    positions,
    posts,
    telemetry,
    vehicles,
)
from starbrain.console.security import LOOPBACK_NAMES, GuardMiddleware, RedactTokenFilter
from starbrain.console.settings import ConsoleSettings, check_bind
from starbrain.core.errors import StarbrainError
from starbrain.store.database import Store, StoreBusyError

__all__ = ["STATIC_DIR", "create_app", "serve"]

STATIC_DIR = Path(__file__).parent / "static"
VENDOR_DIR = STATIC_DIR / "vendor"
log = logging.getLogger("starbrain.console")

_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    422: "invalid_request",
    429: "too_many_requests",
    503: "unavailable",
}


def _error(status: int, message: str, details: list[dict[str, str]] | None = None) -> JSONResponse:
    body = {"error": _CODES.get(status, f"http_{status}"), "message": message}
    return JSONResponse({**body, "details": details or []}, status_code=status)


def _location(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("query", "path", "header", "body", "cookie"):
        return ".".join(parts[:2]) + "".join(f"[{p}]" for p in parts[2:])
    return ".".join(parts)


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        details = [
            {"location": _location(tuple(e.get("loc", ()))), "message": str(e.get("msg", ""))}
            for e in errors
        ]
        if not errors:
            return _error(422, "invalid request")
        loc = tuple(errors[0].get("loc", ()))
        if len(loc) >= 2 and loc[0] in ("query", "path", "header", "cookie"):
            where = f"{loc[0]} parameter {str(loc[1])!r}"
            if len(loc) > 2 and isinstance(loc[2], int):
                where += f" (value {loc[2] + 1})"
        else:
            where = details[0]["location"] or "request"
        more = f" (and {len(details) - 1} more)" if len(details) > 1 else ""
        return _error(422, f"{where}: {details[0]['message']}{more}", details)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        if exc.status_code == 404 and message == "Not Found":
            message = f"nothing at {request.url.path}"
        elif exc.status_code == 405:
            message = f"{request.method} is not allowed on {request.url.path}"
        response = _error(exc.status_code, message)
        if exc.headers:
            response.headers.update(exc.headers)
        allowed = _allowed(request) if exc.status_code == 405 else None
        if allowed:  # every method of the path (GET and POST /api/posts)
            response.headers["Allow"] = ", ".join(allowed)
        return response

    @app.exception_handler(StoreBusyError)
    async def store_busy(_: Request, exc: StoreBusyError) -> JSONResponse:
        # another process holds the store's write lock (a load, the loop): not the client's fault
        response = _error(503, str(exc))
        response.headers["Retry-After"] = str(exc.retry_after_s)
        return response

    @app.exception_handler(StarbrainError)
    async def starbrain_error(_: Request, exc: StarbrainError) -> JSONResponse:
        return _error(422, str(exc))


def _allowed(request: Request) -> list[str] | None:
    """The methods the API documents on the request's path (Starlette's own ``Allow`` names
    only the first route of a path that has several, e.g. GET of GET and POST /api/posts);
    None for a path the document does not list as such (templated paths keep Starlette's)."""
    item = request.app.openapi().get("paths", {}).get(request.url.path)
    if not isinstance(item, dict):
        return None
    verbs = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
    return sorted(m.upper() for m in item if m in verbs)


def _install_docs(app: FastAPI) -> None:
    """Swagger UI from the vendored swagger-ui-dist; without it, a page that links the raw spec
    (never a CDN: the console must work offline)."""
    local = (VENDOR_DIR / "swagger-ui" / "swagger-ui-bundle.js").is_file()

    @app.get("/api/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        if local:
            return get_swagger_ui_html(
                openapi_url="/api/openapi.json",
                title="starbrain API",
                swagger_js_url="/vendor/swagger-ui/swagger-ui-bundle.js",
                swagger_css_url="/vendor/swagger-ui/swagger-ui.css",
                swagger_favicon_url="/favicon.svg",
            )
        return HTMLResponse(
            "<!doctype html><title>starbrain API</title><p>The interactive docs need the "
            "vendored Swagger UI (run <code>make run</code>, or "
            "<code>src/starbrain/console/frontend/fetch_vendor.sh</code>). The OpenAPI spec is at "
            '<a href="/api/openapi.json">/api/openapi.json</a>.</p>'
        )


def _security_headers(app: FastAPI) -> None:
    """Hardening headers on every response, and any unexpected error as a JSON 500."""

    @app.middleware("http")
    async def headers(request: Request, call_next: Any) -> Any:
        try:
            response = await call_next(request)
        except Exception as exc:  # answered here, so the server keeps the connection open
            log.exception("%s %s failed", request.method, request.url.path)
            response = _error(500, f"internal error ({type(exc).__name__}); see the server log")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "no-referrer")  # the token may be in a URL
        return response


ROUTERS = (
    health, catalog, positions, passes, conjunctions, telemetry, models, mars, live, links,
    vehicles, arm, compute, posts,
)  # fmt: skip

DESCRIPTION = (
    "Catalogue, positions, ground tracks, passes, conjunctions, telemetry and anomalies, "
    "the world-model registry, the live loop's status, inter-satellite links and "
    "city-to-city routes, Earth-Mars transfers, and the other fleets (vehicle tracks, model "
    "error and lane changes; robot-arm joint tracking; the GPU hall's power, temperatures and "
    "power-capped schedule; public posts, bursts, search and `POST /api/posts` ingest) from "
    "the starbrain store; live positions (and, under `starbrain run`, every message the loop "
    "publishes) over the WebSocket `/ws/live`. Every error is JSON: `{error, message, "
    "details}`. When the server has a token, send `Authorization: Bearer TOKEN`."
)


def _settings(
    store_path: str | Path | None,
    token: str | None,
    store: Store | None,
    settings: ConsoleSettings | None,
) -> ConsoleSettings:
    """``settings`` (default :class:`ConsoleSettings`) with ``store_path``/``token`` (or the
    shared ``store``'s path) put in when given."""
    base = settings or ConsoleSettings()
    overrides: dict[str, Any] = {}
    if store_path is not None:
        overrides["store_path"] = Path(store_path)
    elif store is not None:
        overrides["store_path"] = store.path
    if token is not None:
        overrides["token"] = token
    if not overrides:
        return base
    from dataclasses import replace

    return replace(base, **overrides)


def _init_state(app: FastAPI, cfg: ConsoleSettings, stores: StoreProvider) -> None:
    app.state.settings = cfg
    app.state.stores = stores
    app.state.fleet_cache = FleetCache(stores, cfg.fleet_refresh_s, cfg.device)
    app.state.compute_limiter = anyio.CapacityLimiter(cfg.compute_slots)
    app.state.live_clients = 0
    app.state.bus = None  # the live loop's in-process bus, when it runs in this process
    app.state.loop = None  # the live loop itself (its status), likewise


def create_app(
    store_path: str | Path | None = None,
    token: str | None = None,
    *,
    store: Store | None = None,
    settings: ConsoleSettings | None = None,
) -> FastAPI:
    """The console app.

    Args:
        store_path: DuckDB store to serve (default ``STARBRAIN_DB`` or the data directory's);
            opened read-only per request, so other processes can keep writing to it. The file
            is created empty when missing.
        token: bearer token every request must carry (default ``STARBRAIN_TOKEN``; none: no
            authentication, and only loopback ``Host`` names are served).
        store: an open :class:`Store` to share instead (e.g. the live loop's, in-process).
        settings: every other knob (:class:`ConsoleSettings`); ``store_path`` and ``token``
            override its fields when given.
    """
    cfg = _settings(store_path, token, store, settings)
    stores = StoreProvider(cfg.store_path, shared=store)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.compute_limiter = anyio.CapacityLimiter(cfg.compute_slots)
        yield
        stores.close()

    app = FastAPI(
        title="starbrain console API",
        version=__version__,
        description=DESCRIPTION,
        openapi_url="/api/openapi.json",
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    _init_state(app, cfg, stores)
    _install_error_handlers(app)
    _security_headers(app)
    app.add_middleware(
        GuardMiddleware,
        token=cfg.token,
        allowed_hosts=None if cfg.token else LOOPBACK_NAMES,
    )
    for module in ROUTERS:
        app.include_router(module.router)
    _install_docs(app)
    if cfg.token:
        _document_bearer(app)
    app.mount("/", StaticFiles(directory=STATIC_DIR, html=True), name="static")
    return app


def _document_bearer(app: FastAPI) -> None:
    """Declare the bearer scheme in the OpenAPI document (the middleware enforces it)."""
    original = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = original()
            schema.setdefault("components", {})["securitySchemes"] = {
                "bearer": {"type": "http", "scheme": "bearer"}
            }
            schema["security"] = [{"bearer": []}]
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    token: str | None = None,
    store_path: str | Path | None = None,
    *,
    log_level: str = "info",
) -> None:
    """Serve the console with uvicorn until interrupted.

    Binds 127.0.0.1 by default. Any other address needs a token (``token`` or
    ``STARBRAIN_TOKEN``): without one this raises :class:`StarbrainError` before listening.
    """
    import uvicorn

    token = token or os.environ.get("STARBRAIN_TOKEN") or None
    check_bind(host, token)
    if not 0 < port < 65536:
        raise StarbrainError(f"port {port} is not in 1..65535")
    app = create_app(store_path, token)
    logging.getLogger("uvicorn.access").addFilter(RedactTokenFilter())
    shown = f"[{host}]" if ":" in host else host
    hint = "?token=YOUR_TOKEN (once; a cookie keeps it)" if token else ""
    print(f"starbrain console: open http://{shown}:{port}/{hint}", file=sys.stderr)
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level=log_level,
        proxy_headers=False,
        server_header=False,
        ws_max_size=1 << 16,
    )
