"""Telemetry packet sources: file replay (as fast as possible or paced by packet time) and a UDP
listener, both feeding a ``PacketDecoder`` in batches.

The UDP listener is an asyncio ``DatagramProtocol`` bound to 127.0.0.1 unless told otherwise.
Datagrams go through a bounded queue: when the consumer of decoded batches falls behind, the queue
fills and further datagrams are dropped and counted (UDP has no way to slow the sender) instead of
growing memory without limit. Decoding runs in a worker thread so receiving goes on meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import AsyncGenerator, Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pyarrow as pa

from starbrain.sources.ccsds import DecodeStats, PacketDecoder
from starbrain.sources.packets import PacketSet, load_definitions, load_example_definitions
from starbrain.sources.records import StarbrainError

__all__ = [
    "ListenReport",
    "UdpListener",
    "listen",
    "replay",
    "replay_file",
    "send_udp",
]

LOOPBACK = ("127.0.0.1", "::1", "localhost")
Sink = Callable[[pa.RecordBatch], object]


def _definitions(definitions: PacketSet | str | Path | None) -> PacketSet:
    if definitions is None:
        return load_example_definitions()
    if isinstance(definitions, PacketSet):
        return definitions
    return load_definitions(definitions)


# -- file replay ----------------------------------------------------------------------------------
def _read_chunks(path: Path, chunk_bytes: int) -> Iterator[bytes]:
    try:
        f = path.open("rb")
    except OSError as exc:
        raise StarbrainError(f"cannot read telemetry file {path}: {exc.strerror}") from exc
    with f:
        while chunk := f.read(chunk_bytes):
            yield chunk


def _times(batch: pa.RecordBatch) -> np.ndarray:
    return batch.column("time").cast(pa.int64()).to_numpy()


def replay_file(
    path: str | Path,
    decoder: PacketDecoder,
    *,
    chunk_bytes: int = 1 << 20,
    realtime: bool = False,
    speed: float = 1.0,
    tick_s: float = 0.1,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], object] = time.sleep,
) -> Iterator[pa.RecordBatch]:
    """Decoded batches of a recorded packet file, read in ``chunk_bytes`` chunks.

    As fast as possible by default. ``realtime=True`` paces the output by packet time (``speed``
    times real time): rows are released in ``tick_s`` windows of packet time, each at the wall
    time its window ends. Packets without a time code carry the replay time and are released at
    once. The decoder's ``stats`` count what was read.
    """
    path = Path(path)
    if speed <= 0:
        raise ValueError(f"speed must be > 0, got {speed}")
    if not realtime:
        for chunk in _read_chunks(path, chunk_bytes):
            yield from decoder.feed(chunk)
        yield from decoder.flush()
        return

    tick_ns = max(1, int(tick_s * 1e9))
    untimed = {p.apid for p in decoder.definitions.packets if not p.secondary_header}
    t_ref: int | None = None
    wall_ref = 0.0

    def paced(batches: list[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        nonlocal t_ref, wall_ref
        slices: list[tuple[int, int, pa.RecordBatch]] = []
        for k, batch in enumerate(batches):
            if batch.num_rows == 0:
                continue
            if batch.column("apid")[0].as_py() in untimed:
                yield batch
                continue
            t = _times(batch)
            if np.any(np.diff(t) < 0):
                order = np.argsort(t, kind="stable")
                batch, t = batch.take(pa.array(order)), t[order]
            if t_ref is None:
                t_ref, wall_ref = int(t[0]), clock()
            window = (t - t_ref) // tick_ns
            cuts = np.concatenate(([0], np.flatnonzero(np.diff(window)) + 1, [len(t)]))
            for a, b in zip(cuts[:-1].tolist(), cuts[1:].tolist(), strict=True):
                slices.append((int(window[a]), k, batch.slice(a, b - a)))
        slices.sort(key=lambda s: (s[0], s[1]))
        for w, _, piece in slices:
            due = wall_ref + (w + 1) * tick_ns / 1e9 / speed
            wait = due - clock()
            if wait > 0:
                sleep(wait)
            yield piece

    for chunk in _read_chunks(path, min(chunk_bytes, 1 << 16)):
        yield from paced(decoder.feed(chunk))
    yield from paced(decoder.flush())


def replay(
    path: str | Path,
    definitions: PacketSet | str | Path | None = None,
    *,
    sink: Sink | None = None,
    realtime: bool = False,
    speed: float = 1.0,
    layout: Literal["long", "wide"] = "long",
    max_errors: int = 100,
) -> DecodeStats:
    """Replay a packet file through the decoder, handing each batch to ``sink`` (for the CLI:
    ``starbrain telemetry replay FILE [--definitions YAML] [--realtime] [--speed X]``; a sink
    that appends to the store, or prints). Returns the decoding statistics."""
    decoder = PacketDecoder(
        _definitions(definitions), source=str(path), layout=layout, max_errors=max_errors
    )
    for batch in replay_file(path, decoder, realtime=realtime, speed=speed):
        if sink is not None:
            sink(batch)
    return decoder.stats


# -- UDP ------------------------------------------------------------------------------------------
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
        if host not in LOOPBACK and not allow_remote:
            raise StarbrainError(
                f"refusing to listen on {host}: telemetry listens on loopback "
                "unless allow_remote is set"
            )
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


def listen(
    definitions: PacketSet | str | Path | None = None,
    host: str = "127.0.0.1",
    port: int = 10015,
    *,
    sink: Sink | None = None,
    duration_s: float | None = None,
    max_packets: int | None = None,
    batch_packets: int = 1000,
    batch_ms: float = 50.0,
    layout: Literal["long", "wide"] = "long",
    allow_remote: bool = False,
    on_ready: Callable[[tuple[str, int]], object] | None = None,
) -> ListenReport:
    """Listen for packets on UDP until ``duration_s`` has passed, ``max_packets`` were decoded or
    Ctrl-C, handing each batch to ``sink`` (for the CLI: ``starbrain telemetry listen
    [--host 127.0.0.1] [--port 10015] [--definitions YAML] [--duration S]``)."""
    defs = _definitions(definitions)

    async def run() -> ListenReport:
        decoder = PacketDecoder(defs, source=f"udp://{host}:{port}", layout=layout)
        listener = UdpListener(
            decoder,
            host,
            port,
            batch_packets=batch_packets,
            batch_ms=batch_ms,
            allow_remote=allow_remote,
        )
        async with listener:
            if on_ready is not None:
                on_ready(listener.address)
            loop = asyncio.get_running_loop()
            stopper = (
                loop.call_later(duration_s, lambda: asyncio.ensure_future(listener.close()))
                if duration_s is not None
                else None
            )
            try:
                async with contextlib.aclosing(listener.batches()) as stream:
                    async for batches in stream:
                        for batch in batches:
                            if sink is not None:
                                sink(batch)
                        if max_packets is not None and decoder.stats.packets >= max_packets:
                            break
            finally:
                if stopper is not None:
                    stopper.cancel()
        return ListenReport(decoder.stats, listener.datagrams, listener.dropped_datagrams)

    return asyncio.run(run())


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
