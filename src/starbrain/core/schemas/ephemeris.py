"""The ``ephemeris`` stream: one row per state of a precise ephemeris (CCSDS OEM, SP3), positions
in km and velocities in km/s in the frame the row names, times UTC."""

from __future__ import annotations

import pyarrow as pa

__all__ = ["EPHEMERIS_KEY", "EPHEMERIS_SCHEMA"]

EPHEMERIS_SCHEMA = pa.schema(
    [
        pa.field("object_id", pa.string(), nullable=False),  # OEM OBJECT_ID, SP3 "G01"
        pa.field("object_name", pa.string()),
        pa.field("time", pa.timestamp("ns", tz="UTC"), nullable=False),
        pa.field("x", pa.float64(), nullable=False),  # km
        pa.field("y", pa.float64(), nullable=False),
        pa.field("z", pa.float64(), nullable=False),
        pa.field("vx", pa.float64()),  # km/s; null when the file has no velocity for the state
        pa.field("vy", pa.float64()),
        pa.field("vz", pa.float64()),
        pa.field("frame", pa.string(), nullable=False),  # normalised: TEME, GCRF, EME2000, ITRF...
        pa.field("center", pa.string(), nullable=False),  # EARTH, MARS BARYCENTER, ...
        pa.field("source", pa.string(), nullable=False),  # the file the states came from
    ],
    metadata={"stream": "ephemeris", "key": "object_id,time,frame,source"},
)
EPHEMERIS_KEY = ("object_id", "time", "frame", "source")
