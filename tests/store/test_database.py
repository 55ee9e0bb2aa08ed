"""The DuckDB store: idempotent appends, current/history queries, atomic batches, Parquet export."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from starbrain.core.errors import StarbrainError
from starbrain.core.schemas.elements import ELEMENTS_SCHEMA
from starbrain.sources.catalogs.tle import parse_tle
from starbrain.sources.generators.constellation import WalkerShell, generate
from starbrain.store.database import Store


def _shift_epoch(table: pa.Table, days: float) -> pa.Table:
    epoch = table.column("epoch").to_numpy() + np.timedelta64(int(days * 86400e9), "ns")
    return table.set_column(
        table.schema.get_field_index("epoch"), "epoch", pa.array(epoch, pa.timestamp("ns", "UTC"))
    )


def test_loading_twice_adds_nothing(store_path: Path, sgp4_ver_text: str) -> None:
    table = parse_tle(sgp4_ver_text, check_checksums=False).table  # 20413 appears twice
    with Store(store_path) as store:
        first = store.append("elements", table, source="a")
        second = store.append("elements", table, source="a")
        assert (first.n_rows, first.n_new) == (33, 32)
        assert (second.n_new, second.n_duplicate) == (0, 33)
        assert store.count("elements") == 32
        assert [r["n_new"] for r in store.loads().to_pylist()] == [0, 32]


def test_rows_come_back_unchanged(store_path: Path, sgp4_ver_text: str) -> None:
    table = parse_tle(sgp4_ver_text).table
    table = table.slice(0, table.num_rows - 1)  # the file lists 20413 twice, last
    with Store(store_path) as store:
        store.append("elements", table)
        back = store.read("elements")
    assert back.schema == ELEMENTS_SCHEMA
    order = pc.sort_indices(table, [("norad_id", "ascending"), ("epoch", "ascending")])
    assert back.equals(table.take(order))


def test_current_is_the_newest_epoch_per_object(store_path: Path) -> None:
    base = generate([WalkerShell(550.0, 53.0, 3, 4)], epoch="2026-01-01")
    newer = _shift_epoch(base, 1.5)
    newer = newer.set_column(
        newer.schema.get_field_index("mean_anomaly_deg"),
        "mean_anomaly_deg",
        pa.array(np.full(newer.num_rows, 123.0)),
    )
    with Store(store_path) as store:
        store.append("elements", newer.slice(0, 5))  # only some objects get a newer set
        store.append("elements", base)
        current = store.current_elements()
        assert current.num_rows == 12 and store.count("elements") == 17
        anomalies = dict(
            zip(
                current.column("norad_id").to_pylist(),
                current.column("mean_anomaly_deg").to_pylist(),
                strict=True,
            )
        )
        first = base.column("norad_id").to_pylist()
        assert all(anomalies[n] == 123.0 for n in first[:5])
        assert all(anomalies[n] != 123.0 for n in first[5:])
        history = store.element_history(first[0])
        assert history.num_rows == 2
        assert history.column("epoch").to_pylist() == sorted(history.column("epoch").to_pylist())
        assert store.current_elements([first[0], 999]).num_rows == 1


def test_a_reader_never_sees_a_half_written_batch(store_path: Path) -> None:
    shell = WalkerShell(550.0, 53.0, 20, 25)  # 500 rows per batch
    batches = [_shift_epoch(generate([shell], epoch="2026-01-01"), k) for k in range(12)]
    seen: list[int] = []
    done = threading.Event()
    with Store(store_path) as store:

        def reader() -> None:
            while not done.is_set():
                seen.append(store.count("elements"))

        thread = threading.Thread(target=reader)
        thread.start()
        for batch in batches:
            store.append("elements", batch)
        done.set()
        thread.join()
        assert store.count("elements") == 6000
    assert seen and all(n % 500 == 0 for n in seen)


def test_a_failed_batch_leaves_nothing(store_path: Path) -> None:
    table = generate([WalkerShell(550.0, 53.0, 2, 2)], epoch="2026-01-01")
    bad = table.set_column(
        table.schema.get_field_index("mean_motion_rev_per_day"),
        "mean_motion_rev_per_day",
        pa.array([1.0, None, 1.0, 1.0], pa.float64()),
    )
    with Store(store_path) as store:
        with pytest.raises(Exception):  # noqa: B017  (NOT NULL violation, any type)
            store.append("elements", bad)
        assert store.count("elements") == 0
        with pytest.raises(StarbrainError, match="missing columns"):
            store.append("elements", table.drop_columns(["epoch"]))
        with pytest.raises(StarbrainError, match="no stream named"):
            store.append("telemetry-x", table)


def test_parquet_export_keeps_the_schema(store_path: Path, tmp_path: Path) -> None:
    base = generate([WalkerShell(550.0, 53.0, 3, 4)], epoch="2026-01-01")
    with Store(store_path) as store:
        store.append("elements", base)
        store.append("elements", _shift_epoch(base, 1))
        assert store.export_parquet("elements", tmp_path / "all.parquet") == 24
        assert store.export_parquet("elements", tmp_path / "cur.parquet", current=True) == 12
        current = store.current_elements()
    back = pq.read_table(tmp_path / "cur.parquet")
    assert back.schema.field("epoch").type == pa.timestamp("ns", tz="UTC")
    assert back.equals(current)


def test_store_persists_and_a_second_writer_gets_a_clear_error(store_path: Path) -> None:
    import subprocess
    import sys

    table = generate([WalkerShell(550.0, 53.0, 2, 2)], epoch="2026-01-01")
    with Store(store_path) as store:
        store.append("elements", table)
        code = f"from starbrain.store.database import Store\nStore({str(store_path)!r})\n"
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        assert proc.returncode != 0 and "cannot open the store" in proc.stderr
    with Store(store_path, read_only=True) as again:
        assert again.count("elements") == 4


def test_telemetry_stream_is_append_only_and_round_trips(store_path: Path) -> None:
    from starbrain.sources.telemetry.ccsds import decode, encode_packets, interleave
    from starbrain.sources.telemetry.packets import load_example_definitions

    defs = load_example_definitions()
    packet = next(iter(defs))
    n = 50
    times = np.datetime64("2026-01-01T00:00:00", "ns") + np.arange(n) * np.timedelta64(10, "ms")
    raw = {p.name: np.zeros(n) for p in packet.parameters}
    stream = interleave([encode_packets(packet, np.arange(n), times=times, raw=raw)])
    table = decode(bytes(stream), defs).table
    assert table.num_rows == n * len(packet.parameters)
    with Store(store_path) as store:
        assert store.append("telemetry", table).n_new == table.num_rows
        assert store.append("telemetry", table).n_new == table.num_rows  # append-only
        back = store.read("telemetry", limit=5)
    assert back.schema.field("parameter").type == table.schema.field("parameter").type


def test_plain_tables_outside_the_streams(store_path: Path) -> None:
    """execute / insert_arrow serve tables a layer owns (the loop's checkpoint): rows round-trip
    through a reopened file, and a bad statement raises instead of writing half."""
    with Store(store_path) as db:
        db.execute("CREATE TABLE notes (k VARCHAR PRIMARY KEY, v DOUBLE)")
        db.execute("INSERT INTO notes VALUES (?, ?)", ["a", 1.5])
        n = db.insert_arrow("notes", pa.table({"k": ["b", "c"], "v": [2.0, 3.0]}))
        assert n == 2
        with pytest.raises(Exception, match=r"(?i)constraint|duplicate"):
            db.insert_arrow("notes", pa.table({"k": ["d", "a"], "v": [4.0, 5.0]}))
    with Store(store_path) as db:
        t = db.query("SELECT k, v FROM notes ORDER BY k")
    assert t.column("k").to_pylist() == ["a", "b", "c"]
    assert t.column("v").to_pylist() == [1.5, 2.0, 3.0]
