"""Nearest neighbours of unit vectors: exact cosine on torch, an HNSW index past a threshold.

:class:`VectorIndex` keeps every added vector (``float32``, unit rows, shape ``(n, dim)``). Below
``ann_threshold`` rows (default one million) :meth:`search` is exact: one matrix product on torch
(CPU, or CUDA when asked) and ``topk``. From ``ann_threshold`` rows on it builds, once, an HNSW
graph (hnswlib, Apache-2.0; inner-product space, which on unit vectors is cosine) and extends it
as rows are added; ``ef_search`` trades recall for speed. Ties in the exact path go to the lower
row. Scores are cosine similarities in [-1, 1].
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import torch

from starbrain.core.errors import StarbrainError

__all__ = ["ANN_THRESHOLD", "VectorIndex"]

ANN_THRESHOLD = 1_000_000


class VectorIndex:
    """Cosine top-k over unit vectors (see the module docstring)."""

    def __init__(
        self,
        dim: int,
        ann_threshold: int = ANN_THRESHOLD,
        device: str = "cpu",
        ef_search: int = 128,
        m: int = 16,
    ) -> None:
        self.dim = int(dim)
        self.ann_threshold = int(ann_threshold)
        self.device = torch.device(device)
        self.ef_search, self.m = int(ef_search), int(m)
        self._chunks: list[npt.NDArray[np.float32]] = []
        self._mat: torch.Tensor | None = None
        self._ann: Any = None
        self._n_ann = 0
        self.n = 0

    @property
    def uses_ann(self) -> bool:
        return self.n >= self.ann_threshold

    def add(self, vectors: npt.NDArray[np.float32]) -> None:
        """Append rows ``(k, dim)`` (row ``i`` of the index is the ``i``-th row ever added)."""
        v = np.ascontiguousarray(vectors, dtype=np.float32)
        if v.ndim != 2 or v.shape[1] != self.dim:
            raise StarbrainError(f"vectors must have shape (n, {self.dim}), not {v.shape}")
        self._chunks.append(v)
        self.n += v.shape[0]
        self._mat = None

    def _matrix(self) -> torch.Tensor:
        if self._mat is None:
            full = np.concatenate(self._chunks) if self._chunks else np.zeros((0, self.dim))
            self._chunks = [np.asarray(full, np.float32)]
            self._mat = torch.from_numpy(self._chunks[0]).to(self.device)
        return self._mat

    def _ensure_ann(self) -> Any:
        try:
            import hnswlib
        except ImportError as exc:
            raise StarbrainError(
                f"{self.n} vectors is past the exact-search threshold ({self.ann_threshold}): "
                "the HNSW index needs hnswlib (pip install 'starbrain[posts]')"
            ) from exc

        full = self._matrix().cpu().numpy()
        if self._ann is None:
            self._ann = hnswlib.Index(space="ip", dim=self.dim)
            self._ann.init_index(max_elements=max(self.n, 1024), ef_construction=200, M=self.m)
        if self._n_ann < self.n:
            if self._ann.get_max_elements() < self.n:
                self._ann.resize_index(max(self.n, 2 * self._ann.get_max_elements()))
            self._ann.add_items(full[self._n_ann :], np.arange(self._n_ann, self.n))
            self._n_ann = self.n
        self._ann.set_ef(max(self.ef_search, 1))
        return self._ann

    def search(
        self,
        queries: npt.NDArray[np.float32],
        k: int = 10,
        mask: npt.NDArray[np.bool_] | None = None,
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
        """``(rows, scores)``, each ``(n_queries, k')`` with ``k' = min(k, rows allowed)``, best
        first. ``mask`` (``(n,)`` bool) restricts the candidates (a time window): exact paths
        apply it before ``topk``; the HNSW path filters its candidates while searching."""
        q = np.atleast_2d(np.asarray(queries, dtype=np.float32))
        allowed = self.n if mask is None else int(np.count_nonzero(mask))
        kk = min(int(k), allowed)
        if kk <= 0:
            return np.zeros((q.shape[0], 0), np.int64), np.zeros((q.shape[0], 0), np.float32)
        if self.uses_ann:
            ann = self._ensure_ann()
            ann.set_ef(max(self.ef_search, kk))
            filt = None if mask is None else (lambda i: bool(mask[i]))
            rows, dist = ann.knn_query(q, k=kk, filter=filt)
            return rows.astype(np.int64), (1.0 - dist).astype(np.float32)
        mat = self._matrix()
        sims = torch.from_numpy(q).to(self.device) @ mat.T
        if mask is not None:
            sims[:, ~torch.from_numpy(np.asarray(mask, bool)).to(self.device)] = -torch.inf
        top = torch.topk(sims, kk, dim=1, sorted=True)
        return top.indices.cpu().numpy().astype(np.int64), top.values.cpu().numpy()
