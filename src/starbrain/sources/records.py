"""Record types sources produce: the element-set Arrow schema, typed record errors, load results.

The element-set columns follow CCSDS OMM / CelesTrak GP names in snake_case, with the unit in the
name. Angles are stored in degrees, as in every catalogue format; physics converts at its edge.
The original TLE lines, when a record came from a TLE, are kept (as Space-Track's GP class keeps
``TLE_LINE1``/``TLE_LINE2``) so exports reproduce the input byte for byte.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow as pa

from starbrain.core.errors import StarbrainError

__all__ = [
    "ELEMENTS_KEY",
    "ELEMENTS_SCHEMA",
    "LoadResult",
    "RecordError",
    "StarbrainError",
]


ELEMENTS_SCHEMA = pa.schema(
    [
        pa.field("norad_id", pa.int32(), nullable=False),  # catalogue number (alpha-5 decoded)
        pa.field("epoch", pa.timestamp("ns", tz="UTC"), nullable=False),
        pa.field("object_name", pa.string()),
        pa.field("object_id", pa.string()),  # international designator, "1998-067A"
        pa.field("classification", pa.string()),  # U, C or S
        pa.field("mean_motion_rev_per_day", pa.float64(), nullable=False),  # Kozai mean motion
        pa.field("eccentricity", pa.float64(), nullable=False),
        pa.field("inclination_deg", pa.float64(), nullable=False),
        pa.field("ra_of_asc_node_deg", pa.float64(), nullable=False),
        pa.field("arg_of_pericenter_deg", pa.float64(), nullable=False),
        pa.field("mean_anomaly_deg", pa.float64(), nullable=False),
        pa.field("ephemeris_type", pa.int8()),
        pa.field("element_set_no", pa.int32()),
        pa.field("rev_at_epoch", pa.int32()),
        pa.field("bstar_per_earth_radius", pa.float64(), nullable=False),
        pa.field("mean_motion_dot_rev_per_day2", pa.float64()),  # TLE ndot/2 field, as written
        pa.field("mean_motion_ddot_rev_per_day3", pa.float64()),  # TLE nddot/6 field, as written
        pa.field("tle_line1", pa.string()),
        pa.field("tle_line2", pa.string()),
        pa.field("source", pa.string()),  # file path or URL the record was loaded from
    ],
    metadata={"stream": "elements", "key": "norad_id,epoch"},
)
ELEMENTS_KEY = ("norad_id", "epoch")


@dataclass(frozen=True, slots=True)
class RecordError:
    """One bad input record: where it is and what is wrong with it.

    ``line`` is 1-based in the source file when the format has lines; ``record`` is the 0-based
    index of the record otherwise (JSON, XML). ``field`` names the offending field when known.
    """

    source: str
    reason: str
    line: int | None = None
    record: int | None = None
    field: str | None = None
    norad_id: int | None = None

    def __str__(self) -> str:
        where = self.source
        if self.line is not None:
            where += f":{self.line}"
        elif self.record is not None:
            where += f": record {self.record}"
        what = f"{self.field}: " if self.field else ""
        obj = f" (NORAD {self.norad_id})" if self.norad_id is not None else ""
        return f"{where}: {what}{self.reason}{obj}"


@dataclass(slots=True)
class LoadResult:
    """What a parser returns: every good record as a table, every bad one as a ``RecordError``."""

    table: pa.Table
    errors: list[RecordError] = field(default_factory=list)
    source: str = ""

    @property
    def n_good(self) -> int:
        return self.table.num_rows
