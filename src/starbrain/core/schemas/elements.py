"""The ``elements`` stream: one row per element set (TLE, OMM, generated constellations).

The columns follow CCSDS OMM / CelesTrak GP names in snake_case, with the unit in the name.
Angles are stored in degrees, as in every catalogue format; physics converts at its edge. The
original TLE lines, when a record came from a TLE, are kept (as Space-Track's GP class keeps
``TLE_LINE1``/``TLE_LINE2``) so exports reproduce the input byte for byte.
"""

from __future__ import annotations

import pyarrow as pa

__all__ = ["ELEMENTS_KEY", "ELEMENTS_SCHEMA"]

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
