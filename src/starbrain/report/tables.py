"""Tables for people and for scripts: one :func:`emit` for every command that prints rows.

Three formats (:class:`OutputFormat`):

``table``
    A rich table for a person: units and decimals formatted for reading. When the output is not
    a terminal (a pipe, a file) the table is rendered as wide as its content needs, so nothing
    is truncated with an ellipsis or wrapped (``starbrain mars windows | cat`` shows full dates).
``csv``
    A header row of the source's field names (the Arrow schema's, units in the names such as
    ``miss_distance_km``), then one line per row with the raw values.
``json``
    A JSON **array** of objects, one object per row, keys the same field names; each object is on
    its own line, so the output is both one valid JSON document and easy to ``grep``. Use
    ``jq -c '.[]'`` for JSON Lines.

In csv and json: timestamps are ISO-8601 UTC with a ``Z`` suffix, at the finest unit any value of
that column needs (``2026-01-01T00:00:00Z``, ``...T00:00:00.250Z``); NaN, infinities and nulls are
JSON ``null`` and empty CSV cells; booleans are ``true``/``false``; nested values are JSON (in CSV,
a JSON string in the cell). Values are never rounded here.

Sources: an Arrow table or record batch, or a sequence of mappings or dataclass instances ("typed
rows"). PyArrow is imported only when needed, so importing this module is cheap.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import json
import math
import sys
from collections.abc import Callable, Mapping, Sequence
from enum import StrEnum
from typing import IO, TYPE_CHECKING, Any, Literal

from rich.console import Console, RenderableType
from rich.table import Table

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

__all__ = [
    "OutputFormat",
    "Rows",
    "emit",
    "plain_rows",
    "print_view",
    "rich_table",
    "write_csv",
    "write_json",
]

Rows = Any
"""What :func:`emit` accepts: ``pa.Table``, ``pa.RecordBatch``, or a sequence of mappings or
dataclass instances."""


class OutputFormat(StrEnum):
    """``--format`` of every table-printing command."""

    table = "table"
    csv = "csv"
    json = "json"


# ---------------------------------------------------------------- plain values


_UNITS: tuple[tuple[int, Literal["s", "ms", "us", "ns"]], ...] = (
    (1_000_000_000, "s"),
    (1_000_000, "ms"),
    (1_000, "us"),
)


def _iso_utc(values: np.ndarray) -> list[str | None]:
    """ISO-8601 UTC strings with ``Z`` for a datetime64 array (NaT -> None), all at the finest
    of s / ms / us / ns that some value needs."""
    import numpy as np

    ns = values.astype("datetime64[ns]")
    valid = ~np.isnat(ns)
    ticks = ns[valid].astype(np.int64)
    unit: Literal["s", "ms", "us", "ns"] = "ns"
    for step, name in _UNITS:
        if not np.any(ticks % step):
            unit = name
            break
    out: list[str | None] = [None] * len(ns)
    if valid.any():
        text = np.datetime_as_string(ns[valid], unit=unit)
        for k, s in zip(np.flatnonzero(valid), text, strict=True):
            out[k] = f"{s}Z"
    return out


def _plain(value: Any) -> Any:
    """One value as JSON-ready Python: NaN/inf -> None, times -> ISO-8601 UTC ``Z``."""
    import numpy as np

    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, np.datetime64):
        return _iso_utc(np.asarray([value]))[0]
    if isinstance(value, np.generic):
        return _plain(value.item())
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return value.isoformat() + "Z"
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return [_plain(v) for v in value.tolist()]
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return str(value)


def _arrow_columns(table: pa.Table) -> tuple[list[str], list[list[Any]]]:
    import numpy as np
    import pyarrow as pa

    names, columns = [], []
    for field, column in zip(table.schema, table.columns, strict=True):
        names.append(field.name)
        if pa.types.is_timestamp(field.type):
            values = column.cast(pa.timestamp("ns", tz=field.type.tz))
            arr = np.asarray(values.to_numpy(zero_copy_only=False)).astype("datetime64[ns]")
            columns.append(_iso_utc(arr))
        elif pa.types.is_floating(field.type):
            columns.append(
                [v if v is not None and math.isfinite(v) else None for v in column.to_pylist()]
            )
        elif pa.types.is_integer(field.type) or pa.types.is_string(field.type):
            columns.append(column.to_pylist())
        else:
            columns.append([_plain(v) for v in column.to_pylist()])
    return names, columns


def plain_rows(
    data: Rows, fields: Sequence[str] | None = None
) -> tuple[list[str], list[list[Any]]]:
    """``(field names, rows)`` of JSON-ready values (see the module docstring) from an Arrow table
    or batch, or from mappings / dataclass instances (field names in first-seen order).

    ``fields`` names the columns when there are no rows to take them from, or picks and orders
    them.
    """
    import numpy as np
    import pyarrow as pa

    if isinstance(data, pa.RecordBatch):
        data = pa.Table.from_batches([data])
    if isinstance(data, pa.Table):
        if fields is not None:
            data = data.select(list(fields))
        names, columns = _arrow_columns(data)
        return names, [list(r) for r in zip(*columns, strict=True)] if columns else []
    dicts: list[Mapping[str, Any]] = []
    for row in data:
        if dataclasses.is_dataclass(row) and not isinstance(row, type):
            row = {f.name: getattr(row, f.name) for f in dataclasses.fields(row)}
        elif not isinstance(row, Mapping):
            raise TypeError(f"rows must be mappings or dataclass instances, not {type(row)!r}")
        dicts.append(row)
    if fields is None:
        seen: dict[str, None] = {}
        for row in dicts:
            seen.update(dict.fromkeys(row))
        fields = list(seen)
    names = list(fields)
    out = []
    for row in dicts:
        out.append([_plain(row.get(name)) for name in names])
    # a column of np.datetime64 values in typed rows: one unit for the whole column
    for j, name in enumerate(names):
        raw = [row.get(name) for row in dicts]
        if (
            raw
            and all(isinstance(v, np.datetime64) or v is None for v in raw)
            and any(v is not None for v in raw)
        ):
            arr = np.array([v if v is not None else np.datetime64("NaT") for v in raw])
            for row_out, s in zip(out, _iso_utc(arr), strict=True):
                row_out[j] = s
    return names, out


# ---------------------------------------------------------------- writers


def _csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))
    return value


def write_csv(data: Rows, file: IO[str], *, fields: Sequence[str] | None = None) -> int:
    """CSV with a header row of field names; returns the number of data rows written."""
    names, rows = plain_rows(data, fields)
    writer = csv.writer(file, lineterminator="\n")
    writer.writerow(names)
    for row in rows:
        writer.writerow([_csv_cell(v) for v in row])
    return len(rows)


def write_json(data: Rows, file: IO[str], *, fields: Sequence[str] | None = None) -> int:
    """A JSON array of objects, one per row and one per line; returns the number of rows."""
    names, rows = plain_rows(data, fields)
    if not rows:
        file.write("[]\n")
        return 0
    file.write("[\n")
    for k, row in enumerate(rows):
        text = json.dumps(dict(zip(names, row, strict=True)), ensure_ascii=False, allow_nan=False)
        file.write(text + (",\n" if k < len(rows) - 1 else "\n"))
    file.write("]\n")
    return len(rows)


# ---------------------------------------------------------------- the table view


def rich_table(
    data: Rows, *, title: str | None = None, fields: Sequence[str] | None = None
) -> Table:
    """A plain rich table of the raw values, headed by field names (the view of last resort)."""
    names, rows = plain_rows(data, fields)
    view = Table(title=title)
    for name in names:
        view.add_column(name, justify="left")
    for row in rows:
        view.add_row(*("" if v is None else str(_csv_cell(v)) for v in row))
    return view


def print_view(console: Console, renderable: RenderableType | str) -> None:
    """Print a table (or pre-formatted text) for a person.

    On a terminal this is ``console.print``. Elsewhere (a pipe, a file, a test runner) the
    output is rendered as wide as the content needs: no ellipsis, no wrapping, no cropping.
    """
    if console.is_terminal:
        console.print(renderable, highlight=False)
        return
    if isinstance(renderable, str):
        console.print(renderable, highlight=False, markup=False, soft_wrap=True, crop=False)
        return
    wide = console.options.update_width(1_000_000)
    need = console.measure(renderable, options=wide).maximum
    out = Console(
        file=console.file,
        width=max(need, 1),
        color_system=None,
        highlight=False,
        force_terminal=False,
        soft_wrap=False,
        legacy_windows=False,
    )
    out.print(renderable, crop=False)


def emit(
    data: Rows,
    fmt: OutputFormat | str = OutputFormat.table,
    *,
    view: RenderableType | Callable[[], RenderableType | str] | str | None = None,
    title: str | None = None,
    fields: Sequence[str] | None = None,
    console: Console | None = None,
    file: IO[str] | None = None,
) -> int:
    """Write ``data`` in ``fmt``; returns the number of rows in ``data`` (for csv/json: written).

    ``table``: print ``view`` (a rich renderable, pre-formatted text, or a function returning one,
    called only in this format) through :func:`print_view` on ``console`` (default: standard
    output), or, without a view, :func:`rich_table` of ``data``. ``csv`` / ``json``: write to
    ``file`` (default: the current ``sys.stdout``) with :func:`write_csv` / :func:`write_json`;
    ``fields`` picks and orders the columns there (and names them when there are no rows).
    """
    fmt = OutputFormat(fmt)
    if fmt is OutputFormat.table:
        shown = view() if callable(view) else view
        if shown is None:
            shown = rich_table(data, title=title, fields=fields)
        print_view(console if console is not None else Console(), shown)
        return _count(data)
    out = file if file is not None else sys.stdout
    writer = write_csv if fmt is OutputFormat.csv else write_json
    n = writer(data, out, fields=fields)
    out.flush()
    return n


def _count(data: Rows) -> int:
    n = getattr(data, "num_rows", None)
    return n if isinstance(n, int) else len(data)
