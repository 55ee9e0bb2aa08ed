"""Post retrieval on held-out paraphrased queries: recall@10, lexical (BM25) vs embedding
(hashed n-grams, and all-MiniLM-L6-v2 with ``--minilm``) vs hybrid (reciprocal-rank fusion), in
one table.

Corpus: ``--days`` simulated days (``phrasing="heldout"`` templates, so no query below was used
to write a post; 8 events a day, chatter, spam decoys). For every event there are three queries
naming its subject in words no template uses (below); its relevant posts are that event's posts.
recall@10 = |relevant among the top 10| / min(10, |relevant|), averaged over queries, also per
event kind.

A second, name-free query set (``NO_NAME_QUERIES``: paraphrases only, no vehicle, satellite or
place, none a template's words) asks what kind of thing happened; with no name to tell one event
from another, its relevant posts are those of every event of that kind in the corpus (so
recall@10 is the share of the top 10 that are posts about an event of the asked kind). Both sets
print in one table.

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

NO_NAME_QUERIES = {
    "launch_anomaly": [
        "rocket motor failed during the climb",
        "the booster lost thrust after leaving the pad",
        "something went badly wrong on the way to orbit",
        "flight terminated early, vehicle did not make it",
        "ascent failure, engines quit",
    ],
    "conjunction": [
        "two spacecraft nearly colliding",
        "risk of a crash between objects in orbit",
        "satellite must manoeuvre to avoid space junk",
        "orbital debris on a collision course",
        "dangerously close pass between satellites",
    ],
    "outage": [
        "satellite internet not working",
        "cannot get online, the connection keeps dropping",
        "broadband service failure, no signal",
        "huge lag and packet loss on my satellite link",
        "network down across the region",
    ],
    "reentry": [
        "something burning up as it falls from the sky",
        "space junk falling back to Earth",
        "glowing fragments streaking overhead",
        "a spacecraft disintegrating as it comes down",
        "object returning from orbit lit up the night",
    ],
}


def _label(mode: str, ename: str) -> str:
    return "lexical (BM25)" if mode == "lexical" else f"{mode} ({ename})"


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
    free: dict[str, list[tuple[str, float]]] = defaultdict(list)
    by_kind = {k: set().union(*[rel[e.id] for e in events if e.kind == k]) for k in QUERIES}
    for ename, emb in embedders:
        s = PostSearch(emb)
        s.add(table)
        modes = ["lexical", "embedding", "hybrid"] if ename == "hashed" else ["embedding", "hybrid"]
        for e in events:
            for q in QUERIES[e.kind]:
                text = q.format(s=e.subject, o=e.other or "debris", p=e.place or "orbit")
                for mode in modes:
                    results[_label(mode, ename)].append((e.kind, _recall(s, text, mode, rel[e.id])))
        for kind, queries in NO_NAME_QUERIES.items():
            for text in queries:
                for mode in modes:
                    free[_label(mode, ename)].append((kind, _recall(s, text, mode, by_kind[kind])))
    n_q = len(next(iter(results.values())))
    n_free = len(next(iter(free.values())))
    print(
        f"{table.num_rows} posts, {len(events)} events; recall@10 on {n_q} held-out queries "
        f"naming the event, {n_free} name-free paraphrases"
    )
    kinds = list(QUERIES)
    print(f"{'ranking':24s} {'set':>9s} {'all':>6s} " + " ".join(f"{k:>15s}" for k in kinds))
    for name, res in (("named", results), ("no names", free)):
        for label, rs in res.items():
            per = [np.mean([r for k, r in rs if k == kind]) for kind in kinds]
            mean = np.mean([r for _, r in rs])
            print(f"{label:24s} {name:>9s} {mean:6.3f} " + " ".join(f"{p:15.3f}" for p in per))


def _recall(search: PostSearch, text: str, mode: str, want: set[int]) -> float:
    """recall@10 of one query: relevant rows among the top 10 / min(10, |relevant|)."""
    hits = {h.row for h in search.search_rows(text, 10, mode)}  # type: ignore[arg-type]
    return len(hits & want) / min(10, len(want))


if __name__ == "__main__":
    main()
