"""Event-wise evaluation of anomaly detections: precision, recall and F-beta over sequences.

As in telemanom (Hundman et al., "Detecting Spacecraft Anomalies Using LSTMs and Nonparametric
Dynamic Thresholding", KDD 2018, §4.1): a labelled anomaly sequence overlapped by at least one
predicted sequence is a true positive; a labelled sequence that no prediction overlaps is a false
negative; a predicted sequence that overlaps no labelled one is a false positive. Intervals are
closed ``[start, end]`` in any one unit (ns or seconds). Ratios with a zero denominator are 0.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["EventScores", "event_scores", "merge_intervals", "runs"]

Interval = tuple[float, float]


@dataclass(frozen=True, slots=True)
class EventScores:
    """Event counts and the ratios made from them (``f_beta`` with ``beta``, 0.5 by default:
    precision weighs more than recall, as an operator's alarm budget asks)."""

    tp: int
    fp: int
    fn: int
    beta: float = 0.5

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f_beta(self) -> float:
        p, r, b2 = self.precision, self.recall, self.beta**2
        return (1 + b2) * p * r / (b2 * p + r) if p + r > 0 else 0.0

    def __add__(self, other: EventScores) -> EventScores:
        return EventScores(self.tp + other.tp, self.fp + other.fp, self.fn + other.fn, self.beta)

    def as_dict(self) -> dict[str, float]:
        return {
            "precision": self.precision,
            "recall": self.recall,
            "f0.5" if self.beta == 0.5 else f"f{self.beta:g}": self.f_beta,
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
        }


def event_scores(
    labels: Sequence[Interval], predicted: Sequence[Interval], beta: float = 0.5
) -> EventScores:
    """Score predicted sequences against labelled ones (closed intervals; overlap counts)."""
    lab = np.asarray(labels, dtype=np.float64).reshape(-1, 2)
    pred = np.asarray(predicted, dtype=np.float64).reshape(-1, 2)
    # overlap[i, j]: label i and prediction j share at least one instant
    overlap = (pred[None, :, 0] <= lab[:, None, 1]) & (lab[:, None, 0] <= pred[None, :, 1])
    tp = int(overlap.any(axis=1).sum())
    fn = len(lab) - tp
    fp = int((~overlap.any(axis=0)).sum())
    return EventScores(tp, fp, fn, beta)


def merge_intervals(intervals: Iterable[Interval], gap: float = 0.0) -> list[Interval]:
    """Union of intervals, also joining those separated by at most ``gap``; sorted."""
    items = sorted((float(a), float(b)) for a, b in intervals)
    out: list[list[float]] = []
    for a, b in items:
        if out and a <= out[-1][1] + gap:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return [(a, b) for a, b in out]


def runs(flags: npt.NDArray[np.bool_]) -> npt.NDArray[np.int64]:
    """Start and end indices (inclusive) of the runs of True in a 1-D mask, as ``(k, 2)``."""
    f = np.concatenate(([False], np.asarray(flags, dtype=bool), [False]))
    d = np.diff(f.astype(np.int8))
    starts = np.flatnonzero(d == 1)
    ends = np.flatnonzero(d == -1) - 1
    return np.stack([starts, ends], axis=1).astype(np.int64)
