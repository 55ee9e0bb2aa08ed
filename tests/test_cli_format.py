"""``--format table|csv|json`` on the table-printing commands, in process through Typer's runner.

Each command's csv and json parse (strict JSON: no NaN), carry the Arrow schema's field names, and
hold the values of the table's source (a reference file, python-sgp4, Skyfield, or the rows put in
the store); notes and summaries go to standard error so standard output parses cleanly.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from typer.testing import CliRunner

from starbrain.cli import app
from starbrain.store.database import Store

ISS = [
    "1 25544U 98067A   26328.50000000  .00016717  00000-0  30016-3 0  9994",
    "2 25544  51.6393 114.3422 0006944 101.2341 258.9436 15.50184391484337",
]


def invoke(*args: str, columns: int = 80) -> Any:
    """Run a command in process; stdout is not a terminal here (as in ``| cat``)."""
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": str(columns)})
    assert result.exit_code == 0, (args, result.output, result.exception)
    return result


def strict_json(text: str) -> list[dict[str, Any]]:
    def refuse(name: str) -> None:
        raise ValueError(f"not JSON: {name}")

    rows = json.loads(text, parse_constant=refuse)
    assert isinstance(rows, list)
    return rows


def both(*args: str) -> tuple[list[dict[str, Any]], list[dict[str, str]], Any]:
    """The json rows, the csv rows and the json run's result of one command."""
    js = invoke(*args, "--format", "json")
    cs = invoke(*args, "--format", "csv")
    rows = strict_json(js.stdout)
    table = list(csv.DictReader(io.StringIO(cs.stdout)))
    assert len(rows) == len(table)
    if rows:
        assert list(table[0]) == list(rows[0])
    return rows, table, js


# ---------------------------------------------------------------- catalog show, predict


@pytest.fixture
def vallado(store_path: Path, sgp4_ver_path: Path) -> Path:
    """A store holding Vallado's SGP4 verification element sets (from the sgp4 package)."""
    invoke("catalog", "load", str(sgp4_ver_path), "--no-checksum")
    return sgp4_ver_path


def test_catalog_show(vallado: Path) -> None:
    from starbrain.core.schemas.elements import ELEMENTS_SCHEMA

    rows, table, result = both("catalog", "show", "--norad", "5", "--norad", "4632")
    assert list(rows[0]) == ELEMENTS_SCHEMA.names
    assert [r["norad_id"] for r in rows] == [5, 4632]
    # NORAD 5's line 2 in the file: inclination 34.2682 deg, eccentricity 0.1859667
    line2 = next(s for s in vallado.read_text().splitlines() if s.startswith("2 00005"))
    assert rows[0]["inclination_deg"] == pytest.approx(float(line2[8:16]), abs=1e-12)
    assert float(table[0]["eccentricity"]) == pytest.approx(float("0." + line2[26:33]), abs=1e-12)
    assert rows[0]["epoch"].startswith("2000-06-27T18:50:19.7") and rows[0]["epoch"].endswith("Z")
    assert result.stderr == ""  # (the recent-loads summary only without --norad)
    listing = invoke("catalog", "show", "--limit", "3", "--format", "json")
    assert len(strict_json(listing.stdout)) == 3 and "recent loads:" in listing.stderr


def test_predict_with_sgp4_matches_python_sgp4(vallado: Path) -> None:
    """Every state, not the dozen the table samples: python-sgp4 on the file's lines to 1 mm."""
    from sgp4.api import Satrec

    rows, table, result = both("predict", "--norad", "5", "--model", "sgp4", "--hours", "6",
                               "--step-min", "30")  # fmt: skip
    assert "model used: SGP4 alone" in result.stderr
    fields = ["norad_id", "prior", "fell_back", "time", "minutes_since_epoch", "x_km", "y_km",
              "z_km", "vx_kmps", "vy_kmps", "vz_kmps"]  # fmt: skip
    assert len(rows) == 13 and list(rows[0]) == fields
    lines = vallado.read_text().splitlines()
    k = next(i for i, s in enumerate(lines) if s.startswith("1 00005"))
    sat = Satrec.twoline2rv(lines[k][:69], lines[k + 1][:69])
    for row, csv_row in zip(rows, table, strict=True):
        e, r, v = sat.sgp4_tsince(row["minutes_since_epoch"])
        assert e == 0
        np.testing.assert_allclose([row["x_km"], row["y_km"], row["z_km"]], r, atol=1e-6)
        np.testing.assert_allclose([float(csv_row[f"v{c}_kmps"]) for c in "xyz"], v, atol=1e-9)


# ---------------------------------------------------------------- passes


def test_passes_match_skyfield(tmp_path: Path, store_path: Path) -> None:
    from skyfield.api import EarthSatellite, load, wgs84

    from starbrain.planners.passes import PASSES_SCHEMA

    tle = tmp_path / "iss.tle"
    tle.write_text("\n".join(ISS) + "\n")
    invoke("catalog", "load", str(tle), "--no-checksum")
    rows, table, _ = both("passes", "--station", "Tokyo:35.68,139.77,40", "--from",
                          "2026-11-25T00:00", "--hours", "24", "--min-elevation", "10")  # fmt: skip
    assert list(rows[0]) == PASSES_SCHEMA.names
    ts = load.timescale(builtin=True)
    t, events = EarthSatellite(*ISS, ts=ts).find_events(
        wgs84.latlon(35.68, 139.77, 40), ts.utc(2026, 11, 25), ts.utc(2026, 11, 26), 10.0
    )
    rises = [ti.utc_datetime().timestamp() for ti, e in zip(t, events, strict=True) if e == 0]
    got = [np.datetime64(r["rise"].rstrip("Z"), "ns") for r in rows if r["rise"]]
    seconds = [(g - np.datetime64("1970-01-01", "ns")) / np.timedelta64(1, "s") for g in got]
    assert len(seconds) == len(rises) > 0
    assert np.abs(np.array(seconds) - np.array(rises)).max() < 1.0
    assert all(10.0 <= r["max_elevation_deg"] <= 90.0 for r in rows)
    assert {r["sunlit"] for r in table} <= {"true", "false"}
    assert all(r["rise"] == c["rise"] for r, c in zip(rows, table, strict=True))


# ---------------------------------------------------------------- rows put in the store


def test_conjunctions_show(store_path: Path) -> None:
    from starbrain.core.schemas.decisions import CONJUNCTIONS_SCHEMA

    tca = dt.datetime(2026, 11, 25, 3, 4, 5, 250_000, tzinfo=dt.UTC)
    screened = dt.datetime(2026, 11, 24, tzinfo=dt.UTC)
    given = [
        {"norad_id_1": 1, "norad_id_2": 2, "object_name_1": "A", "object_name_2": None,
         "tca": tca, "miss_distance_km": 0.125, "relative_speed_kmps": 14.5,
         "collision_probability": 3.5e-5, "screened_at": screened},
        {"norad_id_1": 3, "norad_id_2": 4, "object_name_1": "C", "object_name_2": "D",
         "tca": tca + dt.timedelta(hours=1), "miss_distance_km": 2.5,
         "relative_speed_kmps": 7.25, "collision_probability": float("nan"),
         "screened_at": screened},
    ]  # fmt: skip
    fill = {pa.float64(): 0.0, pa.timestamp("ns", tz="UTC"): screened, pa.string(): "x"}
    cols = {f.name: [r.get(f.name, fill.get(f.type)) for r in given] for f in CONJUNCTIONS_SCHEMA}
    with Store(store_path) as store:
        store.append("conjunctions", pa.table(cols, schema=CONJUNCTIONS_SCHEMA))
    rows, table, _ = both("conjunctions", "show", "--sort", "miss")
    assert list(rows[0]) == CONJUNCTIONS_SCHEMA.names
    assert [r["norad_id_1"] for r in rows] == [1, 3]
    assert rows[0]["tca"] == "2026-11-25T03:04:05.250Z" and rows[0]["miss_distance_km"] == 0.125
    assert rows[0]["collision_probability"] == 3.5e-5
    assert rows[1]["collision_probability"] is None and table[1]["collision_probability"] == ""
    assert rows[0]["object_name_2"] is None and rows[0]["epoch_1"] == "2026-11-24T00:00:00Z"
    one = invoke("conjunctions", "show", "--sort", "miss", "--limit", "1", "--format", "json")
    assert len(strict_json(one.stdout)) == 1 and "1 more rows" in one.stderr
    view = invoke("conjunctions", "show", columns=60).stdout
    assert "2026-11-25 03:04:05.250" in view and "2 conjunctions" in view.splitlines()[-1]


def test_model_list(store_path: Path) -> None:
    from starbrain.core.schemas.registry import MODELS_SCHEMA

    metrics = {"training": {"n_train": 40},
               "held_out": {"all": [{"horizon_min": 10080.0, "median_ratio": 0.375}]}}  # fmt: skip
    row = {"name": "orbit-a", "created": dt.datetime(2026, 12, 1, 10, tzinfo=dt.UTC),
           "kind": "orbit-sgp4-residual/1", "config_json": '{"hidden": 64}',
           "data_fingerprint": "ab" * 32, "data_json": "{}", "metrics_json": json.dumps(metrics),
           "device": "cpu", "weights": b"\x00"}  # fmt: skip
    with Store(store_path) as store:
        empty = invoke("model", "list", "--format", "json")
        assert strict_json(empty.stdout) == [] and "no models registered" in empty.stderr
        cols = {f.name: [row[f.name]] for f in MODELS_SCHEMA}
        store.append("models", pa.table(cols, schema=MODELS_SCHEMA), source="test")
    rows, table, _ = both("model", "list")
    assert set(rows[0]) == set(MODELS_SCHEMA.names) - {"weights"} | {"n_train", "median_ratio_7d"}
    assert rows[0]["name"] == "orbit-a" and rows[0]["created"] == "2026-12-01T10:00:00Z"
    assert rows[0]["median_ratio_7d"] == 0.375 and table[0]["n_train"] == "40"
    assert json.loads(rows[0]["metrics_json"]) == metrics
    assert rows[0]["data_fingerprint"] == "ab" * 32  # in full (the table shows 12 characters)


# ---------------------------------------------------------------- mars windows


def test_mars_windows(tmp_path: Path) -> None:
    from starbrain.planners.transfers import windows_table

    rows, table, result = both("mars", "windows", "--from", "2028", "--to", "2028")
    source = windows_table(2028, 2028)
    assert [r["type"] for r in rows] == [1, 2]
    assert list(rows[0]) == list(source[0])
    for got, want, cell in zip(rows, source, table, strict=True):
        assert got["launch"] == want["launch"] + "Z" and got["arrival"] == want["arrival"] + "Z"
        assert (
            got["c3_km2_s2"] == want["c3_km2_s2"]
            and float(cell["dv_total_kms"]) == want["dv_total_kms"]
        )
    assert "Ballistic zero-revolution" in result.stderr


def test_mars_windows_piped_shows_full_dates() -> None:
    """Off a terminal (``starbrain mars windows | cat``) the table is never squeezed: 80 columns
    used to print the dates as ``2028-…``."""
    from starbrain.planners.transfers import windows_table

    out = invoke("mars", "windows", "--from", "2028", "--to", "2028", columns=80).stdout
    assert "…" not in out
    for r in windows_table(2028, 2028):
        (line,) = [s for s in out.splitlines() if r["launch"][:16] in s]
        assert r["arrival"][:16] in line and f"{r['c3_km2_s2']:.2f}" in line


# ---------------------------------------------------------------- contacts, ephemeris, route


def test_contacts_plan(tmp_path: Path, store_path: Path) -> None:
    from starbrain.planners.contacts import CONTACTS_SCHEMA
    from starbrain.sources.generators.constellation import WalkerShell, generate

    with Store(store_path) as store:
        shell = WalkerShell(550.0, 70.0, 2, 3, phasing=1)
        store.append("elements", generate([shell], epoch="2024-07-05"), source="test")
    args = ["contacts", "plan", "--station", "Svalbard", "--hours", "6", "--method", "greedy",
            "--from", "2024-07-05T12:00", "--demand-mbit", "20000", "--limit", "1000"]  # fmt: skip
    written = tmp_path / "plan.csv"
    rows, _, result = both(*args, "-o", str(written))
    assert list(rows[0]) == CONTACTS_SCHEMA.names
    assert "greedy" in result.stderr and "wrote" in result.stderr
    with written.open() as f:
        source = list(csv.DictReader(f))  # the plan as --output writes it (method column first)
    assert len(source) == len(rows) > 0
    for got, want in zip(rows, source, strict=True):
        assert got["norad_id"] == int(want["norad_id"]) and got["station"] == want["station"]
        assert got["data_mbit"] == pytest.approx(float(want["data_mbit"]), rel=1e-12)
        start = np.datetime64(want["start"].replace(" ", "T").rstrip("Z"), "ns")
        assert got["start"].endswith("Z") and np.datetime64(got["start"][:-1], "ns") == start
    assert sum(r["data_mbit"] for r in rows) <= 6 * 20_000 + 1e-6


def test_ephemeris_show(store_path: Path) -> None:
    from starbrain.sources.ephemerides.oem import EPHEMERIS_SCHEMA
    from tests.sources.test_sp3 import SP3D

    invoke("ephemeris", "load", str(SP3D))
    rows, _, _ = both("ephemeris", "show", "--object", "G01")
    assert list(rows[0]) == EPHEMERIS_SCHEMA.names and len(rows) == 1
    # SP3-d example 1, G01 at the first epoch: velocity x 20298.880364 dm/s
    assert rows[0]["vx"] == pytest.approx(2.0298880364, abs=1e-12)
    assert rows[0]["time"].endswith("Z")
    summary, _, _ = both("ephemeris", "show")
    (g01,) = [r for r in summary if r["object_id"] == "G01"]
    assert g01["n_states"] == 1 and g01["n_velocities"] == 1
    assert g01["first_time"] == rows[0]["time"] and g01["last_time"] == rows[-1]["time"]


def test_route_snapshots(tmp_path: Path) -> None:
    written = tmp_path / "route.csv"
    args = ["route", "--from", "Manila", "--to", "Dalian", "--hours", "0.001", "--shell", "1",
            "--start", "2026-01-01T00:00:00", "--output", str(written)]  # fmt: skip
    rows, table, result = both(*args)
    assert "Manila -> Dalian" in result.stderr and "RTT min / median / max" in result.stderr
    assert list(rows[0]) == ["time", "rtt_ms", "length_km", "hops", "path_changed",
                             "first_norad_id", "last_norad_id"]  # fmt: skip
    with written.open() as f:
        source = list(csv.DictReader(f))
    assert len(rows) == len(source) == 36
    assert rows[0]["time"] == "2026-01-01T00:00:00.000Z" and rows[1]["time"].endswith(":00.100Z")
    for got, want in zip(rows, source, strict=True):
        if want["rtt_ms"]:
            assert got["rtt_ms"] == pytest.approx(float(want["rtt_ms"]), rel=1e-12)
        else:
            assert got["rtt_ms"] is None
    assert all(math.isfinite(float(c["length_km"])) for c in table if c["length_km"])


def test_a_summary_off_a_terminal_is_one_line_however_long_the_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sgp4_ver_text: str
) -> None:
    """A load's summary names its file; off a terminal it was wrapped at 80 columns, so a CI
    checkout under a longer path split "0 bad" from the rest (and broke grep for users)."""
    monkeypatch.setenv("STARBRAIN_DB", str(tmp_path / "s.duckdb"))
    deep = tmp_path / ("a-folder-name-long-enough-to-pass-eighty-columns-" * 2) / "iss.tle"
    deep.parent.mkdir(parents=True)
    deep.write_text(sgp4_ver_text)
    out = invoke("catalog", "load", str(deep)).stdout
    line = next(x for x in out.splitlines() if "iss.tle" in x)
    assert len(line) > 100 and " valid" in line and " bad" in line, out
