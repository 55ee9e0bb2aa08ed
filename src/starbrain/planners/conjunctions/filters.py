"""Steps 2-4 of the screening (see :mod:`starbrain.planners.conjunctions`): radial bands, the
time filter on the grid (k-d trees or dense distances, thinned by rectilinear closest approach)
and the cubic Hermite bracket filter."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from starbrain.planners.conjunctions.common import _MU, _VELOCITY_SLOP_KMPS, FloatArray, IntArray


def _bands(
    r: FloatArray, v: FloatArray, ok: npt.NDArray[np.bool_], half_gap_s: float
) -> tuple[FloatArray, FloatArray]:
    """Lower and upper bounds of each object's geocentric distance over sampled states.

    ``r``, ``v`` are (n, m, 3); between samples the distance can leave the sampled range by at
    most ``|rdot| h + A h^2 / 2`` with ``h = half_gap_s`` and ``A`` bounding ``|rddot|``
    (gravity times the eccentricity, plus J2's short-period share). Objects with invalid
    samples get an empty band (lo > hi) and pair with nothing.
    """
    dist = np.linalg.norm(r, axis=-1)
    rdot = np.abs(np.sum(r * v, axis=-1)) / dist
    lo = np.min(np.where(ok, dist, np.inf), axis=1)
    hi = np.max(np.where(ok, dist, -np.inf), axis=1)
    rdot_max = np.max(np.where(ok, rdot, 0.0), axis=1)
    # |rddot| <= mu e / r^2 roughly; the spread of sampled distances bounds a e from below
    # (for a Kepler orbit |rdot| <= e v, so rdot_max / 7 km/s also bounds e from below)
    spread = np.clip((hi - lo) / np.maximum(hi + lo, 1.0), 0.0, 1.0)
    ecc = np.maximum(spread, rdot_max / 7.0) + 0.003
    acc = _MU / np.maximum(lo, 6000.0) ** 2 * ecc
    pad = rdot_max * half_gap_s + 0.5 * acc * half_gap_s**2 + 1e-3
    bad = ~ok.all(axis=1)
    lo = np.where(bad, np.inf, lo - pad)
    hi = np.where(bad, -np.inf, hi + pad)
    return lo, hi


def _overlapping(lo: FloatArray, hi: FloatArray, threshold: float) -> npt.NDArray[np.bool_]:
    """Which objects' bands ``[lo, hi + threshold]`` overlap at least one other object's."""
    n = len(lo)
    out = np.zeros(n, bool)
    valid = np.nonzero(lo <= hi)[0]
    if len(valid) < 2:
        return out
    order = valid[np.argsort(lo[valid], kind="stable")]
    s_lo, s_hi = lo[order], hi[order] + threshold
    prev_max = np.maximum.accumulate(np.r_[-np.inf, s_hi[:-1]])
    with_prev = prev_max >= s_lo
    with_next = np.r_[s_lo[1:] <= s_hi[:-1], False]
    out[order] = with_prev | with_next
    return out


def _overlap_matrix(
    lo: FloatArray, hi: FloatArray, rows: Any, cols: Any, threshold: float
) -> npt.NDArray[np.bool_]:
    """Whether band ``rows[a]`` and band ``cols[b]`` come within ``threshold``: (n_rows, n_cols)."""
    return (lo[rows, None] <= hi[None, cols] + threshold) & (
        lo[None, cols] <= hi[rows, None] + threshold
    )


def _count_overlapping_pairs(
    lo: FloatArray, hi: FloatArray, threshold: float, primary: npt.NDArray[np.bool_] | None
) -> int:
    """Number of pairs whose bands overlap (pairs with a primary only, when given)."""
    valid = lo <= hi
    if primary is not None:
        p = np.nonzero(primary & valid)[0]
        q = valid
        if not len(p):
            return 0
        # dense for few primaries: |lo_p - lo_q| overlap test
        total = 0
        for a in range(0, len(p), 256):
            pp = p[a : a + 256]
            ov = _overlap_matrix(lo, hi, pp, q, threshold)
            total += int(ov.sum()) - int(valid[pp].sum())  # minus self
        # pairs of two primaries were counted twice
        pv = np.nonzero(primary & valid)[0]
        both = _overlap_matrix(lo, hi, pv, pv, threshold)
        total -= (int(both.sum()) - len(pv)) // 2
        return total
    idx = np.nonzero(valid)[0]
    order = idx[np.argsort(lo[idx], kind="stable")]
    s_lo, s_hi = lo[order], hi[order] + threshold
    # for each object, later objects (in lo order) starting before its end overlap it
    ends = np.searchsorted(s_lo, s_hi, side="right")
    return int(np.maximum(ends - np.arange(1, len(order) + 1), 0).sum())


@dataclass(slots=True)
class _Chunk:
    """States of the active objects over a run of grid times, component-major: ``x[k]`` is
    ``(6, n_act)`` (x, y, z, vx, vy, vz), so that gathers over pairs read contiguous rows."""

    first: int  # global grid index of local index 0
    x: FloatArray  # (m, 6, n_act)
    active: IntArray  # global object index of each column
    primary: npt.NDArray[np.bool_] | None  # (n_act,)

    def pair_states(self, kl: Any, a: Any, b: Any) -> FloatArray:
        """State of b relative to a at local grid indices kl: (n, 6)."""
        return self.x[kl, :, b] - self.x[kl, :, a]


def _linear_keep(
    d: FloatArray, dt: float, threshold: float, vrel: float, grad: float
) -> tuple[npt.NDArray[np.bool_], FloatArray]:
    """Candidates whose rectilinear closest approach within ``dt / 2`` of the grid time,
    padded for curvature and velocity error, can be under the threshold; and the range-rate.

    ``d`` is the relative state, component-major ``(6, n)``. The padding bounds the neglected
    relative acceleration by the gravity gradient ``grad`` times the separation, and SGP4's
    velocity error (|v - dr/dt| < 0.3 m/s) by 1 m/s.
    """
    x0, x1, x2, w0, w1, w2 = d
    f = x0 * w0 + x1 * w1 + x2 * w2
    vv = w0 * w0 + w1 * w1 + w2 * w2
    tau = np.clip(-f / np.maximum(vv, 1e-30), -0.5 * dt, 0.5 * dt)
    dist = np.sqrt(x0 * x0 + x1 * x1 + x2 * x2)
    e0, e1, e2 = x0 + w0 * tau, x1 + w1 * tau, x2 + w2 * tau
    d_lin = np.sqrt(e0 * e0 + e1 * e1 + e2 * e2)
    atau = np.abs(tau)
    margin = 0.5 * grad * (dist + vrel * atau) * tau * tau + _VELOCITY_SLOP_KMPS * atau + 1e-3
    return d_lin - margin < threshold, f


def _kd_step(
    chunk: _Chunk, kl: int, radius: float, dt: float, threshold: float, vrel: float, grad: float
) -> tuple[IntArray, IntArray, IntArray, int]:
    """Candidate brackets at one grid time: (local a, local b, global lower step, n within D)."""
    from scipy.spatial import cKDTree

    xk = chunk.x[kl]
    tree = cKDTree(xk[:3].T, leafsize=32, balanced_tree=False, compact_nodes=False)
    pairs = tree.query_pairs(radius, output_type="ndarray")
    n_found = len(pairs)
    if chunk.primary is not None and n_found:
        pairs = pairs[chunk.primary[pairs[:, 0]] | chunk.primary[pairs[:, 1]]]
    if not len(pairs):
        empty = np.zeros(0, np.int64)
        return empty, empty, empty, n_found
    a, b = pairs[:, 0].astype(np.int64), pairs[:, 1].astype(np.int64)
    d = np.take(xk, b, axis=1) - np.take(xk, a, axis=1)
    keep, f = _linear_keep(d, dt, threshold, vrel, grad)
    k = chunk.first + kl
    lower = np.where(f[keep] < 0.0, k, k - 1)
    return a[keep], b[keep], lower, n_found


def _dense_block(
    chunk: _Chunk, radius: float, dt: float, threshold: float, vrel: float, grad: float
) -> tuple[IntArray, IntArray, IntArray, int]:
    """Candidate brackets of a few primaries against every active object, all grid times."""
    assert chunk.primary is not None
    prim = np.nonzero(chunk.primary)[0]
    n_act = chunk.x.shape[2]
    out_a, out_b, out_k = [], [], []
    n_found = 0
    per = max(1, 4_000_000 // max(1, len(prim) * n_act))  # grid times per block
    for s in range(0, chunk.x.shape[0], per):
        rr = chunk.x[s : s + per, :3]  # (m, 3, n_act)
        d2 = np.zeros((rr.shape[0], len(prim), n_act))
        for c in range(3):
            d2 += (rr[:, c, None, :] - rr[:, c, prim, None]) ** 2
        d2[:, np.arange(len(prim)), prim] = np.inf  # self
        kk, pp, bb = np.nonzero(d2 <= radius * radius)
        aa = prim[pp]
        # a pair of two primaries appears twice: keep a < b there
        dup = chunk.primary[bb] & (bb < aa)
        kk, aa, bb = kk[~dup], aa[~dup], bb[~dup]
        n_found += len(kk)
        if not len(kk):
            continue
        kl = kk + s
        keep, f = _linear_keep(chunk.pair_states(kl, aa, bb).T, dt, threshold, vrel, grad)
        k = chunk.first + kl[keep]
        out_a.append(aa[keep])
        out_b.append(bb[keep])
        out_k.append(np.where(f[keep] < 0.0, k, k - 1))
    if not out_a:
        empty = np.zeros(0, np.int64)
        return empty, empty, empty, n_found
    return np.concatenate(out_a), np.concatenate(out_b), np.concatenate(out_k), n_found


def _hermite_min(
    dr0: FloatArray, dv0: FloatArray, dr1: FloatArray, dv1: FloatArray, h: FloatArray
) -> tuple[FloatArray, FloatArray, npt.NDArray[np.bool_]]:
    """Minimum of |p(s)| over [0, 1] for the cubic Hermite p of relative position across each
    bracket (ends ``dr0``, ``dr1``, derivatives ``dv * h``). Returns (s, distance, valid):
    valid where the range-rate goes from negative to non-negative across the bracket."""
    hh = h[:, None]
    c0, c1 = dr0, dv0 * hh
    c2 = 3.0 * (dr1 - dr0) - (2.0 * dv0 + dv1) * hh
    c3 = 2.0 * (dr0 - dr1) + (dv0 + dv1) * hh
    g0 = np.einsum("ij,ij->i", dr0, dv0)
    g1 = np.einsum("ij,ij->i", dr1, dv1)
    valid = (g0 < 0.0) & (g1 >= 0.0)
    lo = np.zeros(len(h))
    hi = np.ones(len(h))

    def g(s: FloatArray) -> FloatArray:
        ss = s[:, None]
        p = ((c3 * ss + c2) * ss + c1) * ss + c0
        dp = (3.0 * c3 * ss + 2.0 * c2) * ss + c1
        return np.einsum("ij,ij->i", p, dp)

    for _ in range(40):  # bisection to 1e-12 of the interval
        mid = 0.5 * (lo + hi)
        neg = g(mid) < 0.0
        lo = np.where(neg, mid, lo)
        hi = np.where(neg, hi, mid)
    s = 0.5 * (lo + hi)
    ss = s[:, None]
    p = ((c3 * ss + c2) * ss + c1) * ss + c0
    return s, np.linalg.norm(p, axis=1), valid
