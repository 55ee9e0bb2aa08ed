"""Idempotent file replay into a real store: the file ledger, per-packet de-duplication of a
recording (an interrupted replay resumed, a recording that grew), and different recordings that
share APIDs, sequence counts and packet times both kept."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from starbrain.sources.telemetry.packets import PacketSet, load_example_definitions
from starbrain.sources.transport.replay import replay
from starbrain.store.database import Store
from starbrain.store.telemetry import RECORDING_PREFIX_BYTES, FileReplaySink
from tests.sources.telemetry_helpers import generate, round_robin

N = 1500  # packets per APID: 6000 packets, about 280 kB, past the 64 KiB recording prefix


@pytest.fixture(scope="module")
def defs() -> PacketSet:
    return load_example_definitions()


@pytest.fixture(scope="module")
def stream(defs: PacketSet) -> bytes:
    data = b"".join(round_robin(generate(defs, N, seed=11)))
    assert len(data) > 2 * RECORDING_PREFIX_BYTES
    return data


def _timed_rows(store: Store) -> tuple[int, int]:
    """(rows, distinct (apid, parameter, time, seq)) of the timed APIDs (not EVENT, 0x103)."""
    t = store.query(
        "SELECT count(*) AS n, count(DISTINCT (apid, parameter, time, seq)) AS d "
        "FROM telemetry WHERE apid <> 259"
    )
    return t["n"][0].as_py(), t["d"][0].as_py()


def _replay(store: Store, path: Path, defs: PacketSet, **kw) -> FileReplaySink:
    sink = FileReplaySink(store, path, defs, **kw)
    assert sink.previous is None
    sink.finish(replay(path, defs, sink=sink))
    return sink


def test_interrupted_replay_resumes_without_duplicates(
    defs: PacketSet, stream: bytes, tmp_path: Path
):
    path = tmp_path / "rec.bin"
    path.write_bytes(stream)
    timed = sum(len(p.parameters) for p in defs.packets if p.secondary_header) * N
    with Store(tmp_path / "s.duckdb") as store:
        sink = FileReplaySink(store, path, defs, flush_rows=20_000)

        def crash_after_first_commit(batch: pa.RecordBatch) -> None:
            sink(batch)
            if sink.stored:
                raise KeyboardInterrupt

        with pytest.raises(KeyboardInterrupt):
            replay(path, defs, sink=crash_after_first_commit)
        first = sink.stored
        assert 0 < first < timed
        assert store.query("SELECT count(*) AS n FROM telemetry_files")["n"][0].as_py() == 0

        again = _replay(store, path, defs, flush_rows=20_000)
        assert again.packets_already_stored > 0
        rows, distinct = _timed_rows(store)
        assert rows == distinct == timed  # every timed value once
        assert FileReplaySink(store, path, defs).previous is not None  # now in the ledger


def test_grown_recording_stores_only_the_new_packets(
    defs: PacketSet, stream: bytes, tmp_path: Path
):
    cut = stream[: len(stream) * 3 // 5]
    part, whole = tmp_path / "part.bin", tmp_path / "whole.bin"
    part.write_bytes(cut)
    whole.write_bytes(stream)
    with Store(tmp_path / "s.duckdb") as store:
        first = _replay(store, part, defs)
        second = _replay(store, whole, defs)
        assert second.digest.recording == first.digest.recording  # same first 64 KiB
        assert second.digest.sha256 != first.digest.sha256
        assert second.packets_already_stored == first.packets_seen - first_untimed(store, cut)
        rows, distinct = _timed_rows(store)
        timed = sum(len(p.parameters) for p in defs.packets if p.secondary_header) * N
        assert rows == distinct == timed


def first_untimed(store: Store, data: bytes) -> int:
    """EVENT packets (no packet time) in ``data``: they carry their receive time, so a
    replay stores them again (the documented limit of per-packet de-duplication)."""
    from starbrain.sources.telemetry.ccsds import decode

    return decode(data, load_example_definitions()).stats.by_apid.get(0x103, 0)


def test_other_recordings_with_the_same_keys_are_kept(defs: PacketSet, tmp_path: Path):
    """Two flights with the same APIDs, sequence counts and packet times but other values (as
    every simulated flight has) are two recordings: both stored."""
    a, b = tmp_path / "a.bin", tmp_path / "b.bin"
    a.write_bytes(b"".join(round_robin(generate(defs, 50, seed=1))))
    b.write_bytes(b"".join(round_robin(generate(defs, 50, seed=2))))
    with Store(tmp_path / "s.duckdb") as store:
        sa, sb = _replay(store, a, defs), _replay(store, b, defs)
        assert sa.stored == sb.stored == 50 * defs.n_parameters
        assert store.count("telemetry") == 2 * 50 * defs.n_parameters


def test_execute_atomic_is_all_or_nothing(tmp_path: Path):
    with Store(tmp_path / "s.duckdb") as store:
        store.execute("CREATE TABLE t (x BIGINT)")
        rows = pa.table({"x": [1, 2, 3]})
        with pytest.raises(Exception, match="nope"):
            store.execute_atomic(
                [("INSERT INTO t SELECT * FROM _r", []), ("SELECT error('nope')", [])],
                {"_r": rows},
            )
        assert store.query("SELECT count(*) AS n FROM t")["n"][0].as_py() == 0
        assert store.execute_atomic([("INSERT INTO t SELECT * FROM _r", [])], {"_r": rows}) == [3]
