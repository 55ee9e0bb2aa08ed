"""Post ingest throughput: parse JSON Lines, store (keyed on id), embed and index, per stage and
end to end, on ``--threads`` CPU threads (default 2), median of ``--repeats`` runs.

The posts are simulated days (``sources.posts.simulate_posts``, 30 % Japanese) written to one
JSON Lines file. Stages: ``parse`` (``read_posts``: decode, validate every field), ``store``
(``Store.append`` into a fresh DuckDB file, de-duplicated by id), ``embed`` (the hashed
character n-gram tier, 512 dimensions) and ``index`` (``VectorIndex.add`` plus one exact top-10
query, torch). With ``--minilm N`` it also times all-MiniLM-L6-v2 (the ``posts`` extra) on the
first N post texts at batch sizes 64 and 256: the semantic tier, for comparison.

Run ``python bench/posts_throughput.py [--days D] [--repeats R] [--threads T] [--minilm N]``.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import torch

from _timing import median_time
from starbrain.models.text.embeddings import HashedNgramEmbedder
from starbrain.models.text.index import VectorIndex
from starbrain.sources.posts import random_events, read_posts, simulate_posts
from starbrain.store.database import Store


def make_file(path: Path, days: int) -> int:
    parts = []
    for d in range(days):
        start = np.datetime64("2026-12-01T00:00:00") + np.timedelta64(d, "D")
        ev = random_events(np.random.default_rng(d), start, n=8)
        parts.append(simulate_posts(ev, start, seed=d, chatter_per_hour=400.0))
    n = 0
    with path.open("w", encoding="utf-8") as f:
        for i, sim in enumerate(parts):
            stem = path.with_name(f"part{i}.jsonl")
            sim.write(stem)
            text = stem.read_text(encoding="utf-8")
            f.write(text)
            n += text.count("\n")
    return n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days", type=int, default=4)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--minilm", type=int, default=0, help="time MiniLM on this many posts")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "posts.jsonl"
        n = make_file(path, args.days)
        emb = HashedNgramEmbedder()
        t_parse, res = median_time(lambda: read_posts(path), args.repeats, warmup=True)
        assert not res.errors and res.n_good == n
        table: pa.Table = res.table
        k = [0]

        def store() -> None:
            k[0] += 1
            with Store(Path(tmp) / f"s{k[0]}.duckdb") as s:
                s.append("posts", table, source=str(path))

        t_store, _ = median_time(store, args.repeats)
        texts = table.column("text").to_pylist()
        t_embed, vecs = median_time(lambda: emb.encode(texts), args.repeats, warmup=True)

        def index() -> None:
            idx = VectorIndex(emb.dim)
            idx.add(vecs)
            idx.search(vecs[:1], 10)

        t_index, _ = median_time(index, args.repeats, warmup=True)
        total = t_parse + t_store + t_embed + t_index
        print(f"{n} posts, {args.threads} threads, median of {args.repeats}")
        for name, t in (
            ("parse", t_parse),
            ("store", t_store),
            ("embed (hashed)", t_embed),
            ("index", t_index),
            ("end to end", total),
        ):
            print(f"  {name:16s} {t:8.3f} s  {n / t:10.0f} posts/s")
        if args.minilm:
            from starbrain.models.text.embeddings import MiniLMEmbedder

            sub = texts[: args.minilm]
            for bs in (64, 256):
                m = MiniLMEmbedder(batch_size=bs)
                t, _ = median_time(
                    lambda m=m: m.encode(sub), max(1, args.repeats // 2), warmup=True
                )
                print(
                    f"  MiniLM bs={bs:<4d}   {t:8.3f} s  {len(sub) / t:10.0f} posts/s "
                    f"({len(sub)} posts)"
                )


if __name__ == "__main__":
    main()
