"""Deprecated path (kept for one release): telemetry from message brokers now lives in
:mod:`starbrain.sources.transport` (``transport.nats``, ``transport.mqtt`` and the shared
``transport.policy``). Import from there; this module only forwards names to it."""

from __future__ import annotations

from typing import Any

from starbrain.sources import transport as _transport
from starbrain.sources.transport import policy as _policy


def __getattr__(name: str) -> Any:
    for module in (_transport, _policy):
        if hasattr(module, name) and not name.startswith("__"):
            return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
