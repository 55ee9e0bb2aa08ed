"""What the stream listeners (``udp.py``, ``tcp.py``) share: binding to loopback unless told
otherwise, and running a listener until a duration, an idle time, a packet count or Ctrl-C
while a worker thread hands every decoded batch to the sink."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass
from typing import Protocol

import pyarrow as pa

from starbrain.core.errors import StarbrainError

__all__ = ["LOOPBACK", "Limits", "Listener", "Sink", "SinkWorker", "check_bind", "pump", "serve"]

LOOPBACK = ("127.0.0.1", "::1", "localhost")
Sink = Callable[[pa.RecordBatch], object]


def check_bind(host: str, allow_remote: bool) -> None:
    """Telemetry listens on loopback unless ``allow_remote``: ``StarbrainError`` otherwise."""
    if host not in LOOPBACK and not allow_remote:
        raise StarbrainError(
            f"refusing to listen on {host}: telemetry listens on loopback "
            "unless allow_remote is set"
        )


@dataclass(frozen=True, slots=True)
class Limits:
    """When a listener stops: ``duration_s`` after starting, ``idle_s`` without input after the
    first (``activity`` counts input: datagrams, bytes), or ``max_packets`` decoded (``packets``
    counts them). ``on_ready`` gets the bound (host, port) once listening."""

    packets: Callable[[], int]
    activity: Callable[[], int]
    duration_s: float | None = None
    idle_s: float | None = None
    max_packets: int | None = None
    on_ready: Callable[[tuple[str, int]], object] | None = None


class Listener(Protocol):
    """A started UDP or TCP listener, as :func:`pump` drives it."""

    @property
    def address(self) -> tuple[str, int]: ...

    async def close(self) -> None: ...

    def batches(self) -> AsyncGenerator[list[pa.RecordBatch], None]: ...

    async def __aenter__(self) -> Listener: ...

    async def __aexit__(self, *exc: object) -> None: ...


# -- handing batches to a sink while receiving goes on ---------------------------------------------
class SinkWorker:
    """Calls ``sink`` on each decoded batch in a worker thread, in order, so that receiving and
    decoding go on while the sink stores. At most ``depth`` lists of batches wait; then ``put``
    waits too (back-pressure on the decoder). An exception of the sink is raised by the next
    ``put`` or by ``close``."""

    def __init__(self, sink: Sink | None, depth: int = 4) -> None:
        self.sink = sink
        self._queue: asyncio.Queue[list[pa.RecordBatch] | None] = asyncio.Queue(depth)
        self._task: asyncio.Task[None] | None = None
        self._error: BaseException | None = None

    def _call(self, batches: list[pa.RecordBatch]) -> None:
        assert self.sink is not None
        for batch in batches:
            self.sink(batch)

    async def _run(self) -> None:
        while (item := await self._queue.get()) is not None:
            if self.sink is None or self._error is not None:
                continue  # after a failure keep draining so that put() never blocks for ever
            try:
                await asyncio.to_thread(self._call, item)
            except Exception as exc:
                self._error = exc

    def _raise(self) -> None:
        if self._error is not None:
            raise self._error

    async def put(self, batches: list[pa.RecordBatch]) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run())
        self._raise()
        await self._queue.put(batches)

    async def close(self) -> None:
        """Wait until every queued batch went to the sink (also when cancelled: Ctrl-C)."""
        if self._task is not None:
            await self._queue.put(None)
            await asyncio.shield(self._task)
        self._raise()


async def pump(
    listener: Listener,
    sink: Sink | None,
    limits: Limits,
) -> None:
    """Run a started listener until ``limits`` say so, or cancellation; every decoded batch
    reaches ``sink``."""
    duration_s, idle_s, max_packets = limits.duration_s, limits.idle_s, limits.max_packets
    packets, activity, on_ready = limits.packets, limits.activity, limits.on_ready
    if on_ready is not None:
        on_ready(listener.address)
    loop = asyncio.get_running_loop()
    stopper = (
        loop.call_later(duration_s, lambda: asyncio.ensure_future(listener.close()))
        if duration_s is not None
        else None
    )

    async def watch_idle(idle: float) -> None:
        seen, since = activity(), loop.time()
        while True:
            await asyncio.sleep(min(idle, 0.1))
            now = activity()
            if now != seen:
                seen, since = now, loop.time()
            elif seen and loop.time() - since >= idle:
                await listener.close()
                return

    watcher = asyncio.create_task(watch_idle(idle_s)) if idle_s is not None else None
    worker = SinkWorker(sink)
    try:
        async with contextlib.aclosing(listener.batches()) as stream:
            async for batches in stream:
                await worker.put(batches)
                if max_packets is not None and packets() >= max_packets:
                    break
    finally:
        if stopper is not None:
            stopper.cancel()
        if watcher is not None:
            watcher.cancel()
        await worker.close()


def serve(listener: Listener, sink: Sink | None, limits: Limits) -> bool:
    """Start ``listener`` and :func:`pump` it on a new event loop; True when Ctrl-C ended it
    (every batch decoded by then has still reached ``sink``)."""

    async def run() -> None:
        async with listener:
            await pump(listener, sink, limits)

    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        return True
    return False
