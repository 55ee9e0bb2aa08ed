"""Deprecated path (kept for one release): file replay, the UDP listener and the TCP listener
now live in :mod:`starbrain.sources.transport` (``transport.replay``, ``transport.udp``,
``transport.tcp``). Import from there; this module only re-exports."""

from __future__ import annotations

from starbrain.sources.transport.replay import (
    DefinitionsChoice,
    definitions_sidecar,
    replay,
    replay_file,
    resolve_definitions,
    scan_apids,
)
from starbrain.sources.transport.stream import LOOPBACK, Sink
from starbrain.sources.transport.tcp import (
    TcpListener,
    TcpReport,
    listen_tcp,
    merge_stats,
    parse_host_port,
    send_tcp,
)
from starbrain.sources.transport.udp import ListenReport, UdpListener, listen, send_udp

__all__ = [
    "LOOPBACK",
    "DefinitionsChoice",
    "ListenReport",
    "Sink",
    "TcpListener",
    "TcpReport",
    "UdpListener",
    "definitions_sidecar",
    "listen",
    "listen_tcp",
    "merge_stats",
    "parse_host_port",
    "replay",
    "replay_file",
    "resolve_definitions",
    "scan_apids",
    "send_tcp",
    "send_udp",
]
