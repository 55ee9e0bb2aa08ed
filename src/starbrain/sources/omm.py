"""CCSDS Orbit Mean-elements Messages (OMM, CCSDS 502.0-B-3): JSON, CSV, XML and KVN.

The forms CelesTrak serves.

Readers turn each format into rows of raw field values with a locator (line or record index);
one shared validator converts the columns at once (fast path) and falls back to field-by-field
checks only for columns that hold a bad value, so every bad record is reported with its field and
every good record is kept. Writers emit CelesTrak-style JSON and CSV, CCSDS KVN and XML.
Field names are the OMM keywords (``MEAN_MOTION``, ``NORAD_CAT_ID``, ...); units as in the
standard: degrees, rev/day, rev/day**2, rev/day**3, 1/earth radii for BSTAR.
"""

from __future__ import annotations

import csv
import io
import json
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

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
# (lower, upper, inclusive upper) physical ranges checked after conversion
_RANGES = {
    "ECCENTRICITY": (0.0, 1.0, False),
    "INCLINATION": (0.0, 180.0, True),
    "RA_OF_ASC_NODE": (0.0, 360.0, True),
    "ARG_OF_PERICENTER": (0.0, 360.0, True),
    "MEAN_ANOMALY": (0.0, 360.0, True),
    "NORAD_CAT_ID": (0, 999_999_999, True),
}


@dataclass(slots=True)
class _Row:
    values: dict[str, Any]
    line: int | None = None  # 1-based line of the record (CSV, KVN)
    record: int | None = None  # 0-based record index (JSON, XML)
    field_lines: dict[str, int] | None = None  # KVN: the line of each keyword


def sniff_omm_format(text: str) -> str | None:
    """'json', 'xml', 'kvn', 'csv', or None when the text does not look like an OMM."""
    head = text.lstrip()[:4096]
    if head.startswith(("[", "{")):
        return "json"
    if head.startswith("<"):
        return "xml"
    if head.startswith("CCSDS_OMM_VERS") or "\nCCSDS_OMM_VERS" in head:
        return "kvn"
    first = head.splitlines()[0] if head else ""
    if "NORAD_CAT_ID" in first and "," in first:
        return "csv"
    return None


# --- readers ---------------------------------------------------------------------------------


def _read_json(text: str, source: str) -> tuple[list[_Row], list[RecordError]]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        return [], [RecordError(source, f"not valid JSON: {exc.msg}", line=exc.lineno)]
    if isinstance(data, dict):
        data = [data]
    rows, errors = [], []
    for k, item in enumerate(data):
        if isinstance(item, dict):
            rows.append(_Row({key.upper(): v for key, v in item.items()}, record=k))
        else:
            errors.append(RecordError(source, "record is not a JSON object", record=k))
    return rows, errors


def _read_csv(text: str, source: str) -> tuple[list[_Row], list[RecordError]]:
    reader = csv.reader(io.StringIO(text))
    try:
        header = [h.strip().upper() for h in next(reader)]
    except StopIteration:
        return [], []
    rows, errors = [], []
    for cells in reader:
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


def _read_xml(text: str, source: str) -> tuple[list[_Row], list[RecordError]]:
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        return [], [RecordError(source, f"not well-formed XML: {exc}", line=exc.position[0])]
    rows = []
    for k, omm in enumerate(el for el in root.iter() if _local(el.tag) == "omm"):
        values: dict[str, Any] = {}
        for el in omm.iter():
            tag = _local(el.tag).upper()
            if tag in OMM_FIELDS and el.text is not None:
                values[tag] = el.text.strip()
        rows.append(_Row(values, record=k))
    return rows, []


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _read_kvn(text: str, source: str) -> tuple[list[_Row], list[RecordError]]:
    rows: list[_Row] = []
    errors: list[RecordError] = []
    current: _Row | None = None
    for i, raw in enumerate(text.splitlines(), start=1):
        s = raw.strip()
        if not s or s.startswith("COMMENT"):
            continue
        if "=" not in s:
            errors.append(RecordError(source, "not a KEY = value line", line=i))
            continue
        key, _, value = (p.strip() for p in s.partition("="))
        key = key.upper()
        if key == "CCSDS_OMM_VERS":
            current = _Row({}, line=i, field_lines={})
            rows.append(current)
            continue
        if current is None:
            errors.append(RecordError(source, "keyword before CCSDS_OMM_VERS", line=i))
            continue
        if "[" in value:  # units, e.g. "15.5 [rev/day]"
            value = value.split("[", 1)[0].strip()
        current.values[key] = value
        assert current.field_lines is not None
        current.field_lines[key] = i
    return rows, errors


_READERS: dict[str, Callable[[str, str], tuple[list[_Row], list[RecordError]]]] = {
    "json": _read_json,
    "csv": _read_csv,
    "xml": _read_xml,
    "kvn": _read_kvn,
}


# --- validation --------------------------------------------------------------------------------


def _error(source: str, row: _Row, field: str, reason: str, norad: Any = None) -> RecordError:
    line = row.line
    if row.field_lines and field in row.field_lines:
        line = row.field_lines[field]
    try:
        norad_id = int(norad) if norad not in (None, "") else None
    except (TypeError, ValueError):
        norad_id = None
    return RecordError(source, reason, line=line, record=row.record, field=field, norad_id=norad_id)


def _convert_one(kind: str, value: Any) -> Any:
    if kind == "float":
        if isinstance(value, bool):
            raise ValueError
        out = float(value)
        if not np.isfinite(out):
            raise ValueError
        return out
    if kind == "int":
        if isinstance(value, float) and value.is_integer():
            return int(value)
        return int(str(value).strip())
    if kind == "time":
        return timeconv.to_datetime64(str(value))
    return None if value is None else str(value)


def _column(kind: str, values: list[Any]) -> tuple[np.ndarray, np.ndarray]:
    """Convert a whole column; returns (array, ok mask). Fast path first, per-value fallback."""
    missing = np.array(
        [v is None or (isinstance(v, str) and not v.strip()) for v in values], dtype=bool
    )
    if kind == "str":
        text = [None if m else str(v).strip() for v, m in zip(values, missing, strict=True)]
        return np.array(text, dtype=object), np.ones(len(values), dtype=bool)
    try:
        filled = [0 if m else v for v, m in zip(values, missing, strict=True)]
        if kind == "time":
            arr = np.array(
                [
                    timeconv.to_datetime64(str(v)) if not m else np.datetime64(0, "ns")
                    for v, m in zip(values, missing, strict=True)
                ],
                dtype="datetime64[ns]",
            )
        elif kind == "int":
            arr = np.array(filled, dtype=np.int64)
            if arr.dtype.kind != "i":
                raise ValueError
        else:
            arr = np.array(filled, dtype=np.float64)
            if not np.isfinite(arr).all():
                raise ValueError
        return arr, ~missing
    except (ValueError, TypeError, OverflowError):
        pass
    dtype: Any = {"float": np.float64, "int": np.int64, "time": "datetime64[ns]"}[kind]
    arr = np.zeros(len(values), dtype=dtype)
    ok = ~missing
    for k, v in enumerate(values):
        if missing[k]:
            continue
        try:
            arr[k] = _convert_one(kind, v)
        except (ValueError, TypeError, OverflowError):
            ok[k] = False
    return arr, ok


def _indices(mask: np.ndarray) -> list[int]:
    return np.flatnonzero(mask).tolist()


def _rows_to_table(rows: Sequence[_Row], source: str) -> LoadResult:
    n = len(rows)
    reasons: list[RecordError | None] = [None] * n
    norad_raw = [r.values.get("NORAD_CAT_ID") for r in rows]
    converted: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for key, (_, kind, required) in OMM_FIELDS.items():
        raw = [r.values.get(key) for r in rows]
        arr, ok = _column(kind, raw)
        present = np.array([v is not None and str(v).strip() != "" for v in raw], dtype=bool)
        for k in _indices(~ok & present):
            reasons[k] = reasons[k] or _error(
                source, rows[k], key, f"cannot read {raw[k]!r} as {kind}", norad_raw[k]
            )
        if required:
            for k in _indices(~present):
                reasons[k] = reasons[k] or _error(
                    source, rows[k], key, "required field is missing", norad_raw[k]
                )
        if key in _RANGES:
            lo, hi, inclusive = _RANGES[key]
            bad = ok & ((arr < lo) | ((arr > hi) if inclusive else (arr >= hi)))
            for k in _indices(bad):
                bracket = "]" if inclusive else ")"
                reasons[k] = reasons[k] or _error(
                    source,
                    rows[k],
                    key,
                    f"{raw[k]} is outside [{lo}, {hi}{bracket}",
                    norad_raw[k],
                )
        converted[key] = (arr, ok)
    mm, mm_ok = converted["MEAN_MOTION"]
    for k in _indices(mm_ok & ~(mm > 0)):
        reasons[k] = reasons[k] or _error(
            source, rows[k], "MEAN_MOTION", "must be positive", norad_raw[k]
        )
    good = np.array([r is None for r in reasons], dtype=bool)
    idx = np.flatnonzero(good)
    cols: dict[str, Any] = {}
    for key, (column, kind, _) in OMM_FIELDS.items():
        arr, ok = converted[key]
        if kind == "str":
            cols[column] = pa.array([arr[k] for k in idx], pa.string())
        else:
            field_type = ELEMENTS_SCHEMA.field(column).type
            cols[column] = pa.array(arr[idx], field_type, mask=~ok[idx])
    cols["classification"] = pa.array(
        [(c or "U")[:1] for c in cols["classification"].to_pylist()], pa.string()
    )
    cols["tle_line1"] = pa.nulls(len(idx), pa.string())
    cols["tle_line2"] = pa.nulls(len(idx), pa.string())
    cols["source"] = pa.array([source] * len(idx), pa.string())
    table = pa.table({f.name: cols[f.name] for f in ELEMENTS_SCHEMA}, schema=ELEMENTS_SCHEMA)
    return LoadResult(table, [r for r in reasons if r is not None], source)


def parse_omm(text: str, source: str = "<text>", fmt: str | None = None) -> LoadResult:
    """Parse OMM text (``fmt`` 'json', 'csv', 'xml' or 'kvn'; sniffed when None)."""
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
