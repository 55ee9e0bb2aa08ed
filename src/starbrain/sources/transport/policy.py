"""The one delivery policy every broker client follows (``nats.py``, ``mqtt.py``).

* **Reconnect with backoff**: 0.1 s doubling to a cap (:func:`backoff`, :func:`pause`), for
  connecting, subscribing and publishing alike.
* **Acknowledge after commit**: a subscription hands decoded batches to its sink and
  acknowledges the messages only once the sink has returned (:class:`CommitGate`).
* **Redelivery de-duplication**: a message whose payload hash (BLAKE2b, 64 bits) is among the
  last ``dedup_window`` messages is acknowledged and dropped before decoding (:class:`RecentKeys`).
  A real stream cannot repeat a payload within 16384 messages (:data:`DEFAULT_WINDOW`), since
  every packet carries its APID's 14-bit sequence count, which needs 16384 packets of that APID
  to come round, and a timed packet its time code as well.
* **JetStream stream creation**: publishing or subscribing to a subject no stream holds creates a
  file-stored stream for it (:func:`ensure_stream`); publishes carry a ``Nats-Msg-Id`` so a retry
  is stored once.
* **MQTT replay window**: mosquitto acknowledges a QoS 1 message before it has saved it, so a
  publisher sends again, after losing its connection, what was acknowledged in the last
  ``replay_s`` seconds (:class:`ReplayWindow`); subscribers drop the repeats by payload hash.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import SplitResult, urlsplit

import pyarrow as pa

from starbrain.core.errors import StarbrainError
from starbrain.sources.telemetry.ccsds import DecodeStats, PacketDecoder
from starbrain.sources.telemetry.packets import (
    PacketSet,
    load_definitions,
    load_example_definitions,
)

__all__ = [
    "DEFAULT_WINDOW",
    "BatchSink",
    "BrokerReport",
    "CommitGate",
    "OnReady",
    "RecentKeys",
    "ReplayWindow",
    "Subscription",
    "backoff",
    "ensure_stream",
    "host_port",
    "message_key",
    "packet_set",
    "pause",
    "stream_name_for",
]

BatchSink = Callable[[list[pa.RecordBatch]], object]
OnReady = Callable[[], object] | None  # called once subscribed
DEFAULT_WINDOW = 1 << 14  # messages: see the module docstring


def packet_set(definitions: PacketSet | str | Path | None) -> PacketSet:
    """``definitions`` as a ``PacketSet``: given, loaded from a YAML path, or the example set."""
    if definitions is None:
        return load_example_definitions()
    if isinstance(definitions, PacketSet):
        return definitions
    return load_definitions(definitions)


# -- reconnect with backoff -------------------------------------------------------------------
def backoff(attempt: int, max_backoff_s: float) -> float:
    """Seconds to wait before retry number ``attempt`` (from 0): 0.1 s doubling, capped."""
    return float(min(max_backoff_s, 0.1 * 2 ** min(attempt, 16)))


async def pause(stop: asyncio.Event, attempt: int, max_backoff_s: float) -> None:
    """Wait :func:`backoff` seconds, or less if ``stop`` is set meanwhile."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), backoff(attempt, max_backoff_s))


def host_port(url: str, scheme: str, default_port: int) -> tuple[str, int]:
    """(host, port) of ``scheme://HOST[:PORT]``; ``StarbrainError`` naming the URL otherwise."""
    parts = split_url(url, (scheme,), f"{url!r} is not a {scheme}://HOST:PORT address")
    return str(parts.hostname), port_of(parts, url, default_port)


def split_url(url: str, schemes: Sequence[str], problem: str) -> SplitResult:
    parts = urlsplit(url)
    if parts.scheme not in schemes or not parts.hostname:
        raise StarbrainError(problem)
    return parts


def port_of(parts: SplitResult, url: str, default_port: int) -> int:
    try:
        return parts.port or default_port
    except ValueError:
        raise StarbrainError(f"{url!r} has no valid port number") from None


# -- redelivery de-duplication and acknowledge-after-commit ----------------------------------
def message_key(payload: bytes) -> int:
    """The identity of a broker message: a 64-bit BLAKE2b hash of its payload."""
    return int.from_bytes(hashlib.blake2b(payload, digest_size=8).digest(), "little")


class RecentKeys:
    """The last ``capacity`` keys added, as a set (oldest forgotten first)."""

    def __init__(self, capacity: int = DEFAULT_WINDOW) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity}")
        self.capacity = capacity
        self._keys: dict[int, None] = {}

    def __contains__(self, key: int) -> bool:
        return key in self._keys

    def __len__(self) -> int:
        return len(self._keys)

    def add(self, key: int) -> None:
        keys = self._keys
        keys.pop(key, None)
        keys[key] = None
        while len(keys) > self.capacity:
            del keys[next(iter(keys))]


@dataclass(slots=True)
class BrokerReport:
    """What one subscription received, decoded and stored."""

    stats: DecodeStats
    url: str = ""
    messages: int = 0  # messages received (duplicates included)
    duplicates: int = 0  # redelivered messages dropped before decoding
    batches: int = 0  # sink calls (each one commit)
    acked: int = 0
    connects: int = 0  # successful (re)connections
    connect_errors: int = 0
    interrupted: bool = False
    errors: list[str] = field(default_factory=list)  # connection problems, newest last

    def note(self, text: str) -> None:
        self.errors.append(text)
        del self.errors[:-20]


class CommitGate:
    """De-duplicate, decode, commit: what a subscription does with each batch of messages before
    it may acknowledge them. The window of recent keys lives in memory, so a crash of this
    process between a commit and its acknowledgement stores that batch twice when it comes
    again."""

    def __init__(self, decoder: PacketDecoder, report: BrokerReport, dedup_window: int) -> None:
        self.decoder = decoder
        self.report = report
        self.recent = RecentKeys(dedup_window)

    async def process(self, payloads: Sequence[bytes], sink: BatchSink | None) -> None:
        """Drop repeated payloads, decode the rest and hand them to ``sink`` (in a thread);
        returns once the sink has returned (committed)."""
        rep = self.report
        rep.messages += len(payloads)
        fresh: list[bytes] = []
        keys: list[int] = []
        batch_keys: set[int] = set()
        for p in payloads:
            k = message_key(p)
            if k in self.recent or k in batch_keys:
                rep.duplicates += 1
                continue
            batch_keys.add(k)
            fresh.append(p)
            keys.append(k)
        if not fresh:
            return
        decoded = await asyncio.to_thread(self.decoder.feed_datagrams, fresh)
        if decoded and sink is not None:
            await asyncio.to_thread(sink, decoded)
            rep.batches += 1
        for k in keys:  # only once committed: a failed sink leaves them to be redelivered
            self.recent.add(k)


class Subscription:
    """What both broker subscriptions share: one decoder, a report, the commit gate, and
    :meth:`run` until ``stop`` or ``max_packets``."""

    def __init__(
        self,
        source: str,
        definitions: PacketSet | str | Path | None,
        dedup_window: int,
        layout: Literal["long", "wide"],
        max_errors: int,
    ) -> None:
        self.decoder = PacketDecoder(
            packet_set(definitions), source=source, layout=layout, max_errors=max_errors
        )
        self.report = BrokerReport(self.decoder.stats, url=source)
        self._gate = CommitGate(self.decoder, self.report, dedup_window)
        self.max_packets: int | None = None

    @property
    def stats(self) -> DecodeStats:
        return self.decoder.stats

    def done(self, stop: asyncio.Event) -> bool:
        """Whether ``stop`` is set or the ``max_packets`` given to :meth:`run` were decoded."""
        limit = self.max_packets
        return stop.is_set() or (limit is not None and self.stats.packets >= limit)

    async def run(
        self,
        sink: BatchSink | None,
        *,
        stop: asyncio.Event | None = None,
        max_packets: int | None = None,
        on_ready: Callable[[], object] | None = None,
    ) -> BrokerReport:
        """Consume until ``stop`` is set or ``max_packets`` packets were decoded."""
        self.max_packets = max_packets
        await self._run(sink, stop or asyncio.Event(), on_ready)
        return self.report

    async def _run(self, sink: BatchSink | None, stop: asyncio.Event, ready: OnReady) -> None:
        """Connect, subscribe, call ``ready``, then commit and acknowledge until :meth:`done`."""
        raise NotImplementedError


# -- JetStream stream creation ------------------------------------------------------------------
def stream_name_for(subject: str) -> str:
    """The JetStream stream a subject is kept in when none is named: ``TELEMETRY_<subject>``
    with characters a stream name cannot hold replaced."""
    clean = "".join(c if c.isalnum() or c in "-_" else "_" for c in subject)
    return f"TELEMETRY_{clean}".upper()


async def ensure_stream(
    js: Any, subject: str, stream: str | None, subjects: Sequence[str] | None = None
) -> str:
    """The stream holding ``subject``; created (file storage, holding ``subjects``, by default
    just ``subject``) when there is none."""
    from nats.js import api
    from nats.js.errors import NotFoundError

    with contextlib.suppress(NotFoundError):
        return str(await js.find_stream_name_by_subject(subject))
    name = stream or stream_name_for(subject)
    await js.add_stream(
        name=name, subjects=list(subjects or [subject]), storage=api.StorageType.FILE
    )
    return name


# -- the MQTT replay-after-disconnect window ------------------------------------------------------
class ReplayWindow:
    """(topic, payload) of the messages the broker acknowledged in the last ``replay_s``
    seconds (at most ``max_replay``, which must stay below the subscribers' ``dedup_window``).
    Not thread-safe: callers hold their own lock. ``replay_s=0`` keeps nothing."""

    def __init__(
        self,
        replay_s: float = 2.0,
        max_replay: int = 4096,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.replay_s, self.max_replay, self.clock = replay_s, max_replay, clock
        self._acked: deque[tuple[float, tuple[str, bytes]]] = deque()  # newest last
        self.due: list[tuple[str, bytes]] = []  # to publish again

    def acknowledged(self, message: tuple[str, bytes]) -> None:
        if self.replay_s <= 0:
            return
        now = self.clock()
        acked = self._acked
        acked.append((now, message))
        while acked and (acked[0][0] < now - self.replay_s or len(acked) > self.max_replay):
            acked.popleft()

    def disconnected(self) -> None:
        """The broker may have died before saving the recent ones: they are due again."""
        self.due.extend(m for _, m in self._acked)
        self._acked.clear()

    def take(self) -> list[tuple[str, bytes]]:
        due, self.due = self.due, []
        return due
