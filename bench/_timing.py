"""Timing helper shared by the benchmark scripts (not a benchmark itself: `make bench` skips
files starting with an underscore).

Timings on shared 2-core machines are noisy, so every figure we report is a median of repeats,
and comparisons are ratios measured in the same run.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def median_time(fn: Callable[[], T], repeats: int, *, warmup: bool = False) -> tuple[float, T]:
    """Median wall time (s) of ``repeats`` calls of ``fn``, and the last call's result.

    ``warmup`` makes one untimed call first (imports, JIT/compilation, caches).
    """
    out = fn() if warmup else None
    times = []
    for _ in range(max(1, repeats)):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out  # type: ignore[return-value]
