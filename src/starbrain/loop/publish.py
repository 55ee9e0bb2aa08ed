"""Where the loop's decisions and alerts go: an in-process bus, and NATS or MQTT when configured.

Every message is a JSON object published on one of :data:`SUBJECTS`. The in-process
:class:`Bus` always receives it (the console's WebSocket ``/ws/live`` forwards it to browsers);
:class:`NatsPublisher` also publishes it to NATS (to JetStream, acknowledged, when the server
has JetStream: a stream ``STARBRAIN`` holds ``starbrain.>``), :class:`MqttPublisher` to an MQTT
broker at QoS 1 on the topic with dots turned into slashes (``starbrain/conjunctions``). Both
use the same clients, and so the same delivery policy, as telemetry
(:mod:`starbrain.sources.transport`: reconnect with backoff, JetStream stream creation and
retry with a message id, the MQTT re-send window).
Closing a publisher waits until the broker has acknowledged what was sent. A message the broker
cannot take (an outage) is logged and counted in ``failed``; the loop goes on, and the message
stays in the store's ``loop_events`` log.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
from collections import Counter, deque
from collections.abc import Iterator
from typing import Any

from starbrain.core.errors import StarbrainError
from starbrain.sources.transport.mqtt import MqttPublishClient
from starbrain.sources.transport.nats import JetStreamPublisher

__all__ = [
    "SUBJECTS",
    "Bus",
    "MqttPublisher",
    "NatsPublisher",
    "Publisher",
    "make_publisher",
    "mqtt_topic",
]

#: Subjects the loop publishes, and what their messages hold (every message has ``subject``,
#: ``sim_time`` (ISO 8601 UTC, the loop's simulated clock) and ``kind``).
SUBJECTS: dict[str, str] = {
    "starbrain.catalog": "catalogue refreshed: objects, new element sets, epoch",
    "starbrain.passes": "passes planned for a window: count per station, the next few passes",
    "starbrain.conjunctions": "conjunctions found in a window: count, the closest few (miss, Pc)",
    "starbrain.anomalies": "telemetry anomalies detected in a window",
    "starbrain.alerts": "anything needing attention: high-Pc or close conjunctions, anomalies, "
    "world-model drift, a failed task",
    "starbrain.models": "world-model drift checks and re-fits (metrics per horizon)",
    "starbrain.telemetry": "telemetry ingested in a window: rows, packets, errors",
    "starbrain.compute": "GPU fleet windows: rows, forecast error, drifted loops, the power plan",
    "starbrain.loop": "service status: started, checkpoint, stopped",
}
STREAM_NAME = "STARBRAIN"
log = logging.getLogger("starbrain.loop")


def mqtt_topic(subject: str) -> str:
    """The MQTT topic of a subject: ``starbrain.alerts`` -> ``starbrain/alerts``."""
    return subject.replace(".", "/")


def _encode(message: dict[str, Any]) -> bytes:
    return json.dumps(message, separators=(",", ":"), default=str).encode()


class Bus:
    """In-process fan-out of messages to any number of subscribers, on any event loop.

    ``publish`` never blocks: a subscriber whose queue is full loses its oldest message (a slow
    browser must not stall the loop). The last ``history`` messages are kept for late joiners.
    """

    def __init__(self, history: int = 200) -> None:
        self._subs: set[tuple[asyncio.AbstractEventLoop, asyncio.Queue[dict[str, Any]]]] = set()
        self._lock = threading.Lock()
        self.recent: deque[dict[str, Any]] = deque(maxlen=history)
        self.published = 0

    def publish(self, message: dict[str, Any]) -> None:
        with self._lock:
            self.recent.append(message)
            self.published += 1
            subs = list(self._subs)
        for loop, queue in subs:
            with contextlib.suppress(RuntimeError):  # that loop has closed
                loop.call_soon_threadsafe(_offer, queue, message)

    @contextlib.contextmanager
    def subscribe(self, maxsize: int = 1000) -> Iterator[asyncio.Queue[dict[str, Any]]]:
        """A queue receiving every message published from now on (call inside a running loop)."""
        entry = (asyncio.get_running_loop(), asyncio.Queue[dict[str, Any]](maxsize))
        with self._lock:
            self._subs.add(entry)
        try:
            yield entry[1]
        finally:
            with self._lock:
                self._subs.discard(entry)

    @property
    def subscribers(self) -> int:
        return len(self._subs)


def _offer(queue: asyncio.Queue[dict[str, Any]], message: dict[str, Any]) -> None:
    if queue.full():
        with contextlib.suppress(asyncio.QueueEmpty):
            queue.get_nowait()
    queue.put_nowait(message)


class Publisher:
    """Publishes to the in-process bus only (the default: one machine, no broker)."""

    kind = "in-process"

    def __init__(self, bus: Bus | None = None) -> None:
        self.bus = bus if bus is not None else Bus()
        self.sent: Counter[str] = Counter()
        self.failed: Counter[str] = Counter()

    @property
    def target(self) -> str:
        return "in-process bus"

    async def start(self) -> None:
        return None

    async def publish(self, subject: str, message: dict[str, Any]) -> None:
        if subject not in SUBJECTS:
            raise ValueError(f"unknown subject {subject!r}")
        message = {"subject": subject, **message}
        self.bus.publish(message)
        try:
            await self._send(subject, message)
        except Exception as exc:  # a broker outage must not stop the loop
            # the message is still on the in-process bus and in the store's loop_events log
            self.failed[subject] += 1
            log.warning("could not publish %s to %s: %s", subject, self.target, exc)
            return
        self.sent[subject] += 1

    async def _send(self, subject: str, message: dict[str, Any]) -> None:
        return None

    async def close(self) -> None:
        return None


class NatsPublisher(Publisher):
    """Publishes to NATS at ``url`` (``nats://host:4222``) through the transport's
    :class:`~starbrain.sources.transport.nats.JetStreamPublisher`: to JetStream (stream
    ``STARBRAIN`` holding ``starbrain.>``, created when missing), each message acknowledged and
    retried with the same ``Nats-Msg-Id`` through a reconnect for up to ``give_up_s``; core NATS
    when the server has no JetStream."""

    kind = "nats"

    def __init__(self, url: str, bus: Bus | None = None, give_up_s: float = 10.0) -> None:
        super().__init__(bus)
        self.url = url
        self._client = JetStreamPublisher(
            url,
            stream=STREAM_NAME,
            stream_subjects=["starbrain.>"],
            timeout_s=2.0,
            give_up_s=give_up_s,
        )
        self._started = False

    @property
    def target(self) -> str:
        jetstream = self._started and self._client.jetstream
        return f"NATS {self.url}" + (" (JetStream stream STARBRAIN)" if jetstream else "")

    async def start(self) -> None:
        try:
            await self._client.connect()
        except StarbrainError as exc:
            raise StarbrainError(
                f"cannot connect to NATS at {self.url}: {exc.__cause__ or exc}"
            ) from None
        await self._client.detect_jetstream("starbrain.loop")
        self._started = True

    async def _send(self, subject: str, message: dict[str, Any]) -> None:
        await self._client.publish(subject, _encode(message))

    async def close(self) -> None:
        await self._client.close()


class MqttPublisher(Publisher):
    """Publishes to an MQTT broker at ``url`` (``mqtt://[user:pass@]host:1883``) at QoS 1 through
    the transport's :class:`~starbrain.sources.transport.mqtt.MqttPublishClient` (persistent
    session, at most 100 messages in flight, what was acknowledged just before a disconnect
    published again). Closing waits up to ``timeout_s`` for the broker's acknowledgements."""

    kind = "mqtt"

    def __init__(
        self,
        url: str,
        bus: Bus | None = None,
        client_id: str = "starbrain-loop",
        timeout_s: float = 10.0,
    ) -> None:
        super().__init__(bus)
        self.url, self.client_id = url, client_id
        self._client = MqttPublishClient(
            url,
            client_id=client_id,
            timeout_s=timeout_s,
            schemes=("mqtt", "tcp"),
            problem=f"cannot use MQTT URL {url!r}: expected mqtt://host[:port]",
        )
        self._started = False

    @property
    def target(self) -> str:
        return f"MQTT {self.url}"

    async def start(self) -> None:
        try:
            await asyncio.to_thread(self._client.connect)
        except StarbrainError as exc:
            raise StarbrainError(
                f"cannot connect to MQTT at {self.url}: {exc.__cause__ or exc}"
            ) from None
        self._started = True

    async def _send(self, subject: str, message: dict[str, Any]) -> None:
        await asyncio.to_thread(self._client.send, mqtt_topic(subject), _encode(message))

    async def close(self) -> None:
        if not self._started:
            return
        self._started = False
        try:
            await asyncio.to_thread(self._client.wait_all)
        except StarbrainError as exc:
            log.warning("%s", exc)
        finally:
            await asyncio.to_thread(self._client.close)


def make_publisher(
    nats_url: str | None = None, mqtt_url: str | None = None, bus: Bus | None = None
) -> Publisher:
    """The publisher for the configured broker (in-process only when neither URL is given)."""
    if nats_url and mqtt_url:
        raise StarbrainError("publish to NATS or to MQTT, not both")
    if nats_url:
        return NatsPublisher(nats_url, bus)
    if mqtt_url:
        return MqttPublisher(mqtt_url, bus)
    return Publisher(bus)
