"""Post retrieval on held-out paraphrased queries: recall@10, lexical (BM25) vs embedding
(hashed n-grams, and all-MiniLM-L6-v2 with ``--minilm``) vs hybrid (reciprocal-rank fusion), in
one table.

Corpus: ``--days`` simulated days (``phrasing="heldout"`` templates, so no query below was used
to write a post; 8 events a day, chatter, spam decoys). For every event there are three queries
naming its subject in words no template uses (below); its relevant posts are that event's posts.
recall@10 = |relevant among the top 10| / min(10, |relevant|), averaged over queries, also per
event kind.

Run ``python bench/posts_retrieval.py [--days D] [--minilm]``.
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from dataclasses import replace

import numpy as np
import pyarrow as pa
import torch

from starbrain.models.text.embeddings import HashedNgramEmbedder
from starbrain.models.text.search import PostSearch
from starbrain.sources.posts import random_events, simulate_posts

QUERIES = {
    "launch_anomaly": [
        "{s} rocket motor failed during the climb",
        "{s} lost thrust after launch",
        "{s} launch went wrong",
    ],
    "conjunction": [
        "{s} nearly colliding with {o}",
        "{s} risk of a crash with {o}",
        "{o} might hit {s}",
    ],
    "outage": [
        "{s} internet not working in {p}",
        "{s} network failure {p}",
        "cannot get online with {s} in {p}",
    ],
    "reentry": [
        "{s} burning up in the sky over {p}",
        "{s} falling back to Earth near {p}",
        "{s} debris lighting up {p}",
    ],
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days", type=int, default=3)
    ap.add_argument("--minilm", action="store_true", help="also the MiniLM embedding")
    args = ap.parse_args()
    torch.set_num_threads(2)
    posts, labels, events = [], [], []
    for d in range(args.days):
        start = np.datetime64("2026-12-01T00:00:00") + np.timedelta64(d, "D")
        ev = random_events(np.random.default_rng(500 + d), start, n=8)
        ev = [replace(e, id=f"d{d}-{e.id}") for e in ev]
        sim = simulate_posts(ev, start, seed=500 + d, phrasing="heldout")
        posts.append(sim.posts)
        labels += sim.labels.column("event_id").to_pylist()
        events += ev
    table = pa.concat_tables(posts)
    rel: dict[str, set[int]] = defaultdict(set)
    for i, e in enumerate(labels):
        if e is not None:
            rel[e].add(i)
    embedders = [("hashed", HashedNgramEmbedder())]
    if args.minilm:
        from starbrain.models.text.embeddings import MiniLMEmbedder

        embedders.append(("minilm", MiniLMEmbedder()))
    results: dict[str, list[tuple[str, float]]] = defaultdict(list)
    for ename, emb in embedders:
        s = PostSearch(emb)
        s.add(table)
        modes = ["lexical", "embedding", "hybrid"] if ename == "hashed" else ["embedding", "hybrid"]
        for e in events:
            want = rel[e.id]
            for q in QUERIES[e.kind]:
                text = q.format(s=e.subject, o=e.other or "debris", p=e.place or "orbit")
                for mode in modes:
                    hits = {h.row for h in s.search_rows(text, 10, mode)}  # type: ignore[arg-type]
                    r = len(hits & want) / min(10, len(want))
                    label = "lexical (BM25)" if mode == "lexical" else f"{mode} ({ename})"
                    results[label].append((e.kind, r))
    n_q = len(next(iter(results.values())))
    print(f"{table.num_rows} posts, {len(events)} events, {n_q} held-out queries; recall@10")
    kinds = list(QUERIES)
    print(f"{'ranking':24s} {'all':>6s} " + " ".join(f"{k:>15s}" for k in kinds))
    for label, rs in results.items():
        per = [np.mean([r for k, r in rs if k == kind]) for kind in kinds]
        print(
            f"{label:24s} {np.mean([r for _, r in rs]):6.3f} " + " ".join(f"{p:15.3f}" for p in per)
        )


if __name__ == "__main__":
    main()
