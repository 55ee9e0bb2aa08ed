"""The store's honesty (issue #12 items 7 and 10): a row with a stored key but other values is
a conflict (counted, named, the first kept; ``on_conflict="replace"`` overwrites), identical
re-loads stay duplicates; writes joined in one transaction are all-or-nothing; a store locked
by another process gives a bounded wait and then a clear busy error."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from starbrain.core.errors import StarbrainError
from starbrain.sources.catalogs.tle import parse_tle
from starbrain.sources.generators.constellation import WalkerShell, generate
from starbrain.store.database import Store, StoreBusyError
from tests.store.locks import lock_held

ISS = """ISS (ZARYA)
1 25544U 98067A   08264.51782528 -.00002182  00000-0 -11606-4 0  2927
2 25544  51.6416 247.4627 0006703 130.5360 325.0288 15.72125391563537
"""


def _with(table: pa.Table, column: str, values: object) -> pa.Table:
    i = table.schema.get_field_index(column)
    return table.set_column(i, table.schema.field(i), pa.array(values, table.schema.field(i).type))


def _shell() -> pa.Table:
    return generate([WalkerShell(550.0, 53.0, 2, 3)], epoch="2026-01-01")  # 6 objects


def test_same_key_other_values_is_a_conflict_and_the_stored_row_is_kept(store_path: Path) -> None:
    base = _shell()
    moved = _with(base, "mean_anomaly_deg", np.full(base.num_rows, 10.0))
    moved = moved.slice(0, 2)  # two objects re-issued at the same epoch with other values
    with Store(store_path) as store:
        store.append("elements", base, source="a.tle")
        r = store.append("elements", moved, source="b.tle")
        assert (r.n_rows, r.n_new, r.n_duplicate, r.n_conflict, r.n_replaced) == (2, 0, 0, 2, 0)
        ids = base.column("norad_id").to_pylist()[:2]
        assert [c["norad_id"] for c in r.conflicts] == ids
        assert {str(c["epoch"])[:10] for c in r.conflicts} == {"2026-01-01"}
        kept = store.read("elements").column("mean_anomaly_deg").to_numpy()
        np.testing.assert_array_equal(kept, base.column("mean_anomaly_deg").to_numpy())


def test_identical_reload_from_another_file_is_a_duplicate_not_a_conflict(
    store_path: Path,
) -> None:
    one = parse_tle(ISS, source="first.tle").table
    two = parse_tle(ISS, source="copy/second.tle").table  # provenance differs, values do not
    with Store(store_path) as store:
        assert store.append("elements", one).n_new == 1
        r = store.append("elements", two)
        assert (r.n_new, r.n_duplicate, r.n_conflict, r.conflicts) == (0, 1, 0, ())


def test_replace_overwrites_the_stored_row(store_path: Path) -> None:
    base = _shell()
    moved = _with(base, "mean_anomaly_deg", np.full(base.num_rows, 10.0)).slice(0, 2)
    extra = generate(
        [WalkerShell(600.0, 70.0, 1, 1, phasing=0)], epoch="2026-01-01", first_norad=90_000
    )
    with Store(store_path) as store:
        store.append("elements", base)
        offered = pa.concat_tables([moved, base.slice(2, 1), extra])  # 2 changed, 1 same, 1 new
        r = store.append("elements", offered, on_conflict="replace")
        assert (r.n_new, r.n_duplicate, r.n_conflict, r.n_replaced) == (1, 1, 2, 2)
        assert store.count("elements") == base.num_rows + 1
        m = store.read("elements", where="norad_id > 100000").column("mean_anomaly_deg")
        np.testing.assert_array_equal(m.to_numpy()[:2], [10.0, 10.0])
        np.testing.assert_array_equal(m.to_numpy()[2:], base.column("mean_anomaly_deg")[2:])
        assert [row["n_new"] for row in store.loads().to_pylist()] == []  # no source: no log
        with pytest.raises(StarbrainError, match="on_conflict"):
            store.append("elements", base, on_conflict="overwrite")  # type: ignore[arg-type]


def test_inside_one_batch_the_first_row_in_input_order_wins(store_path: Path) -> None:
    one = _shell().slice(0, 1)
    n = 500  # enough copies that an arbitrary pick (DISTINCT ON) would rarely be the first
    rows = pa.concat_tables([one] * n)
    rows = _with(rows, "mean_anomaly_deg", np.arange(n, dtype=float))
    rows = pa.concat_tables([rows, one.slice(0, 1).cast(rows.schema)])  # plus an exact copy
    rows = _with(rows, "mean_anomaly_deg", [*np.arange(n, dtype=float), 0.0])
    with Store(store_path) as store:
        r = store.append("elements", rows)
        assert (r.n_new, r.n_duplicate, r.n_conflict, len(r.conflicts)) == (1, 1, n - 1, 1)
        assert store.read("elements").column("mean_anomaly_deg").to_pylist() == [0.0]
    with Store(store_path.with_name("replace.duckdb")) as store:
        r = store.append("elements", rows, on_conflict="replace")
        assert (r.n_new, r.n_duplicate, r.n_conflict, r.n_replaced) == (1, 1, n - 1, 0)
        # "replace": rows applied in input order, so the last one stands
        assert store.read("elements").column("mean_anomaly_deg").to_pylist() == [0.0]
        last = rows.slice(0, n)
        store.append("elements", last, on_conflict="replace")
        assert store.read("elements").column("mean_anomaly_deg").to_pylist() == [n - 1.0]


def test_ephemeris_conflicts_compare_states_not_names(store_path: Path) -> None:
    from starbrain.sources.ephemerides.oem import EPHEMERIS_SCHEMA

    t = np.datetime64("2026-01-01T00:00:00", "ns") + np.arange(3) * np.timedelta64(60, "s")
    cols = {
        "object_id": ["1998-067A"] * 3, "object_name": ["ISS"] * 3,
        "time": pa.array(t, pa.timestamp("ns", "UTC")),
        "x": [7000.0, 7001.0, 7002.0], "y": [0.0] * 3, "z": [0.0] * 3,
        "vx": [0.0] * 3, "vy": [7.5] * 3, "vz": [None] * 3,
        "frame": ["GCRF"] * 3, "center": ["EARTH"] * 3, "source": ["iss.oem"] * 3,
    }  # fmt: skip
    states = pa.table(cols, schema=EPHEMERIS_SCHEMA)
    renamed = _with(states, "object_name", ["ZARYA"] * 3)
    shifted = _with(states, "x", [7000.0, 7001.5, 7002.0])
    with Store(store_path) as store:
        assert store.append("ephemeris", states).n_new == 3
        r = store.append("ephemeris", renamed)
        assert (r.n_duplicate, r.n_conflict) == (3, 0)
        r = store.append("ephemeris", shifted)
        assert (r.n_duplicate, r.n_conflict) == (2, 1)
        assert str(r.conflicts[0]["time"])[:19].replace(" ", "T") == "2026-01-01T00:01:00"


def test_transaction_is_all_or_nothing(store_path: Path) -> None:
    base = _shell()
    with Store(store_path) as store:
        store.execute("CREATE TABLE notes (k VARCHAR PRIMARY KEY)")
        with pytest.raises(RuntimeError, match="killed"):
            with store.transaction():
                store.append("elements", base, source="a.tle")
                store.insert_arrow("notes", pa.table({"k": ["x"]}))
                store.execute("INSERT INTO notes VALUES (?)", ["y"])
                assert store.count("elements") == base.num_rows  # reads see the writes
                raise RuntimeError("killed between the writes")
        assert store.count("elements") == 0
        assert store.query("SELECT count(*) AS n FROM notes").column("n")[0].as_py() == 0
        assert store.loads().num_rows == 0
        with store.transaction():
            with store.transaction():  # nested: joins the outer one
                store.append("elements", base)
            store.execute("INSERT INTO notes VALUES (?)", ["z"])
        assert store.count("elements") == base.num_rows
        assert store.query("SELECT k FROM notes").column("k").to_pylist() == ["z"]


def test_a_read_only_open_waits_briefly_then_says_the_store_is_busy(store_path: Path) -> None:
    Store(store_path).close()
    with lock_held(store_path):
        t0 = time.perf_counter()
        with pytest.raises(StoreBusyError, match=r"is busy.*PID \d+.*waited 0\.5 s"):
            Store(store_path, read_only=True, busy_timeout_s=0.5)
        waited = time.perf_counter() - t0
    assert 0.5 <= waited < 2.0  # bounded: the timeout plus at most one back-off step
    # a writer that lets go within the wait: the open succeeds
    with lock_held(store_path, seconds=0.3):
        with Store(store_path, read_only=True, busy_timeout_s=5.0) as store:
            assert store.count("elements") == 0
    # readers coexist with readers
    with lock_held(store_path, read_only=True):
        with Store(store_path, read_only=True, busy_timeout_s=0.0) as store:
            assert store.count("elements") == 0
        with pytest.raises(StoreBusyError):
            Store(store_path, busy_timeout_s=0.2)  # but not with a writer


def test_read_only_on_a_new_file_and_beside_this_process_writer(tmp_path: Path) -> None:
    path = tmp_path / "new" / "store.duckdb"
    with Store(path, read_only=True) as store:  # created empty, then opened read-only
        assert store.count("elements") == 0
        with pytest.raises(Exception, match=r"(?i)read.only"):
            store.append("elements", _shell())
    with Store(path) as writer:
        writer.append("elements", _shell())
        with Store(path, read_only=True) as reader:  # same process: shares the writer's database
            assert reader.count("elements") == 6
