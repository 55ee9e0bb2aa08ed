"""CCSDS Orbit Mean-elements Messages (OMM, CCSDS 502.0-B-3): JSON, CSV, XML and KVN.

The forms CelesTrak serves.

Readers turn each format into rows of raw field values with a locator (line or record index);
one shared validator converts the columns at once (fast path) and falls back to field-by-field
checks only for columns that hold a bad value, so every bad record is reported with its field and
every good record is kept. Writers emit CelesTrak-style JSON and CSV, CCSDS KVN and XML.

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

import csv
import io
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from starbrain.core import timeconv
from starbrain.sources.records import ELEMENTS_SCHEMA, LoadResult, RecordError

__all__ = ["OMM_FIELDS", "parse_omm", "sniff_omm_format", "write_omm"]

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
# Metadata an SGP4 element set must carry when the keyword is present at all (CelesTrak JSON and
# CSV leave them out; KVN and XML always have them). SGP4-XP elements are rejected: they need a
# different propagator, and SGP4 would silently give wrong positions from them.
METADATA: dict[str, tuple[str, ...]] = {
    "CENTER_NAME": ("EARTH",),
    "REF_FRAME": ("TEME",),
    "TIME_SYSTEM": ("UTC",),
    "MEAN_ELEMENT_THEORY": ("SGP4", "SGP/SGP4"),
}
_METADATA_WHY = {
    "CENTER_NAME": "SGP4 elements are Earth-centred",
    "REF_FRAME": "SGP4 mean elements are in TEME",
    "TIME_SYSTEM": "SGP4 element epochs are UTC",
    "MEAN_ELEMENT_THEORY": "only SGP4 mean elements can be propagated here "
    "(SGP4-XP and other theories need their own propagator)",
}
_BOM = "\ufeff"
_INT_RE = re.compile(r"\s*[+-]?\d+\s*")
_FLOAT_RE = re.compile(r"\s*[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\s*")
_YEAR_RE = re.compile(r"\s*([+-]?\d+)")
_LEADING_SPACE = re.compile(r"\s*")


@dataclass(slots=True)
class _Row:
    values: dict[str, Any]
    line: int | None = None  # 1-based line of the record (CSV, KVN)
    record: int | None = None  # 0-based record index (JSON, XML)
    field_lines: dict[str, int] | None = None  # KVN: the line of each keyword
    problem: tuple[str, str, int | None] | None = None  # (field, reason, line) found by a reader


def _strip_bom(text: str) -> str:
    return text[1:] if text.startswith(_BOM) else text


def sniff_omm_format(text: str) -> str | None:
    """'json', 'xml', 'kvn', 'csv', or None when the text does not look like an OMM."""
    start = _LEADING_SPACE.match(text, 1 if text.startswith(_BOM) else 0).end()  # type: ignore[union-attr]
    head = text[start : start + 4096]
    if head.startswith(("[", "{")):
        return "json"
    if head.startswith("<"):
        return "xml"
    if head.startswith("CCSDS_OMM_VERS") or "\nCCSDS_OMM_VERS" in head:
        return "kvn"
    first = head.splitlines()[0] if head else ""
    if "NORAD_CAT_ID" in first.upper() and "," in first:
        return "csv"
    return None


# --- readers ---------------------------------------------------------------------------------

_DUPLICATE = object()  # key under which the JSON object hook notes a repeated keyword


def _json_object(pairs: list[tuple[str, Any]]) -> dict[Any, Any]:
    """A JSON object with upper-cased keys; a keyword given twice is noted, not overwritten."""
    out: dict[Any, Any] = {}
    for key, value in pairs:
        upper = key.upper()
        if upper in out and _DUPLICATE not in out:
            out[_DUPLICATE] = upper
        out[upper] = value
    return out


def _json_int(digits: str) -> int | str:
    """JSON integers; one too long for Python's int() (4300 digits) stays a digit string, which
    the field checks then report, instead of a ValueError that would abort the file."""
    return int(digits) if len(digits) <= 4000 else digits


def _skip_json_value(text: str, pos: int) -> int:
    """End of the JSON array/object starting at ``pos``, found without recursion (for values
    nested too deeply for the decoder). Strings are skipped with their escapes."""
    depth, k, n = 0, pos, len(text)
    while k < n:
        c = text[k]
        if c == '"':
            k += 1
            while k < n and text[k] != '"':
                k += 2 if text[k] == "\\" else 1
        elif c in "[{":
            depth += 1
        elif c in "]}":
            depth -= 1
            if depth == 0:
                return k + 1
        k += 1
    raise ValueError("unterminated JSON value")


def _json_items(text: str) -> tuple[list[Any], list[int]]:
    """Decode a top-level JSON array element by element: (items, indices of the elements nested
    too deeply for the decoder, which are None in items). Raises JSONDecodeError."""
    decoder = json.JSONDecoder(object_pairs_hook=_json_object, parse_int=_json_int)
    ws = re.compile(r"[ \t\n\r]*")
    pos = ws.match(text, 0).end()  # type: ignore[union-attr]
    if not text.startswith("[", pos):
        raise json.JSONDecodeError("expected '['", text, pos)
    pos = ws.match(text, pos + 1).end()  # type: ignore[union-attr]
    items: list[Any] = []
    too_deep: list[int] = []
    if text.startswith("]", pos):
        return items, too_deep
    while True:
        try:
            item, pos = decoder.raw_decode(text, pos)
        except RecursionError:
            try:
                pos = _skip_json_value(text, pos)
            except ValueError:
                raise json.JSONDecodeError("unterminated value", text, pos) from None
            too_deep.append(len(items))
            item = None
        items.append(item)
        pos = ws.match(text, pos).end()  # type: ignore[union-attr]
        if text.startswith("]", pos):
            if text[pos + 1 :].strip(" \t\n\r"):
                raise json.JSONDecodeError("Extra data", text, pos + 1)
            return items, too_deep
        if not text.startswith(",", pos):
            raise json.JSONDecodeError("Expecting ',' delimiter", text, pos)
        pos = ws.match(text, pos + 1).end()  # type: ignore[union-attr]


def _read_json(text: str, source: str) -> tuple[list[_Row], list[RecordError]]:
    too_deep: list[int] = []
    try:
        data = json.loads(text, object_pairs_hook=_json_object, parse_int=_json_int)
    except json.JSONDecodeError as exc:
        return [], [RecordError(source, f"not valid JSON: {exc.msg}", line=exc.lineno)]
    except RecursionError:
        # nested too deeply for the decoder somewhere: decode the records one by one
        if not text.lstrip(" \t\n\r").startswith("["):
            return [], [RecordError(source, "JSON nested too deeply to be an OMM", record=0)]
        try:
            data, too_deep = _json_items(text)
        except json.JSONDecodeError as exc:
            return [], [RecordError(source, f"not valid JSON: {exc.msg}", line=exc.lineno)]
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list):
        kind = type(data).__name__ if data is not None else "null"
        return [], [RecordError(source, f"the JSON is a single {kind}, not OMM records (objects)")]
    rows, errors = [], []
    deep = set(too_deep)
    for k, item in enumerate(data):
        if k in deep:
            errors.append(RecordError(source, "record is nested too deeply", record=k))
        elif isinstance(item, dict):
            repeated = item.pop(_DUPLICATE, None)
            row = _Row(item, record=k)
            if repeated is not None:
                row.problem = (repeated, "keyword appears twice in the record", None)
            rows.append(row)
        else:
            errors.append(RecordError(source, "record is not a JSON object", record=k))
    return rows, errors


def _csv_field(raw: str, header: list[str], bad: Callable[[str], bool]) -> str | None:
    """The header name of the first comma-separated cell of ``raw`` for which ``bad`` holds."""
    cells = raw.split(",")
    if len(cells) != len(header):
        return None
    return next((h for h, c in zip(header, cells, strict=True) if bad(c)), None)


def _longer(cell: str, limit: int) -> bool:
    return len(cell) > limit


def _read_csv(text: str, source: str) -> tuple[list[_Row], list[RecordError]]:
    # split on LF only (a CR before it is part of the terminator), so a bare CR inside a field
    # is that record's error, not a record break; csv.Error is caught per record (the field
    # size limit, a bare CR) and the reader goes on with the next line
    raw_lines = io.StringIO(text).readlines()
    reader = csv.reader(raw_lines)
    try:
        header = [h.strip().upper() for h in next(reader)]
    except StopIteration:
        return [], []
    except csv.Error as exc:
        return [], [RecordError(source, f"CSV header cannot be read: {exc}", line=1)]
    repeated = sorted({h for h in header if h and header.count(h) > 1})
    if repeated:
        return [], [
            RecordError(
                source, f"header names {', '.join(repeated)} more than once", line=1, field=None
            )
        ]
    rows, errors = [], []
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            line = reader.line_num
            raw = raw_lines[line - 1] if 0 < line <= len(raw_lines) else ""
            if "field larger" in str(exc):
                limit = csv.field_size_limit()
                field = _csv_field(raw, header, partial(_longer, limit=limit))
                reason = f"a field is longer than {limit} characters"
            else:
                field = _csv_field(raw.rstrip("\r\n"), header, lambda c: "\r" in c)
                reason = "a field holds a bare carriage return"
            errors.append(RecordError(source, reason, line=line, field=field))
            continue
        line = reader.line_num
        if not any(c.strip() for c in cells):
            continue
        if len(cells) != len(header):
            errors.append(
                RecordError(
                    source, f"has {len(cells)} cells, the header has {len(header)}", line=line
                )
            )
            continue
        rows.append(_Row(dict(zip(header, cells, strict=True)), line=line))
    return rows, errors


_XML_KEYS = set(OMM_FIELDS) | set(METADATA)


def _read_xml(text: str, source: str) -> tuple[list[_Row], list[RecordError]]:
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        return [], [RecordError(source, f"not well-formed XML: {exc}", line=exc.position[0])]
    rows = []
    for k, omm in enumerate(el for el in root.iter() if _local(el.tag) == "omm"):
        row = _Row({}, record=k)
        for el in omm.iter():
            tag = _local(el.tag).upper()
            if tag in _XML_KEYS and el.text is not None:
                if tag in row.values and row.problem is None:
                    row.problem = (tag, "keyword appears twice in the record", None)
                row.values[tag] = el.text.strip()
        rows.append(row)
    if not rows:
        return [], [RecordError(source, "the XML holds no <omm> element", line=1)]
    return rows, []


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _read_kvn(text: str, source: str) -> tuple[list[_Row], list[RecordError]]:
    rows: list[_Row] = []
    errors: list[RecordError] = []
    current: _Row | None = None
    # lines end at LF (CRLF too); other characters str.splitlines() breaks on stay in the line,
    # so line numbers are the ones an editor shows
    for i, raw in enumerate(text.split("\n"), start=1):
        s = raw.removesuffix("\r").strip()
        if not s or s.startswith("COMMENT"):
            continue
        if "=" not in s:
            errors.append(RecordError(source, "not a KEY = value line", line=i))
            continue
        key, _, value = s.partition("=")
        key, value = key.strip().upper(), value.strip()
        if key == "CCSDS_OMM_VERS":
            current = _Row({}, line=i, field_lines={})
            rows.append(current)
            continue
        if current is None:
            errors.append(RecordError(source, "keyword before CCSDS_OMM_VERS", line=i))
            continue
        if "[" in value:  # units, e.g. "15.5 [rev/day]"
            value = value.split("[", 1)[0].strip()
        assert current.field_lines is not None
        if key in current.values:
            if current.problem is None:
                first = current.field_lines[key]
                current.problem = (key, f"keyword appears twice (first on line {first})", i)
            continue
        current.values[key] = value
        current.field_lines[key] = i
    return rows, errors


_READERS: dict[str, Callable[[str, str], tuple[list[_Row], list[RecordError]]]] = {
    "json": _read_json,
    "csv": _read_csv,
    "xml": _read_xml,
    "kvn": _read_kvn,
}


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


# --- writers -----------------------------------------------------------------------------------


def _omm_records(table: pa.Table) -> list[dict[str, Any]]:
    epochs = table.column("epoch").to_numpy().astype("datetime64[us]")
    cols = table.to_pydict()
    out = []
    for k in range(table.num_rows):
        rec: dict[str, Any] = {}
        for key, (column, kind, _) in OMM_FIELDS.items():
            if kind == "time":
                rec[key] = str(epochs[k])
            else:
                rec[key] = cols[column][k]
        out.append(rec)
    return out


_XML_GROUPS = {
    "meanElements": (
        "EPOCH",
        "MEAN_MOTION",
        "ECCENTRICITY",
        "INCLINATION",
        "RA_OF_ASC_NODE",
        "ARG_OF_PERICENTER",
        "MEAN_ANOMALY",
    ),
    "tleParameters": (
        "EPHEMERIS_TYPE",
        "CLASSIFICATION_TYPE",
        "NORAD_CAT_ID",
        "ELEMENT_SET_NO",
        "REV_AT_EPOCH",
        "BSTAR",
        "MEAN_MOTION_DOT",
        "MEAN_MOTION_DDOT",
    ),
}


def write_omm(table: pa.Table, fmt: str = "json") -> str:
    """Element sets as OMM text: 'json' (CelesTrak style), 'csv', 'kvn' or 'xml'."""
    records = _omm_records(table)
    if fmt == "json":
        return json.dumps(records, indent=1) + "\n"
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=list(OMM_FIELDS), lineterminator="\n")
        writer.writeheader()
        writer.writerows({k: ("" if v is None else v) for k, v in r.items()} for r in records)
        return buf.getvalue()
    if fmt == "kvn":
        lines = []
        for r in records:
            lines += [
                "CCSDS_OMM_VERS = 2.0",
                "CREATION_DATE = " + str(timeconv.utc_now().astype("datetime64[s]")),
                "ORIGINATOR = starbrain",
            ]
            lines += [f"{k} = {v}" for k, v in r.items() if v is not None]
            lines += [
                "MEAN_ELEMENT_THEORY = SGP4",
                "CENTER_NAME = EARTH",
                "REF_FRAME = TEME",
                "TIME_SYSTEM = UTC",
                "",
            ]
        return "\n".join(lines)
    if fmt == "xml":
        root = ET.Element("ndm")
        for r in records:
            omm = ET.SubElement(root, "omm", id="CCSDS_OMM_VERS", version="2.0")
            segment = ET.SubElement(ET.SubElement(omm, "body"), "segment")
            meta = ET.SubElement(segment, "metadata")
            for k, v in (
                ("OBJECT_NAME", r["OBJECT_NAME"]),
                ("OBJECT_ID", r["OBJECT_ID"]),
                ("CENTER_NAME", "EARTH"),
                ("REF_FRAME", "TEME"),
                ("TIME_SYSTEM", "UTC"),
                ("MEAN_ELEMENT_THEORY", "SGP4"),
            ):
                if v is not None:
                    ET.SubElement(meta, k).text = str(v)
            data = ET.SubElement(segment, "data")
            for group, keys in _XML_GROUPS.items():
                el = ET.SubElement(data, group)
                for k in keys:
                    if r[k] is not None:
                        ET.SubElement(el, k).text = str(r[k])
        return ET.tostring(root, encoding="unicode") + "\n"
    raise ValueError(f"unknown OMM format {fmt!r}; use json, csv, kvn or xml")
