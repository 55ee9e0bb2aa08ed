"""The scale-out helper: the in-process path and a real local Ray give the same results."""

from __future__ import annotations

import numpy as np
import pytest

from starbrain.cluster import ray_available, shard_map


def _norms(chunk: np.ndarray) -> np.ndarray:
    return np.linalg.norm(chunk, axis=1)


def test_local_path_keeps_order() -> None:
    rng = np.random.default_rng(1)
    chunks = np.array_split(rng.normal(size=(1000, 3)), 7)
    out = shard_map(_norms, chunks)
    np.testing.assert_array_equal(
        np.concatenate(out), np.linalg.norm(np.concatenate(chunks), axis=1)
    )


@pytest.mark.slow
def test_ray_local_equals_in_process() -> None:
    if not ray_available():
        pytest.skip("ray is not installed")
    rng = np.random.default_rng(2)
    chunks = np.array_split(rng.normal(size=(500, 3)), 5)
    here = shard_map(_norms, chunks)
    there = shard_map(_norms, chunks, ray_address="local")
    for a, b in zip(here, there, strict=True):
        np.testing.assert_array_equal(a, b)
