"""Request guards: the bearer token, the Host allow-list and the same-origin check.

One ASGI middleware in front of everything (REST, WebSocket, static files, docs):

* **Token.** When the console has a token, every request must carry it: the header
  ``Authorization: Bearer TOKEN``, the query parameter ``token`` (WebSocket clients and the first
  page load, ``/?token=TOKEN``) or the ``starbrain_token`` cookie that a page load with a valid
  query token sets (HttpOnly, SameSite=Strict) so the page's own assets and calls are
  authorised. Compared in constant time.
* **Host.** Without a token the console serves loopback only; it then also refuses requests whose
  ``Host`` is not a loopback name, which defeats DNS-rebinding pages.
* **Origin.** A request that names an ``Origin`` must come from the console's own origin, so
  other web pages cannot open the live WebSocket (browsers do not apply CORS to WebSockets).
"""

from __future__ import annotations

import hmac
import json
import logging
import re
from collections.abc import Sequence
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qs, urlsplit

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["COOKIE_NAME", "GuardMiddleware", "RedactTokenFilter"]

COOKIE_NAME = "starbrain_token"
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")


def _host_name(host_header: str) -> str:
    """'example:8000' -> 'example'; '[::1]:8000' -> '::1'."""
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


class GuardMiddleware:
    def __init__(
        self, app: ASGIApp, token: str | None, allowed_hosts: Sequence[str] | None = None
    ) -> None:
        self.app = app
        self.token = token.encode() if token else None
        self.allowed_hosts = {h.lower() for h in allowed_hosts} if allowed_hosts else None

    def _token_ok(self, candidate: str | None) -> bool:
        return bool(candidate) and hmac.compare_digest(candidate.encode(), self.token or b"")  # type: ignore[union-attr]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        host = headers.get("host", "")
        if self.allowed_hosts is not None and _host_name(host) not in self.allowed_hosts:
            await self._deny(scope, send, 400, "bad_host", f"host {host!r} is not served here")
            return
        origin = headers.get("origin")
        if origin is not None and urlsplit(origin).netloc.lower() != host.lower():
            await self._deny(
                scope, send, 403, "forbidden", f"cross-origin request from {origin} refused"
            )
            return
        set_cookie = False
        if self.token is not None:
            auth = headers.get("authorization", "")
            bearer = auth[7:].strip() if auth[:7].lower() == "bearer " else None
            query = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("token", [])
            cookie = SimpleCookie()
            try:
                cookie.load(headers.get("cookie", ""))
            except Exception:  # a malformed cookie header is just no cookie
                cookie = SimpleCookie()
            from_cookie = cookie[COOKIE_NAME].value if COOKIE_NAME in cookie else None
            from_query = query[0] if query else None
            if self._token_ok(bearer) or self._token_ok(from_cookie):
                pass
            elif self._token_ok(from_query):
                set_cookie = scope["type"] == "http"
            else:
                why = "a wrong" if (bearer or from_query or from_cookie) else "no"
                await self._deny(
                    scope,
                    send,
                    401,
                    "unauthorized",
                    f"{why} token: send 'Authorization: Bearer TOKEN' (WebSocket: ?token=TOKEN; "
                    "browser: open /?token=TOKEN once)",
                )
                return
        if not set_cookie:
            await self.app(scope, receive, send)
            return
        token = self.token.decode()  # type: ignore[union-attr]

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                cookie_value = f"{COOKIE_NAME}={token}; Path=/; HttpOnly; SameSite=Strict"
                message = {
                    **message,
                    "headers": [
                        *message.get("headers", []),
                        (b"set-cookie", cookie_value.encode()),
                    ],
                }
            await send(message)

        await self.app(scope, receive, send_with_cookie)

    @staticmethod
    async def _deny(scope: Scope, send: Send, status: int, code: str, message: str) -> None:
        body = json.dumps({"error": code, "message": message, "details": []}).encode()
        head = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ]
        if status == 401:
            head.append((b"www-authenticate", b"Bearer"))
        if scope["type"] == "websocket":
            if "websocket.http.response" in scope.get("extensions", {}):
                await send(
                    {"type": "websocket.http.response.start", "status": status, "headers": head}
                )
                await send({"type": "websocket.http.response.body", "body": body})
            else:
                await send({"type": "websocket.close", "code": 1008, "reason": message[:120]})
            return
        await send({"type": "http.response.start", "status": status, "headers": head})
        await send({"type": "http.response.body", "body": body})


_TOKEN_RE = re.compile(r"(token=)[^&\s]+")


class RedactTokenFilter(logging.Filter):
    """Hides ``token=...`` query values in uvicorn's access log lines."""

    def filter(self, record: logging.LogRecord) -> bool:
        args: Any = record.args
        if isinstance(args, tuple):
            record.args = tuple(
                _TOKEN_RE.sub(r"\1***", a) if isinstance(a, str) else a for a in args
            )
        return True
