"""Anomalies: the ``anomalies`` stream (detected events, see :mod:`starbrain.models.anomaly`) and
the label table of simulated flights' injected anomalies (:mod:`starbrain.physics.flight_sim`)."""

from __future__ import annotations

import pyarrow as pa

from starbrain.core.schemas._fields import UTC_NS

__all__ = ["ANOMALIES_KEY", "ANOMALIES_SCHEMA", "FLIGHT_LABELS_SCHEMA"]

# append-only, one row per event
ANOMALIES_SCHEMA = pa.schema(
    [
        pa.field("source", pa.string(), nullable=False),  # flight / packet source id
        pa.field("parameter", pa.string(), nullable=False),  # channel or channel-group name
        pa.field("start", UTC_NS, nullable=False),
        pa.field("end", UTC_NS, nullable=False),
        pa.field("score", pa.float64()),  # the method's score, larger = more anomalous
        pa.field("method", pa.string(), nullable=False),  # "telemanom-lstm", "robust-z", ...
        pa.field("detected_at", UTC_NS, nullable=False),
        pa.field("label", pa.string()),  # injected anomaly kind on simulated flights, else null
    ],
    metadata={"stream": "anomalies", "key": "source,parameter,start,method"},
)
ANOMALIES_KEY = ("source", "parameter", "start", "method")

# one row per injected anomaly of a simulated flight (the truth detectors are scored against)
FLIGHT_LABELS_SCHEMA = pa.schema(
    [
        pa.field("flight", pa.string(), nullable=False),
        pa.field("kind", pa.string(), nullable=False),
        pa.field("channels", pa.string(), nullable=False),  # comma-separated
        pa.field("start", UTC_NS, nullable=False),
        pa.field("end", UTC_NS, nullable=False),
        pa.field("magnitude", pa.float64()),
    ],
    metadata={"table": "anomaly labels"},
)
