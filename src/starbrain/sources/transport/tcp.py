"""Telemetry over TCP: a listener taking any number of clients, each a byte stream of packets
framed by their CCSDS length fields (a packet may arrive in any number of reads; each connection
has its own decoder and ``DecodeStats``). Decoded batches go through a bounded queue; TCP can
wait: when it is full a connection stops reading, and TCP flow control slows its sender.
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

__all__ = [
    "TcpListener",
    "TcpReport",
    "listen_tcp",
    "merge_stats",
    "parse_host_port",
    "send_tcp",
]


_COUNTERS = (
    "bytes",
    "packets",
    "parameters",
    "idle_packets",
    "unknown_apid",
    "bad_length",
    "bad_header",
    "skipped_bytes",
    "crc",
    "seq_gaps",
    "missing_packets",
    "truncated",
    "duplicates",
)


def merge_stats(
    parts: Iterable[DecodeStats], source: str = "", max_errors: int = 100
) -> DecodeStats:
    """The sum of several sources' statistics (errors concatenated, the first ``max_errors``)."""
    total = DecodeStats(source=source, max_errors=max_errors)
    for st in parts:
        for name in _COUNTERS:
            setattr(total, name, getattr(total, name) + getattr(st, name))
        for apid, n in st.by_apid.items():
            total.by_apid[apid] = total.by_apid.get(apid, 0) + n
        for apid, n in st.unknown_by_apid.items():
            total.unknown_by_apid[apid] = total.unknown_by_apid.get(apid, 0) + n
        total.errors.extend(st.errors[: max(0, max_errors - len(total.errors))])
    return total


def parse_host_port(text: str, default_port: int) -> tuple[str, int]:
    """``HOST:PORT``, ``HOST``, ``:PORT`` or ``[IPv6]:PORT`` -> (host, port)."""
    host, sep, port = text.rpartition(":")
    if not sep or "]" in port:
        host, port = text, ""
    host = host.strip("[]") or "127.0.0.1"
    try:
        return host, int(port) if port else default_port
    except ValueError:
        raise StarbrainError(f"{text!r} is not HOST:PORT") from None


class TcpListener:
    """Packets arriving over TCP from any number of clients, each connection a byte stream of
    packets (framed by the CCSDS length field, split across reads in any way).

        async with TcpListener(defs, port=0) as listener:
            print(listener.address)
            async for batches in listener.batches():
                ...

    Each connection is decoded by its own ``PacketDecoder`` (source ``tcp://HOST:PORT/PEER``);
    ``connections`` holds their statistics and ``stats`` the sum. At most ``max_queue`` decoded
    reads wait for the consumer; then connections stop reading (TCP back-pressure). Binds to
    127.0.0.1 unless ``allow_remote``.
    """

    def __init__(
        self,
        definitions: PacketSet | str | Path | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        batch_rows: int = 200_000,
        batch_ms: float = 50.0,
        read_bytes: int = 1 << 16,
        max_queue: int = 256,
        layout: Literal["long", "wide"] = "long",
        max_errors: int = 100,
        allow_remote: bool = False,
    ) -> None:
        check_bind(host, allow_remote)
        if batch_rows < 1 or batch_ms <= 0 or read_bytes < 1 or max_queue < 1:
            raise ValueError("batch_rows, batch_ms, read_bytes and max_queue must be positive")
        self.definitions = packet_set(definitions)
        # Building the first decoder imports and warms up what decoding needs (over a second
        # on a cold start); done here, the first client is not kept waiting.
        PacketDecoder(self.definitions)
        self.host, self.port = host, port
        self.batch_rows, self.batch_ms, self.read_bytes = batch_rows, batch_ms, read_bytes
        self.layout: Literal["long", "wide"] = layout
        self.max_errors = max_errors
        self._queue: asyncio.Queue[list[pa.RecordBatch] | None] = asyncio.Queue(max_queue)
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False
        self._bound: tuple[str, int] | None = None
        self._end: asyncio.Future[None] | None = None
        self.connections: list[DecodeStats] = []
        self.active = 0  # connections open now

    @property
    def address(self) -> tuple[str, int]:
        if self._server is None or not self._server.sockets:
            raise StarbrainError("the listener is not started")
        host, port = self._server.sockets[0].getsockname()[:2]
        return host, port

    @property
    def stats(self) -> DecodeStats:
        """Every connection's statistics summed."""
        host, port = self._bound or (self.host, self.port)
        return merge_stats(self.connections, f"tcp://{host}:{port}", self.max_errors)

    async def start(self) -> tuple[str, int]:
        self._server = await asyncio.start_server(self._handle, self.host, self.port)
        self._bound = self.address
        return self._bound

    async def close(self) -> None:
        """Stop accepting, end open connections (their held-back bytes count as truncated) and
        end ``batches()`` once what is queued has been consumed."""
        if self._closed:
            return
        self._closed = True
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        try:
            self._queue.put_nowait(None)
        except asyncio.QueueFull:  # the end marker waits its turn; no consumer: dropped at exit
            self._end = asyncio.ensure_future(self._queue.put(None))

    async def __aenter__(self) -> TcpListener:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 5)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        peer = writer.get_extra_info("peername") or ("?", 0)
        host, port = self._bound or (self.host, self.port)
        decoder = PacketDecoder(
            self.definitions,
            source=f"tcp://{host}:{port}/{peer[0]}:{peer[1]}",
            layout=self.layout,
            max_errors=self.max_errors,
        )
        self.connections.append(decoder.stats)
        self.active += 1
        try:
            try:
                while chunk := await reader.read(self.read_bytes):
                    decoded = decoder.feed(chunk)
                    if decoded:
                        await self._queue.put(decoded)  # waits when full: TCP back-pressure
            except ConnectionError:
                pass  # reset by the peer: what was held back is truncated
            rest = decoder.flush()
            if rest:
                await self._queue.put(rest)
        except asyncio.CancelledError:  # close(): keep what fits, count the held-back bytes
            rest = decoder.flush()
            if rest:
                with contextlib.suppress(asyncio.QueueFull):
                    self._queue.put_nowait(rest)
        finally:
            self.active -= 1
            writer.close()
            if task is not None:
                self._tasks.discard(task)

    async def batches(self) -> AsyncGenerator[list[pa.RecordBatch], None]:
        """Decoded record batches, collected up to ``batch_rows`` rows or ``batch_ms``, until
        the listener is closed."""
        loop = asyncio.get_running_loop()
        q = self._queue
        while True:
            first = await q.get()
            if first is None:
                return
            out, rows = list(first), sum(b.num_rows for b in first)
            deadline = loop.time() + self.batch_ms / 1000
            ended = False
            while rows < self.batch_rows:
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
                out += item
                rows += sum(b.num_rows for b in item)
            yield out
            if ended:
                return


@dataclass(frozen=True, slots=True)
class TcpReport:
    stats: DecodeStats  # all connections summed
    connections: list[DecodeStats]  # one per connection, in the order they came
    interrupted: bool = False  # stopped by Ctrl-C


def listen_tcp(
    definitions: PacketSet | str | Path | None = None,
    host: str = "127.0.0.1",
    port: int = 10016,
    *,
    sink: Sink | None = None,
    duration_s: float | None = None,
    max_packets: int | None = None,
    idle_s: float | None = None,
    batch_rows: int = 200_000,
    batch_ms: float = 50.0,
    layout: Literal["long", "wide"] = "long",
    allow_remote: bool = False,
    on_ready: Callable[[tuple[str, int]], object] | None = None,
) -> TcpReport:
    """Accept TCP clients sending packet streams until ``duration_s`` has passed,
    ``max_packets`` were decoded, ``idle_s`` passed without input or Ctrl-C, handing each batch
    to ``sink`` in a worker thread (for the CLI: ``starbrain telemetry listen --tcp HOST:PORT``).
    """
    listener = TcpListener(
        definitions,
        host,
        port,
        batch_rows=batch_rows,
        batch_ms=batch_ms,
        layout=layout,
        allow_remote=allow_remote,
    )

    limits = Limits(
        lambda: sum(c.packets for c in listener.connections),
        lambda: sum(c.bytes for c in listener.connections),
        duration_s,
        idle_s,
        max_packets,
        on_ready,
    )
    interrupted = serve(listener, sink, limits)
    return TcpReport(listener.stats, list(listener.connections), interrupted)


def send_tcp(
    chunks: Iterable[bytes],
    host: str = "127.0.0.1",
    port: int = 10016,
    *,
    pause_s: float = 0.0,
) -> int:
    """Send byte chunks over one TCP connection (for tests and simulators), each with its own
    ``sendall`` (``pause_s`` between them, so they arrive as separate reads). Returns bytes."""
    n = 0
    with socket.create_connection((host, port), timeout=10) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for chunk in chunks:
            sock.sendall(chunk)
            n += len(chunk)
            if pause_s:
                time.sleep(pause_s)
    return n
