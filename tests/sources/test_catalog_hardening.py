"""Adversarial catalogue input (issue #12, items 1, 3, 5, 6): each bad record is reported once with
its file, record/line and field, and the good records around it are kept.

Three good records from the official SGP4 verification file are written in every OMM encoding
(JSON by python-sgp4's own exporter, CSV/XML/KVN by ``write_omm``); record 1 then gets one bad
value. The kept records are checked against python-sgp4's ``Satrec`` read of the same TLEs.
"""

from __future__ import annotations

import csv
import io
import json
import math
import xml.etree.ElementTree as ET
from pathlib import Path

import pyarrow as pa
import pytest
from sgp4 import exporter
from sgp4.api import WGS72, Satrec
from typer.testing import CliRunner

from starbrain.core.errors import StarbrainError
from starbrain.sources.catalogs.catalog import load_catalog, parse_catalog_text
from starbrain.sources.catalogs.omm import parse_omm, write_omm
from starbrain.sources.catalogs.tle import parse_tle
from starbrain.sources.records import LoadResult

FORMATS = ("json", "csv", "xml", "kvn")
XPDOTP = 1440.0 / (2.0 * math.pi)  # rev/day per rad/min, as python-sgp4 uses
PLACEHOLDER = "@@VALUE@@"


@pytest.fixture(scope="module")
def three(sgp4_ver_text: str) -> tuple[list[Satrec], pa.Table]:
    """The first three records of SGP4-VER.TLE (NORAD 5, 4632, 6251) as Satrecs and a table."""
    lines = [s[:69] for s in sgp4_ver_text.splitlines() if s[:2] in ("1 ", "2 ")][:6]
    sats = [Satrec.twoline2rv(lines[k], lines[k + 1], WGS72) for k in range(0, 6, 2)]
    table = parse_tle("\n".join(lines), "three.tle").table
    assert table.column("norad_id").to_pylist() == [5, 4632, 6251]
    return sats, table


def _encode(fmt: str, three: tuple[list[Satrec], pa.Table], key: str | None, raw: str) -> str:
    """The three records in ``fmt`` with record 1's ``key`` written as ``raw`` (for JSON a raw
    JSON token, e.g. 'true' or '1e999'; otherwise the text of the field)."""
    sats, table = three
    if fmt == "json":
        records = [exporter.export_omm(s, f"OBJ {s.satnum}") for s in sats]
        if key is not None:
            records[1][key] = PLACEHOLDER
        return json.dumps(records, indent=1).replace(json.dumps(PLACEHOLDER), raw)
    text = write_omm(table, fmt)
    if key is None:
        return text
    if fmt == "csv":
        rows = list(csv.reader(io.StringIO(text)))
        if key not in rows[0]:
            rows[0].append(key)
            for row in rows[1:]:
                row.append("")
        rows[2][rows[0].index(key)] = PLACEHOLDER
        return "\n".join(",".join(r) for r in rows).replace(PLACEHOLDER, raw) + "\n"
    if fmt == "xml":
        root = ET.fromstring(text)
        omm = list(root.iter("omm"))[1]
        element = next(el for el in omm.iter() if el.tag == key)
        element.text = PLACEHOLDER
        return ET.tostring(root, encoding="unicode").replace(PLACEHOLDER, raw)
    lines = text.split("\n")
    starts = [i for i, s in enumerate(lines) if s.startswith("CCSDS_OMM_VERS")]
    k = next(i for i in range(starts[1], starts[2]) if lines[i].split(" = ")[0] == key)
    lines[k] = f"{key} = {raw}"
    return "\n".join(lines)


def _kvn_line(text: str, key: str, record: int) -> int:
    lines = text.split("\n")
    starts = [i for i, s in enumerate(lines) if s.startswith("CCSDS_OMM_VERS")]
    stop = starts[record + 1] if record + 1 < len(starts) else len(lines)
    return next(i for i in range(starts[record], stop) if lines[i].startswith(key + " ")) + 1


def _assert_one_bad(
    result: LoadResult, fmt: str, text: str, key: str, why: str, sats: list[Satrec]
) -> None:
    """Exactly one error, on record 1 and field ``key``, and records 0 and 2 kept intact."""
    assert len(result.errors) == 1, [str(e) for e in result.errors]
    err = result.errors[0]
    assert err.field == key and why in err.reason, str(err)
    if fmt in ("json", "xml"):
        assert err.record == 1, str(err)
    elif fmt == "csv":
        assert err.line == 3, str(err)  # header, record 0, record 1
    else:
        assert err.line == _kvn_line(text, key, 1), str(err)
    assert err.source in str(err)
    t = result.table.to_pydict()
    assert t["norad_id"] == [5, 6251]
    for k, sat in zip((0, 1), (sats[0], sats[2]), strict=True):
        assert t["mean_motion_rev_per_day"][k] / XPDOTP == pytest.approx(sat.no_kozai, rel=1e-12)
        assert t["eccentricity"][k] == pytest.approx(sat.ecco, rel=1e-12)
        assert math.radians(t["inclination_deg"][k]) == pytest.approx(sat.inclo, rel=1e-12)


# (keyword, JSON token, text in CSV/XML/KVN, words the reason must contain)
EVERY_ENCODING = [
    # item 1: integers beyond the int8/int32 columns aborted the whole load (ArrowInvalid)
    ("EPHEMERIS_TYPE", "1000", "1000", "outside [0, 9]"),
    ("ELEMENT_SET_NO", "3000000000", "3000000000", "outside [0, 9999]"),
    ("REV_AT_EPOCH", "3000000000", "3000000000", "outside [0, 2147483647]"),
    ("REV_AT_EPOCH", "-5", "-5", "outside"),
    ("NORAD_CAT_ID", "99999999999999999999999", "99999999999999999999999", "outside"),
    # item 5: epochs beyond datetime64[ns] wrapped round (3000-01-01 stored as 1830-11-23)
    ("EPOCH", '"3000-01-01T00:00:00"', "3000-01-01T00:00:00", "outside the years 1957-2261"),
    ("EPOCH", '"1600-06-01T00:00:00"', "1600-06-01T00:00:00", "outside the years 1957-2261"),
    ("EPOCH", '"2300-01-01T00:00:00Z"', "2300-01-01T00:00:00Z", "outside the years"),
    # item 6: well-formed but impossible values
    ("NORAD_CAT_ID", "300000.5", "300000.5", "cannot read"),
    ("NORAD_CAT_ID", "340000", "340000", "outside [0, 339999]"),
    ("MEAN_MOTION", "1e300", "1e300", "outside (0, 18]"),
    ("MEAN_MOTION", "25.0", "25.0", "outside (0, 18]"),
    ("MEAN_MOTION", "0", "0", "outside (0, 18]"),
    ("ECCENTRICITY", "1.0", "1.0", "outside [0, 1)"),
    ("INCLINATION", "180.5", "180.5", "outside [0, 180]"),
    ("MEAN_ANOMALY", "-1.0", "-1.0", "outside [0, 360]"),
    ("BSTAR", "1e300", "1e300", "outside"),
    ("MEAN_MOTION_DOT", "5.0", "5.0", "outside"),
    ("MEAN_MOTION", '"nan"', "nan", "cannot read"),
    ("MEAN_MOTION", '"1_5.0"', "1_5.0", "cannot read"),
    ("CLASSIFICATION_TYPE", '"X"', "X", "not U, C or S"),
    ("REF_FRAME", '"GCRF"', "GCRF", "not TEME"),
    ("TIME_SYSTEM", '"TAI"', "TAI", "not UTC"),
    ("MEAN_ELEMENT_THEORY", '"DSST"', "DSST", "not SGP4"),
    ("MEAN_ELEMENT_THEORY", '"SGP4-XP"', "SGP4-XP", "SGP4-XP"),
    ("CENTER_NAME", '"MOON"', "MOON", "not EARTH"),
]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(("key", "token", "text", "why"), EVERY_ENCODING)
def test_one_bad_value_is_one_error_in_every_encoding(
    fmt: str, key: str, token: str, text: str, why: str, three: tuple[list[Satrec], pa.Table]
) -> None:
    omm_text = _encode(fmt, three, key, token if fmt == "json" else text)
    result = parse_omm(omm_text, f"gp.{fmt}")
    _assert_one_bad(result, fmt, omm_text, key, why, three[0])


# values only JSON can spell: numbers Python reads as infinity, booleans, nested structures
JSON_ONLY = [
    ("NORAD_CAT_ID", "1e999", "cannot read"),  # OverflowError before
    ("NORAD_CAT_ID", "true", "cannot read"),  # stored as NORAD 1 before
    ("MEAN_MOTION", "true", "cannot read"),  # stored as 1 rev/day before
    ("MEAN_MOTION", "1e999", "cannot read"),
    ("MEAN_MOTION", "-1e999", "cannot read"),
    ("ECCENTRICITY", "false", "cannot read"),
    ("EPOCH", "20200101", "cannot read"),
    ("EPOCH", "true", "cannot read"),
    ("OBJECT_NAME", '{"a": 1}', "cannot read"),
    ("REF_FRAME", "7", "not TEME"),
    ("MEAN_MOTION", "1" + "0" * 400, "cannot read"),  # an integer beyond float64
]


@pytest.mark.parametrize(("key", "token", "why"), JSON_ONLY)
def test_json_values_of_the_wrong_type(
    key: str, token: str, why: str, three: tuple[list[Satrec], pa.Table]
) -> None:
    text = _encode("json", three, key, token)
    _assert_one_bad(parse_omm(text, "gp.json"), "json", text, key, why, three[0])


def test_integral_json_numbers_and_signed_strings_are_accepted(
    three: tuple[list[Satrec], pa.Table],
) -> None:
    """The strict integer reading still takes 4632.0 and '+4632' (no false alarms)."""
    for token in ("4632.0", '"+4632"', '" 4632 "'):
        result = parse_omm(_encode("json", three, "NORAD_CAT_ID", token), "gp.json")
        assert not result.errors and result.table.column("norad_id").to_pylist() == [5, 4632, 6251]


def test_csv_field_over_the_size_limit_is_one_record(three: tuple[list[Satrec], pa.Table]) -> None:
    limit = csv.field_size_limit()
    text = _encode("csv", three, "OBJECT_NAME", "x" * (limit + 1))
    result = parse_omm(text, "gp.csv")
    _assert_one_bad(result, "csv", text, "OBJECT_NAME", f"longer than {limit}", three[0])


def test_csv_bare_carriage_return_is_one_record(three: tuple[list[Satrec], pa.Table]) -> None:
    text = _encode("csv", three, "OBJECT_NAME", "OBJ\r4632")
    result = parse_omm(text, "gp.csv")
    _assert_one_bad(result, "csv", text, "OBJECT_NAME", "carriage return", three[0])
    # CRLF line ends are still line ends, not bare carriage returns
    crlf = _encode("csv", three, None, "").replace("\n", "\r\n")
    assert parse_omm(crlf, "gp.csv").n_good == 3 and not parse_omm(crlf, "gp.csv").errors


def test_csv_bare_carriage_return_from_a_file(
    three: tuple[list[Satrec], pa.Table], tmp_path: Path
) -> None:
    """A file reads as its bytes (no newline translation), so the result equals the Python
    API's: one bad record, not a record split in two."""
    text = _encode("csv", three, "OBJECT_NAME", "OBJ\r4632")
    path = tmp_path / "gp.csv"
    path.write_bytes(text.encode())
    result = load_catalog(path)
    _assert_one_bad(result, "csv", text, "OBJECT_NAME", "carriage return", three[0])
    assert result.errors[0].source == str(path)


def test_csv_header_naming_a_column_twice_is_one_file_error(
    three: tuple[list[Satrec], pa.Table],
) -> None:
    text = _encode("csv", three, None, "")
    header, rest = text.split("\n", 1)
    result = parse_omm(header.replace("BSTAR", "NORAD_CAT_ID") + "\n" + rest, "gp.csv")
    assert result.n_good == 0 and len(result.errors) == 1
    assert result.errors[0].line == 1 and "NORAD_CAT_ID more than once" in result.errors[0].reason


def test_kvn_repeated_keyword_is_an_error_for_that_record(
    three: tuple[list[Satrec], pa.Table],
) -> None:
    """Last-wins would silently change the element set; the second line is reported."""
    text = _encode("kvn", three, None, "")
    lines = text.split("\n")
    first = _kvn_line(text, "MEAN_MOTION", 1)
    lines.insert(first, "MEAN_MOTION = 9.99")  # right after the first one
    result = parse_omm("\n".join(lines), "gp.kvn")
    assert len(result.errors) == 1
    err = result.errors[0]
    assert (err.line, err.field, err.norad_id) == (first + 1, "MEAN_MOTION", 4632)
    assert f"first on line {first}" in err.reason
    assert result.table.column("norad_id").to_pylist() == [5, 6251]


def test_json_and_xml_repeated_keyword(three: tuple[list[Satrec], pa.Table]) -> None:
    text = _encode("json", three, "MEAN_MOTION", '12.0, "mean_motion": 13.0')
    result = parse_omm(text, "gp.json")
    assert [(e.record, e.field) for e in result.errors] == [(1, "MEAN_MOTION")]
    assert result.table.column("norad_id").to_pylist() == [5, 6251]
    xml = _encode("xml", three, "INCLINATION", "11.4628</INCLINATION><INCLINATION>12.0")
    result = parse_omm(xml, "gp.xml")
    assert [(e.record, e.field) for e in result.errors] == [(1, "INCLINATION")]
    assert result.n_good == 2


def test_json_nested_100k_deep_is_one_record(three: tuple[list[Satrec], pa.Table]) -> None:
    depth = 100_000
    deep = '{"a": ' * depth + '"x"' + "}" * depth  # with a '}' inside a string to skip
    text = _encode("json", three, None, "")
    records = json.loads(text)
    body = ",\n".join(json.dumps(r) for r in records)
    first, second, third = body.split(",\n{")
    nested = f"[{first},\n{deep},\n{{{second},\n{{{third}]".replace('"x"', '"}x{"')
    result = parse_omm(nested, "gp.json")
    assert [(e.record, e.reason) for e in result.errors] == [(1, "record is nested too deeply")]
    assert result.table.column("norad_id").to_pylist() == [5, 4632, 6251]
    # a whole file that is one deep value: one file-level error, no exception
    result = parse_omm("[" * depth + "]" * depth, "deep.json")
    assert result.n_good == 0 and len(result.errors) == 1
    result = parse_omm('{"a":' * depth + "1" + "}" * depth, "deep.json")
    assert result.n_good == 0 and len(result.errors) == 1


@pytest.mark.parametrize("scalar", ["5", '"text"', "null", "true", "1e999"])
def test_top_level_json_scalar_with_format_omm_json(scalar: str) -> None:
    result = parse_catalog_text(scalar, "x.json", "omm-json")
    assert result.n_good == 0 and len(result.errors) == 1
    assert "not OMM records" in result.errors[0].reason


# --- item 3: byte-order marks ---------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_omm_with_a_byte_order_mark_is_detected_and_read(
    fmt: str, three: tuple[list[Satrec], pa.Table], tmp_path: Path
) -> None:
    path = tmp_path / f"gp.{fmt}"
    path.write_bytes(b"\xef\xbb\xbf" + _encode(fmt, three, None, "").encode())
    result = load_catalog(path)
    assert not result.errors and result.table.column("norad_id").to_pylist() == [5, 4632, 6251]
    assert parse_omm("\ufeff" + _encode(fmt, three, None, ""), f"gp.{fmt}").n_good == 3


# --- through the CLI -------------------------------------------------------------------------


def test_cli_catalog_load_stores_the_good_and_reports_the_bad_once(
    three: tuple[list[Satrec], pa.Table], tmp_path: Path, store_path: Path
) -> None:
    from starbrain.cli import app
    from starbrain.store.database import Store

    json_path = tmp_path / "gp.json"
    json_path.write_text(_encode("json", three, "EPHEMERIS_TYPE", "1000"))
    kvn_path = tmp_path / "gp.kvn"
    kvn_path.write_bytes(b"\xef\xbb\xbf" + _encode("kvn", three, "EPOCH", "3000-01-01").encode())
    out = CliRunner().invoke(app, ["catalog", "load", str(json_path), str(kvn_path)])
    assert out.exit_code == 0, out.output
    bad = [s for s in out.output.splitlines() if "bad record" in s]
    assert len(bad) == 2, out.output
    assert f"{json_path}: record 1: EPHEMERIS_TYPE: 1000 is outside [0, 9]" in bad[0]
    assert f"{kvn_path}:" in bad[1] and "EPOCH: '3000-01-01' is outside the years" in bad[1]
    assert "(NORAD 4632)" in bad[0] and "(NORAD 4632)" in bad[1]
    with Store(store_path, read_only=True) as store:
        assert store.count("elements") == 2  # 5 and 6251, once each (same epochs in both)


@pytest.mark.parametrize("key", ["NORAD_CAT_ID", "MEAN_MOTION", "OBJECT_ID"])
def test_json_integer_beyond_pythons_digit_limit(
    key: str, three: tuple[list[Satrec], pa.Table]
) -> None:
    """int() refuses over 4300 digits with a ValueError, which aborted the whole file."""
    text = _encode("json", three, key, "7" * 5000)
    result = parse_omm(text, "gp.json")
    if key == "OBJECT_ID":  # free text: the digits are kept as written
        assert not result.errors and result.table.column("object_id")[1].as_py() == "7" * 5000
        return
    _assert_one_bad(result, "json", text, key, "cannot read", three[0])
    assert len(str(result.errors[0])) < 200  # the value is shortened in the message


def test_xml_without_an_omm_element_is_one_file_error() -> None:
    result = parse_omm("<ndm>" + "<a>" * 100_000 + "</a>" * 100_000 + "</ndm>", "x.xml")
    assert result.n_good == 0
    assert [(e.line, e.reason) for e in result.errors] == [(1, "the XML holds no <omm> element")]


def test_detection_looks_past_long_leading_white_space(
    three: tuple[list[Satrec], pa.Table],
) -> None:
    text = "\ufeff" + "\n" * 10_000 + _encode("kvn", three, None, "")
    assert parse_catalog_text(text, "gp.kvn").n_good == 3


def test_cli_json_scalar_and_deep_json_are_clear_errors_not_tracebacks(
    tmp_path: Path, store_path: Path
) -> None:
    from starbrain.cli import app

    for name, text in (("scalar.json", "5"), ("deep.json", "[" * 100_000 + "]" * 100_000)):
        path = tmp_path / name
        path.write_text(text)
        out = CliRunner().invoke(app, ["catalog", "load", "--format", "omm-json", str(path)])
        # the one-sentence StarbrainError (``starbrain`` prints it without a traceback)
        assert isinstance(out.exception, StarbrainError), out.exception
        assert "no valid records were found" in str(out.exception)
        assert sum("bad record" in s for s in out.output.splitlines()) == 1, out.output


def test_cli_csv_with_a_long_field_and_a_bare_cr(
    three: tuple[list[Satrec], pa.Table], tmp_path: Path, store_path: Path
) -> None:
    from starbrain.cli import app
    from starbrain.store.database import Store

    text = _encode("csv", three, "OBJECT_NAME", "OBJ\r4632")
    lines = text.split("\n")
    lines.insert(2, "x" * 200_000 + lines[1].replace(",U,5,", ",U,7,"))
    path = tmp_path / "gp.csv"
    path.write_bytes("\n".join(lines).encode())
    out = CliRunner().invoke(app, ["catalog", "load", str(path)])
    assert out.exit_code == 0, out.output
    bad = [s for s in out.output.splitlines() if "bad record" in s]
    assert len(bad) == 2, out.output
    assert f"{path}:3: OBJECT_NAME: a field is longer than" in bad[0]
    assert f"{path}:4: OBJECT_NAME: a field holds a bare carriage return" in bad[1]
    with Store(store_path, read_only=True) as store:
        assert store.count("elements") == 2
