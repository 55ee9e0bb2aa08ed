"""OMM readers and writers, checked against python-sgp4's OMM exporter, reader and initialiser."""

from __future__ import annotations

import csv
import io
import json
import math

import pyarrow as pa
import pyarrow.compute
import pytest
from sgp4 import exporter, omm
from sgp4.api import WGS72, Satrec

from starbrain.sources.catalogs.omm import parse_omm, write_omm
from starbrain.sources.catalogs.tle import parse_tle

COMPARED = (
    "norad_id",
    "epoch",
    "mean_motion_rev_per_day",
    "eccentricity",
    "inclination_deg",
    "ra_of_asc_node_deg",
    "arg_of_pericenter_deg",
    "mean_anomaly_deg",
    "bstar_per_earth_radius",
    "mean_motion_dot_rev_per_day2",
    "mean_motion_ddot_rev_per_day3",
    "rev_at_epoch",
    "element_set_no",
)

BLANK_ID = (11801, 88888)


@pytest.fixture(scope="module")
def tle_table(sgp4_ver_text: str) -> pa.Table:
    """The verification records, less 11801 and 88888 whose blank designators python-sgp4's
    OMM exporter and initialiser cannot handle."""
    table = parse_tle(sgp4_ver_text, "SGP4-VER.TLE").table
    keep = pa.compute.invert(pa.compute.is_in(table.column("norad_id"), pa.array(BLANK_ID)))
    return table.filter(keep)


@pytest.fixture(scope="module")
def celestrak_json(sgp4_ver_text: str) -> str:
    """OMM JSON as python-sgp4's exporter writes it (CelesTrak's field layout)."""
    lines = [s[:69] for s in sgp4_ver_text.splitlines() if s[:2] in ("1 ", "2 ")]
    records = []
    for k in range(0, len(lines), 2):
        sat = Satrec.twoline2rv(lines[k], lines[k + 1], WGS72)
        if sat.satnum in BLANK_ID:
            continue
        records.append(exporter.export_omm(sat, f"OBJ {sat.satnum}"))
    return json.dumps(records)


def _close(a: pa.Table, b: pa.Table, column: str) -> None:
    x, y = a.column(column).to_pylist(), b.column(column).to_pylist()
    if column == "epoch":
        # python-sgp4's exporter writes EPOCH truncated to whole microseconds (2.27 truncates
        # where earlier releases rounded), so the two can differ by up to 1 us
        assert all(abs((p - q).total_seconds()) < 1.001e-6 for p, q in zip(x, y, strict=True))
    else:
        assert x == pytest.approx(y, rel=1e-9, abs=1e-15), column


def test_reads_python_sgp4_exported_omm_json(celestrak_json: str, tle_table: pa.Table) -> None:
    result = parse_omm(celestrak_json, "gp.json")
    assert not result.errors
    by_id = {n: i for i, n in enumerate(result.table.column("norad_id").to_pylist())}
    table = result.table.take([by_id[n] for n in tle_table.column("norad_id").to_pylist()])
    for column in COMPARED:
        _close(table, tle_table, column)


@pytest.mark.parametrize("fmt", ["json", "csv", "kvn", "xml"])
def test_round_trip_every_format(fmt: str, tle_table: pa.Table) -> None:
    text = write_omm(tle_table, fmt)
    result = parse_omm(text, f"x.{fmt}")
    assert not result.errors and result.n_good == tle_table.num_rows
    for column in COMPARED:
        _close(result.table, tle_table, column)


@pytest.mark.parametrize("fmt", ["csv", "xml"])
def test_python_sgp4_reads_our_omm(fmt: str, tle_table: pa.Table) -> None:
    """Our CSV and XML go through python-sgp4's own OMM reader and initialiser unchanged."""
    text = write_omm(tle_table, fmt)
    reader = omm.parse_csv if fmt == "csv" else omm.parse_xml
    records = list(reader(io.StringIO(text)))
    assert len(records) == tle_table.num_rows
    for k, fields in enumerate(records):
        sat = Satrec()
        omm.initialize(sat, fields)
        assert sat.satnum == tle_table.column("norad_id")[k].as_py()
        inc = tle_table.column("inclination_deg")[k].as_py()
        assert sat.inclo == pytest.approx(math.radians(inc), rel=1e-12)
        assert sat.bstar == pytest.approx(tle_table.column("bstar_per_earth_radius")[k].as_py())


def test_bad_records_are_reported_by_field_and_the_rest_kept(celestrak_json: str) -> None:
    records = json.loads(celestrak_json)
    records[2]["ECCENTRICITY"] = 1.5
    records[5]["MEAN_MOTION"] = "fast"
    del records[7]["EPOCH"]
    records[9]["INCLINATION"] = None
    result = parse_omm(json.dumps(records), "gp.json")
    assert [(e.record, e.field) for e in result.errors] == [
        (2, "ECCENTRICITY"),
        (5, "MEAN_MOTION"),
        (7, "EPOCH"),
        (9, "INCLINATION"),
    ]
    assert result.n_good == len(records) - 4
    assert "gp.json: record 5: MEAN_MOTION: cannot read 'fast'" in str(result.errors[1])


def test_csv_errors_name_the_line(tle_table: pa.Table) -> None:
    rows = list(csv.reader(io.StringIO(write_omm(tle_table, "csv"))))
    header = rows[0]
    rows[3][header.index("EPOCH")] = "2006-13-45T00:00:00"
    rows[6] = rows[6][:5]
    text = "\n".join(",".join(r) for r in rows) + "\n"
    result = parse_omm(text, "gp.csv")
    assert [(e.line, e.field) for e in result.errors] == [(7, None), (4, "EPOCH")]
    assert result.n_good == tle_table.num_rows - 2


def test_kvn_errors_name_the_keyword_line(tle_table: pa.Table) -> None:
    text = write_omm(tle_table.slice(0, 2), "kvn")
    lines = text.splitlines()
    k = next(i for i, s in enumerate(lines) if s.startswith("RA_OF_ASC_NODE"))
    lines[k] = "RA_OF_ASC_NODE = 400.0 [deg]"
    result = parse_omm("\n".join(lines), "x.kvn")
    assert [(e.line, e.field) for e in result.errors] == [(k + 1, "RA_OF_ASC_NODE")]
    assert result.n_good == 1


def test_garbage_is_one_clear_error() -> None:
    result = parse_omm("[{not json", "x.json")
    assert result.n_good == 0 and "not valid JSON" in str(result.errors[0])
