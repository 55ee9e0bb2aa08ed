"""MQTT 3.1.1 at QoS 1: a persistent-session subscription for telemetry and the one publishing
client (telemetry publishers and the loop's decisions and alerts), both following ``policy``.

* Subscribing: a fixed client id with ``clean_session=False`` so the broker keeps the session
  and queues messages while we are away, and manual acknowledgements after commit. Messages
  wait in a bounded queue; when it is full paho's network thread blocks, TCP fills and the
  broker holds the rest.
* Publishing (:class:`MqttPublishClient`): QoS 1, at most ``max_in_flight`` awaiting the
  broker's acknowledgement; paho resends unacknowledged messages after a reconnect, and what
  was acknowledged in the last ``replay_s`` seconds before losing the connection is published
  again (:class:`~starbrain.sources.transport.policy.ReplayWindow`).

Broker settings matter as much. mosquitto (2.0) keeps at most ``max_queued_messages`` (default
1000) for a session and writes its database on a clean shutdown, every ``autosave_interval``
seconds, or with ``autosave_on_changes true`` after each pass of its loop that changed at least
``autosave_interval`` things; only *queued* messages count as changes, not those sent straight
to a connected subscriber (up to ``max_inflight_messages`` per client; 0 means all of them, so
nothing is ever saved for a connected subscriber). For telemetry that must survive a
``kill -9`` (as ``tests/servers.py`` configures it and the tests check)::

    persistence true
    autosave_interval 1
    autosave_on_changes true
    max_queued_messages 0
    max_inflight_messages 1000   # >= the subscription's batch_messages, <= its max_queue

Even so mosquitto acknowledges a message before saving it, hence the publishers' replay window;
the subscribers' duplicate window drops the repeats. Saving after every change rewrites the
whole database each time, which costs throughput (5000 messages over loopback on 2 shared
cores: 5600 msg/s with the settings above but ``max_inflight_messages 0`` and no
``autosave_on_changes``, 1900 msg/s with them) and suits backlogs of thousands of messages, not
of millions (use JetStream for those).
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, Literal

from starbrain.core.errors import StarbrainError
from starbrain.sources.telemetry.packets import PacketSet
from starbrain.sources.transport.policy import (
    DEFAULT_WINDOW,
    BatchSink,
    OnReady,
    ReplayWindow,
    Subscription,
    backoff,
    host_port,
    pause,
    port_of,
    split_url,
)

__all__ = ["MqttPublishClient", "MqttSubscription", "publish_mqtt", "session_client"]


def session_client(client_id: str, *, manual_ack: bool = False, max_delay: int = 2) -> Any:
    """A paho MQTT 3.1.1 client with a persistent session (``clean_session=False``) under
    ``client_id``, reconnecting after 1 s to ``max_delay`` s."""
    import paho.mqtt.client as mqtt

    client = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2,
        client_id=client_id,
        clean_session=False,
        protocol=mqtt.MQTTv311,
        manual_ack=manual_ack,
    )
    client.reconnect_delay_set(min_delay=1, max_delay=max_delay)
    return client


class MqttSubscription(Subscription):
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
        self.host, self.port = host_port(url, "mqtt", 1883)
        if batch_messages < 1 or batch_ms <= 0 or max_queue < 1:
            raise ValueError("batch_messages, batch_ms and max_queue must be positive")
        self.url, self.topic, self.client_id = url, topic, client_id
        self.batch_messages, self.batch_ms = batch_messages, batch_ms
        self.keepalive_s, self.max_backoff_s = keepalive_s, max_backoff_s
        super().__init__(f"{url}/{topic}", definitions, dedup_window, layout, max_errors)
        # (payload, mid, connection): a mid means nothing on a later connection, where the
        # broker may have given it to another message, so only current ones are acknowledged.
        self._queue: queue.Queue[tuple[bytes, int, int]] = queue.Queue(max_queue)
        self._connection = 0
        self._ack_lock = threading.Lock()
        self._closing = threading.Event()
        self._disconnected = threading.Event()
        self.subscribed = threading.Event()

    def _client(self) -> Any:
        client = session_client(
            self.client_id, manual_ack=True, max_delay=max(1, int(self.max_backoff_s))
        )
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

    async def _connect(self, client: Any, stop: asyncio.Event) -> bool:
        """Connect with backoff (paho itself retries only once connected); False on stop."""
        attempt = 0
        while not stop.is_set():
            try:
                client.connect(self.host, self.port, keepalive=self.keepalive_s)
                return True
            except OSError as exc:  # refused
                self.report.connect_errors += 1
                self.report.note(f"mqtt connect: {exc}")
                await pause(stop, attempt, self.max_backoff_s)
                attempt += 1
        return False

    async def _wait_subscribed(self, stop: asyncio.Event) -> None:
        ready_deadline = time.monotonic() + 30
        while not self.subscribed.is_set() and not stop.is_set():
            if time.monotonic() > ready_deadline:
                raise StarbrainError(f"{self.url}: the broker did not confirm subscribing")
            await asyncio.sleep(0.01)

    async def _run(self, sink: BatchSink | None, stop: asyncio.Event, ready: OnReady) -> None:
        client = self._client()
        if not await self._connect(client, stop) or stop.is_set():
            return
        client.loop_start()
        try:
            await self._wait_subscribed(stop)
            if ready is not None:
                ready()
            while not self.done(stop):
                items = await asyncio.to_thread(self._collect, 0.1)
                if not items:
                    continue
                await self._gate.process([p for p, _, _ in items], sink)
                with self._ack_lock:  # the broker redelivers those of an earlier connection
                    for _, mid, connection in items:
                        if connection == self._connection and client.ack(mid, 1) == 0:
                            self.report.acked += 1
        finally:
            await self._close(client)

    async def _close(self, client: Any) -> None:
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


class MqttPublishClient:
    """A QoS 1 MQTT publisher under the transport policy (thread-safe; blocking calls).

        client = MqttPublishClient("mqtt://127.0.0.1:1883")
        client.connect()
        client.send("telemetry/flight", payload)
        client.wait_all()
        client.close()

    ``connect`` retries with backoff for ``timeout_s``. At most ``max_in_flight`` messages await
    the broker's acknowledgement (``send`` waits for room, ``StarbrainError`` after
    ``timeout_s``); paho resends unacknowledged messages after a reconnect, and after losing the
    connection those acknowledged in the last ``replay_s`` seconds (at most ``max_replay``,
    which must stay below the subscribers' ``dedup_window``) are published again: mosquitto
    acknowledges before it saves. ``replay_s=0`` turns this off. The session is persistent
    (``clean_session=False``); user and password come from the URL (``mqtt://user:pw@host``).
    """

    def __init__(
        self,
        url: str,
        *,
        client_id: str | None = None,
        timeout_s: float = 60.0,
        max_in_flight: int = 100,
        replay_s: float = 2.0,
        max_replay: int = 4096,
        schemes: Sequence[str] = ("mqtt",),
        problem: str | None = None,
    ) -> None:
        parts = split_url(url, schemes, problem or f"{url!r} is not a mqtt://HOST:PORT address")
        self.url, self.host, self.port = url, str(parts.hostname), port_of(parts, url, 1883)
        self.user, self.password = parts.username, parts.password
        self.client_id = client_id or f"starbrain-pub-{time.time_ns():x}"
        self.timeout_s, self.max_in_flight = timeout_s, max_in_flight
        self._window = ReplayWindow(replay_s, max_replay)
        self._pending: dict[int, tuple[str, bytes]] = {}  # mid -> message, not yet acknowledged
        self._early: set[int] = set()  # acknowledged before ``publish`` returned its mid
        self._closing = threading.Event()
        self._cond = threading.Condition()
        self._client: Any = None

    def _make_client(self) -> Any:
        client = session_client(self.client_id, max_delay=2)
        if self.user:
            client.username_pw_set(self.user, self.password)
        client.max_inflight_messages_set(self.max_in_flight)
        client.max_queued_messages_set(0)
        client.on_publish = self._on_publish
        client.on_disconnect = self._on_disconnect
        return client

    def connect(self) -> None:
        client = self._make_client()
        deadline = time.monotonic() + self.timeout_s
        attempt = 0
        while True:
            try:
                client.connect(self.host, self.port, keepalive=30)
                break
            except OSError as exc:
                if time.monotonic() > deadline:
                    raise StarbrainError(f"cannot reach {self.url}: {exc}") from exc
                time.sleep(backoff(attempt, 2.0))
                attempt += 1
        client.loop_start()
        self._client = client

    def _on_publish(self, c: Any, userdata: Any, mid: int, reason: Any, props: Any) -> None:
        with self._cond:
            message = self._pending.pop(mid, None)
            if message is None:
                self._early.add(mid)
            else:
                self._window.acknowledged(message)
            self._cond.notify_all()

    def _on_disconnect(self, c: Any, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        if self._closing.is_set():
            return
        with self._cond:  # the broker may have died before saving these: publish them again
            self._window.disconnected()
            self._cond.notify_all()

    def _publish(self, message: tuple[str, bytes]) -> None:
        # Not under ``_cond``: paho calls on_publish holding its own lock. While disconnected,
        # paho keeps QoS 1 messages and sends them after reconnecting.
        info = self._client.publish(message[0], message[1], qos=1)
        with self._cond:
            if info.mid in self._early:
                self._early.discard(info.mid)
                self._window.acknowledged(message)
            else:
                self._pending[info.mid] = message

    def _wait_until(self, fewer_than: int, deadline: float) -> None:
        while True:
            with self._cond:
                again = self._window.take()
            for message in again:
                self._publish(message)
            with self._cond:
                if len(self._pending) < fewer_than and not self._window.due:
                    return
                left = deadline - time.monotonic()
                if left <= 0:
                    raise StarbrainError(
                        f"{self.url}: {len(self._pending)} messages not acknowledged "
                        f"after {self.timeout_s} s"
                    )
                self._cond.wait(min(left, 0.1))

    def send(self, topic: str, payload: bytes) -> None:
        """Publish one message once fewer than ``max_in_flight`` await acknowledgement."""
        if self._client is None:
            self.connect()
        self._wait_until(self.max_in_flight, time.monotonic() + self.timeout_s)
        self._publish((topic, payload))

    def wait_all(self) -> None:
        """Wait until the broker has acknowledged every message (``StarbrainError`` when one is
        not within ``timeout_s``)."""
        if self._client is not None:
            self._wait_until(1, time.monotonic() + self.timeout_s)

    @property
    def unacknowledged(self) -> int:
        with self._cond:
            return len(self._pending)

    def close(self) -> None:
        client, self._client = self._client, None
        if client is None:
            return
        self._closing.set()
        client.disconnect()
        client.loop_stop()


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
    """Publish each payload as one QoS 1 MQTT message with :class:`MqttPublishClient` and wait
    for them all; ``StarbrainError`` when one is not acknowledged within ``timeout_s``. Returns
    how many were published; ``on_published(i)`` is called after the i-th (from 0)."""
    client = MqttPublishClient(
        url,
        client_id=client_id,
        timeout_s=timeout_s,
        max_in_flight=max_in_flight,
        replay_s=replay_s,
        max_replay=max_replay,
    )
    n = 0
    client.connect()
    try:
        for i, payload in enumerate(payloads):
            client.send(topic, payload)
            n += 1
            if on_published is not None:
                on_published(i)
        client.wait_all()
    finally:
        client.close()
    return n
