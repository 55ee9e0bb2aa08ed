"""Catalogue ingest: a 100k-record 3LE file parsed, validated and stored, against python-sgp4.

Peer: python-sgp4's bare ``Satrec.twoline2rv`` loop over the same lines (parsing plus SGP4
initialisation in its C++ core, no validation, no storage). Ours is measured twice: parse and
validate only, and the whole load into a fresh DuckDB file. Prints medians of several repeats and
the ratios; run with ``make bench`` or ``python bench/ingest.py [--records N] [--repeats R]``.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from sgp4.api import WGS72, Satrec

from _timing import median_time
from starbrain.sources.catalogs.catalog import load_catalog
from starbrain.sources.catalogs.tle import format_tle
from starbrain.sources.generators.constellation import WalkerShell, generate
from starbrain.store.database import Store


def make_file(path: Path, n_records: int) -> None:
    """A realistic 3LE file: Walker shells at many altitudes and inclinations."""
    shells = []
    k = 0
    while sum(s.size for s in shells) < n_records:
        shells.append(
            WalkerShell(400.0 + 7.0 * (k % 200), 30.0 + (k * 7) % 120, 40, 50, name=f"B{k}")
        )
        k += 1
    table = generate(shells, epoch="2026-01-01T06:00:00", first_norad=100_001).slice(0, n_records)
    path.write_text("\n".join(format_tle(table, names=True)) + "\n")


def peer_parse(path: Path) -> int:
    lines = path.read_text().splitlines()
    n = 0
    for k in range(0, len(lines), 3):
        Satrec.twoline2rv(lines[k + 1], lines[k + 2], WGS72)
        n += 1
    return n


def ours_parse(path: Path) -> int:
    result = load_catalog(path)
    assert not result.errors
    return result.n_good


def ours_load(path: Path, db: Path) -> int:
    result = load_catalog(path)
    with Store(db) as store:
        added = store.append("elements", result.table, source=str(path))
    assert added.n_new == result.n_good
    return added.n_new


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "catalog.3le"
        make_file(path, args.records)
        n = args.records
        counter = iter(range(10**6))
        t_peer = median_time(lambda: peer_parse(path), args.repeats)[0]
        t_parse = median_time(lambda: ours_parse(path), args.repeats)[0]
        t_load = median_time(
            lambda: ours_load(path, Path(tmp) / f"s{next(counter)}.duckdb"), args.repeats
        )[0]
        t_reload = median_time(lambda: ours_load_again(path, Path(tmp) / "s0.duckdb"), 3)[0]
    print(f"ingest of a {n:,}-record 3LE file, median of {args.repeats} runs")
    print(f"{'what':58s} {'seconds':>8s} {'records/s':>12s} {'vs peer':>8s}")
    rows = [
        ("python-sgp4 Satrec.twoline2rv loop (parse + init, peer)", t_peer),
        ("starbrain parse + validate (load_catalog)", t_parse),
        ("starbrain parse + validate + store in a new DuckDB file", t_load),
        ("starbrain reload of the same file (all duplicates)", t_reload),
    ]
    for name, t in rows:
        print(f"{name:58s} {t:8.3f} {n / t:12,.0f} {t_peer / t:7.2f}x")


def ours_load_again(path: Path, db: Path) -> int:
    result = load_catalog(path)
    with Store(db) as store:
        added = store.append("elements", result.table, source=str(path))
    assert added.n_new == 0
    return added.n_rows


if __name__ == "__main__":
    main()
