"""``starbrain.report.tables``: the one writer behind every ``--format table|csv|json``."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import json
import math

import numpy as np
import pyarrow as pa
import pytest
from rich.console import Console
from rich.table import Table

from starbrain.report import OutputFormat, emit, plain_rows, print_view, write_csv, write_json

UTC = pa.timestamp("ns", tz="UTC")


def _strict_json(text: str) -> object:
    """``json.loads`` that refuses NaN / Infinity (Python accepts them; JSON does not)."""

    def refuse(name: str) -> None:
        raise ValueError(f"not JSON: {name}")

    return json.loads(text, parse_constant=refuse)


def _sample() -> pa.Table:
    return pa.table(
        {
            "time": pa.array([0, 1_500_000_000, None], UTC),
            "miss_distance_km": [0.123456789012345, float("nan"), None],
            "inf_km": [float("inf"), -float("inf"), 1.0],
            "sunlit": [True, False, None],
            "name": ["ISS (ZARYA)", 'a "quoted", name', None],
            "norad_id": pa.array([25544, 5, 1], pa.int32()),
        }
    )


def test_json_is_an_array_of_objects_with_iso_z_times_and_null_for_nan() -> None:
    buf = io.StringIO()
    assert emit(_sample(), "json", file=buf) == 3
    rows = _strict_json(buf.getvalue())
    assert isinstance(rows, list) and len(rows) == 3
    assert list(rows[0]) == _sample().schema.names
    # one unit for the column: the finest any value needs (here milliseconds)
    assert [r["time"] for r in rows] == [
        "1970-01-01T00:00:00.000Z",
        "1970-01-01T00:00:01.500Z",
        None,
    ]
    assert rows[0]["miss_distance_km"] == 0.123456789012345  # never rounded
    assert rows[1]["miss_distance_km"] is None and rows[2]["miss_distance_km"] is None
    assert [r["inf_km"] for r in rows] == [None, None, 1.0]
    assert [r["sunlit"] for r in rows] == [True, False, None]
    assert rows[1]["name"] == 'a "quoted", name' and rows[0]["norad_id"] == 25544
    # one object per line: both a JSON document and greppable
    lines = buf.getvalue().splitlines()
    assert lines[0] == "[" and lines[-1] == "]" and len(lines) == 5


def test_csv_has_a_header_of_field_names_and_raw_values() -> None:
    buf = io.StringIO()
    write_csv(_sample(), buf)
    rows = list(csv.DictReader(io.StringIO(buf.getvalue())))
    assert list(rows[0]) == _sample().schema.names
    assert rows[0]["time"] == "1970-01-01T00:00:00.000Z" and rows[2]["time"] == ""
    assert float(rows[0]["miss_distance_km"]) == 0.123456789012345
    assert rows[1]["miss_distance_km"] == "" and rows[0]["inf_km"] == ""
    assert [r["sunlit"] for r in rows] == ["true", "false", ""]
    assert rows[1]["name"] == 'a "quoted", name'


def test_time_units_follow_the_data() -> None:
    def first(values: list[int]) -> str:
        return str(plain_rows(pa.table({"t": pa.array(values, UTC)}))[1][0][0])

    assert first([86_400 * 10**9]) == "1970-01-02T00:00:00Z"
    assert first([1_000]) == "1970-01-01T00:00:00.000001Z"
    assert first([1]) == "1970-01-01T00:00:00.000000001Z"
    # second-resolution Arrow columns and tz-aware datetimes in typed rows
    t_s = pa.table({"t": pa.array([1_700_000_000], pa.timestamp("s", tz="UTC"))})
    assert plain_rows(t_s)[1] == [["2023-11-14T22:13:20Z"]]
    aware = dt.datetime(2026, 1, 1, 1, 0, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    assert plain_rows([{"t": aware}])[1] == [["2026-01-01T00:00:00Z"]]


@dataclasses.dataclass
class _Window:
    launch: np.datetime64
    c3_km2_s2: float
    type: int


def test_typed_rows_dataclasses_and_mappings() -> None:
    rows = [
        _Window(np.datetime64("2028-12-10T17:04:09"), 9.024, 1),
        _Window(np.datetime64("2028-11-29T16:46:24.5"), math.nan, 2),
    ]
    names, values = plain_rows(rows)
    assert names == ["launch", "c3_km2_s2", "type"]
    assert values == [
        ["2028-12-10T17:04:09.000Z", 9.024, 1],
        ["2028-11-29T16:46:24.500Z", None, 2],
    ]
    buf = io.StringIO()
    write_json([{"a": np.float32(0.5), "b": np.int64(3)}, {"b": 4, "c": "x"}], buf)
    assert _strict_json(buf.getvalue()) == [
        {"a": 0.5, "b": 3, "c": None},
        {"a": None, "b": 4, "c": "x"},
    ]
    # no rows: fields still give the CSV header, JSON is an empty array
    buf = io.StringIO()
    write_csv([], buf, fields=["norad_id", "epoch"])
    assert buf.getvalue() == "norad_id,epoch\n"
    buf = io.StringIO()
    write_json([], buf, fields=["norad_id"])
    assert buf.getvalue() == "[]\n"
    with pytest.raises(TypeError, match="mappings or dataclass"):
        plain_rows([1, 2])


def _wide_table() -> tuple[Table, list[str]]:
    cells = ["2026-11-01T12:34", "2027-08-15T06:00", "a rather long station name", "12345.678"]
    view = Table(title="wide")
    for k in range(8):
        view.add_column(f"column {k}", justify="right")
    view.add_row(*(cells * 2))
    return view, cells


def test_tables_off_a_terminal_are_never_truncated() -> None:
    # the failure this fixes: rich squeezes an 8-column table into 80 columns with ellipses
    squeezed = io.StringIO()
    Console(file=squeezed, width=80).print(_wide_table()[0])
    assert "…" in squeezed.getvalue()

    out = io.StringIO()
    console = Console(file=out, width=80)
    assert not console.is_terminal
    view, cells = _wide_table()
    print_view(console, view)
    text = out.getvalue()
    assert "…" not in text
    body = [line for line in text.splitlines() if cells[0] in line]
    assert len(body) == 1 and all(body[0].count(c) == 2 for c in cells)  # one unwrapped line
    # pre-formatted text is neither wrapped nor cropped either
    out = io.StringIO()
    long_line = " ".join(f"word{k}" for k in range(60))
    print_view(Console(file=out, width=40), long_line)
    assert out.getvalue() == long_line + "\n"


def test_emit_table_uses_the_view_or_a_plain_table() -> None:
    out = io.StringIO()
    calls = []

    def view() -> str:
        calls.append(1)
        return "the view"

    emit(_sample(), OutputFormat.table, view=view, console=Console(file=out))
    assert out.getvalue() == "the view\n" and calls == [1]
    emit(_sample(), "csv", view=view, file=io.StringIO())
    assert calls == [1]  # the view is built only for the table format
    out = io.StringIO()
    emit(_sample(), "table", console=Console(file=out, width=40))
    assert "miss_distance_km" in out.getvalue() and "1970-01-01T00:00:01.500Z" in out.getvalue()
    with pytest.raises(ValueError):
        emit(_sample(), "yaml")
