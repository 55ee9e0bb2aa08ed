"""Prometheus exposition of ``compute`` rows under the DCGM exporter's metric names.

Grafana dashboards built for NVIDIA's ``dcgm-exporter`` query ``DCGM_FI_DEV_GPU_TEMP{gpu=..,
UUID=..., Hostname=...}`` and friends; this endpoint serves the newest row per GPU with those
names and labels (``gpu``: the index in the table, ``UUID``: the ``gpu_id``, ``Hostname``: the
node). Every metric is exported as a gauge so the names stay exact (prometheus_client would add
``_total`` to a counter; ``rate()`` works on the energy gauge all the same).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
from prometheus_client import start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector, CollectorRegistry

from starbrain.core.schemas.compute import COMPUTE_SCHEMA, DCGM_NAMES

__all__ = ["ComputeExporter", "serve_metrics"]

_LABELS = ["gpu", "UUID", "Hostname"]


class ComputeExporter(Collector):
    """Holds the newest ``compute`` row per GPU; ``update`` replaces them (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._latest: dict[str, dict[str, Any]] = {}

    def update(self, table: pa.Table | list[dict[str, Any]]) -> None:
        rows = table.to_pylist() if isinstance(table, pa.Table) else table
        with self._lock:
            for r in rows:
                self._latest[r["gpu_id"]] = r

    def collect(self) -> Iterator[GaugeMetricFamily]:
        with self._lock:
            rows = list(self._latest.values())
        for col, name in DCGM_NAMES.items():
            f = COMPUTE_SCHEMA.field(col)
            doc = f"{f.metadata[b'doc'].decode()} (in {f.metadata[b'unit'].decode()})"
            fam = GaugeMetricFamily(name, doc, labels=_LABELS)
            for i, r in enumerate(rows):
                v = r.get(col)
                if v is not None and v == v:  # skip null and NaN
                    fam.add_metric([str(i), r["gpu_id"], r.get("node_id") or ""], float(v))
            yield fam


def serve_metrics(
    exporter: ComputeExporter, port: int = 9400, addr: str = "127.0.0.1"
) -> tuple[Any, int]:
    """Serve ``/metrics`` on ``addr:port`` (9400, dcgm-exporter's port; 0 picks a free one) in a
    daemon thread. Returns ``(server, port)``; ``server.shutdown()`` stops it."""
    registry = CollectorRegistry()
    registry.register(exporter)
    server, _thread = start_http_server(port, addr=addr, registry=registry)
    return server, int(server.server_port)
