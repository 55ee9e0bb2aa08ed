"""Okapi BM25 over posts, vectorised on a sparse document-term matrix.

Terms are NFKC-lower-cased word tokens (``\\w+``; hashtags keep their ``#``) plus, for runs of
CJK characters (Japanese has no spaces), their character bigrams. A document's score for a
query is ``sum_t idf(t) * tf * (k1 + 1) / (tf + k1 * (1 - b + b * len / avg_len))`` over the
query's distinct terms, with ``idf(t) = ln(1 + (N - df + 0.5) / (df + 0.5))`` (the Lucene form,
never negative). ``k1 = 1.2``, ``b = 0.75`` by default. The weighted matrix is built once per
:meth:`BM25Index.fit`, so a query is one sparse column slice and a row sum.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from starbrain.models.text.embeddings import normalise

__all__ = ["BM25Index", "terms"]

_WORD = re.compile(r"#?\w+")
_CJK_CHARS = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uff66-\uff9f"
_CJK = re.compile(f"[{_CJK_CHARS}]+")
_PIECES = re.compile(f"[{_CJK_CHARS}]+|[^{_CJK_CHARS}]+")


def terms(text: str) -> list[str]:
    """The BM25 terms of a text (see the module docstring)."""
    t = normalise(text)
    out = []
    for w in _WORD.findall(t):
        if not _CJK.search(w):
            out.append(w)
            continue
        for piece in _PIECES.findall(w):  # CJK runs and the Latin/digit runs between them
            if _CJK.match(piece):
                out += [piece[i : i + 2] for i in range(len(piece) - 1)] or [piece]
            else:
                out.append(piece)
    return out


class BM25Index:
    """BM25 scores of ``n_docs`` texts for a query (see the module docstring)."""

    def __init__(self, k1: float = 1.2, b: float = 0.75) -> None:
        self.k1, self.b = float(k1), float(b)
        self.vocab: dict[str, int] = {}
        self._w: sp.csc_matrix = sp.csc_matrix((0, 0))
        self.n_docs = 0

    def fit(self, texts: Sequence[str]) -> BM25Index:
        """Index ``texts`` (replacing any earlier ones)."""
        from sklearn.feature_extraction.text import CountVectorizer

        vec = CountVectorizer(analyzer=terms, dtype=np.float32)
        tf = sp.csr_matrix(vec.fit_transform(list(texts)) if len(texts) else sp.csr_matrix((0, 0)))
        self.vocab = {str(k): int(v) for k, v in getattr(vec, "vocabulary_", {}).items()}
        self.n_docs = tf.shape[0]
        if self.n_docs == 0:
            self._w = sp.csc_matrix((0, 0))
            return self
        dl = np.asarray(tf.sum(axis=1)).ravel()
        avg = float(dl.mean()) or 1.0
        df = np.bincount(tf.indices, minlength=tf.shape[1]).astype(np.float64)
        idf = np.log1p((self.n_docs - df + 0.5) / (df + 0.5))
        denom = tf.copy()
        row_norm = self.k1 * (1.0 - self.b + self.b * dl / avg)
        denom.data = denom.data + np.repeat(row_norm, np.diff(tf.indptr)).astype(np.float32)
        w = tf.copy()
        w.data = (tf.data * (self.k1 + 1.0) / denom.data * idf[tf.indices]).astype(np.float32)
        self._w = w.tocsc()
        return self

    def scores(self, query: str) -> npt.NDArray[np.float32]:
        """BM25 score of every indexed text for ``query``: shape ``(n_docs,)``, 0 where none of
        its terms occur."""
        cols = sorted({self.vocab[t] for t in terms(query) if t in self.vocab})
        if not cols or self.n_docs == 0:
            return np.zeros(self.n_docs, np.float32)
        return np.asarray(self._w[:, cols].sum(axis=1), dtype=np.float32).ravel()
