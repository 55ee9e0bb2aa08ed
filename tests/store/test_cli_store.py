"""The CLI over the store's honesty (issue #12 items 7 and 10): ``catalog load`` and
``ephemeris load`` report conflicts (same key, other values) by name and keep the stored row
unless ``--replace``; commands that only read open the store read-only, so they run beside
another reader, and say the store is busy (after a short bounded wait) beside a writer."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from typer.testing import CliRunner

from starbrain.cli import app
from starbrain.sources.catalogs.tle import format_tle, parse_tle
from starbrain.store import database
from starbrain.store.database import Store
from tests.store.locks import lock_held
from tests.store.test_conflicts import ISS


def cli(*args: str) -> tuple[int, str, str]:
    """Exit code, stdout, stderr (with a StarbrainError's sentence, as `main` would print it)."""
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "250"})
    err = result.stderr + (f"\n{result.exception}" if result.exception else "")
    return result.exit_code, result.stdout, err


def _moved_iss(tmp_path: Path) -> Path:
    table = parse_tle(ISS).table
    i = table.schema.get_field_index("mean_anomaly_deg")
    table = table.set_column(i, table.schema.field(i), pa.array([300.0]))
    for name in ("tle_line1", "tle_line2"):  # format the lines afresh from the values
        i = table.schema.get_field_index(name)
        table = table.set_column(i, table.schema.field(i), pa.array([None], pa.string()))
    path = tmp_path / "iss-moved.tle"
    path.write_text("\n".join(format_tle(table)) + "\n")
    return path


def test_catalog_load_reports_conflicts_and_replace_overwrites(
    tmp_path: Path, store_path: Path
) -> None:
    first = tmp_path / "iss.tle"
    first.write_text(ISS)
    assert cli("catalog", "load", str(first))[0] == 0
    code, out, _ = cli("catalog", "load", str(first))  # the same file again: a duplicate
    assert code == 0 and "0 new, 1 duplicate, 0 bad" in out and "conflict" not in out

    moved = _moved_iss(tmp_path)
    code, out, err = cli("catalog", "load", str(moved))
    assert code == 0 and "0 new, 0 duplicate, 1 conflicting, 0 bad" in out, out
    assert "conflict" in err and "norad_id 25544" in err and "epoch 2008-09-20T12:25:40" in err
    with Store(store_path, read_only=True) as store:
        kept = store.read("elements").column("mean_anomaly_deg").to_pylist()
    assert kept == [pytest.approx(325.0288, abs=1e-9)]  # the stored set kept

    code, out, err = cli("catalog", "load", str(moved), "--replace")
    assert code == 0 and "1 conflicting" in out and "1 stored element sets overwritten" in err
    with Store(store_path, read_only=True) as store:
        assert store.read("elements").column("mean_anomaly_deg").to_pylist() == [
            pytest.approx(300.0, abs=1e-9)
        ]
        assert store.count("elements") == 1


def test_ephemeris_load_replace(tmp_path: Path, store_path: Path) -> None:
    states = """CCSDS_OEM_VERS = 2.0
CREATION_DATE = 2026-01-01T00:00:00
ORIGINATOR = TEST
META_START
OBJECT_NAME = SAT
OBJECT_ID = 2026-001A
CENTER_NAME = EARTH
REF_FRAME = GCRF
TIME_SYSTEM = UTC
START_TIME = 2026-01-01T00:00:00
STOP_TIME = 2026-01-01T00:02:00
META_STOP
2026-01-01T00:00:00 7000.0 0.0 0.0 0.0 7.5 0.0
2026-01-01T00:01:00 6999.0 450.0 0.0 -0.1 7.5 0.0
2026-01-01T00:02:00 6998.0 900.0 0.0 -0.2 7.5 0.0
"""
    path = tmp_path / "sat.oem"
    path.write_text(states)
    assert cli("ephemeris", "load", str(path))[0] == 0
    path.write_text(states.replace("6999.0 450.0", "6999.5 450.0"))  # one state revised
    code, out, err = cli("ephemeris", "load", str(path))
    assert code == 0 and "2 duplicate, 1 conflicting" in out, out
    assert "time 2026-01-01T00:01:00Z" in err
    code, out, err = cli("ephemeris", "load", str(path), "--replace")
    assert code == 0 and "1 stored states overwritten" in err
    with Store(store_path, read_only=True) as store:
        x = store.read("ephemeris").column("x").to_numpy()
    np.testing.assert_allclose(x, [7000.0, 6999.5, 6998.0], rtol=0, atol=1e-9)


def test_read_only_commands_run_beside_a_reader_and_say_busy_beside_a_writer(
    tmp_path: Path, store_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = tmp_path / "iss.tle"
    first.write_text(ISS)
    assert cli("catalog", "load", str(first))[0] == 0
    monkeypatch.setattr(database, "BUSY_TIMEOUT_S", 0.3)
    with lock_held(store_path, read_only=True):  # another process reading
        code, out, err = cli("catalog", "show")
        assert code == 0, err  # a read-write open would have been refused here
        assert cli("catalog", "export", "--format", "tle")[0] == 0
        code, out, err = cli("ephemeris", "show")
        assert "no ephemerides stored" in out + err and "busy" not in out + err
        code, out, err = cli("catalog", "load", str(first))  # a writer waits, then gives up
        assert code != 0 and "is busy" in out + err
    with lock_held(store_path):  # another process writing
        t0 = time.perf_counter()
        code, out, err = cli("catalog", "show")
        took = time.perf_counter() - t0
        assert code != 0 and "is busy" in out + err and "try again" in out + err
        assert 0.3 <= took < 3.0
