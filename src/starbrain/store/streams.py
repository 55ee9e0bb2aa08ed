"""The registry of stored streams: each stream's Arrow schema, key columns and DuckDB DDL.

Every stream's schema and key live in :mod:`starbrain.core.schemas` (so a source that produces
a stream, the store and a planner whose decisions are stored share one definition); this module
only registers them.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from starbrain.core.schemas.anomalies import ANOMALIES_KEY, ANOMALIES_SCHEMA
from starbrain.core.schemas.arm import ARM_KEY, ARM_SCHEMA
from starbrain.core.schemas.compute import COMPUTE_KEY, COMPUTE_SCHEMA
from starbrain.core.schemas.decisions import (
    CONJUNCTIONS_KEY,
    CONJUNCTIONS_SCHEMA,
    MANOEUVRES_KEY,
    MANOEUVRES_SCHEMA,
)
from starbrain.core.schemas.elements import ELEMENTS_KEY, ELEMENTS_SCHEMA
from starbrain.core.schemas.ephemeris import EPHEMERIS_KEY, EPHEMERIS_SCHEMA
from starbrain.core.schemas.posts import POSTS_COMPARE, POSTS_KEY, POSTS_SCHEMA
from starbrain.core.schemas.registry import MODELS_KEY, MODELS_SCHEMA
from starbrain.core.schemas.telemetry import TELEMETRY_KEY, TELEMETRY_SCHEMA
from starbrain.core.schemas.vehicle import VEHICLE_KEY, VEHICLE_SCHEMA

__all__ = ["STREAMS", "Stream", "duckdb_type"]


@dataclass(frozen=True, slots=True)
class Stream:
    name: str
    schema: pa.Schema
    key: tuple[str, ...]  # what identifies a row
    time_column: str | None = None  # the column "current" queries order by
    # True: the key is a PRIMARY KEY and rows whose key is stored are skipped on append.
    # False: append-only (high-rate streams; the key is documentation and sort order), because
    # DuckDB's key check costs ~10x the insert at telemetry rates.
    unique: bool = True
    # the columns whose values make two rows with one key "the same" (a duplicate) rather than
    # a conflict; None: every non-key column except the provenance column ``source``
    compare: tuple[str, ...] | None = None

    @property
    def compared(self) -> tuple[str, ...]:
        """The columns compared to tell a duplicate from a conflict (see ``compare``)."""
        if self.compare is not None:
            return self.compare
        return tuple(n for n in self.schema.names if n not in self.key and n != "source")


# an element set's content: its orbital values (not its name, TLE text or file)
ELEMENTS_COMPARE = (
    "mean_motion_rev_per_day",
    "eccentricity",
    "inclination_deg",
    "ra_of_asc_node_deg",
    "arg_of_pericenter_deg",
    "mean_anomaly_deg",
    "bstar_per_earth_radius",
    "mean_motion_dot_rev_per_day2",
    "mean_motion_ddot_rev_per_day3",
)

STREAMS: dict[str, Stream] = {
    "elements": Stream(
        "elements", ELEMENTS_SCHEMA, ELEMENTS_KEY, time_column="epoch", compare=ELEMENTS_COMPARE
    ),
    "telemetry": Stream("telemetry", TELEMETRY_SCHEMA, TELEMETRY_KEY, unique=False),
    # a week's screen of the Starlink preset plus debris is ~0.5 M rows: append-only
    "conjunctions": Stream(
        "conjunctions", CONJUNCTIONS_SCHEMA, CONJUNCTIONS_KEY, time_column=None, unique=False
    ),
    "manoeuvres": Stream("manoeuvres", MANOEUVRES_SCHEMA, MANOEUVRES_KEY),
    "models": Stream("models", MODELS_SCHEMA, MODELS_KEY, time_column="created"),
    # detected telemetry anomalies (models.anomaly): append-only events
    "anomalies": Stream(
        "anomalies", ANOMALIES_SCHEMA, ANOMALIES_KEY, time_column=None, unique=False
    ),
    # precise ephemerides (OEM, SP3): truth data; a state is identified per file and frame
    # (a state's values: position, velocity, centre; not the object's name)
    "ephemeris": Stream(
        "ephemeris",
        EPHEMERIS_SCHEMA,
        EPHEMERIS_KEY,
        time_column="time",
        compare=("x", "y", "z", "vx", "vy", "vz", "center"),
    ),
    # ground-vehicle logs (comma2k19, the fleet simulator): 20 Hz samples, append-only
    "vehicle": Stream("vehicle", VEHICLE_SCHEMA, VEHICLE_KEY, unique=False),
    # public text posts (sources.posts): one row per post id, a re-delivery is a duplicate
    "posts": Stream("posts", POSTS_SCHEMA, POSTS_KEY, time_column=None, compare=POSTS_COMPARE),
    # robot-arm telemetry (the MuJoCo arm simulator, or a live arm): 50 Hz rows, append-only
    "arm": Stream("arm", ARM_SCHEMA, ARM_KEY, unique=False),
    # GPU telemetry (NVML collector, fleet simulator): up to 10 Hz per GPU, append-only
    "compute": Stream("compute", COMPUTE_SCHEMA, COMPUTE_KEY, unique=False),
}


def duckdb_type(t: pa.DataType) -> str:
    """DuckDB column type for an Arrow type. UTC timestamps are stored as TIMESTAMP_NS (UTC
    by convention) because DuckDB's TIMESTAMPTZ has only microsecond resolution."""
    if pa.types.is_dictionary(t):
        return duckdb_type(t.value_type)
    if pa.types.is_timestamp(t):
        return {"s": "TIMESTAMP_S", "ms": "TIMESTAMP_MS", "us": "TIMESTAMP", "ns": "TIMESTAMP_NS"}[
            t.unit
        ]
    simple = {
        pa.int8(): "TINYINT",
        pa.int16(): "SMALLINT",
        pa.int32(): "INTEGER",
        pa.int64(): "BIGINT",
        pa.uint8(): "UTINYINT",
        pa.uint16(): "USMALLINT",
        pa.uint32(): "UINTEGER",
        pa.uint64(): "UBIGINT",
        pa.float32(): "FLOAT",
        pa.float64(): "DOUBLE",
        pa.string(): "VARCHAR",
        pa.large_string(): "VARCHAR",
        pa.binary(): "BLOB",
        pa.bool_(): "BOOLEAN",
    }
    if t in simple:
        return simple[t]
    raise TypeError(f"no DuckDB column type for Arrow type {t}")
