"""JSON Lines rows of any stream schema (``vehicle``, ``arm``, ``compute``, ...) -> an Arrow
table in that schema, with one :class:`RecordError` per bad line.

One JSON object a line, keyed by the schema's column names, for example a ``vehicle`` row::

    {"vehicle_id": "bmw-320i", "log_id": "live-1", "segment": 0,
     "time": "2026-12-07T11:00:00.05Z", "x_m": 1.2, "y_m": 0.0, "yaw_rad": 0.0,
     "speed_mps": 19.8, "steering_wheel_angle_rad": 0.1, "yaw_rate_radps": 0.02}

Types follow the schema: strings; integers (JSON integers, no booleans); floats (JSON numbers;
``null`` or a missing key is a null, allowed only for nullable columns); timestamps (an ISO 8601
string, no offset or ``Z`` meaning UTC, or integer nanoseconds since 1970-01-01 UTC). A column
the schema marks non-nullable must be present and not null. Unknown keys are ignored; blank
lines are skipped; a UTF-8 byte-order mark is dropped. A bad line (invalid UTF-8 or JSON, not an
object, a missing or ill-typed value) becomes ``RecordError(source, reason, line, field=...)``;
every other line is kept.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pyarrow as pa

from starbrain.core import timeconv
from starbrain.sources.records import LoadResult, RecordError

__all__ = ["parse_rows_jsonl", "rows_to_jsonl"]


class _Bad(ValueError):
    def __init__(self, field: str | None, reason: str) -> None:
        super().__init__(reason)
        self.field, self.reason = field, reason


def _value(f: pa.Field, v: Any) -> Any:
    """One JSON value -> the Python value of column ``f`` (``datetime64[ns]`` for times)."""
    if v is None:
        if not f.nullable:
            raise _Bad(f.name, "is missing or null")
        return None
    t = f.type
    if pa.types.is_string(t):
        if not isinstance(v, str):
            raise _Bad(f.name, f"must be a string, not {type(v).__name__}")
        return v
    if pa.types.is_timestamp(t):
        if isinstance(v, int) and not isinstance(v, bool):
            return np.datetime64(v, "ns")
        if not isinstance(v, str):
            raise _Bad(f.name, f"must be an ISO 8601 string or integer ns, not {v!r}")
        try:
            return timeconv.to_instant(v, f.name)
        except ValueError as exc:
            raise _Bad(f.name, str(exc)) from None
    if pa.types.is_integer(t):
        if isinstance(v, bool) or not isinstance(v, int):
            raise _Bad(f.name, f"must be an integer, not {v!r}")
        return v
    if pa.types.is_floating(t):
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
            raise _Bad(f.name, f"must be a finite number, not {v!r}")
        return float(v)
    if pa.types.is_boolean(t):
        if not isinstance(v, bool):
            raise _Bad(f.name, f"must be true or false, not {v!r}")
        return v
    raise _Bad(f.name, f"columns of type {t} cannot be read from JSON Lines")


def _row(schema: pa.Schema, obj: Any) -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise _Bad(None, f"a row must be a JSON object, not {type(obj).__name__}")
    return {f.name: _value(f, obj.get(f.name)) for f in schema}


def _table(schema: pa.Schema, rows: list[dict[str, Any]]) -> pa.Table:
    cols: dict[str, Any] = {}
    for f in schema:
        vals = [r[f.name] for r in rows]
        if pa.types.is_timestamp(f.type):
            ns = np.array([v if v is not None else np.datetime64("NaT") for v in vals], "M8[ns]")
            arr = pa.array(ns, f.type, mask=np.array([v is None for v in vals], bool))
            cols[f.name] = arr
        else:
            cols[f.name] = pa.array(vals, f.type)
    return pa.table(cols, schema=schema)


def parse_rows_jsonl(data: bytes | str, schema: pa.Schema, source: str = "<rows>") -> LoadResult:
    """JSON Lines text -> :class:`LoadResult`: the good lines as a ``schema`` table (in input
    order), one ``RecordError`` per bad line (1-based line numbers, the column as ``field``)."""
    raw = data if isinstance(data, bytes) else data.encode("utf-8")
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    rows: list[dict[str, Any]] = []
    errors: list[RecordError] = []
    for i, line_b in enumerate(raw.split(b"\n"), start=1):
        if not line_b.strip():
            continue
        try:
            obj = json.loads(line_b.decode("utf-8"))
        except UnicodeDecodeError as exc:
            errors.append(RecordError(source, f"not UTF-8 ({exc.reason} at byte {exc.start})", i))
            continue
        except ValueError as exc:
            errors.append(RecordError(source, f"not JSON ({exc})", i))
            continue
        try:
            rows.append(_row(schema, obj))
        except _Bad as exc:
            errors.append(RecordError(source, exc.reason, i, field=exc.field))
    return LoadResult(_table(schema, rows), errors, source)


def rows_to_jsonl(table: pa.Table) -> bytes:
    """The inverse: one JSON object a row (times as ISO 8601 with nanoseconds and ``Z``, nulls
    and NaNs left out), UTF-8, newline-terminated; what a live sender puts on the wire."""
    cols = {}
    for name in table.column_names:
        col = table.column(name)
        if pa.types.is_timestamp(col.type):
            ns = col.cast(pa.int64()).to_pylist()
            cols[name] = [
                None if v is None else f"{np.datetime_as_string(np.datetime64(v, 'ns'))}Z"
                for v in ns
            ]
        else:
            cols[name] = col.to_pylist()
    lines = []
    for i in range(table.num_rows):
        obj = {k: v[i] for k, v in cols.items() if v[i] is not None and v[i] == v[i]}  # no NaN
        lines.append(json.dumps(obj, allow_nan=False))
    return ("\n".join(lines) + "\n").encode("utf-8") if lines else b""
