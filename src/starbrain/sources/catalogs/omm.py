"""CCSDS Orbit Mean-elements Messages (OMM, CCSDS 502.0-B-3): JSON, CSV, XML and KVN.

The forms CelesTrak serves.

Readers turn each format into rows of raw field values with a locator (line or record index);
one shared validator converts the columns at once (fast path) and falls back to field-by-field
checks only for columns that hold a bad value, so every bad record is reported with its field and
every good record is kept. Writers emit CelesTrak-style JSON and CSV, CCSDS KVN and XML.
This module holds the validator and ``parse_omm``; the keywords are in ``omm_keywords``, the
readers in ``omm_readers`` and the writers in ``omm_write`` (all re-exported here).

What a record must satisfy (each failure is one ``RecordError`` naming the keyword): integers
are integers (not booleans, not 300000.5), numbers finite; values in the ranges of ``_RANGES``
(mean motion in (0, 18] rev/day, eccentricity in [0, 1), inclination in [0, 180], the other
angles in [0, 360], catalogue numbers 0..339999, ephemeris type 0..9, element-set number
0..9999); EPOCH an ISO 8601 UTC time in the years ``EPOCH_YEARS`` (1957-2261); each keyword at
most once; and, where the message states them, CENTER_NAME EARTH, REF_FRAME TEME, TIME_SYSTEM
UTC and MEAN_ELEMENT_THEORY SGP4 (or CCSDS's "SGP/SGP4"). SGP4-XP and other theories are
rejected: SGP4 would propagate them to wrong positions without any warning. A UTF-8 byte-order
mark is ignored; input that is not an OMM at all is one file-level error.
Field names are the OMM keywords (``MEAN_MOTION``, ``NORAD_CAT_ID``, ...); units as in the
standard: degrees, rev/day, rev/day**2, rev/day**3, 1/earth radii for BSTAR.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from starbrain.core import timeconv
from starbrain.core.schemas.elements import ELEMENTS_SCHEMA
from starbrain.sources.catalogs.omm_keywords import METADATA, OMM_FIELDS
from starbrain.sources.catalogs.omm_readers import _READERS, _Row, _strip_bom, sniff_omm_format
from starbrain.sources.catalogs.omm_write import write_omm
from starbrain.sources.records import LoadResult, RecordError

__all__ = ["OMM_FIELDS", "parse_omm", "sniff_omm_format", "write_omm"]

# Sane ranges checked after conversion: keyword -> (lower, upper, lower inclusive, upper
# inclusive, why). Angles and eccentricity are what SGP4 mean elements can be; the catalogue
# number, ephemeris type and element-set number are what the TLE columns (and so every export)
# can hold; the derivative and B* bounds are the TLE fields' capacity, far beyond any real value.
MAX_MEAN_MOTION_REV_PER_DAY = 18.0  # an 80-minute period: a semi-major axis inside the Earth
_RANGES: dict[str, tuple[float, float, bool, bool, str]] = {
    "MEAN_MOTION": (
        0.0,
        MAX_MEAN_MOTION_REV_PER_DAY,
        False,
        True,
        "rev/day (above 18 the orbit's semi-major axis is inside the Earth)",
    ),
    "ECCENTRICITY": (0.0, 1.0, True, False, "(SGP4 needs a closed orbit)"),
    "INCLINATION": (0.0, 180.0, True, True, "degrees"),
    "RA_OF_ASC_NODE": (0.0, 360.0, True, True, "degrees"),
    "ARG_OF_PERICENTER": (0.0, 360.0, True, True, "degrees"),
    "MEAN_ANOMALY": (0.0, 360.0, True, True, "degrees"),
    "NORAD_CAT_ID": (0, 339_999, True, True, "(the catalogue numbers a TLE can hold)"),
    "EPHEMERIS_TYPE": (0, 9, True, True, "(one digit, as in a TLE)"),
    "ELEMENT_SET_NO": (0, 9999, True, True, "(four digits, as in a TLE)"),
    "REV_AT_EPOCH": (0, 2**31 - 1, True, True, "(a revolution count)"),
    "BSTAR": (-1e9, 1e9, False, False, "1/earth radii (the TLE field's capacity)"),
    "MEAN_MOTION_DOT": (-1.0, 1.0, False, False, "rev/day**2 (the TLE field's capacity)"),
    "MEAN_MOTION_DDOT": (-1e9, 1e9, False, False, "rev/day**3 (the TLE field's capacity)"),
}
# Epochs accepted: from 1957 (no element set is older) to the end of 2261 (the store's
# nanosecond timestamps end in April 2262). Checked on the year before conversion, so an epoch
# outside never wraps around the int64 nanosecond range.
EPOCH_YEARS = (1957, 2261)
_METADATA_WHY = {
    "CENTER_NAME": "SGP4 elements are Earth-centred",
    "REF_FRAME": "SGP4 mean elements are in TEME",
    "TIME_SYSTEM": "SGP4 element epochs are UTC",
    "MEAN_ELEMENT_THEORY": "only SGP4 mean elements can be propagated here "
    "(SGP4-XP and other theories need their own propagator)",
}
_INT_RE = re.compile(r"\s*[+-]?\d+\s*")
_FLOAT_RE = re.compile(r"\s*[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\s*")
_YEAR_RE = re.compile(r"\s*([+-]?\d+)")


# --- validation --------------------------------------------------------------------------------


def _show(value: Any) -> str:
    """A value as it appears in an error message, shortened."""
    text = repr(value)
    return text if len(text) <= 40 else text[:30] + f"... ({len(text)} characters)"


def _norad_of(row: _Row) -> int | None:
    try:
        n = _to_int(row.values.get("NORAD_CAT_ID"))
    except (ValueError, TypeError, OverflowError):
        return None
    return n if 0 <= n <= 339_999 else None


def _error(source: str, row: _Row, field: str, reason: str, line: int | None = None) -> RecordError:
    if line is None:
        line = row.line
        if row.field_lines and field in row.field_lines:
            line = row.field_lines[field]
    return RecordError(
        source, reason, line=line, record=row.record, field=field, norad_id=_norad_of(row)
    )


def _to_int(value: Any) -> int:
    """A JSON integer, an integral JSON number or a string of digits; booleans and fractions
    are errors (Python would read True as 1 and 300000.5 as 300000)."""
    if isinstance(value, bool):
        raise ValueError
    if isinstance(value, float):
        if not (np.isfinite(value) and value.is_integer()):
            raise ValueError
        value = int(value)
    elif isinstance(value, str) and _INT_RE.fullmatch(value):
        value = int(value)
    elif not isinstance(value, int):
        raise ValueError
    # beyond int64 -> clamped, so the range check reports it with the value as written
    return max(min(value, 2**62), -(2**62))


def _to_float(value: Any) -> float:
    """A finite JSON number or decimal string ('1.5', '-.2e-3'); booleans, NaN, infinities,
    '1_000' and other forms Python's float() happens to accept are errors."""
    if isinstance(value, bool):
        raise ValueError
    if isinstance(value, int | float):
        out = float(value)
    elif isinstance(value, str) and _FLOAT_RE.fullmatch(value):
        out = float(value)
    else:
        raise ValueError
    if not np.isfinite(out):
        raise ValueError
    return out


def _to_time(value: Any) -> Any:
    """An ISO 8601 epoch string -> datetime64[ns] UTC; years outside EPOCH_YEARS are errors
    (checked before converting: datetime64[ns] would wrap 3000-01-01 round to 1830)."""
    if not isinstance(value, str):
        raise ValueError
    year = _YEAR_RE.match(value)
    if year is None:
        raise ValueError
    if not EPOCH_YEARS[0] <= int(year.group(1)) <= EPOCH_YEARS[1]:
        raise _OutOfRange
    return np.asarray(timeconv.to_datetime64(value), dtype="datetime64[ns]")[()]


class _OutOfRange(ValueError):
    pass


_KIND_WORD = {"int": "an integer", "float": "a number", "time": "an ISO 8601 UTC epoch"}
_CONVERT: dict[str, Callable[[Any], Any]] = {"int": _to_int, "float": _to_float, "time": _to_time}
_DTYPE: dict[str, Any] = {"float": np.float64, "int": np.int64, "time": "datetime64[ns]"}


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _column(kind: str, values: list[Any]) -> tuple[np.ndarray, np.ndarray, list[str | None]]:
    """Convert one column: (array, ok mask, reason per bad present value). Missing values are
    not ok and have no reason (the caller decides whether the field is required)."""
    n = len(values)
    reasons: list[str | None] = [None] * n
    if kind == "str":
        out = np.empty(n, dtype=object)
        ok = np.zeros(n, dtype=bool)
        for k, v in enumerate(values):
            if _is_missing(v):
                continue
            if isinstance(v, str | int | float) and not isinstance(v, bool):
                out[k], ok[k] = str(v).strip(), True
            else:
                reasons[k] = f"cannot read {_show(v)} as text"
        return out, ok, reasons
    # fast path: a column of plain JSON numbers (no booleans, every one present)
    if kind == "float" and all(type(v) is float or type(v) is int for v in values):
        try:
            arr = np.array(values, dtype=np.float64) if n else np.zeros(0)
        except OverflowError:  # an integer beyond float64: the per-value path reports it
            pass
        else:
            ok = np.isfinite(arr)
            for k in _indices(~ok):
                reasons[k] = f"cannot read {_show(values[k])} as a number"
            return arr, ok, reasons
    if kind == "int" and all(type(v) is int for v in values):  # plain JSON integers
        try:
            return np.array(values, dtype=np.int64), np.ones(n, dtype=bool), reasons
        except OverflowError:  # beyond int64: the per-value path clamps and reports it
            pass
    if kind in ("int", "float"):
        fast = _strings_fast(kind, values)
        if fast is not None:
            return fast
    convert = _CONVERT[kind]
    arr = np.zeros(n, dtype=_DTYPE[kind])
    ok = np.zeros(n, dtype=bool)
    for k, v in enumerate(values):
        if _is_missing(v):
            continue
        try:
            arr[k] = convert(v)
            ok[k] = True
        except _OutOfRange:
            reasons[k] = (
                f"{_show(v)} is outside the years {EPOCH_YEARS[0]}-{EPOCH_YEARS[1]} "
                "(no element set is older; the store's nanosecond times end in 2262)"
            )
        except (ValueError, TypeError, OverflowError):
            reasons[k] = f"cannot read {_show(v)} as {_KIND_WORD[kind]}"
    return arr, ok, reasons


def _num(x: float) -> str:
    return f"{x:g}" if isinstance(x, float) else str(x)


def _strings_fast(
    kind: str, values: list[Any]
) -> tuple[np.ndarray, np.ndarray, list[str | None]] | None:
    """A column of strings (CSV, KVN, XML) read at once with Arrow, under the same rules as
    ``_to_int``/``_to_float``; None when it holds anything else or any bad value (the
    per-value path then names each one)."""
    try:
        text = pc.utf8_trim_whitespace(pa.array(values, pa.string()))
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return None
    present = pc.fill_null(pc.not_equal(text, ""), False)
    pattern = _INT_RE.pattern if kind == "int" else _FLOAT_RE.pattern
    valid = pc.fill_null(pc.match_substring_regex(text, f"^(?:{pattern})$"), False)
    if not pc.all(pc.or_(valid, pc.invert(present))).as_py():
        return None
    target = pa.int64() if kind == "int" else pa.float64()
    try:
        number = pc.cast(pc.if_else(valid, text, pa.scalar(None, pa.string())), target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):  # e.g. beyond int64
        return None
    ok = np.asarray(valid.to_numpy(zero_copy_only=False), dtype=bool)
    arr = np.asarray(pc.fill_null(number, 0).to_numpy(zero_copy_only=False), dtype=_DTYPE[kind])
    if kind == "float" and not np.isfinite(arr).all():
        return None
    return arr, ok, [None] * len(values)


def _outside(arr: np.ndarray, lo: float, hi: float, lo_in: bool, hi_in: bool) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        below = (arr < lo) if lo_in else (arr <= lo)
        above = (arr > hi) if hi_in else (arr >= hi)
    return below | above


def _rows_to_table(rows: Sequence[_Row], source: str) -> LoadResult:
    n = len(rows)
    reasons: list[RecordError | None] = [None] * n
    for k, row in enumerate(rows):
        if row.problem is not None:
            field, problem, line = row.problem
            reasons[k] = _error(source, row, field, problem, line)
    for key, allowed in METADATA.items():
        for k, row in enumerate(rows):
            value = row.values.get(key)
            if reasons[k] is not None or _is_missing(value):
                continue
            if not isinstance(value, str) or value.strip().upper() not in allowed:
                reasons[k] = _error(
                    source,
                    row,
                    key,
                    f"{_show(value)} is not {' or '.join(allowed)}: {_METADATA_WHY[key]}",
                )
    converted: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for key, (_, kind, required) in OMM_FIELDS.items():
        raw = [r.values.get(key) for r in rows]
        arr, ok, why = _column(kind, raw)
        for k, bad in enumerate(why):
            if bad is not None and reasons[k] is None:
                reasons[k] = _error(source, rows[k], key, bad)
        if required:
            for k in _indices(~ok):
                if reasons[k] is None and _is_missing(raw[k]):
                    reasons[k] = _error(source, rows[k], key, "required field is missing")
        if key in _RANGES:
            lo, hi, lo_in, hi_in, unit = _RANGES[key]
            for k in _indices(ok & _outside(arr, lo, hi, lo_in, hi_in)):
                if reasons[k] is None:
                    interval = (
                        f"{'[' if lo_in else '('}{_num(lo)}, {_num(hi)}{']' if hi_in else ')'}"
                    )
                    reasons[k] = _error(
                        source, rows[k], key, f"{_show(raw[k])} is outside {interval} {unit}"
                    )
        if key == "CLASSIFICATION_TYPE":
            for k in _indices(ok):
                if reasons[k] is None and str(arr[k]).upper() not in ("U", "C", "S"):
                    reasons[k] = _error(source, rows[k], key, f"{_show(raw[k])} is not U, C or S")
        converted[key] = (arr, ok)
    good = np.array([r is None for r in reasons], dtype=bool)
    idx = np.flatnonzero(good)
    cols: dict[str, Any] = {}
    for key, (column, kind, _) in OMM_FIELDS.items():
        arr, ok = converted[key]
        if kind == "str":
            cols[column] = pa.array([arr[k] if ok[k] else None for k in idx], pa.string())
        else:
            field_type = ELEMENTS_SCHEMA.field(column).type
            cols[column] = pa.array(arr[idx], field_type, mask=~ok[idx])
    cols["classification"] = pa.array(
        [(c or "U")[:1].upper() for c in cols["classification"].to_pylist()], pa.string()
    )
    cols["tle_line1"] = pa.nulls(len(idx), pa.string())
    cols["tle_line2"] = pa.nulls(len(idx), pa.string())
    cols["source"] = pa.array([source] * len(idx), pa.string())
    table = pa.table({f.name: cols[f.name] for f in ELEMENTS_SCHEMA}, schema=ELEMENTS_SCHEMA)
    return LoadResult(table, [r for r in reasons if r is not None], source)


def _indices(mask: np.ndarray) -> list[int]:
    return np.flatnonzero(mask).tolist()


def parse_omm(text: str, source: str = "<text>", fmt: str | None = None) -> LoadResult:
    """Parse OMM text (``fmt`` 'json', 'csv', 'xml' or 'kvn'; sniffed when None).

    Never raises for bad input: each bad record comes back as one ``RecordError`` naming its
    record (JSON, XML) or line (CSV, KVN) and keyword, and input that is not an OMM at all as
    one file-level error. A leading UTF-8 byte-order mark is ignored. Checked per record:
    numbers are numbers (not booleans or fractions where an integer is due), values lie in
    sane ranges (see ``_RANGES``), epochs are ISO 8601 within ``EPOCH_YEARS``, a keyword is
    given at most once, and metadata present says TEME / UTC / EARTH / SGP4 (``METADATA``).
    """
    text = _strip_bom(text)
    fmt = fmt or sniff_omm_format(text)
    if fmt not in _READERS:
        return LoadResult(
            ELEMENTS_SCHEMA.empty_table(),
            [RecordError(source, "not an OMM in JSON, CSV, XML or KVN form")],
            source,
        )
    rows, errors = _READERS[fmt](text, source)
    result = _rows_to_table(rows, source)
    result.errors = errors + result.errors
    return result
