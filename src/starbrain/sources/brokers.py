"""Telemetry from message brokers: NATS JetStream and MQTT subscriptions, and publishers.

Each broker message carries one or more whole CCSDS packets (as a UDP datagram does). A
subscription collects messages into batches (up to ``batch_messages`` or every ``batch_ms``),
decodes them with one ``PacketDecoder`` (its ``DecodeStats`` count malformed packets per source;
they never stop the stream), hands the decoded Arrow batches to ``sink`` and acknowledges the
messages only after ``sink`` has returned. The sink must commit before it returns (for the CLI it
appends to the store in one transaction), so a crash or a broker restart makes the broker
deliver again rather than lose:

* NATS JetStream: a durable pull consumer (explicit acks) on a file-stored stream; we fetch only
  when the previous batch is committed, so the stream itself is the back-pressure buffer.
* MQTT (3.1.1, QoS 1): a fixed client id with ``clean_session=False`` so the broker keeps the
  session and queues messages while we are away, and manual acknowledgements. Messages wait in a
  bounded queue; when it is full paho's network thread blocks, TCP fills and the broker holds
  the rest.

Redelivered messages are made harmless before decoding: a message whose payload (BLAKE2b, 64
bits) is among the last ``dedup_window`` messages is acknowledged and dropped. A real stream
cannot repeat a payload within 16384 messages (the default window), since every packet carries
its APID's 14-bit sequence count, which needs 16384 packets of that APID to come round, and a
timed packet its time code as well. Duplicates are counted, not decoded, so they do not show up
as sequence gaps either. The window lives in memory: a crash of this process between a commit
and its acknowledgement stores that batch twice when it is delivered again.

Both reconnect by themselves with exponential backoff (0.1 s doubling to ``max_backoff_s``).

Broker settings matter as much: JetStream keeps what it acknowledged (file storage) through a
``kill -9``. mosquitto (2.0) keeps at most ``max_queued_messages`` (default 1000) for a session
and writes its database on a clean shutdown, every ``autosave_interval`` seconds, or with
``autosave_on_changes true`` after each pass of its loop that changed at least
``autosave_interval`` things; only *queued* messages count as changes, not those sent straight
to a connected subscriber (up to ``max_inflight_messages`` per client; 0 means all of them, so
nothing is ever saved for a connected subscriber). For telemetry that must survive a
``kill -9`` (as ``tests/servers.py`` configures it and the tests check)::

    persistence true
    autosave_interval 1
    autosave_on_changes true
    max_queued_messages 0
    max_inflight_messages 1000   # >= the subscription's batch_messages, <= its max_queue

Even so mosquitto acknowledges a message before saving it, so ``publish_mqtt`` publishes again,
after a reconnect, what was acknowledged in the last ``replay_s`` seconds; the duplicate window
drops the repeats. Saving after every change rewrites the whole database each time, which
costs throughput (5000 messages over loopback on 2 shared cores: 5600 msg/s with the settings
above but ``max_inflight_messages 0`` and no ``autosave_on_changes``, 1900 msg/s with them) and
suits backlogs of thousands of messages, not of millions (use JetStream for those).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import pyarrow as pa

from starbrain.core.errors import StarbrainError
from starbrain.sources.ccsds import DecodeStats, PacketDecoder
from starbrain.sources.packets import PacketSet, load_definitions, load_example_definitions

__all__ = [
    "BrokerReport",
    "MqttSubscription",
    "NatsSubscription",
    "RecentKeys",
    "publish",
    "publish_mqtt",
    "publish_nats",
    "stream_name_for",
    "subscribe",
]

BatchSink = Callable[[list[pa.RecordBatch]], object]
DEFAULT_WINDOW = 1 << 14  # messages: see the module docstring


def _definitions(definitions: PacketSet | str | Path | None) -> PacketSet:
    if definitions is None:
        return load_example_definitions()
    if isinstance(definitions, PacketSet):
        return definitions
    return load_definitions(definitions)


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


class _Core:
    """Deduplicate, decode, commit; shared by both subscriptions."""

    def __init__(
        self,
        decoder: PacketDecoder,
        report: BrokerReport,
        dedup_window: int,
    ) -> None:
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


def _backoff(attempt: int, max_backoff_s: float) -> float:
    return float(min(max_backoff_s, 0.1 * 2 ** min(attempt, 16)))


def _host_port(url: str, scheme: str, default_port: int) -> tuple[str, int]:
    parts = urlsplit(url)
    if parts.scheme != scheme or not parts.hostname:
        raise StarbrainError(f"{url!r} is not a {scheme}://HOST:PORT address")
    try:
        port = parts.port or default_port
    except ValueError:
        raise StarbrainError(f"{url!r} has no valid port number") from None
    return parts.hostname, port


def stream_name_for(subject: str) -> str:
    """The JetStream stream a subject is kept in when none is named: ``TELEMETRY_<subject>``
    with characters a stream name cannot hold replaced."""
    clean = "".join(c if c.isalnum() or c in "-_" else "_" for c in subject)
    return f"TELEMETRY_{clean}".upper()


async def _ensure_stream(js: Any, subject: str, stream: str | None) -> str:
    """The stream holding ``subject``; created (file storage) when there is none."""
    from nats.js import api
    from nats.js.errors import NotFoundError

    with contextlib.suppress(NotFoundError):
        return str(await js.find_stream_name_by_subject(subject))
    name = stream or stream_name_for(subject)
    await js.add_stream(name=name, subjects=[subject], storage=api.StorageType.FILE)
    return name


# -- NATS JetStream -------------------------------------------------------------------------------
class NatsSubscription:
    """A durable JetStream pull consumer feeding packets to a sink, acknowledging after commit.

        sub = NatsSubscription("nats://127.0.0.1:4222", "telemetry.flight", defs)
        report = await sub.run(sink, stop=event, max_packets=10_000)

    The stream (file storage) is created if no stream holds ``subject``; the consumer is
    ``durable`` (explicit acks, at most ``max_ack_pending`` unacknowledged; unacknowledged
    messages come again after ``ack_wait_s``).
    """

    def __init__(
        self,
        url: str,
        subject: str,
        definitions: PacketSet | str | Path | None = None,
        *,
        durable: str = "starbrain",
        stream: str | None = None,
        batch_messages: int = 1000,
        batch_ms: float = 50.0,
        ack_wait_s: float = 10.0,
        max_backoff_s: float = 5.0,
        dedup_window: int = DEFAULT_WINDOW,
        layout: Literal["long", "wide"] = "long",
        max_errors: int = 100,
    ) -> None:
        _host_port(url, "nats", 4222)
        if batch_messages < 1 or batch_ms <= 0:
            raise ValueError("batch_messages and batch_ms must be positive")
        self.url, self.subject, self.durable, self.stream = url, subject, durable, stream
        self.batch_messages, self.batch_ms = batch_messages, batch_ms
        self.ack_wait_s, self.max_backoff_s = ack_wait_s, max_backoff_s
        source = f"{url}/{subject}"
        self.decoder = PacketDecoder(
            _definitions(definitions), source=source, layout=layout, max_errors=max_errors
        )
        self.report = BrokerReport(self.decoder.stats, url=source)
        self._core = _Core(self.decoder, self.report, dedup_window)

    @property
    def stats(self) -> DecodeStats:
        return self.decoder.stats

    async def _connect(self, stop: asyncio.Event) -> Any:
        import nats

        rep = self.report
        attempt = 0

        async def on_error(exc: Exception) -> None:
            rep.note(f"nats: {type(exc).__name__}: {exc}")

        async def on_reconnected() -> None:
            rep.connects += 1

        while not stop.is_set():
            try:
                nc = await nats.connect(
                    self.url,
                    connect_timeout=2,
                    allow_reconnect=True,
                    max_reconnect_attempts=-1,
                    reconnect_time_wait=0.2,
                    error_cb=on_error,
                    reconnected_cb=on_reconnected,
                )
                rep.connects += 1
                return nc
            except Exception as exc:  # refused, timed out, no servers: try again
                rep.connect_errors += 1
                rep.note(f"nats connect: {type(exc).__name__}: {exc}")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), _backoff(attempt, self.max_backoff_s))
                attempt += 1
        return None

    async def _subscribe(self, nc: Any, stop: asyncio.Event) -> Any:
        from nats.js import api

        js = nc.jetstream()
        attempt = 0
        while not stop.is_set():
            try:
                stream = await _ensure_stream(js, self.subject, self.stream)
                config = api.ConsumerConfig(
                    durable_name=self.durable,
                    ack_policy=api.AckPolicy.EXPLICIT,
                    ack_wait=self.ack_wait_s,
                    max_ack_pending=max(4 * self.batch_messages, 1000),
                    deliver_policy=api.DeliverPolicy.ALL,
                )
                return await js.pull_subscribe(
                    self.subject, durable=self.durable, stream=stream, config=config
                )
            except Exception as exc:  # JetStream not ready yet after a restart
                self.report.note(f"nats subscribe: {type(exc).__name__}: {exc}")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), _backoff(attempt, self.max_backoff_s))
                attempt += 1
        return None

    async def run(
        self,
        sink: BatchSink | None,
        *,
        stop: asyncio.Event | None = None,
        max_packets: int | None = None,
        on_ready: Callable[[], object] | None = None,
    ) -> BrokerReport:
        """Consume until ``stop`` is set or ``max_packets`` packets were decoded."""
        import nats.errors

        stop = stop or asyncio.Event()
        nc = await self._connect(stop)
        if nc is None:
            return self.report
        try:
            psub = await self._subscribe(nc, stop)
            if psub is None:
                return self.report
            if on_ready is not None:
                on_ready()
            attempt = 0
            timeout = max(self.batch_ms / 1000, 0.05)
            while not stop.is_set():
                if max_packets is not None and self.stats.packets >= max_packets:
                    break
                try:
                    msgs = await psub.fetch(self.batch_messages, timeout=timeout)
                except (TimeoutError, nats.errors.TimeoutError):
                    continue
                except Exception as exc:  # disconnected, reconnecting, server restarting
                    self.report.note(f"nats fetch: {type(exc).__name__}: {exc}")
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), _backoff(attempt, self.max_backoff_s))
                    attempt += 1
                    continue
                attempt = 0
                await self._core.process([m.data for m in msgs], sink)
                for m in msgs:
                    try:
                        await m.ack()
                        self.report.acked += 1
                    except Exception as exc:  # lost with the connection: redelivered later
                        self.report.note(f"nats ack: {type(exc).__name__}: {exc}")
        finally:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(nc.close(), 5)
        return self.report


# -- MQTT -----------------------------------------------------------------------------------------
class MqttSubscription:
    """An MQTT 3.1.1 QoS 1 subscription with a persistent session (fixed ``client_id``,
    ``clean_session=False``), acknowledging each message only after its batch is committed.

    At most ``max_queue`` received messages wait for decoding; then paho's network thread waits
    too, which stops reading the socket, so the broker holds (and queues) the rest. Reconnects
    are paho's, with backoff from 0.1 s to ``max_backoff_s``. Messages received on an earlier
    connection are not acknowledged on a later one (a restarted broker may have given their
    message ids to other messages); the broker sends them again and the duplicate window drops
    them. Before disconnecting, a repeated SUBSCRIBE waits until the broker has read our last
    acknowledgements.
    """

    def __init__(
        self,
        url: str,
        topic: str,
        definitions: PacketSet | str | Path | None = None,
        *,
        client_id: str = "starbrain-telemetry",
        batch_messages: int = 1000,
        batch_ms: float = 50.0,
        max_queue: int = 10_000,
        keepalive_s: int = 30,
        max_backoff_s: float = 5.0,
        dedup_window: int = DEFAULT_WINDOW,
        layout: Literal["long", "wide"] = "long",
        max_errors: int = 100,
    ) -> None:
        self.host, self.port = _host_port(url, "mqtt", 1883)
        if batch_messages < 1 or batch_ms <= 0 or max_queue < 1:
            raise ValueError("batch_messages, batch_ms and max_queue must be positive")
        self.url, self.topic, self.client_id = url, topic, client_id
        self.batch_messages, self.batch_ms = batch_messages, batch_ms
        self.keepalive_s, self.max_backoff_s = keepalive_s, max_backoff_s
        source = f"{url}/{topic}"
        self.decoder = PacketDecoder(
            _definitions(definitions), source=source, layout=layout, max_errors=max_errors
        )
        self.report = BrokerReport(self.decoder.stats, url=source)
        self._core = _Core(self.decoder, self.report, dedup_window)
        # (payload, mid, connection): a mid means nothing on a later connection, where the
        # broker may have given it to another message, so only current ones are acknowledged.
        self._queue: queue.Queue[tuple[bytes, int, int]] = queue.Queue(max_queue)
        self._connection = 0
        self._ack_lock = threading.Lock()
        self._closing = threading.Event()
        self._disconnected = threading.Event()
        self.subscribed = threading.Event()

    @property
    def stats(self) -> DecodeStats:
        return self.decoder.stats

    def _client(self) -> Any:
        import paho.mqtt.client as mqtt

        client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=self.client_id,
            clean_session=False,
            protocol=mqtt.MQTTv311,
            manual_ack=True,
        )
        client.reconnect_delay_set(min_delay=1, max_delay=max(1, int(self.max_backoff_s)))
        rep = self.report

        def on_connect(c: Any, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
            if reason.is_failure:
                rep.connect_errors += 1
                rep.note(f"mqtt connect: {reason}")
                return
            rep.connects += 1
            with self._ack_lock:
                self._connection += 1
            c.subscribe(self.topic, qos=1)

        def on_subscribe(c: Any, userdata: Any, mid: Any, reasons: Any, props: Any) -> None:
            if all(not r.is_failure for r in reasons):
                self.subscribed.set()
            else:
                rep.note(f"mqtt subscribe refused: {reasons}")

        def on_disconnect(c: Any, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
            with self._ack_lock:
                self._connection += 1
            self._disconnected.set()
            if not self._closing.is_set():
                rep.note(f"mqtt disconnected: {reason}")

        def on_message(c: Any, userdata: Any, msg: Any) -> None:
            # Blocks when the queue is full: that is the back-pressure (see the class doc).
            while not self._closing.is_set():
                try:
                    item = (bytes(msg.payload), int(msg.mid), self._connection)
                    self._queue.put(item, timeout=0.5)
                    return
                except queue.Full:
                    continue

        client.on_connect = on_connect
        client.on_subscribe = on_subscribe
        client.on_disconnect = on_disconnect
        client.on_message = on_message
        return client

    def _collect(self, deadline_s: float) -> list[tuple[bytes, int, int]]:
        """Up to ``batch_messages`` queued messages, waiting at most ``deadline_s`` for the
        first and until ``batch_ms`` after it for the rest."""
        try:
            items = [self._queue.get(timeout=deadline_s)]
        except queue.Empty:
            return []
        end = time.monotonic() + self.batch_ms / 1000
        while len(items) < self.batch_messages:
            try:
                items.append(self._queue.get_nowait())
            except queue.Empty:
                left = end - time.monotonic()
                if left <= 0:
                    break
                try:
                    items.append(self._queue.get(timeout=left))
                except queue.Empty:
                    break
        return items

    async def run(
        self,
        sink: BatchSink | None,
        *,
        stop: asyncio.Event | None = None,
        max_packets: int | None = None,
        on_ready: Callable[[], object] | None = None,
    ) -> BrokerReport:
        """Consume until ``stop`` is set or ``max_packets`` packets were decoded."""
        stop = stop or asyncio.Event()
        client = self._client()
        attempt = 0
        while not stop.is_set():
            try:
                client.connect(self.host, self.port, keepalive=self.keepalive_s)
                break
            except OSError as exc:  # refused: paho retries only once connected
                self.report.connect_errors += 1
                self.report.note(f"mqtt connect: {exc}")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), _backoff(attempt, self.max_backoff_s))
                attempt += 1
        if stop.is_set():
            return self.report
        client.loop_start()
        try:
            ready_deadline = time.monotonic() + 30
            while not self.subscribed.is_set() and not stop.is_set():
                if time.monotonic() > ready_deadline:
                    raise StarbrainError(f"{self.url}: the broker did not confirm subscribing")
                await asyncio.sleep(0.01)
            if on_ready is not None:
                on_ready()
            while not stop.is_set():
                if max_packets is not None and self.stats.packets >= max_packets:
                    break
                items = await asyncio.to_thread(self._collect, 0.1)
                if not items:
                    continue
                await self._core.process([p for p, _, _ in items], sink)
                with self._ack_lock:  # the broker redelivers those of an earlier connection
                    for _, mid, connection in items:
                        if connection == self._connection and client.ack(mid, 1) == 0:
                            self.report.acked += 1
        finally:
            # mosquitto reads one packet per client per pass of its loop and drops what it has
            # not read when the socket closes, so the last acknowledgements could be lost and
            # their messages come again to the next subscriber. It answers in order, so a
            # SUBACK to repeating our (unchanged) subscription means it has read them all.
            connected = client.is_connected()
            self.subscribed.clear()
            if connected and client.subscribe(self.topic, qos=1)[0] == 0:
                await asyncio.to_thread(self.subscribed.wait, 2.0)
            self._closing.set()
            self._disconnected.clear()
            client.disconnect()
            if connected:  # paho writes what it has queued, then reports the disconnection
                await asyncio.to_thread(self._disconnected.wait, 2.0)
            client.loop_stop()
        return self.report


# -- one call for the CLI -------------------------------------------------------------------------
def subscribe(
    url: str,
    subject: str,
    definitions: PacketSet | str | Path | None = None,
    *,
    sink: BatchSink | None = None,
    duration_s: float | None = None,
    max_packets: int | None = None,
    name: str = "starbrain",
    on_ready: Callable[[], object] | None = None,
    **options: Any,
) -> BrokerReport:
    """Subscribe to ``subject`` (a NATS subject for ``nats://`` URLs, an MQTT topic for
    ``mqtt://``) until ``duration_s`` has passed, ``max_packets`` were decoded or Ctrl-C, handing
    each committed batch to ``sink`` (for the CLI: ``starbrain telemetry listen --nats URL
    --subject S`` or ``--mqtt URL --topic T``). ``name`` is the durable consumer or client id
    that the broker keeps our place under. On Ctrl-C the report says ``interrupted``."""
    scheme = urlsplit(url).scheme
    sub: NatsSubscription | MqttSubscription
    if scheme == "nats":
        sub = NatsSubscription(url, subject, definitions, durable=name, **options)
    elif scheme == "mqtt":
        sub = MqttSubscription(url, subject, definitions, client_id=name, **options)
    else:
        raise StarbrainError(f"{url!r}: broker URLs start with nats:// or mqtt://")

    async def main() -> BrokerReport:
        stop = asyncio.Event()
        timer = (
            asyncio.get_running_loop().call_later(duration_s, stop.set)
            if duration_s is not None
            else None
        )
        try:
            return await sub.run(sink, stop=stop, max_packets=max_packets, on_ready=on_ready)
        finally:
            if timer is not None:
                timer.cancel()

    try:
        return asyncio.run(main())
    except KeyboardInterrupt:
        sub.report.interrupted = True
        return sub.report


# -- publishers (tests, simulators, tools) --------------------------------------------------------
async def publish_nats(
    url: str,
    subject: str,
    payloads: Iterable[bytes],
    *,
    stream: str | None = None,
    msg_id_prefix: str | None = None,
    timeout_s: float = 2.0,
    give_up_s: float = 60.0,
    on_published: Callable[[int], object] | None = None,
) -> int:
    """Publish each payload as one JetStream message, waiting for the stream's acknowledgement
    and retrying (same ``Nats-Msg-Id``, so the stream stores it once) through disconnects and
    server restarts. Creates the stream if none holds ``subject``. Returns how many were
    published; ``on_published(i)`` is called after the i-th (from 0)."""
    import nats

    prefix = msg_id_prefix or f"sb-{time.time_ns():x}"
    nc = None
    deadline = time.monotonic() + give_up_s
    attempt = 0
    while nc is None:
        try:
            nc = await nats.connect(
                url,
                connect_timeout=2,
                max_reconnect_attempts=-1,
                reconnect_time_wait=0.2,
                error_cb=_quiet,
            )
        except Exception as exc:
            if time.monotonic() > deadline:
                raise StarbrainError(f"cannot reach {url}: {exc}") from exc
            await asyncio.sleep(_backoff(attempt, 2.0))
            attempt += 1
    n = 0
    try:
        js = nc.jetstream()
        stream_name: str | None = None
        for i, payload in enumerate(payloads):
            attempt = 0
            deadline = time.monotonic() + give_up_s
            while True:
                try:
                    if stream_name is None:
                        stream_name = await _ensure_stream(js, subject, stream)
                    await js.publish(
                        subject,
                        payload,
                        timeout=timeout_s,
                        headers={"Nats-Msg-Id": f"{prefix}-{i}"},
                    )
                    break
                except Exception as exc:
                    if time.monotonic() > deadline:
                        raise StarbrainError(
                            f"{url}: message {i} not acknowledged after {give_up_s} s: {exc}"
                        ) from exc
                    await asyncio.sleep(_backoff(attempt, 1.0))
                    attempt += 1
            n += 1
            if on_published is not None:
                on_published(i)
    finally:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(nc.close(), 5)
    return n


async def _quiet(exc: Exception) -> None:
    """nats-py logs every connection error; publishers retry, so they stay quiet."""


def publish_mqtt(
    url: str,
    topic: str,
    payloads: Iterable[bytes],
    *,
    client_id: str | None = None,
    timeout_s: float = 60.0,
    max_in_flight: int = 100,
    replay_s: float = 2.0,
    max_replay: int = 4096,
    on_published: Callable[[int], object] | None = None,
) -> int:
    """Publish each payload as one QoS 1 MQTT message, at most ``max_in_flight`` awaiting the
    broker's acknowledgement, and wait for them all; paho resends unacknowledged messages after
    a reconnect. Raises ``StarbrainError`` when one is not acknowledged within ``timeout_s``.
    Returns how many were published.

    mosquitto acknowledges a message before it has saved it, so a broker killed just then
    forgets messages it acknowledged. After losing the connection we therefore publish again
    those acknowledged in the last ``replay_s`` seconds before it (at most ``max_replay``,
    which must stay below the subscribers' ``dedup_window``); subscriptions drop the repeats by
    their payload hash. ``replay_s=0`` turns this off."""
    import paho.mqtt.client as mqtt

    host, port = _host_port(url, "mqtt", 1883)
    client = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2,
        client_id=client_id or f"starbrain-pub-{time.time_ns():x}",
        clean_session=False,
        protocol=mqtt.MQTTv311,
    )
    client.reconnect_delay_set(min_delay=1, max_delay=2)
    client.max_inflight_messages_set(max_in_flight)
    client.max_queued_messages_set(0)
    deadline = time.monotonic() + timeout_s
    attempt = 0
    while True:
        try:
            client.connect(host, port, keepalive=30)
            break
        except OSError as exc:
            if time.monotonic() > deadline:
                raise StarbrainError(f"cannot reach {url}: {exc}") from exc
            time.sleep(_backoff(attempt, 2.0))
            attempt += 1
    pending: dict[int, bytes] = {}  # mid -> payload, awaiting the broker's acknowledgement
    early: set[int] = set()  # acknowledged before ``publish`` returned its mid
    acked: deque[tuple[float, bytes]] = deque()  # (monotonic time, payload), newest last
    to_replay: list[bytes] = []
    closing = threading.Event()
    cond = threading.Condition()

    def remember(payload: bytes) -> None:  # under ``cond``
        if replay_s <= 0:
            return
        now = time.monotonic()
        acked.append((now, payload))
        while acked and (acked[0][0] < now - replay_s or len(acked) > max_replay):
            acked.popleft()

    def on_publish(c: Any, userdata: Any, mid: int, reason: Any, props: Any) -> None:
        with cond:
            payload = pending.pop(mid, None)
            if payload is None:
                early.add(mid)
            else:
                remember(payload)
            cond.notify_all()

    def on_disconnect(c: Any, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        if closing.is_set():
            return
        with cond:  # the broker may have died before saving these: publish them again
            to_replay.extend(p for _, p in acked)
            acked.clear()
            cond.notify_all()

    client.on_publish = on_publish
    client.on_disconnect = on_disconnect
    client.loop_start()
    n = 0

    def send(payload: bytes) -> None:
        # Not under ``cond``: paho calls on_publish holding its own lock. While disconnected,
        # paho keeps QoS 1 messages and sends them after reconnecting.
        info = client.publish(topic, payload, qos=1)
        with cond:
            if info.mid in early:
                early.discard(info.mid)
                remember(payload)
            else:
                pending[info.mid] = payload

    def replay() -> None:
        with cond:
            again = to_replay[:]
            to_replay.clear()
        for payload in again:
            send(payload)

    def wait_until(fewer_than: int) -> None:
        while True:
            replay()
            with cond:
                if len(pending) < fewer_than and not to_replay:
                    return
                left = deadline - time.monotonic()
                if left <= 0:
                    raise StarbrainError(
                        f"{url}: {len(pending)} messages not acknowledged after {timeout_s} s"
                    )
                cond.wait(min(left, 0.1))

    try:
        for i, payload in enumerate(payloads):
            wait_until(max_in_flight)
            deadline = time.monotonic() + timeout_s
            send(payload)
            n += 1
            if on_published is not None:
                on_published(i)
        wait_until(1)
    finally:
        closing.set()
        client.disconnect()
        client.loop_stop()
    return n


def publish(
    url: str,
    subject: str,
    payloads: Iterable[bytes],
    **options: Any,
) -> int:
    """Publish payloads (each one or more whole packets) to a NATS subject (``nats://``, via
    JetStream) or an MQTT topic (``mqtt://``), waiting for every acknowledgement."""
    scheme = urlsplit(url).scheme
    if scheme == "nats":
        return asyncio.run(publish_nats(url, subject, payloads, **options))
    if scheme == "mqtt":
        return publish_mqtt(url, subject, payloads, **options)
    raise StarbrainError(f"{url!r}: broker URLs start with nats:// or mqtt://")
