"""Post search: lexical (BM25), embedding (cosine) and hybrid (reciprocal-rank fusion) ranking.

:class:`PostSearch` indexes ``posts`` tables (``sources.posts.POSTS_SCHEMA``): BM25 over the
texts and an :class:`~starbrain.models.text.index.VectorIndex` over their embeddings. Modes:

* ``lexical``: BM25 scores (documents sharing no term with the query are never returned);
* ``embedding``: cosine similarity of the query's embedding;
* ``hybrid`` (default): reciprocal-rank fusion of the two top-``depth`` lists,
  ``score = sum 1 / (rrf_k + rank)`` with ``rrf_k = 60`` (Cormack, Clarke and Buettcher, SIGIR
  2009), so neither scale dominates.

``since``/``until`` (UTC) restrict the candidates to a time window before ranking.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from starbrain.core import timeconv
from starbrain.core.errors import StarbrainError
from starbrain.core.schemas.posts import SEARCH_SCHEMA as SEARCH_SCHEMA
from starbrain.models.text.embeddings import Embedder, HashedNgramEmbedder
from starbrain.models.text.index import ANN_THRESHOLD, VectorIndex
from starbrain.models.text.lexical import BM25Index

__all__ = ["SEARCH_SCHEMA", "Hit", "PostSearch", "SearchMode"]

SearchMode = Literal["lexical", "embedding", "hybrid"]
RRF_K = 60


@dataclass(frozen=True, slots=True)
class Hit:
    row: int
    score: float


class PostSearch:
    """BM25 + embedding index over posts. ``embedder``: default :class:`HashedNgramEmbedder`."""

    def __init__(self, embedder: Embedder | None = None, ann_threshold: int = ANN_THRESHOLD):
        self.embedder = embedder if embedder is not None else HashedNgramEmbedder()
        self.index = VectorIndex(self.embedder.dim, ann_threshold=ann_threshold)
        self.bm25 = BM25Index()
        self._tables: list[pa.Table] = []
        self._posts: pa.Table | None = None
        self._times = np.zeros(0, "datetime64[ns]")
        self._bm25_n = -1

    @property
    def n(self) -> int:
        return self.index.n

    def add(self, posts: pa.Table) -> None:
        """Index more posts (embedding now; BM25 is rebuilt on the next lexical query)."""
        if posts.num_rows == 0:
            return
        texts = posts.column("text").to_pylist()
        self.index.add(self.embedder.encode(texts))
        self._tables.append(posts.select(["id", "time", "author", "lang", "text"]))
        self._posts = None

    @property
    def posts(self) -> pa.Table:
        if self._posts is None:
            self._posts = pa.concat_tables(self._tables).combine_chunks()
            self._times = self._posts.column("time").to_numpy().astype("datetime64[ns]")
        return self._posts

    def _mask(self, since: Any, until: Any) -> npt.NDArray[np.bool_] | None:
        if since is None and until is None:
            return None
        _ = self.posts
        m = np.ones(self.n, bool)
        if since is not None:
            m &= self._times >= timeconv.to_instant(since, "since")
        if until is not None:
            m &= self._times < timeconv.to_instant(until, "until")
        return m

    def _lexical(self, query: str, k: int, mask: npt.NDArray[np.bool_] | None) -> list[Hit]:
        if self._bm25_n != self.n:
            self.bm25.fit(self.posts.column("text").to_pylist())
            self._bm25_n = self.n
        s = self.bm25.scores(query)
        if mask is not None:
            s = np.where(mask, s, 0.0)
        hit = np.flatnonzero(s > 0)
        top = hit[np.lexsort((hit, -s[hit]))][:k]
        return [Hit(int(i), float(s[i])) for i in top]

    def _embedding(self, query: str, k: int, mask: npt.NDArray[np.bool_] | None) -> list[Hit]:
        rows, scores = self.index.search(self.embedder.encode([query]), k, mask)
        return [Hit(int(r), float(s)) for r, s in zip(rows[0], scores[0], strict=True)]

    def search_rows(
        self,
        query: str,
        k: int = 10,
        mode: SearchMode = "hybrid",
        since: Any = None,
        until: Any = None,
        depth: int = 100,
    ) -> list[Hit]:
        """The best ``k`` rows for ``query`` (see the module docstring), best first."""
        if not query.strip():
            raise StarbrainError("the search query is empty")
        if self.n == 0 or k <= 0:
            return []
        mask = self._mask(since, until)
        if mode == "lexical":
            return self._lexical(query, k, mask)
        if mode == "embedding":
            return self._embedding(query, k, mask)
        if mode != "hybrid":
            raise StarbrainError(
                f"unknown search mode {mode!r}; choose lexical, embedding or hybrid"
            )
        fused: dict[int, float] = {}
        for hits in (self._lexical(query, depth, mask), self._embedding(query, depth, mask)):
            for rank, h in enumerate(hits, start=1):
                fused[h.row] = fused.get(h.row, 0.0) + 1.0 / (RRF_K + rank)
        best = sorted(fused.items(), key=lambda kv: (-kv[1], kv[0]))[:k]
        return [Hit(r, s) for r, s in best]

    def search(
        self,
        query: str,
        k: int = 10,
        mode: SearchMode = "hybrid",
        since: Any = None,
        until: Any = None,
    ) -> pa.Table:
        """:meth:`search_rows` as a table in :data:`SEARCH_SCHEMA`."""
        hits = self.search_rows(query, k, mode, since, until)
        if not hits:
            return SEARCH_SCHEMA.empty_table()
        sub = self.posts.take(pa.array([h.row for h in hits], pa.int64()))
        return pa.table(
            {
                "rank": pa.array(range(1, len(hits) + 1), pa.int32()),
                "id": sub.column("id"),
                "time": sub.column("time"),
                "author": sub.column("author"),
                "lang": sub.column("lang"),
                "score": [h.score for h in hits],
                "text": sub.column("text"),
            },
            schema=SEARCH_SCHEMA,
        )
