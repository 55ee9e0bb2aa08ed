"""Deprecated path (kept for one release): telemetry from message brokers now lives in
:mod:`starbrain.sources.transport` (``transport.nats``, ``transport.mqtt`` and the shared
``transport.policy``). Import from there; this module only re-exports."""

from __future__ import annotations

from starbrain.sources.transport import (
    DEFAULT_WINDOW,
    BatchSink,
    BrokerReport,
    MqttSubscription,
    NatsSubscription,
    RecentKeys,
    message_key,
    publish,
    publish_mqtt,
    publish_nats,
    stream_name_for,
    subscribe,
)

__all__ = [
    "DEFAULT_WINDOW",
    "BatchSink",
    "BrokerReport",
    "MqttSubscription",
    "NatsSubscription",
    "RecentKeys",
    "message_key",
    "publish",
    "publish_mqtt",
    "publish_nats",
    "stream_name_for",
    "subscribe",
]
