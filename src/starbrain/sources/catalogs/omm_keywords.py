"""The OMM keywords (CCSDS 502.0-B-3) that become element-set columns, and the metadata an SGP4
element set must state when it states it at all; shared by the OMM readers, validator and writers
(``starbrain.sources.catalogs.omm``).
"""

from __future__ import annotations

# OMM keyword -> (column in ELEMENTS_SCHEMA, kind, required)
OMM_FIELDS: dict[str, tuple[str, str, bool]] = {
    "OBJECT_NAME": ("object_name", "str", False),
    "OBJECT_ID": ("object_id", "str", False),
    "EPOCH": ("epoch", "time", True),
    "MEAN_MOTION": ("mean_motion_rev_per_day", "float", True),
    "ECCENTRICITY": ("eccentricity", "float", True),
    "INCLINATION": ("inclination_deg", "float", True),
    "RA_OF_ASC_NODE": ("ra_of_asc_node_deg", "float", True),
    "ARG_OF_PERICENTER": ("arg_of_pericenter_deg", "float", True),
    "MEAN_ANOMALY": ("mean_anomaly_deg", "float", True),
    "EPHEMERIS_TYPE": ("ephemeris_type", "int", False),
    "CLASSIFICATION_TYPE": ("classification", "str", False),
    "NORAD_CAT_ID": ("norad_id", "int", True),
    "ELEMENT_SET_NO": ("element_set_no", "int", False),
    "REV_AT_EPOCH": ("rev_at_epoch", "int", False),
    "BSTAR": ("bstar_per_earth_radius", "float", True),
    "MEAN_MOTION_DOT": ("mean_motion_dot_rev_per_day2", "float", False),
    "MEAN_MOTION_DDOT": ("mean_motion_ddot_rev_per_day3", "float", False),
}
# Metadata an SGP4 element set must carry when the keyword is present at all (CelesTrak JSON and
# CSV leave them out; KVN and XML always have them). SGP4-XP elements are rejected: they need a
# different propagator, and SGP4 would silently give wrong positions from them.
METADATA: dict[str, tuple[str, ...]] = {
    "CENTER_NAME": ("EARTH",),
    "REF_FRAME": ("TEME",),
    "TIME_SYSTEM": ("UTC",),
    "MEAN_ELEMENT_THEORY": ("SGP4", "SGP/SGP4"),
}
