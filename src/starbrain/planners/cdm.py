"""CCSDS Conjunction Data Messages (CDM, CCSDS 508.0-B-1) in KVN, from screened conjunctions.

One message per conjunction row (``CONJUNCTIONS_SCHEMA``). States are written in GCRF (the CDM
allows GCRF, EME2000 or ITRF; screening works in TEME, rotated here with
:func:`starbrain.physics.frames.teme_to_gcrs`), position covariances in each object's RTN frame.
The screening has no velocity covariance: the velocity rows of the 6x6 covariance, mandatory in
the message, are written as zeros and a comment says so. The screening volume is the sphere of
the screening threshold (``SCREEN_VOLUME_SHAPE = ELLIPSOID`` with three equal semi-axes); entry
and exit times assume rectilinear relative motion through it. Units follow the standard: m, m/s,
m**2 for relative and covariance values, km and km/s for states.

The planner returns the messages (:func:`conjunction_cdm`, :func:`conjunction_cdms`); writing
them as files is :func:`starbrain.report.cdm.write_cdms`.
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from starbrain.core import timeconv
from starbrain.physics import frames

__all__ = ["conjunction_cdm", "conjunction_cdms", "write_cdms"]

_COV_KEYS = ("CR_R", "CT_R", "CT_T", "CN_R", "CN_T", "CN_N")
_COV_COLS = ("rr", "tr", "tt", "nr", "nt", "nn")
_VEL_COV_KEYS = (
    ("CRDOT_R", "m**2/s"), ("CRDOT_T", "m**2/s"), ("CRDOT_N", "m**2/s"),
    ("CRDOT_RDOT", "m**2/s**2"),
    ("CTDOT_R", "m**2/s"), ("CTDOT_T", "m**2/s"), ("CTDOT_N", "m**2/s"),
    ("CTDOT_RDOT", "m**2/s**2"), ("CTDOT_TDOT", "m**2/s**2"),
    ("CNDOT_R", "m**2/s"), ("CNDOT_T", "m**2/s"), ("CNDOT_N", "m**2/s"),
    ("CNDOT_RDOT", "m**2/s**2"), ("CNDOT_TDOT", "m**2/s**2"), ("CNDOT_NDOT", "m**2/s**2"),
)  # fmt: skip


def _time(t: Any) -> str:
    """CCSDS ASCII time, UTC, microseconds: 2026-01-01T03:12:44.123456."""
    t = np.datetime64(timeconv.to_datetime64(t), "us")
    return str(t)


def _line(key: str, value: Any, unit: str | None = None) -> str:
    if key == "COMMENT":
        return f"COMMENT {value}"
    text = f"{key:<36} = {value}"
    return f"{text:<72} [{unit}]" if unit else text


def _num(x: float, fmt: str = ".6f") -> str:
    return format(float(x), fmt)


def _row(conjunctions: pa.Table, index: int) -> dict[str, Any]:
    """Row ``index`` as a dict, timestamps as exact ``datetime64[ns]`` (None for null)."""
    one = conjunctions.slice(index, 1)
    stamps = [f.name for f in one.schema if pa.types.is_timestamp(f.type)]
    row = {k: v[0] for k, v in one.drop_columns(stamps).to_pydict().items()}
    for name in stamps:  # exact nanoseconds, no time zone object
        value = np.asarray(one.column(name).to_numpy(zero_copy_only=False))[0]
        row[name] = None if np.isnat(value) else np.datetime64(value, "ns")
    return row


def _relative_lines(row: dict[str, Any]) -> list[str]:
    """TCA, miss distance and the relative position and velocity (RTN, m and m/s)."""
    return [
        _line("TCA", _time(row["tca"])),
        _line("MISS_DISTANCE", _num(row["miss_distance_km"] * 1e3, ".3f"), "m"),
        _line("RELATIVE_SPEED", _num(row["relative_speed_kmps"] * 1e3, ".3f"), "m/s"),
        *(
            _line(f"RELATIVE_POSITION_{c.upper()}", _num(row[f"miss_{c}_km"] * 1e3, ".3f"), "m")
            for c in "rtn"
        ),
        *(
            _line(
                f"RELATIVE_VELOCITY_{c.upper()}",
                _num(row[f"relative_velocity_{c}_kmps"] * 1e3, ".3f"),
                "m/s",
            )
            for c in "rtn"
        ),
    ]


def _screening_lines(row: dict[str, Any]) -> list[str]:
    """The screening period and volume (the threshold sphere), the entry and exit times under
    rectilinear relative motion, and the collision probability."""
    tca, thr, vrel = row["tca"], row["screening_threshold_km"], row["relative_speed_kmps"]
    lines = []
    if row.get("screen_start") is not None and row.get("screen_stop") is not None:
        lines += [
            _line("START_SCREEN_PERIOD", _time(row["screen_start"])),
            _line("STOP_SCREEN_PERIOD", _time(row["screen_stop"])),
        ]
    half_chord_s = np.sqrt(max(thr * thr - row["miss_distance_km"] ** 2, 0.0)) / max(vrel, 1e-12)
    half = np.timedelta64(round(half_chord_s * 1e9), "ns")
    return [
        *lines,
        _line("SCREEN_VOLUME_FRAME", "RTN"),
        _line("SCREEN_VOLUME_SHAPE", "ELLIPSOID"),
        *(_line(f"SCREEN_VOLUME_{c}", _num(thr * 1e3, ".1f"), "m") for c in "XYZ"),
        _line("SCREEN_ENTRY_TIME", _time(tca - half)),
        _line("SCREEN_EXIT_TIME", _time(tca + half)),
        _line("COLLISION_PROBABILITY", _num(row["collision_probability"], ".6e")),
        _line("COLLISION_PROBABILITY_METHOD", "FOSTER-1992"),
    ]


def _object_lines(row: dict[str, Any], k: int, maneuverable: str) -> list[str]:
    """The metadata and data sections of object ``k`` (1 or 2): GCRF state at TCA (km, km/s)
    and RTN position covariance (m**2; the velocity rows zero)."""
    jd, fr = timeconv.datetime64_to_jd(np.array([row["tca"]]))
    r = np.array([[row[f"{c}{k}_km"] for c in "xyz"]])
    v = np.array([[row[f"v{c}{k}_kmps"] for c in "xyz"]])
    r_g, v_g = frames.teme_to_gcrs(r, v, jd, fr)
    r_g, v_g = np.asarray(r_g).reshape(3), np.asarray(v_g).reshape(3)
    epoch = row.get(f"epoch_{k}")
    hbr_m = row["hard_body_radius_km"] * 1e3
    default_cov = row.get("covariance_source") not in ("given", None)
    lines = [
        _line("COMMENT", f"hard-body radius (sum of both objects) {hbr_m:.1f} m")
        if k == 1
        else _line("COMMENT", "state from SGP4, rotated from TEME to GCRF"),
        _line("OBJECT", f"OBJECT{k}"),
        _line("OBJECT_DESIGNATOR", str(row[f"norad_id_{k}"])),
        _line("CATALOG_NAME", "SATCAT"),
        _line("OBJECT_NAME", row.get(f"object_name_{k}") or str(row[f"norad_id_{k}"])),
        _line("INTERNATIONAL_DESIGNATOR", "UNKNOWN"),
        _line("EPHEMERIS_NAME", "NONE"),
        _line("COVARIANCE_METHOD", "DEFAULT" if default_cov else "CALCULATED"),
        _line("MANEUVERABLE", maneuverable),
        _line("REF_FRAME", "GCRF"),
    ]
    if epoch is not None:
        lines.append(_line("COMMENT", f"element set epoch {_time(epoch)}"))
    lines += [_line(c, _num(x, ".6f"), "km") for c, x in zip("XYZ", r_g, strict=True)]
    lines += [_line(f"{c}_DOT", _num(x, ".9f"), "km/s") for c, x in zip("XYZ", v_g, strict=True)]
    lines.append(_line("COMMENT", f"covariance: {row.get('covariance_source')}"))
    lines.append(_line("COMMENT", "velocity covariance not modelled: written as zero"))
    lines += [
        _line(key, _num(row[f"cov{k}_{c}_km2"] * 1e6, ".6e"), "m**2")
        for key, c in zip(_COV_KEYS, _COV_COLS, strict=True)
    ]
    return lines + [_line(key, _num(0.0, ".6e"), unit) for key, unit in _VEL_COV_KEYS]


def conjunction_cdm(
    conjunctions: pa.Table,
    index: int = 0,
    *,
    originator: str = "STARBRAIN",
    message_id: str | None = None,
    message_for: str | None = None,
    creation_date: Any = None,
    maneuverable: tuple[str, str] = ("N/A", "N/A"),
) -> str:
    """The KVN text of the CDM for row ``index`` of a ``CONJUNCTIONS_SCHEMA`` table.

    ``maneuverable`` gives the MANEUVERABLE value (YES, NO or N/A) of objects 1 and 2;
    ``message_id`` defaults to ``{originator}_{norad1}_{norad2}_{TCA}``.
    """
    row = _row(conjunctions, index)
    created = timeconv.utc_now() if creation_date is None else creation_date
    if message_id is None:
        stamp = _time(row["tca"]).replace("-", "").replace(":", "")[:15]
        message_id = f"{originator}_{row['norad_id_1']}_{row['norad_id_2']}_{stamp}"
    lines = [
        _line("CCSDS_CDM_VERS", "1.0"),
        _line("CREATION_DATE", _time(created)),
        _line("ORIGINATOR", originator),
    ]
    if message_for:
        lines.append(_line("MESSAGE_FOR", message_for))
    lines += [_line("MESSAGE_ID", message_id), *_relative_lines(row), *_screening_lines(row)]
    for k in (1, 2):
        lines += _object_lines(row, k, maneuverable[k - 1])
    return "\n".join(lines) + "\n"


def message_id_of(text: str) -> str:
    """The MESSAGE_ID value of a CDM's KVN text."""
    line = next(line for line in text.splitlines() if line.startswith("MESSAGE_ID"))
    return line.split("=", 1)[1].strip()


def conjunction_cdms(
    conjunctions: pa.Table, rows: Sequence[int] | None = None, **kwargs: Any
) -> dict[str, str]:
    """The CDMs of ``conjunctions`` (all rows, or ``rows``), as message id -> KVN text in row
    order; ``kwargs`` go to :func:`conjunction_cdm`."""
    texts = (
        conjunction_cdm(conjunctions, i, **kwargs)
        for i in (range(conjunctions.num_rows) if rows is None else rows)
    )
    return {message_id_of(text): text for text in texts}


def write_cdms(
    conjunctions: pa.Table,
    directory: str | Path,
    rows: Sequence[int] | None = None,
    **kwargs: Any,
) -> list[Path]:
    """Deprecated forwarding name, kept for one release: use
    :func:`starbrain.report.cdm.write_cdms` (planners return the messages,
    :func:`conjunction_cdms`, and write no files)."""
    warnings.warn(
        "starbrain.planners.cdm.write_cdms moved to starbrain.report.cdm.write_cdms; "
        "this name goes in the next release",
        DeprecationWarning,
        stacklevel=2,
    )
    # by name, not an import statement: planners sit left of report (tests/test_architecture.py)
    report = importlib.import_module("starbrain.report.cdm")
    paths: list[Path] = report.write_cdms(conjunctions, directory, rows, **kwargs)
    return paths
