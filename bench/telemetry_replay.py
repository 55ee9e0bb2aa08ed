"""File replay into the store: what the idempotent path (file ledger + per-packet de-duplication,
``store.telemetry.FileReplaySink``) costs against plain appends of the same rows.

The stream of ``telemetry_decode.make_stream`` (example launcher, 4 APIDs) is written to a file
and replayed into a fresh DuckDB store file, median of several repeats, each way:

* plain: ``replay`` with every batch appended by ``Store.append`` (what ``telemetry replay`` did
  before the ledger: a second replay stored everything again);
* first replay: ``FileReplaySink`` on a store that has never seen the recording (content hash,
  ledger lookup, values and packet keys in one transaction per flush);
* resumed: the same file replayed again with its ledger row deleted, so every flush anti-joins
  its packet keys against the recording's stored ones (nothing timed is stored again; EVENT
  packets have no packet time, so they are, and the line says how many values);
* again: the normal second replay, answered by the ledger without decoding.

Run ``python bench/telemetry_replay.py [--packets N] [--repeats R]``.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import pyarrow as pa

from _timing import median_time
from starbrain.sources.telemetry.packets import load_example_definitions
from starbrain.sources.transport.replay import replay
from starbrain.store.database import Store
from starbrain.store.telemetry import FileReplaySink
from telemetry_decode import make_stream


def plain(path: Path, db: Path) -> int:
    defs = load_example_definitions()
    with Store(db) as store:
        pending: list[pa.RecordBatch] = []
        stored = 0

        def sink(batch: pa.RecordBatch) -> None:
            nonlocal stored
            pending.append(batch)
            if sum(b.num_rows for b in pending) >= 500_000:
                stored += store.append("telemetry", pa.Table.from_batches(pending)).n_new
                pending.clear()

        replay(path, defs, sink=sink)
        if pending:
            stored += store.append("telemetry", pa.Table.from_batches(pending)).n_new
    return stored


def idempotent(path: Path, db: Path, forget_ledger: bool = False) -> int:
    defs = load_example_definitions()
    with Store(db) as store:
        if forget_ledger:
            store.execute("DELETE FROM telemetry_files")
        sink = FileReplaySink(store, path, defs)
        if sink.previous is not None:
            return 0
        sink.finish(replay(path, defs, sink=sink))
        return sink.stored


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--packets", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    defs = load_example_definitions()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        path = folder / "rec.bin"
        path.write_bytes(make_stream(defs, args.packets))
        size = path.stat().st_size
        n = [0]

        def fresh() -> Path:
            n[0] += 1
            return folder / f"s{n[0]}.duckdb"

        r = args.repeats
        t_plain, n_plain = median_time(lambda: plain(path, fresh()), r, warmup=True)
        t_first, n_first = median_time(lambda: idempotent(path, fresh()), r)
        assert n_first == n_plain, (n_first, n_plain)
        db = fresh()
        idempotent(path, db)
        t_resumed, n_resumed = median_time(lambda: idempotent(path, db, True), r)
        t_again, n_again = median_time(lambda: idempotent(path, db), r)
        untimed = sum(len(p.parameters) for p in defs.packets if not p.secondary_header)
        assert n_resumed == untimed * (args.packets // len(defs)) and n_again == 0

    print(
        f"file replay into a DuckDB store: {args.packets:,} packets ({n_plain:,} values, "
        f"{size / 1e6:.1f} MB), median of {r} runs"
    )
    print(f"{'what':58s} {'seconds':>8s} {'values/s':>11s} {'vs plain':>9s}")
    for name, t in (
        ("plain Store.append (stores again on every replay)", t_plain),
        ("idempotent, first replay (ledger + packet keys)", t_first),
        (f"idempotent, resumed (every packet checked, {n_resumed:,} untimed)", t_resumed),
        ("idempotent, again (ledger hit, not decoded)", t_again),
    ):
        print(f"{name:58s} {t:8.3f} {n_plain / t:11,.0f} {t_plain / t:8.2f}x")


if __name__ == "__main__":
    main()
