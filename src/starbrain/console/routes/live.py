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


@router.websocket("/ws/live")
async def live(ws: WebSocket) -> None:
    settings: ConsoleSettings = ws.app.state.settings
    cache: FleetCache = ws.app.state.fleet_cache
    await ws.accept()
    send_lock = anyio.Lock()

    async def send(message: dict[str, Any]) -> None:
        async with send_lock:
            await ws.send_text(json.dumps(message, separators=(",", ":")))

    async def refuse(code: int, message: str) -> None:
        await send({"type": "error", "message": message})
        await ws.close(code=code)

    query = dict(ws.query_params)
    query.pop("token", None)
    query["norad"] = ws.query_params.getlist("norad")  # type: ignore[assignment]
    try:
        params = LiveParams.model_validate(query)
        start = instant(params.start, "start")
    except ValidationError as exc:
        await refuse(1008, f"invalid parameters: {_errors(exc)}")
        return
    except ApiError as exc:
        await refuse(1008, str(exc.detail))
        return
    if ws.app.state.live_clients >= settings.live_max_connections:
        await refuse(1013, "too many live connections; try again later")
        return
    fleet = await anyio.to_thread.run_sync(cache.get)
    missing = fleet.index_of(params.norad)[1] if params.norad else []
    if missing:
        await refuse(1008, f"no element set stored for NORAD {', '.join(map(str, missing[:10]))}")
        return

    ws.app.state.live_clients += 1
    clock = _Clock(start, params.speed)
    interval = params.interval_s or settings.live_interval_s
    wake = anyio.Event()
    try:
        await send(
            LiveHello(
                interval_s=interval,
                speed=clock.speed,
                count=len(params.norad) if params.norad else len(fleet),
                shells=fleet.shells,
            ).model_dump()
        )
        async with anyio.create_task_group() as tg:

            async def reader() -> None:
                nonlocal interval, wake
                try:
                    while True:
                        message = await ws.receive()
                        if message["type"] == "websocket.disconnect":
                            break
                        text = message.get("text") or (message.get("bytes") or b"").decode(
                            "utf-8", "replace"
                        )
                        try:
                            control = LiveControl.model_validate_json(text)
                            at = instant(control.time, "time", "field") if control.time else None
                        except ValidationError as exc:
                            await send({"type": "error", "message": _errors(exc)})
                            continue
                        except ApiError as exc:
                            await send({"type": "error", "message": str(exc.detail)})
                            continue
                        clock.set(at, control.speed)
                        if control.interval_s is not None:
                            interval = control.interval_s
                        wake.set()
                except (WebSocketDisconnect, RuntimeError, OSError):
                    pass
                finally:
                    tg.cancel_scope.cancel()

            tg.start_soon(reader)
            bus = getattr(ws.app.state, "bus", None)
            if bus is not None:

                async def forward() -> None:
                    with bus.subscribe(maxsize=256) as queue:
                        try:
                            while True:
                                message = await queue.get()
                                await send({"type": "event", **message})
                        except (WebSocketDisconnect, RuntimeError, OSError):
                            tg.cancel_scope.cancel()

                tg.start_soon(forward)
            seq = 0
            try:
                while True:
                    body = await anyio.to_thread.run_sync(
                        _frame, cache, params.norad, clock.now(), settings.device
                    )
                    seq += 1
                    await send({"type": "positions", "seq": seq, "speed": clock.speed, **body})
                    with anyio.move_on_after(interval):
                        await wake.wait()
                    wake = anyio.Event()
            except (WebSocketDisconnect, RuntimeError, OSError):
                pass
            finally:
                tg.cancel_scope.cancel()
    finally:
        ws.app.state.live_clients -= 1
        if ws.application_state == WebSocketState.CONNECTED:
            try:
                await ws.close()
            except (WebSocketDisconnect, RuntimeError, OSError):
                pass
