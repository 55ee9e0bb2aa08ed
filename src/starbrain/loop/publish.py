"""Where the loop's decisions and alerts go: an in-process bus, and NATS or MQTT when configured.

Every message is a JSON object published on one of :data:`SUBJECTS`. The in-process
:class:`Bus` always receives it (the console's WebSocket ``/ws/live`` forwards it to browsers);
:class:`NatsPublisher` also publishes it to NATS (to JetStream, acknowledged, when the server
has JetStream: a stream ``STARBRAIN`` holds ``starbrain.>``), :class:`MqttPublisher` to an MQTT
broker at QoS 1 on the topic with dots turned into slashes (``starbrain/conjunctions``).
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
from urllib.parse import urlsplit

from starbrain.core.errors import StarbrainError

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
    """Publishes to NATS at ``url`` (``nats://host:4222``), through JetStream when available."""

    kind = "nats"

    def __init__(self, url: str, bus: Bus | None = None) -> None:
        super().__init__(bus)
        self.url = url
        self._nc: Any = None
        self._js: Any = None

    @property
    def target(self) -> str:
        return f"NATS {self.url}" + (" (JetStream stream STARBRAIN)" if self._js else "")

    async def start(self) -> None:
        import nats
        from nats.js.errors import Error as JsError

        try:
            self._nc = await nats.connect(
                self.url, connect_timeout=5, max_reconnect_attempts=60, allow_reconnect=True
            )
        except Exception as exc:  # nats-py raises several unrelated types here
            raise StarbrainError(f"cannot connect to NATS at {self.url}: {exc}") from None
        try:
            js = self._nc.jetstream(timeout=5)
            await js.add_stream(name=STREAM_NAME, subjects=["starbrain.>"])
            self._js = js
        except (JsError, TimeoutError):
            self._js = None  # core NATS only (server without -js)
        except Exception as exc:  # nats.errors.NoRespondersError and friends
            if type(exc).__module__.startswith("nats"):
                self._js = None
            else:
                raise

    async def _send(self, subject: str, message: dict[str, Any]) -> None:
        data = _encode(message)
        if self._js is not None:
            await self._js.publish(subject, data, timeout=10)
        else:
            await self._nc.publish(subject, data)

    async def close(self) -> None:
        if self._nc is not None and not self._nc.is_closed:
            await self._nc.flush(timeout=10)
            await self._nc.drain()


class MqttPublisher(Publisher):
    """Publishes to an MQTT broker at ``url`` (``mqtt://[user:pass@]host:1883``) at QoS 1."""

    kind = "mqtt"

    def __init__(self, url: str, bus: Bus | None = None, client_id: str = "starbrain-loop") -> None:
        super().__init__(bus)
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "tcp") or not parts.hostname:
            raise StarbrainError(f"cannot use MQTT URL {url!r}: expected mqtt://host[:port]")
        self.url, self._parts, self.client_id = url, parts, client_id
        self._client: Any = None
        self._pending: list[Any] = []

    @property
    def target(self) -> str:
        return f"MQTT {self.url}"

    async def start(self) -> None:
        import paho.mqtt.client as mqtt

        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=self.client_id)
        if self._parts.username:
            client.username_pw_set(self._parts.username, self._parts.password)
        try:
            await asyncio.to_thread(
                client.connect, str(self._parts.hostname), self._parts.port or 1883, 30
            )
        except OSError as exc:
            raise StarbrainError(f"cannot connect to MQTT at {self.url}: {exc}") from None
        client.loop_start()
        self._client = client

    async def _send(self, subject: str, message: dict[str, Any]) -> None:
        info = self._client.publish(mqtt_topic(subject), _encode(message), qos=1)
        self._pending = [p for p in self._pending if not p.is_published()]
        self._pending.append(info)

    async def close(self) -> None:
        if self._client is None:
            return
        for info in self._pending:
            await asyncio.to_thread(info.wait_for_publish, 10)
        self._client.disconnect()
        self._client.loop_stop()
        self._client = None


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
