"""Deprecated path (kept for one release): file replay, the UDP listener and the TCP listener
now live in :mod:`starbrain.sources.transport` (``transport.replay``, ``transport.udp``,
``transport.tcp``, and ``transport.stream`` for what the listeners share). Import from there;
this module only forwards names to them."""

from __future__ import annotations

from typing import Any

from starbrain.sources.transport import replay as _replay
from starbrain.sources.transport import stream as _stream
from starbrain.sources.transport import tcp as _tcp
from starbrain.sources.transport import udp as _udp


def __getattr__(name: str) -> Any:
    for module in (_replay, _udp, _tcp, _stream):
        if hasattr(module, name) and not name.startswith("__"):
            return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
