"""Labelled faults injected by the fleet simulators, and the fault table written beside the data.

A :class:`Fault` says what a simulator does to one run (a vehicle log, an arm episode, a GPU
recording, a satellite arc): its ``kind``, when it starts and ends (seconds from the run's first
sample; ``end_s = inf`` lasts to the end), a kind-specific ``magnitude`` (documented by each
simulator) and, where it matters, the ``channel`` it touches (a biased sensor column, a joint).
Simulators never change their nominal output: with no fault they produce bit-identical data.

The fault table (``FAULT_SCHEMA``) is the ground truth an anomaly benchmark scores against: one
row per fault and object, times as ``timestamp[ns, UTC]`` (closed interval ``[start, end]``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from starbrain.core.errors import StarbrainError
from starbrain.core.schemas.faults import FAULT_SCHEMA as FAULT_SCHEMA

__all__ = ["FAULT_SCHEMA", "Fault", "fault_rows", "fault_table"]


@dataclass(frozen=True)
class Fault:
    """One injected fault (see the module docstring); times in s from the run's first sample."""

    kind: str
    start_s: float
    end_s: float = math.inf
    magnitude: float = 1.0
    channel: str | None = None

    def __post_init__(self) -> None:
        if not self.kind:
            raise StarbrainError("a fault needs a kind")
        if not (math.isfinite(self.start_s) and self.start_s >= 0):
            raise StarbrainError(f"fault {self.kind}: start_s must be >= 0, got {self.start_s}")
        if not self.end_s > self.start_s:
            raise StarbrainError(
                f"fault {self.kind}: end_s ({self.end_s}) must be after start_s ({self.start_s})"
            )

    def active(self, t_s: float | np.ndarray) -> np.ndarray:
        """True where ``t_s`` (s from the run's start) lies in ``[start_s, end_s)``."""
        t = np.asarray(t_s, dtype=np.float64)
        return np.asarray((t >= self.start_s) & (t < self.end_s))


def fault_rows(
    faults: Iterable[Fault],
    *,
    stream: str,
    object_id: str,
    run_id: str | None,
    t0_ns: int,
    last_ns: int,
    source: str = "",
) -> list[dict[str, object]]:
    """Fault-table rows of ``faults`` on one run that starts at ``t0_ns`` and whose last sample
    is at ``last_ns`` (UTC ns): ends past the run are clipped to it; faults that start after the
    run are dropped."""
    out: list[dict[str, object]] = []
    for f in faults:
        start = t0_ns + round(f.start_s * 1e9)
        if start > last_ns:
            continue
        end = last_ns if not math.isfinite(f.end_s) else min(last_ns, t0_ns + round(f.end_s * 1e9))
        out.append(
            {
                "stream": stream,
                "object_id": object_id,
                "run_id": run_id,
                "kind": f.kind,
                "start": start,
                "end": end,
                "magnitude": float(f.magnitude),
                "channel": f.channel,
                "source": source,
            }
        )
    return out


def fault_table(rows: Sequence[dict[str, object]]) -> pa.Table:
    """Rows from :func:`fault_rows` as a table in ``FAULT_SCHEMA`` (empty when no rows)."""
    cols: dict[str, list[object]] = {f.name: [r[f.name] for r in rows] for f in FAULT_SCHEMA}
    arrays = [
        pa.array(cols[f.name], pa.int64()).cast(f.type)
        if pa.types.is_timestamp(f.type)
        else pa.array(cols[f.name], f.type)
        for f in FAULT_SCHEMA
    ]
    return pa.Table.from_arrays(arrays, schema=FAULT_SCHEMA)
