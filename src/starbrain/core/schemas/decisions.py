"""The planners' decisions: conjunctions, avoidance manoeuvres, passes and contact plans.

``CONJUNCTIONS_SCHEMA``: one row per conjunction found by a screening (see
:mod:`starbrain.planners.conjunctions`); ``MANOEUVRES_SCHEMA``: one row per planned avoidance
burn (see :mod:`starbrain.planners.avoidance`); ``PASSES_SCHEMA``: station passes
(:mod:`starbrain.planners.passes`); ``CONTACTS_SCHEMA``: a contact plan
(:mod:`starbrain.planners.contacts`). Distances in km, speeds in km/s (m/s where the name says
so), states in TEME, covariances in each object's RTN frame, times UTC.
"""

from __future__ import annotations

import pyarrow as pa

from starbrain.core.schemas._fields import UTC_NS as _TS

__all__ = [
    "CONJUNCTIONS_KEY",
    "CONJUNCTIONS_SCHEMA",
    "CONTACTS_SCHEMA",
    "COVARIANCE_COLUMNS",
    "MANOEUVRES_KEY",
    "MANOEUVRES_SCHEMA",
    "PASSES_SCHEMA",
    "STATE_COLUMNS",
]


def _f(name: str) -> pa.Field:
    return pa.field(name, pa.float64(), nullable=False)


# x1_km ... vz1_kmps, x2_km ... vz2_kmps
STATE_COLUMNS = [
    f"{c}{k}_{'km' if c in ('x', 'y', 'z') else 'kmps'}"
    for k in (1, 2)
    for c in ("x", "y", "z", "vx", "vy", "vz")
]
# lower triangles of the RTN position covariances, in the CDM's order (CR_R CT_R CT_T ...)
COVARIANCE_COLUMNS = [
    f"cov{k}_{c}_km2" for k in (1, 2) for c in ("rr", "tr", "tt", "nr", "nt", "nn")
]

CONJUNCTIONS_SCHEMA = pa.schema(
    [
        pa.field("norad_id_1", pa.int32(), nullable=False),  # primary (object 1 of the CDM)
        pa.field("norad_id_2", pa.int32(), nullable=False),
        pa.field("object_name_1", pa.string()),
        pa.field("object_name_2", pa.string()),
        pa.field("tca", _TS, nullable=False),
        _f("miss_distance_km"),
        _f("relative_speed_kmps"),
        # object 2 relative to object 1, in object 1's RTN frame at TCA (as the CDM's
        # RELATIVE_POSITION_R/T/N and RELATIVE_VELOCITY_R/T/N)
        _f("miss_r_km"),
        _f("miss_t_km"),
        _f("miss_n_km"),
        _f("relative_velocity_r_kmps"),
        _f("relative_velocity_t_kmps"),
        _f("relative_velocity_n_kmps"),
        # TEME states of both objects at TCA
        *(_f(n) for n in STATE_COLUMNS),
        # position covariances in each object's own RTN frame at TCA (lower triangle)
        *(_f(n) for n in COVARIANCE_COLUMNS),
        _f("hard_body_radius_km"),  # sum of the two objects' radii
        _f("collision_probability"),
        pa.field("pc_method", pa.string()),  # "foster-2d"
        pa.field("covariance_source", pa.string()),
        pa.field("epoch_1", _TS),  # epochs of the element sets screened
        pa.field("epoch_2", _TS),
        _f("screening_threshold_km"),
        pa.field("screen_start", _TS),
        pa.field("screen_stop", _TS),
        pa.field("screened_at", _TS, nullable=False),
    ],
    metadata={"stream": "conjunctions", "key": "norad_id_1,norad_id_2,tca,screened_at"},
)
CONJUNCTIONS_KEY = ("norad_id_1", "norad_id_2", "tca", "screened_at")

MANOEUVRES_SCHEMA = pa.schema(
    [
        pa.field("norad_id", pa.int32(), nullable=False),
        pa.field("burn_time", _TS, nullable=False),
        pa.field("dv_r_mps", pa.float64(), nullable=False),
        pa.field("dv_t_mps", pa.float64(), nullable=False),
        pa.field("dv_n_mps", pa.float64(), nullable=False),
        pa.field("dv_mps", pa.float64(), nullable=False),
        pa.field("lead_time_s", pa.float64(), nullable=False),
        pa.field("target_norad_id", pa.int32(), nullable=False),
        pa.field("target_tca", _TS, nullable=False),
        pa.field("pc_before", pa.float64()),
        pa.field("pc_predicted", pa.float64()),
        pa.field("pc_after", pa.float64()),  # achieved, from the fitted element set
        pa.field("miss_before_km", pa.float64()),
        pa.field("miss_after_km", pa.float64()),
        pa.field("fit_rms_km", pa.float64()),
        pa.field("n_new_conjunctions", pa.int32()),  # after the burn, absent before it
        pa.field("max_pc_new", pa.float64()),  # highest Pc among those
        pa.field("n_worsened", pa.int32()),  # existing ones pushed above max(pc_max, Pc before)
        pa.field("max_pc_after_burn", pa.float64()),  # highest Pc of any, old ones included
        pa.field("verified", pa.bool_()),
        pa.field("planned_at", _TS, nullable=False),
    ],
    metadata={"stream": "manoeuvres", "key": "norad_id,burn_time,planned_at"},
)
MANOEUVRES_KEY = ("norad_id", "burn_time", "planned_at")

PASSES_SCHEMA = pa.schema(
    [
        pa.field("norad_id", pa.int32(), nullable=False),
        pa.field("station", pa.string(), nullable=False),
        pa.field("rise", _TS),  # null: already up at window start
        pa.field("culminate", _TS),  # null: no maximum in the window
        pa.field("set", _TS),  # null: still up at window end
        pa.field("max_elevation_deg", pa.float64(), nullable=False),
        pa.field("sunlit", pa.bool_(), nullable=False),
    ],
    metadata={"stream": "passes", "key": "norad_id,station,rise"},
)

CONTACTS_SCHEMA = pa.schema(
    [
        pa.field("norad_id", pa.int32(), nullable=False),
        pa.field("station", pa.string(), nullable=False),
        pa.field("antenna", pa.int16(), nullable=False),
        pa.field("start", _TS, nullable=False),
        pa.field("end", _TS, nullable=False),
        pa.field("data_mbit", pa.float64(), nullable=False),
    ],
    metadata={"stream": "contacts", "key": "station,antenna,start"},
)
