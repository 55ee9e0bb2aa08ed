"""The ``telemetry`` stream: one row per decoded parameter value of a CCSDS Space Packet (see
:mod:`starbrain.sources.telemetry.ccsds`): packet time (UTC, ns), APID, sequence count, the
parameter's
name (dictionary-encoded), the raw value and the calibrated engineering value."""

from __future__ import annotations

import pyarrow as pa

from starbrain.core.schemas._fields import UTC_NS

__all__ = ["PARAMETER_TYPE", "TELEMETRY_KEY", "TELEMETRY_SCHEMA"]

PARAMETER_TYPE = pa.dictionary(pa.int32(), pa.string())
TELEMETRY_SCHEMA = pa.schema(
    [
        pa.field("time", UTC_NS, nullable=False),
        pa.field("apid", pa.uint16(), nullable=False),
        pa.field("seq", pa.uint16(), nullable=False),
        pa.field("parameter", PARAMETER_TYPE, nullable=False),
        pa.field("raw", pa.float64()),
        pa.field("value", pa.float64()),
    ],
    metadata={"stream": "telemetry", "key": "apid,parameter,time,seq"},
)
TELEMETRY_KEY = ("apid", "parameter", "time", "seq")
