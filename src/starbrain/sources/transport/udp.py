"""Telemetry over UDP: an asyncio ``DatagramProtocol`` bound to 127.0.0.1 unless told otherwise.

Datagrams (each one or more whole packets) go through a bounded queue: when the consumer of
decoded batches falls behind, the queue fills and further datagrams are dropped and counted (UDP
has no way to slow the sender) instead of growing memory without limit. Decoding runs in a
worker thread so receiving goes on meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import AsyncGenerator, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pyarrow as pa

from starbrain.core.errors import StarbrainError
from starbrain.sources.telemetry.ccsds import DecodeStats, PacketDecoder
from starbrain.sources.telemetry.packets import PacketSet
from starbrain.sources.transport.policy import packet_set
from starbrain.sources.transport.stream import Limits, Sink, check_bind, serve

__all__ = ["ListenReport", "UdpListener", "listen", "send_udp"]


class _Receiver(asyncio.DatagramProtocol):
    def __init__(self, listener: UdpListener) -> None:
        self.listener = listener

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        lst = self.listener
        lst.datagrams += 1
        try:
            lst._queue.put_nowait(data)
        except asyncio.QueueFull:
            lst.dropped_datagrams += 1

    def error_received(self, exc: Exception) -> None:  # e.g. ICMP port unreachable
        self.listener.socket_errors += 1


class UdpListener:
    """Packets arriving as UDP datagrams (each holding one or more whole packets), decoded in
    batches of up to ``batch_packets`` datagrams or every ``batch_ms`` milliseconds.

        async with UdpListener(PacketDecoder(defs, source="udp")) as listener:
            print(listener.address)
            async for batches in listener.batches():
                ...

    Binds to 127.0.0.1 unless ``allow_remote`` (port 0 picks a free port). At most
    ``max_queue`` datagrams wait for decoding; more are dropped and counted.
    """

    def __init__(
        self,
        decoder: PacketDecoder,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        batch_packets: int = 1000,
        batch_ms: float = 50.0,
        max_queue: int = 10_000,
        allow_remote: bool = False,
    ) -> None:
        check_bind(host, allow_remote)
        if batch_packets < 1 or batch_ms <= 0 or max_queue < 1:
            raise ValueError("batch_packets, batch_ms and max_queue must be positive")
        self.decoder = decoder
        self.host, self.port = host, port
        self.batch_packets, self.batch_ms = batch_packets, batch_ms
        self._queue: asyncio.Queue[bytes | None] = asyncio.Queue(max_queue)
        self._transport: asyncio.DatagramTransport | None = None
        self._closed = False
        self.datagrams = 0
        self.dropped_datagrams = 0
        self.socket_errors = 0

    @property
    def stats(self) -> DecodeStats:
        return self.decoder.stats

    @property
    def address(self) -> tuple[str, int]:
        if self._transport is None:
            raise StarbrainError("the listener is not started")
        host, port = self._transport.get_extra_info("sockname")[:2]
        return host, port

    async def start(self) -> tuple[str, int]:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(
            lambda: _Receiver(self), local_addr=(self.host, self.port)
        )
        self._transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):  # a larger buffer rides out bursts; best effort
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
        return self.address

    async def close(self) -> None:
        if self._transport is not None and not self._closed:
            self._transport.close()
        self._closed = True
        with contextlib.suppress(asyncio.QueueFull):
            self._queue.put_nowait(None)

    async def __aenter__(self) -> UdpListener:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def batches(self) -> AsyncGenerator[list[pa.RecordBatch], None]:
        """Decoded record batches, one list per collected batch of datagrams, until closed."""
        loop = asyncio.get_running_loop()
        q = self._queue
        while True:
            first = await q.get()
            if first is None:
                return
            items = [first]
            deadline = loop.time() + self.batch_ms / 1000
            ended = False
            while len(items) < self.batch_packets:
                try:
                    item = q.get_nowait()
                except asyncio.QueueEmpty:
                    remaining = deadline - loop.time()
                    if remaining <= 0:
                        break
                    try:
                        item = await asyncio.wait_for(q.get(), remaining)
                    except TimeoutError:
                        break
                if item is None:
                    ended = True
                    break
                items.append(item)
            decoded = await asyncio.to_thread(self.decoder.feed_datagrams, items)
            if decoded:
                yield decoded
            if ended or (self._closed and q.empty()):
                return


@dataclass(frozen=True, slots=True)
class ListenReport:
    stats: DecodeStats
    datagrams: int
    dropped_datagrams: int
    interrupted: bool = False  # stopped by Ctrl-C


def listen(
    definitions: PacketSet | str | Path | None = None,
    host: str = "127.0.0.1",
    port: int = 10015,
    *,
    sink: Sink | None = None,
    duration_s: float | None = None,
    max_packets: int | None = None,
    idle_s: float | None = None,
    batch_packets: int = 1000,
    batch_ms: float = 50.0,
    max_queue: int = 10_000,
    layout: Literal["long", "wide"] = "long",
    allow_remote: bool = False,
    on_ready: Callable[[tuple[str, int]], object] | None = None,
) -> ListenReport:
    """Listen for packets on UDP until ``duration_s`` has passed, ``max_packets`` were decoded or
    Ctrl-C, handing each batch to ``sink`` (for the CLI: ``starbrain telemetry listen
    [--host 127.0.0.1] [--port 10015] [--definitions YAML] [--duration S]``); ``idle_s`` stops
    it that long after the last datagram. The sink runs in a worker thread, so datagrams keep
    being received while it stores. After Ctrl-C every batch decoded so far still reaches the
    sink and the report says ``interrupted``."""
    defs = packet_set(definitions)
    decoder = PacketDecoder(defs, source=f"udp://{host}:{port}", layout=layout)
    listener = UdpListener(
        decoder,
        host,
        port,
        batch_packets=batch_packets,
        batch_ms=batch_ms,
        max_queue=max_queue,
        allow_remote=allow_remote,
    )

    limits = Limits(
        lambda: decoder.stats.packets,
        lambda: listener.datagrams,
        duration_s,
        idle_s,
        max_packets,
        on_ready,
    )
    interrupted = serve(listener, sink, limits)
    return ListenReport(
        decoder.stats, listener.datagrams, listener.dropped_datagrams, interrupted=interrupted
    )


def send_udp(
    datagrams: Iterable[bytes],
    host: str = "127.0.0.1",
    port: int = 10015,
    *,
    rate_hz: float | None = None,
) -> int:
    """Send datagrams (for tests and simulators); ``rate_hz`` paces them. Returns how many."""
    n = 0
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        start = time.monotonic()
        for dg in datagrams:
            if rate_hz is not None:
                wait = start + n / rate_hz - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
            sock.sendto(dg, (host, port))
            n += 1
    return n
