"""Telemetry packet sources: file replay (as fast as possible or paced by packet time), a UDP
listener and a TCP listener, all feeding a ``PacketDecoder`` in batches.

The UDP listener is an asyncio ``DatagramProtocol`` bound to 127.0.0.1 unless told otherwise.
Datagrams go through a bounded queue: when the consumer of decoded batches falls behind, the queue
fills and further datagrams are dropped and counted (UDP has no way to slow the sender) instead of
growing memory without limit. Decoding runs in a worker thread so receiving goes on meanwhile.

The TCP listener takes any number of clients, each a byte stream of packets framed by their
CCSDS length fields (a packet may arrive in any number of reads; each connection has its own
decoder and ``DecodeStats``). Decoded batches go through a bounded queue too, but TCP can wait:
when it is full a connection stops reading, and TCP flow control slows its sender.
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

from starbrain.core.errors import StarbrainError
from starbrain.sources.ccsds import DecodeStats, PacketDecoder
from starbrain.sources.packets import (
    IDLE_APID,
    PRIMARY_HEADER_BYTES,
    PacketSet,
    bundled_definitions,
    load_definitions,
    load_example_definitions,
)

__all__ = [
    "DefinitionsChoice",
    "ListenReport",
    "TcpListener",
    "TcpReport",
    "UdpListener",
    "definitions_sidecar",
    "listen",
    "listen_tcp",
    "merge_stats",
    "parse_host_port",
    "replay",
    "replay_file",
    "resolve_definitions",
    "scan_apids",
    "send_tcp",
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


# -- which definitions a file was made with ----------------------------------------------------
def definitions_sidecar(path: str | Path) -> Path:
    """Where a packet file records the definitions it was written with: ``FILE.definitions.yaml``
    (``starbrain telemetry simulate`` writes one)."""
    path = Path(path)
    return path.with_name(path.name + ".definitions.yaml")


def _apid_list(apids: Iterable[int]) -> str:
    return ", ".join(f"{a:#x}" for a in sorted(apids)) or "none"


def scan_apids(path: str | Path, max_bytes: int = 4 << 20) -> dict[int, int]:
    """Packets per APID in the first ``max_bytes`` of a packet file, walking the primary headers
    by their length fields (idle packets left out); stops at the first header that is not a
    version-0 Space Packet header."""
    path = Path(path)
    try:
        with path.open("rb") as f:
            data = f.read(max_bytes)
    except OSError as exc:
        raise StarbrainError(f"cannot read telemetry file {path}: {exc.strerror}") from exc
    counts: dict[int, int] = {}
    p, n = 0, len(data)
    while p + PRIMARY_HEADER_BYTES <= n and data[p] >> 5 == 0:
        apid = (data[p] << 8 | data[p + 1]) & 0x7FF
        if apid != IDLE_APID:
            counts[apid] = counts.get(apid, 0) + 1
        p += (data[p + 4] << 8 | data[p + 5]) + 7
    return counts


@dataclass(frozen=True, slots=True)
class DefinitionsChoice:
    """The packet definitions chosen for a file, and a sentence saying how they were chosen."""

    definitions: PacketSet
    how: str
    apids: dict[int, int]  # packets per APID seen at the start of the file (scan_apids)
    tried: tuple[str, ...] = ()  # the definition sets considered


def resolve_definitions(
    path: str | Path, definitions: PacketSet | str | Path | None = None
) -> DefinitionsChoice:
    """The definitions to replay ``path`` with: those given; else the file's recorded ones
    (``definitions_sidecar``); else the bundled set that defines the most of the packets seen
    at the start of the file (``scan_apids``), the example launcher when none defines any."""
    path = Path(path)
    apids = scan_apids(path)
    if definitions is not None:
        defs = _definitions(definitions)
        name = str(definitions) if not isinstance(definitions, PacketSet) else defs.source
        return DefinitionsChoice(defs, f"definitions {name or defs.name}", apids, (defs.name,))
    sidecar = definitions_sidecar(path)
    if sidecar.is_file():
        defs = load_definitions(sidecar)
        return DefinitionsChoice(
            defs, f"definitions {defs.name or sidecar.name}, recorded in {sidecar}", apids
        )
    sets = {name: load_definitions(p) for name, p in bundled_definitions().items()}
    covered = {name: sum(n for a, n in apids.items() if a in d.by_apid) for name, d in sets.items()}
    best = max(covered, key=lambda k: covered[k]) if covered else ""
    if not best or covered[best] == 0:
        defs = load_example_definitions()
        why = (
            f"no bundled set defines APIDs {_apid_list(apids)} seen in the file"
            if apids
            else "no packet header found at the start of the file"
        )
        return DefinitionsChoice(
            defs, f"definitions {defs.name} (the default: {why})", apids, tuple(sets)
        )
    defs = sets[best]
    missing = sorted(a for a in apids if a not in defs.by_apid)
    how = f"definitions {best} (bundled; it defines APIDs {_apid_list(defs.by_apid)}, " + (
        "every APID seen in the file)" if not missing else f"not {_apid_list(missing)})"
    )
    return DefinitionsChoice(defs, how, apids, tuple(sets))


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
    that appends to the store, or prints). Without ``definitions`` they are chosen by
    ``resolve_definitions``. Returns the decoding statistics."""
    defs = (
        _definitions(definitions)
        if definitions is not None
        else resolve_definitions(path).definitions
    )
    decoder = PacketDecoder(defs, source=str(path), layout=layout, max_errors=max_errors)
    for batch in replay_file(path, decoder, realtime=realtime, speed=speed):
        if sink is not None:
            sink(batch)
    return decoder.stats


# -- handing batches to a sink while receiving goes on ---------------------------------------------
class _SinkWorker:
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


async def _pump(
    listener: UdpListener | TcpListener,
    sink: Sink | None,
    packets: Callable[[], int],
    activity: Callable[[], int],
    *,
    duration_s: float | None,
    idle_s: float | None,
    max_packets: int | None,
    on_ready: Callable[[tuple[str, int]], object] | None,
) -> None:
    """Run a started listener until ``duration_s``, ``idle_s`` without input after the first,
    ``max_packets`` decoded packets, or cancellation; every decoded batch reaches ``sink``."""
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
    worker = _SinkWorker(sink)
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
    defs = _definitions(definitions)
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

    async def run() -> ListenReport:
        async with listener:
            await _pump(
                listener,
                sink,
                lambda: decoder.stats.packets,
                lambda: listener.datagrams,
                duration_s=duration_s,
                idle_s=idle_s,
                max_packets=max_packets,
                on_ready=on_ready,
            )
        return ListenReport(decoder.stats, listener.datagrams, listener.dropped_datagrams)

    try:
        return asyncio.run(run())
    except KeyboardInterrupt:
        return ListenReport(
            decoder.stats, listener.datagrams, listener.dropped_datagrams, interrupted=True
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


# -- TCP ------------------------------------------------------------------------------------------
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
        if host not in LOOPBACK and not allow_remote:
            raise StarbrainError(
                f"refusing to listen on {host}: telemetry listens on loopback "
                "unless allow_remote is set"
            )
        if batch_rows < 1 or batch_ms <= 0 or read_bytes < 1 or max_queue < 1:
            raise ValueError("batch_rows, batch_ms, read_bytes and max_queue must be positive")
        self.definitions = _definitions(definitions)
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

    async def run() -> None:
        async with listener:
            await _pump(
                listener,
                sink,
                lambda: sum(c.packets for c in listener.connections),
                lambda: sum(c.bytes for c in listener.connections),
                duration_s=duration_s,
                idle_s=idle_s,
                max_packets=max_packets,
                on_ready=on_ready,
            )

    interrupted = False
    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        interrupted = True
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
