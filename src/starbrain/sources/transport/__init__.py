"""Telemetry and message transports with one delivery policy (``policy.py``).

* ``udp``: a UDP listener (datagrams of whole packets; drops and counts what it cannot keep).
* ``tcp``: a TCP listener (byte streams framed by CCSDS length fields; TCP back-pressure).
* ``nats``: NATS JetStream, a durable subscription and the publishing client.
* ``mqtt``: MQTT 3.1.1 QoS 1, a persistent-session subscription and the publishing client.
* ``replay``: recorded packet files.

Every broker client, whether it carries telemetry or the loop's decisions and alerts
(``starbrain.loop.publish``), follows ``policy``: reconnect with backoff, acknowledge after
commit, de-duplicate redeliveries by payload hash, create JetStream streams, and publish again
over MQTT what was acknowledged just before a disconnect. :func:`subscribe` and :func:`publish`
pick NATS or MQTT by the URL's scheme.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from starbrain.core.errors import StarbrainError
from starbrain.sources.telemetry.packets import PacketSet
from starbrain.sources.transport.mqtt import MqttPublishClient, MqttSubscription, publish_mqtt
from starbrain.sources.transport.nats import JetStreamPublisher, NatsSubscription, publish_nats
from starbrain.sources.transport.policy import (
    DEFAULT_WINDOW,
    BatchSink,
    BrokerReport,
    RecentKeys,
    ReplayWindow,
    message_key,
    stream_name_for,
)

__all__ = [
    "DEFAULT_WINDOW",
    "BatchSink",
    "BrokerReport",
    "JetStreamPublisher",
    "MqttPublishClient",
    "MqttSubscription",
    "NatsSubscription",
    "RecentKeys",
    "ReplayWindow",
    "message_key",
    "publish",
    "publish_mqtt",
    "publish_nats",
    "stream_name_for",
    "subscribe",
]


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
