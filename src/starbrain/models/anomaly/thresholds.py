"""Nonparametric dynamic thresholding of prediction errors (telemanom).

Hundman, Constantinou, Laporte, Colwell and Soderstrom, "Detecting Spacecraft Anomalies Using
LSTMs and Nonparametric Dynamic Thresholding", KDD 2018 (arXiv:1802.04431), §3.2-3.3, as in the
authors' reference implementation (``telemanom/errors.py``):

1. smooth the absolute errors with an exponentially weighted moving average: ``e_s``;
2. for ``z`` in ``z_range`` try ``epsilon = mean(e_s) + z std(e_s)`` and keep the one that
   maximises ``(dmean / mean + dstd / std) / (n_seq**2 + n_anom)``, where ``dmean`` and ``dstd``
   are the decreases of the mean and standard deviation when the values above ``epsilon`` are
   removed, ``n_anom`` counts the samples above it (each widened by ``error_buffer``) and
   ``n_seq`` their contiguous sequences; candidates with more than ``max_sequences`` sequences
   or flagging half the samples are refused;
3. prune: sort the sequences' maximum smoothed errors in decreasing order, append the largest
   error below ``epsilon``, and keep only the sequences before the last step whose percent
   decrease is at least ``p`` (the minimum percent decrease); the rest are reclassified nominal;
4. score each remaining sequence ``(max e_s - epsilon) / (mean(e_s) + std(e_s))``.

We add one thing the paper leaves to the operator: a per-channel ``floor`` below which
``epsilon`` never goes (the largest smoothed error seen on nominal calibration flights), so a
flight without anomalies does not have its largest noise excursion called an anomaly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from starbrain.models.anomaly.events import runs

__all__ = ["DynamicThreshold", "dynamic_threshold", "ewma", "prune_sequences"]

FloatArray = npt.NDArray[np.float64]
Z_RANGE = np.arange(2.5, 12.0, 0.5)  # telemanom's default search (sd_lim 12, step 0.5)


def ewma(x: npt.ArrayLike, span: float) -> FloatArray:
    """Exponentially weighted moving average along axis 0 with ``alpha = 2 / (span + 1)``,
    started at the first value (pandas ``ewm(span, adjust=False).mean()``)."""
    from scipy.signal import lfilter

    a = np.asarray(x, dtype=np.float64)
    if a.shape[0] == 0:
        return a.copy()
    alpha = 2.0 / (span + 1.0)
    zi = (1.0 - alpha) * a[:1]
    y, _ = lfilter([alpha], [1.0, -(1.0 - alpha)], a, axis=0, zi=zi)
    return np.asarray(y)


@dataclass(frozen=True)
class DynamicThreshold:
    """The chosen ``epsilon`` (and its ``z``; NaN when the floor decided), the anomalous
    sequences as inclusive index pairs ``(k, 2)`` and their scores ``(k,)``."""

    epsilon: float
    z: float
    sequences: npt.NDArray[np.int64]
    scores: FloatArray


def _dilate(mask: npt.NDArray[np.bool_], buffer: int) -> npt.NDArray[np.bool_]:
    if buffer <= 1:
        return mask
    from scipy.ndimage import maximum_filter1d

    return maximum_filter1d(mask.astype(np.uint8), size=2 * buffer - 1, axis=-1).astype(bool)


def dynamic_threshold(
    e_s: npt.ArrayLike,
    *,
    z_range: npt.ArrayLike = Z_RANGE,
    error_buffer: int = 5,
    p: float = 0.13,
    floor: float = 0.0,
    max_sequences: int = 5,
) -> DynamicThreshold:
    """Telemanom's threshold for one channel's smoothed errors ``e_s`` ``(n,)``; all ``z``
    candidates are evaluated at once as ``(n_z, n)`` masks."""
    e = np.asarray(e_s, dtype=np.float64)
    n = e.size
    empty = DynamicThreshold(np.inf, np.nan, np.zeros((0, 2), np.int64), np.zeros(0))
    if n == 0:
        return empty
    mean, sd = float(e.mean()), float(e.std())
    z = np.asarray(z_range, dtype=np.float64)
    best_eps, best_z = mean + float(z[-1]) * sd, float(z[-1])
    if sd > 0 and mean > 0:
        eps = mean + z * sd  # (Z,)
        above = e[None, :] >= eps[:, None]  # (Z, n)
        below = ~above
        nb = below.sum(axis=1)
        sb = np.where(below, e, 0.0).sum(axis=1)
        mb = sb / np.maximum(nb, 1)
        vb = np.where(below, (e[None, :] - mb[:, None]) ** 2, 0.0).sum(axis=1) / np.maximum(nb, 1)
        anom = _dilate(above, error_buffer)
        n_anom = anom.sum(axis=1)
        starts = np.diff(anom.astype(np.int8), axis=1, prepend=0) == 1
        ends = np.diff(anom.astype(np.int8), axis=1, append=0) == -1
        # telemanom counts only sequences longer than one sample
        single = starts & ends
        n_seq = starts.sum(axis=1) - single.sum(axis=1)
        score = ((mean - mb) / mean + (sd - np.sqrt(vb)) / sd) / np.maximum(n_seq**2 + n_anom, 1)
        ok = (n_anom > 0) & (n_seq <= max_sequences) & (n_anom < 0.5 * n)
        if ok.any():
            # ties go to the larger z, as telemanom's ">=" in increasing z does
            cand = np.where(ok, score, -np.inf)
            i = int(len(z) - 1 - np.argmax(cand[::-1]))
            best_eps, best_z = float(eps[i]), float(z[i])
    if floor > best_eps:
        best_eps, best_z = float(floor), float("nan")
    flagged = _dilate(e >= best_eps, error_buffer) if np.any(e >= best_eps) else e >= best_eps
    seqs = runs(flagged)
    if len(seqs) == 0:
        return DynamicThreshold(best_eps, best_z, seqs, np.zeros(0))
    seqs, maxima = prune_sequences(e, seqs, best_eps, p)
    scores = (maxima - best_eps) / (mean + sd) if mean + sd > 0 else maxima * 0.0
    return DynamicThreshold(best_eps, best_z, seqs, scores)


def prune_sequences(
    e_s: FloatArray, sequences: npt.NDArray[np.int64], epsilon: float, p: float
) -> tuple[npt.NDArray[np.int64], FloatArray]:
    """Telemanom's pruning: keep the sequences whose maximum smoothed error comes before the
    last drop of at least ``p`` (relative) in the decreasing list of maxima, the largest
    non-anomalous error appended. Returns the kept sequences (in time order) and their maxima."""
    maxima = np.array([e_s[a : b + 1].max() for a, b in sequences])
    rest = e_s[e_s < epsilon]
    order = np.argsort(-maxima, kind="stable")
    chain = np.concatenate([maxima[order], [rest.max() if rest.size else 0.0]])
    drops = (chain[:-1] - chain[1:]) / np.where(chain[:-1] > 0, chain[:-1], 1.0)
    big = np.flatnonzero(drops >= p)
    keep_ranks = order[: big[-1] + 1] if big.size else order[:0]
    keep = np.sort(keep_ranks)
    return sequences[keep], maxima[keep]
