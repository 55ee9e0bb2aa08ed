"""WebSocket /ws/live: satellite positions pushed every few seconds of wall time.

Query parameters (validated like the REST ones): ``interval_s`` (0.5-60, wall seconds between
frames), ``speed`` (0-3600, simulated seconds per wall second; 0 freezes the clock), ``start``
(simulated start time, default now), ``norad`` (repeatable; default every object) and
``token`` when the console has one. The server first sends a ``hello`` message
(:class:`~starbrain.console.schemas.LiveHello`), then ``positions`` frames
(:class:`~starbrain.console.schemas.LiveFrame`). A client may send JSON
:class:`~starbrain.console.schemas.LiveControl` messages to change the speed, the interval or
the simulated time; a bad message is answered with an ``error`` message and otherwise ignored.
When the live loop runs in the server's process (``starbrain run``, ``starbrain demo``), every
message it publishes is forwarded too, as ``{"type": "event", "subject": ..., ...}`` (subjects:
:data:`starbrain.loop.publish.SUBJECTS`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

import anyio
import numpy as np
from fastapi import APIRouter, WebSocket
from pydantic import BaseModel, Field, ValidationError
from starlette.websockets import WebSocketDisconnect, WebSocketState

from starbrain.console.deps import ApiError, instant
from starbrain.console.fleet import Fleet, FleetCache
from starbrain.console.routes.positions import positions_at
from starbrain.console.schemas import LiveControl, LiveHello
from starbrain.console.settings import MAX_NORAD_PER_REQUEST, ConsoleSettings

router = APIRouter(tags=["live"])


class LiveParams(BaseModel):
    interval_s: float | None = Field(default=None, ge=0.5, le=60.0)
    speed: float = Field(default=1.0, ge=0.0, le=3600.0)
    start: str | None = Field(default=None, max_length=64)
    norad: list[int] = Field(default_factory=list, max_length=MAX_NORAD_PER_REQUEST)


def _errors(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'message'}: {e['msg']}" for e in exc.errors()
    )


class _Clock:
    """Simulated time running ``speed`` times wall time from an anchor."""

    def __init__(self, start: np.datetime64, speed: float) -> None:
        self.anchor_sim, self.anchor_wall, self.speed = start, time.monotonic(), speed

    def now(self) -> np.datetime64:
        elapsed = (time.monotonic() - self.anchor_wall) * self.speed
        return self.anchor_sim + np.timedelta64(int(elapsed * 1e9), "ns")

    def set(self, start: np.datetime64 | None = None, speed: float | None = None) -> None:
        self.anchor_sim = start if start is not None else self.now()
        self.anchor_wall = time.monotonic()
        if speed is not None:
            self.speed = speed


def _frame(cache: FleetCache, norad: list[int], t: np.datetime64, device: str | None) -> dict:
    fleet: Fleet = cache.get()
    index = fleet.index_of(norad)[0] if norad else None
    return positions_at(fleet, index, t, device)


# A client gone away: the send or receive that notices ends the connection quietly.
_CLOSED = (WebSocketDisconnect, RuntimeError, OSError)


class _Sender:
    """Compact JSON text messages on one WebSocket, one at a time (the frame loop, the control
    reader and the event forwarder share it)."""

    def __init__(self, ws: WebSocket) -> None:
        self.ws = ws
        self._lock = anyio.Lock()

    async def send(self, message: dict[str, Any]) -> None:
        async with self._lock:
            await self.ws.send_text(json.dumps(message, separators=(",", ":")))

    async def refuse(self, code: int, message: str) -> None:
        """Send an ``error`` message, then close with WebSocket close ``code``."""
        await self.send({"type": "error", "message": message})
        await self.ws.close(code=code)


async def _admit(
    ws: WebSocket, sender: _Sender, settings: ConsoleSettings, cache: FleetCache
) -> tuple[LiveParams, np.datetime64, Fleet] | None:
    """The validated query (parameters, simulated start, fleet), or None once the connection has
    been refused: bad parameters or unknown NORAD ids (1008), too many live clients (1013)."""
    query = dict(ws.query_params)
    query.pop("token", None)
    query["norad"] = ws.query_params.getlist("norad")  # type: ignore[assignment]
    try:
        params = LiveParams.model_validate(query)
        start = instant(params.start, "start")
    except ValidationError as exc:
        await sender.refuse(1008, f"invalid parameters: {_errors(exc)}")
        return None
    except ApiError as exc:
        await sender.refuse(1008, str(exc.detail))
        return None
    if ws.app.state.live_clients >= settings.live_max_connections:
        await sender.refuse(1013, "too many live connections; try again later")
        return None
    fleet = await anyio.to_thread.run_sync(cache.get)
    missing = fleet.index_of(params.norad)[1] if params.norad else []
    if missing:
        shown = ", ".join(map(str, missing[:10]))
        await sender.refuse(1008, f"no element set stored for NORAD {shown}")
        return None
    return params, start, fleet


class _Session:
    """One admitted client: the simulated clock, the frame interval (wall seconds) and the event
    that wakes the frame loop early after a control message."""

    def __init__(
        self,
        sender: _Sender,
        cache: FleetCache,
        device: str | None,
        norad: list[int],
        clock: _Clock,
        interval: float,
    ) -> None:
        self.sender, self.cache, self.device, self.norad = sender, cache, device, norad
        self.clock, self.interval = clock, interval
        self.wake = anyio.Event()

    async def read_controls(self, scope: anyio.CancelScope) -> None:
        """Apply the client's control messages until it goes away; then end the session."""
        try:
            while True:
                message = await self.sender.ws.receive()
                if message["type"] == "websocket.disconnect":
                    break
                await self._control(message)
        except _CLOSED:
            pass
        finally:
            scope.cancel()

    async def _control(self, message: Mapping[str, Any]) -> None:
        """One control message: new speed, interval or simulated time, or an ``error`` reply."""
        text = message.get("text") or (message.get("bytes") or b"").decode("utf-8", "replace")
        try:
            control = LiveControl.model_validate_json(text)
            at = instant(control.time, "time", "field") if control.time else None
        except ValidationError as exc:
            await self.sender.send({"type": "error", "message": _errors(exc)})
            return
        except ApiError as exc:
            await self.sender.send({"type": "error", "message": str(exc.detail)})
            return
        self.clock.set(at, control.speed)
        if control.interval_s is not None:
            self.interval = control.interval_s
        self.wake.set()

    async def forward(self, bus: Any, scope: anyio.CancelScope) -> None:
        """Pass on every message the in-process live loop publishes, as ``event`` messages."""
        with bus.subscribe(maxsize=256) as queue:
            try:
                while True:
                    message = await queue.get()
                    await self.sender.send({"type": "event", **message})
            except _CLOSED:
                scope.cancel()

    async def push_frames(self, scope: anyio.CancelScope) -> None:
        """A ``positions`` frame every ``interval`` wall seconds (sooner after a control
        message) until the client goes away; then end the session."""
        seq = 0
        try:
            while True:
                body = await anyio.to_thread.run_sync(
                    _frame, self.cache, self.norad, self.clock.now(), self.device
                )
                seq += 1
                await self.sender.send(
                    {"type": "positions", "seq": seq, "speed": self.clock.speed, **body}
                )
                with anyio.move_on_after(self.interval):
                    await self.wake.wait()
                self.wake = anyio.Event()
        except _CLOSED:
            pass
        finally:
            scope.cancel()


@router.websocket("/ws/live")
async def live(ws: WebSocket) -> None:
    settings: ConsoleSettings = ws.app.state.settings
    cache: FleetCache = ws.app.state.fleet_cache
    await ws.accept()
    sender = _Sender(ws)
    admitted = await _admit(ws, sender, settings, cache)
    if admitted is None:
        return
    params, start, fleet = admitted
    ws.app.state.live_clients += 1
    clock = _Clock(start, params.speed)
    interval = params.interval_s or settings.live_interval_s
    session = _Session(sender, cache, settings.device, params.norad, clock, interval)
    try:
        await sender.send(
            LiveHello(
                interval_s=interval,
                speed=clock.speed,
                count=len(params.norad) if params.norad else len(fleet),
                shells=fleet.shells,
            ).model_dump()
        )
        async with anyio.create_task_group() as tg:
            tg.start_soon(session.read_controls, tg.cancel_scope)
            bus = getattr(ws.app.state, "bus", None)
            if bus is not None:
                tg.start_soon(session.forward, bus, tg.cancel_scope)
            await session.push_frames(tg.cancel_scope)
    finally:
        ws.app.state.live_clients -= 1
        if ws.application_state == WebSocketState.CONNECTED:
            try:
                await ws.close()
            except _CLOSED:
                pass
