"""Send stream rows (``arm``, ``vehicle``, ...) as JSON Lines over UDP or core NATS, paced by
the rows' own ``time`` column: what ``starbrain robot simulate --send`` and ``starbrain vehicle
simulate --send`` use to stream into ``starbrain run`` (received by ``loop.live_rows``).

**Targets.** ``udp://HOST:PORT`` (datagrams of whole lines, at most 60 000 bytes each) or
``nats://HOST:PORT/SUBJECT`` (one core NATS message per chunk, same size bound).

**Pacing.** Rows are sorted by ``time`` and cut into ``tick_s`` windows of log time; window
``w`` is sent ``(w + 1) * tick_s / speed`` wall seconds after the first (``speed`` times the
log's own rate; 0: as fast as possible), the same rule as ``telemetry replay --realtime``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import numpy as np
import pyarrow as pa

from starbrain.core.errors import StarbrainError
from starbrain.sources.jsonl_rows import rows_to_jsonl
from starbrain.sources.transport.udp import send_udp

__all__ = ["SendTarget", "paced_chunks", "parse_target", "send_rows"]

MAX_CHUNK_BYTES = 60_000  # under the 65 507-byte UDP payload limit


@dataclass(frozen=True)
class SendTarget:
    """Where rows go: ``scheme`` "udp" or "nats", ``host``, ``port``, NATS ``subject``."""

    scheme: str
    host: str
    port: int
    subject: str | None = None

    @property
    def url(self) -> str:
        tail = f"/{self.subject}" if self.subject else ""
        return f"{self.scheme}://{self.host}:{self.port}{tail}"


def parse_target(url: str) -> SendTarget:
    """``udp://HOST:PORT`` or ``nats://HOST:PORT/SUBJECT`` -> :class:`SendTarget`."""
    p = urlsplit(url)
    subject = p.path.lstrip("/") or None
    try:
        port = p.port
    except ValueError:
        port = None
    if p.scheme not in ("udp", "nats") or not p.hostname or port is None:
        raise StarbrainError(f"--send {url!r}: use udp://HOST:PORT or nats://HOST:PORT/SUBJECT")
    if p.scheme == "nats" and subject is None:
        raise StarbrainError(f"--send {url!r}: a NATS target needs a subject, nats://HOST:PORT/S")
    return SendTarget(p.scheme, p.hostname, port, subject if p.scheme == "nats" else None)


def _split(body: bytes, limit: int = MAX_CHUNK_BYTES) -> Iterator[bytes]:
    """Whole lines of ``body`` in pieces of at most ``limit`` bytes (a longer line alone)."""
    piece: list[bytes] = []
    size = 0
    for line in body.splitlines(keepends=True):
        if piece and size + len(line) > limit:
            yield b"".join(piece)
            piece, size = [], 0
        piece.append(line)
        size += len(line)
    if piece:
        yield b"".join(piece)


def paced_chunks(
    table: pa.Table, speed: float = 1.0, tick_s: float = 0.1
) -> Iterator[tuple[float, bytes]]:
    """``(due_s, payload)``: JSON Lines pieces of ``table`` in time order, each with the wall
    seconds after the start at which it is due (0 for all when ``speed`` is 0)."""
    if speed < 0:
        raise StarbrainError(f"--speed must be >= 0, got {speed}")
    if table.num_rows == 0:
        return
    t = table["time"].cast(pa.int64()).to_numpy()
    order = np.argsort(t, kind="stable")
    table, t = table.take(pa.array(order)), t[order]
    tick_ns = max(1, round(tick_s * 1e9))
    window = (t - t[0]) // tick_ns
    cuts = np.concatenate(([0], np.flatnonzero(np.diff(window)) + 1, [len(t)]))
    for a, b in zip(cuts[:-1].tolist(), cuts[1:].tolist(), strict=True):
        due = 0.0 if speed == 0 else float(window[a] + 1) * tick_ns / 1e9 / speed
        for piece in _split(rows_to_jsonl(table.slice(a, b - a))):
            yield due, piece


def _on_time(
    chunks: Iterator[tuple[float, bytes]],
    clock: Callable[[], float],
    sleep: Callable[[float], object],
) -> Iterator[bytes]:
    """Each payload of ``chunks`` once its due time (seconds after the first) has come."""
    t0 = clock()
    for due, payload in chunks:
        if (wait := t0 + due - clock()) > 0:
            sleep(wait)
        yield payload


async def _send_nats(chunks: Iterator[tuple[float, bytes]], target: SendTarget) -> int:
    import nats

    try:
        nc = await nats.connect(f"nats://{target.host}:{target.port}", connect_timeout=5,
                                max_reconnect_attempts=3, allow_reconnect=True)  # fmt: skip
    except Exception as exc:  # nats raises several unrelated types
        raise StarbrainError(f"cannot connect to {target.url}: {exc}") from None
    n = 0
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    try:
        for due, payload in chunks:
            if (wait := t0 + due - loop.time()) > 0:
                await asyncio.sleep(wait)
            await nc.publish(str(target.subject), payload)
            n += 1
        await nc.flush(timeout=10)
    finally:
        await nc.close()
    return n


def send_rows(
    table: pa.Table,
    url: str,
    speed: float = 1.0,
    tick_s: float = 0.1,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], object] = time.sleep,
) -> int:
    """Send ``table``'s rows to ``url`` (see the module) paced at ``speed``; returns the number
    of datagrams or messages sent."""
    target = parse_target(url)
    chunks = paced_chunks(table, speed, tick_s)
    if target.scheme == "udp":
        return send_udp(_on_time(chunks, clock, sleep), target.host, target.port)
    return asyncio.run(_send_nats(chunks, target))
