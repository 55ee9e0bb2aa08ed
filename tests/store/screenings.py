"""Two (or three) hand-made screenings in a store, for the "current conjunctions" tests.

Times are hours after ``T0``; every number not named here is 0 (the queries read only pairs,
TCAs, misses, spans, thresholds and screening times).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from starbrain.core.schemas.decisions import CONJUNCTIONS_SCHEMA
from starbrain.store.database import Store

T0 = np.datetime64("2026-11-25T00:00:00", "ns")


def hours(h: float) -> np.datetime64:
    return T0 + np.timedelta64(round(h * 3600e9), "ns")


def screening(
    rows: list[tuple[int, int, float, float]],
    *,
    screened_h: float,
    span_h: tuple[float, float],
    threshold_km: float = 5.0,
) -> pa.Table:
    """One screening: ``rows`` of (norad_id_1, norad_id_2, tca in hours, miss km)."""
    n = len(rows)
    cols: dict[str, Any] = {}
    for f in CONJUNCTIONS_SCHEMA:
        if pa.types.is_floating(f.type):
            cols[f.name] = pa.array(np.zeros(n), f.type)
    cols["norad_id_1"] = pa.array([r[0] for r in rows], pa.int32())
    cols["norad_id_2"] = pa.array([r[1] for r in rows], pa.int32())
    cols["object_name_1"] = pa.array([f"OBJ {r[0]}" for r in rows])
    cols["object_name_2"] = pa.array([f"OBJ {r[1]}" for r in rows])
    cols["miss_distance_km"] = pa.array([r[3] for r in rows], pa.float64())
    cols["collision_probability"] = pa.array([1e-3 / (1 + r[3]) for r in rows], pa.float64())
    cols["relative_speed_kmps"] = pa.array(np.full(n, 10.0))
    cols["screening_threshold_km"] = pa.array(np.full(n, threshold_km))
    cols["pc_method"] = pa.array(["foster-2d"] * n)
    cols["covariance_source"] = pa.array(["default"] * n)

    def ts(values: list[np.datetime64]) -> pa.Array:
        return pa.array(np.array(values, "datetime64[ns]"), pa.timestamp("ns", tz="UTC"))

    cols["tca"] = ts([hours(r[2]) for r in rows])
    cols["epoch_1"] = cols["epoch_2"] = ts([T0] * n)
    cols["screen_start"] = ts([hours(span_h[0])] * n)
    cols["screen_stop"] = ts([hours(span_h[1])] * n)
    cols["screened_at"] = ts([hours(screened_h)] * n)
    return pa.table({f.name: cols[f.name] for f in CONJUNCTIONS_SCHEMA}, schema=CONJUNCTIONS_SCHEMA)


# The first screening: [0 h, 24 h], screened at -1 h.
FIRST = [
    (100, 200, 0.5, 1.0),  # before the second's span: stays current
    (100, 200, 2.0, 1.0),  # the second screening no longer finds it: gone
    (300, 400, 5.0, 2.0),  # the second refines its TCA by 3 s: replaced
    (500, 600, 23.5, 0.5),  # after the second's span: stays current
]
# The second screening: [1 h, 23 h], screened at +6 h.
SECOND = [
    (300, 400, 5.0 + 3 / 3600, 1.8),
    (700, 800, 10.0, 3.0),  # new
]
# What is current after both: (norad_id_1, norad_id_2, tca ns, screened_at ns)
CURRENT = {
    (100, 200, int(hours(0.5).astype(np.int64)), int(hours(-1).astype(np.int64))),
    (300, 400, int(hours(5 + 3 / 3600).astype(np.int64)), int(hours(6).astype(np.int64))),
    (500, 600, int(hours(23.5).astype(np.int64)), int(hours(-1).astype(np.int64))),
    (700, 800, int(hours(10).astype(np.int64)), int(hours(6).astype(np.int64))),
}


def two_screenings(path: Path | str) -> Path | str:
    """A store holding FIRST then SECOND (the conjunctions stream, as `screen` appends them)."""
    with Store(path) as store:
        store.append("conjunctions", screening(FIRST, screened_h=-1.0, span_h=(0.0, 24.0)))
        store.append("conjunctions", screening(SECOND, screened_h=6.0, span_h=(1.0, 23.0)))
    return path


def keys(table: pa.Table) -> set[tuple[int, int, int, int]]:
    """(norad_id_1, norad_id_2, tca ns, screened_at ns) of every row of a conjunctions table."""

    def ns(name: str) -> list[int]:
        return table[name].cast(pa.timestamp("ns")).cast(pa.int64()).to_pylist()

    return set(
        zip(
            table["norad_id_1"].to_pylist(),
            table["norad_id_2"].to_pylist(),
            ns("tca"),
            ns("screened_at"),
            strict=True,
        )
    )
