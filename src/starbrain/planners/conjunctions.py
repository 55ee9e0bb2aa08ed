"""Conjunction screening: every close approach among a catalogue's objects over a time span.

Method (batched; no Python loop over objects or pairs):

0. **Shards.** The grid steps of the window are cut into ``shards`` runs of consecutive steps;
   each shard runs steps 2-5 on its own (its own pre-pass, candidates and refinement) through
   :func:`starbrain.cluster.shard_map`, in this process or on Ray (``ray_address``): the same
   function either way. A bracket straddling two shards can be found by both and is kept once
   (keyed by pair and lower grid step), so the result does not depend on the sharding.
1. **Propagation.** Every object is propagated on a coarse UTC grid (``step_s``, default 60 s),
   in time chunks whose size bounds the memory used (``max_chunk_mb``), by a
   :class:`~starbrain.planners.propagator.Propagator`: SGP4 (:mod:`starbrain.physics.sgp4`) by
   default, or SGP4 plus a registered world model's learned correction.
2. **Apogee/perigee (radial) filter.** Within each chunk, each object's geocentric distance is
   bounded from its samples, padded for the motion between samples; a pair can only meet if
   their radial bands, padded by the threshold, overlap. Objects that overlap no other object
   leave the chunk's time filter. When ``primaries`` are given, a cheap pre-pass (one sample
   every 300 s over the shard's span) keeps only the objects whose band overlaps a primary's, and
   only those are propagated.
3. **Time filter.** At every grid time a k-d tree (``scipy.spatial.cKDTree.query_pairs``) finds
   the pairs closer than ``D = threshold + V dt / 2``, ``V`` bounding the relative speed (twice
   the largest sampled speed): the grid time nearest a closest approach under the threshold is
   at most ``dt / 2`` away from it, so the pair is found there. With few primaries the distances
   from each primary to every object are computed densely instead. The candidates are thinned
   by their rectilinear closest approach within ``dt / 2``, padded by a bound on the
   gravity-gradient curvature of the relative motion.
4. **Brackets.** The sign of the relative range-rate at the candidate's grid time picks the grid
   interval holding the minimum; a cubic Hermite interpolant of the relative position over that
   interval (accurate to about a metre at 60 s in LEO) discards brackets whose minimum is more
   than 50 m above the threshold.
5. **TCA refinement.** For the remaining pairs the propagator is evaluated at arbitrary times
   (only those two objects, selected from the shard's initialised state, in one batch for all
   pairs): a safeguarded Newton iteration on the range-rate
   ``d/dt |r2 - r1|^2 / 2`` (central difference of SGP4 positions, 10 ms apart, since SGP4's
   velocity differs from the derivative of its position by up to ~0.3 m/s) converges to within
   10 us. TCA is thus the instant of minimum SGP4 distance; the miss vector, its components in
   object 1's RTN frame and the relative speed are taken there.
6. **Collision probability.** 2-D Foster Pc (:mod:`.collision_probability`) from each object's
   RTN position covariance (given, or the documented default model growing with the element
   set's age) and the sum of the two hard-body radii.

A conjunction is a local minimum of the distance strictly inside ``[start, stop]`` and under
``threshold_km``. Pairs whose relative motion has two minima less than one grid step apart (only
for nearly co-moving objects) can lose one of them; identical orbits (zero range-rate at all
times) have no minimum and are not reported.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import torch

from starbrain.core import timeconv
from starbrain.physics import earth
from starbrain.physics.sgp4 import Sgp4Elements
from starbrain.planners.collision_probability import (
    DEFAULT_COVARIANCE,
    encounter_plane,
    pc_foster,
    rtn_basis,
    rtn_to_inertial,
)
from starbrain.planners.propagator import Propagator, Sgp4Propagator
from starbrain.store.decision_schemas import (
    CONJUNCTIONS_KEY,
    CONJUNCTIONS_SCHEMA,
    COVARIANCE_COLUMNS,
    STATE_COLUMNS,
)

__all__ = [
    "CONJUNCTIONS_KEY",
    "CONJUNCTIONS_SCHEMA",
    "Conjunctions",
    "ScreeningStats",
    "screen",
    "screen_conjunctions",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

_TS = pa.timestamp("ns", tz="UTC")
_TRI = ((0, 0), (1, 0), (1, 1), (2, 0), (2, 1), (2, 2))  # CDM order: CR_R CT_R CT_T CN_R CN_T CN_N


# --------------------------------------------------------------------------------------------
# Constants of the filters

_MU = earth.GM_KM3_S2
_HERMITE_MARGIN_KM = 0.05  # cubic Hermite error over 60 s in LEO is ~1 m; generous
_VELOCITY_SLOP_KMPS = 1e-3  # |SGP4 velocity - d(position)/dt| < 0.3 m/s; bound 1 m/s
_FD_STEP_S = 0.01  # central difference step for the range-rate in the refinement
_TCA_TOL_S = 1e-5
_PREPASS_STEP_S = 300.0
_DENSE_MAX = 400_000  # primaries x objects below which the time filter is dense


# --------------------------------------------------------------------------------------------
# Results


@dataclass(slots=True)
class ScreeningStats:
    """What each stage of a screening kept, and how long it took (wall seconds)."""

    n_objects: int = 0
    n_pairs: int = 0  # pairs screened (all pairs, or those with a primary)
    n_pairs_radial: int = 0  # pairs whose radial bands over the whole span overlap
    n_steps: int = 0
    step_s: float = 0.0
    pair_radius_km: float = 0.0  # D of the time filter
    n_grid_candidates: int = 0  # (pair, grid time) within D
    n_linear: int = 0  # after the rectilinear filter
    n_brackets: int = 0  # distinct (pair, interval) brackets
    n_refined: int = 0  # brackets refined with SGP4
    n_conjunctions: int = 0
    n_invalid_objects: int = 0  # objects with SGP4 errors somewhere in the span
    propagator: str = "sgp4"  # what moved the objects (see .propagator)
    n_shards: int = 1  # pieces of the window screened on their own
    seconds: dict[str, float] = field(default_factory=dict)

    def summary(self) -> str:
        t = ", ".join(f"{k} {v:.1f} s" for k, v in self.seconds.items())
        return (
            f"{self.n_objects} objects, {self.n_pairs:,} pairs ({self.n_pairs_radial:,} after the "
            f"apogee/perigee filter), {self.n_steps} steps of {self.step_s:g} s, "
            f"{self.n_grid_candidates:,} grid candidates -> {self.n_linear:,} -> "
            f"{self.n_brackets:,} brackets -> {self.n_refined:,} refined -> "
            f"{self.n_conjunctions} conjunctions; propagator {self.propagator}, "
            f"{self.n_shards} shard{'s' if self.n_shards != 1 else ''}; {t} (shard times summed)"
        )


@dataclass(slots=True)
class Conjunctions:
    """Conjunctions found by :func:`screen_conjunctions`, one row each, sorted by TCA.

    Arrays ``(n,)`` unless noted: ``index_1``, ``index_2`` (rows of the input table; object 1 is
    the primary when primaries were given, else the earlier row), ``norad_id_1``,
    ``norad_id_2``, ``tca`` (UTC ``datetime64[ns]``), ``miss_km``, ``relative_speed_kmps``,
    ``miss_rtn_km`` and ``relative_velocity_rtn_kmps`` ``(n, 3)`` (object 2 relative to object 1,
    object 1's RTN), ``r1_km``, ``v1_kmps``, ``r2_km``, ``v2_kmps`` ``(n, 3)`` (TEME at TCA),
    ``cov1_rtn_km2``, ``cov2_rtn_km2`` ``(n, 3, 3)``, ``hard_body_radius_km``, ``pc``.
    """

    index_1: IntArray
    index_2: IntArray
    norad_id_1: IntArray
    norad_id_2: IntArray
    name_1: npt.NDArray[np.object_]
    name_2: npt.NDArray[np.object_]
    epoch_1: npt.NDArray[np.datetime64]
    epoch_2: npt.NDArray[np.datetime64]
    tca: npt.NDArray[np.datetime64]
    miss_km: FloatArray
    relative_speed_kmps: FloatArray
    miss_rtn_km: FloatArray
    relative_velocity_rtn_kmps: FloatArray
    r1_km: FloatArray
    v1_kmps: FloatArray
    r2_km: FloatArray
    v2_kmps: FloatArray
    cov1_rtn_km2: FloatArray
    cov2_rtn_km2: FloatArray
    hard_body_radius_km: FloatArray
    pc: FloatArray
    threshold_km: float
    start: np.datetime64
    stop: np.datetime64
    covariance_source: str
    stats: ScreeningStats
    screened_at: np.datetime64 = field(default_factory=timeconv.utc_now)

    def __len__(self) -> int:
        return len(self.norad_id_1)

    def to_arrow(self) -> pa.Table:
        """The conjunctions as a table with schema ``CONJUNCTIONS_SCHEMA``."""
        n = len(self)
        states = np.concatenate([self.r1_km, self.v1_kmps, self.r2_km, self.v2_kmps], axis=1)
        covs = [c[:, i, j] for c in (self.cov1_rtn_km2, self.cov2_rtn_km2) for i, j in _TRI]

        def ts(values: Any) -> pa.Array:
            return pa.array(np.asarray(values, "datetime64[ns]"), pa.timestamp("ns")).cast(_TS)

        cols: dict[str, Any] = {
            "norad_id_1": pa.array(self.norad_id_1, pa.int32()),
            "norad_id_2": pa.array(self.norad_id_2, pa.int32()),
            "object_name_1": pa.array(list(self.name_1), pa.string()),
            "object_name_2": pa.array(list(self.name_2), pa.string()),
            "tca": ts(self.tca),
            "miss_distance_km": self.miss_km,
            "relative_speed_kmps": self.relative_speed_kmps,
            "miss_r_km": self.miss_rtn_km[:, 0],
            "miss_t_km": self.miss_rtn_km[:, 1],
            "miss_n_km": self.miss_rtn_km[:, 2],
            "relative_velocity_r_kmps": self.relative_velocity_rtn_kmps[:, 0],
            "relative_velocity_t_kmps": self.relative_velocity_rtn_kmps[:, 1],
            "relative_velocity_n_kmps": self.relative_velocity_rtn_kmps[:, 2],
            **{name: states[:, k] for k, name in enumerate(STATE_COLUMNS)},
            **dict(zip(COVARIANCE_COLUMNS, covs, strict=True)),
            "hard_body_radius_km": self.hard_body_radius_km,
            "collision_probability": self.pc,
            "pc_method": pa.array(["foster-2d"] * n, pa.string()),
            "covariance_source": pa.array([self.covariance_source] * n, pa.string()),
            "epoch_1": ts(self.epoch_1),
            "epoch_2": ts(self.epoch_2),
            "screening_threshold_km": np.full(n, self.threshold_km),
            "screen_start": ts(np.full(n, self.start)),
            "screen_stop": ts(np.full(n, self.stop)),
            "screened_at": ts(np.full(n, self.screened_at)),
        }
        return pa.table(cols, schema=CONJUNCTIONS_SCHEMA)


# --------------------------------------------------------------------------------------------
# The population and its propagation


@dataclass(slots=True)
class _Population:
    elements: Sgp4Elements
    epoch_ns: IntArray
    norad: IntArray
    names: npt.NDArray[np.object_]

    @classmethod
    def from_table(cls, table: pa.Table, device: Any) -> _Population:
        epoch = np.asarray(table.column("epoch").to_numpy(zero_copy_only=False))
        names = table.column("object_name").to_pylist()
        return cls(
            elements=Sgp4Elements.from_table(table, device=device or "cpu"),
            epoch_ns=epoch.astype("datetime64[ns]").astype(np.int64),
            norad=np.asarray(table.column("norad_id").to_numpy(), dtype=np.int64),
            names=np.array([s if s is not None else "" for s in names], dtype=object),
        )

    def __len__(self) -> int:
        return len(self.norad)

    def tsince_min(self, idx: IntArray | None, t0_ns: int, offsets_s: FloatArray) -> FloatArray:
        """Minutes since each object's epoch at ``t0 + offsets_s``: (n_sel, n_time)."""
        ep = self.epoch_ns if idx is None else self.epoch_ns[idx]
        base = (t0_ns - ep).astype(np.float64) / 60e9
        return base[:, None] + np.asarray(offsets_s, dtype=np.float64) / 60.0


# --------------------------------------------------------------------------------------------
# Radial bands (the apogee/perigee filter)


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


# --------------------------------------------------------------------------------------------
# Time filter


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


# --------------------------------------------------------------------------------------------
# TCA refinement with SGP4


@dataclass(slots=True)
class _Refined:
    t_s: FloatArray  # seconds after start
    r1: FloatArray
    v1: FloatArray
    r2: FloatArray
    v2: FloatArray
    ok: npt.NDArray[np.bool_]


def _refine(
    pop: _Population,
    prop: Propagator,
    state: Any,
    i: IntArray,
    j: IntArray,
    t0_ns: int,
    guess_s: FloatArray,
    lo_s: FloatArray,
    hi_s: FloatArray,
    max_iter: int = 60,
) -> _Refined:
    """Zero of the range-rate of propagated positions for pairs (i, j) (rows of ``pop``; ``state``
    is ``prop.init`` of the whole population), starting at ``guess_s`` and kept inside
    ``[lo_s, hi_s]`` (seconds after ``t0``), by safeguarded Newton iteration."""
    m = len(i)
    if m == 0:
        z = np.zeros((0, 3))
        return _Refined(np.zeros(0), z, z, z, z, np.zeros(0, bool))
    rows = np.concatenate([i, j])
    base = pop.tsince_min(rows, t0_ns, np.zeros(1))[:, 0]  # minutes at t0
    h = _FD_STEP_S

    def states(
        t_s: FloatArray, sel: IntArray, offsets: Sequence[float]
    ) -> tuple[tuple[FloatArray, FloatArray], tuple[FloatArray, FloatArray], Any]:
        """r, v of objects i[sel] and j[sel] at ``t_s + offset`` for each offset."""
        both = np.concatenate([sel, sel + m])
        tt = np.concatenate([t_s, t_s])[:, None] + np.asarray(offsets)
        sub = prop.select(state, rows[both])
        r, v, ok = prop.propagate(sub, base[both][:, None] + tt / 60.0, False)
        k = len(sel)
        return (r[:k], r[k:]), (v[:k], v[k:]), ok[:k].all(axis=1) & ok[k:].all(axis=1)

    x = guess_s.copy()
    lo, hi = lo_s.copy(), hi_s.copy()
    ok_all = np.ones(m, bool)
    act = np.arange(m)
    for _ in range(max_iter):
        if not len(act):
            break
        (ra, rb), _, ok = states(x[act], act, (-h, h))
        dr_m = 0.5 * ((rb[:, 0] - ra[:, 0]) + (rb[:, 1] - ra[:, 1]))
        dv_fd = ((rb[:, 1] - ra[:, 1]) - (rb[:, 0] - ra[:, 0])) / (2.0 * h)
        g = np.einsum("ij,ij->i", dr_m, dv_fd)
        mid_a = 0.5 * (ra[:, 0] + ra[:, 1])
        mid_b = 0.5 * (rb[:, 0] + rb[:, 1])
        da = earth.j2_acceleration(mid_b) - earth.j2_acceleration(mid_a)
        dg = np.einsum("ij,ij->i", dv_fd, dv_fd) + np.einsum("ij,ij->i", dr_m, da)
        xa = x[act]
        neg = g < 0.0
        lo[act] = np.where(neg, xa, lo[act])
        hi[act] = np.where(neg, hi[act], xa)
        with np.errstate(divide="ignore", invalid="ignore"):
            step = -g / dg
            # the range-rate of slow encounters is known only to the noise of the positions
            # (~1e-10 km over the 10 ms difference): stop at the time resolution that allows
            tol = np.maximum(_TCA_TOL_S, 1e-8 * (np.linalg.norm(dr_m, axis=1) + 0.1) / dg)
        nx = xa + step
        bad = ~np.isfinite(nx) | (dg <= 0.0) | (nx <= lo[act]) | (nx >= hi[act])
        nx = np.where(bad, 0.5 * (lo[act] + hi[act]), nx)
        done = (~bad & (np.abs(step) < tol)) | ((hi[act] - lo[act]) < _TCA_TOL_S) | ~ok
        ok_all[act[~ok]] = False
        x[act] = nx
        act = act[~done]
    (ra, rb), (va, vb), ok = states(x, np.arange(m), (0.0,))
    return _Refined(x, ra[:, 0], va[:, 0], rb[:, 0], vb[:, 0], ok & ok_all)


# --------------------------------------------------------------------------------------------
# Public entry points


CovarianceInput = Callable[..., Any] | npt.ArrayLike | None


def _call_model(model: Callable[..., Any], age_days: FloatArray, rows: IntArray) -> FloatArray:
    """``model(age_days, rows)``, or ``model(age_days)`` for models that take only the ages."""
    import inspect

    try:
        n_args = len(inspect.signature(model).parameters)
    except (TypeError, ValueError):  # pragma: no cover - builtins without a signature
        n_args = 2
    out = model(age_days, rows) if n_args >= 2 else model(age_days)
    return np.asarray(out, dtype=np.float64)


def _covariances(
    covariance: CovarianceInput, idx: IntArray, age_days: FloatArray
) -> tuple[FloatArray, str]:
    if covariance is None:
        return DEFAULT_COVARIANCE(age_days), DEFAULT_COVARIANCE.name
    if callable(covariance):
        name = getattr(covariance, "name", None) or "user model"
        return _call_model(covariance, age_days, idx), str(name)
    cov = np.asarray(covariance, dtype=np.float64)
    if cov.ndim == 2:  # one RTN covariance for every object
        return np.broadcast_to(cov, (len(idx), 3, 3)).copy(), "given"
    return cov[idx], "given"


@dataclass(slots=True)
class _Shard:
    """One piece of a screening: the grid steps ``[first, last]`` of the window, with everything
    a worker needs to find and refine their conjunctions on its own (picklable)."""

    pop: _Population
    propagator: Propagator
    t0_ns: int
    grid_s: FloatArray  # (n_steps + 1,) seconds after t0, the whole window's grid
    first: int
    last: int
    threshold_km: float
    step_s: float
    is_primary: npt.NDArray[np.bool_] | None
    max_chunk_mb: float
    workers: int | None
    compile: bool
    progress: Callable[[str], None] | None = None


@dataclass(slots=True)
class _ShardResult:
    """Refined brackets of one shard (``gk``: the bracket's lower grid step) and what its
    filters kept. Bands are per object of the whole population (empty where not propagated)."""

    i1: IntArray
    i2: IntArray
    gk: IntArray
    refined: _Refined
    band_lo: FloatArray
    band_hi: FloatArray
    invalid: npt.NDArray[np.bool_]
    pre_lo: FloatArray | None
    pre_hi: FloatArray | None
    radius_max: float
    n_grid_candidates: int
    n_linear: int
    seconds: dict[str, float]


def _screen_shard(shard: _Shard) -> _ShardResult:
    """Candidate brackets of the shard's grid steps (radial filter, time filter, Hermite filter)
    and their TCA refinement. Runs in this process or on a Ray worker (see :func:`shard_map`)."""
    clock = time.perf_counter
    seconds = {"propagate": 0.0, "time filter": 0.0}
    pop, prop, t0_ns, grid_s = shard.pop, shard.propagator, shard.t0_ns, shard.grid_s
    threshold_km, is_primary, progress = shard.threshold_km, shard.is_primary, shard.progress
    n = len(pop)
    n_steps = len(grid_s) - 1
    first_step, last_step = shard.first, shard.last
    w_lo, w_hi = max(0, first_step - 1), min(n_steps, last_step + 1)  # steps held
    state_all = prop.init(pop.elements)

    candidates = np.arange(n)
    pre_lo = pre_hi = None
    if is_primary is not None:
        # pre-pass: radial bands over the shard's window, then keep objects near a primary
        t_a = clock()
        a_s, b_s = float(grid_s[w_lo]), float(grid_s[w_hi])
        pre_s = np.minimum(np.arange(a_s, b_s + _PREPASS_STEP_S, _PREPASS_STEP_S), b_s)
        pre_lo, pre_hi = np.full(n, np.inf), np.full(n, -np.inf)
        per = max(2, int(shard.max_chunk_mb * 2**20 // max(1, n * 6 * 8 * 2)))
        for q in range(0, len(pre_s), per):
            r, v, ok = prop.propagate(
                state_all, pop.tsince_min(None, t0_ns, pre_s[q : q + per]), shard.compile
            )
            lo_c, hi_c = _bands(r, v, ok, 0.5 * _PREPASS_STEP_S)
            pre_lo, pre_hi = np.minimum(pre_lo, lo_c), np.maximum(pre_hi, hi_c)
            del r, v
        p_idx = np.nonzero(is_primary & (pre_lo <= pre_hi))[0]
        near = np.zeros(n, bool)
        for q in range(0, len(p_idx), 256):
            pp = p_idx[q : q + 256]
            near |= _overlap_matrix(pre_lo, pre_hi, pp, slice(None), threshold_km).any(axis=0)
        candidates = np.nonzero(near | is_primary)[0]
        seconds["pre-pass"] = clock() - t_a

    state = prop.select(state_all, candidates) if len(candidates) < n else state_all
    cand_primary = is_primary[candidates] if is_primary is not None else None
    n_c = len(candidates)
    chunk_steps = max(4, int(shard.max_chunk_mb * 2**20 // max(1, n_c * 6 * 8 * 2)))
    n_workers = shard.workers or torch.get_num_threads()
    band_lo = np.full(n, np.inf)
    band_hi = np.full(n, -np.inf)
    invalid = np.zeros(n, bool)
    n_found = n_grid = n_linear = 0
    herm_parts: list[tuple[IntArray, IntArray, IntArray, FloatArray, FloatArray]] = []
    radius_max = 0.0

    for first in range(first_step, last_step + 1, chunk_steps):
        last = min(last_step, first + chunk_steps - 1)  # owned steps [first, last]
        g_lo, g_hi = max(0, first - 1), min(n_steps, last + 1)  # held steps
        t_a = clock()
        tsince = pop.tsince_min(candidates, t0_ns, grid_s[g_lo : g_hi + 1])
        r, v, ok = prop.propagate(state, tsince, shard.compile)
        seconds["propagate"] += clock() - t_a
        t_a = clock()
        dt = shard.step_s
        lo, hi = _bands(r, v, ok, 0.5 * dt)
        band_lo[candidates] = np.minimum(band_lo[candidates], lo)
        band_hi[candidates] = np.maximum(band_hi[candidates], hi)
        invalid[candidates[~ok.all(axis=1)]] = True
        if cand_primary is not None:
            act_mask = np.zeros(n_c, bool)
            p_loc = np.nonzero(cand_primary & (lo <= hi))[0]
            for q in range(0, len(p_loc), 256):
                pp = p_loc[q : q + 256]
                act_mask |= _overlap_matrix(lo, hi, pp, slice(None), threshold_km).any(axis=0)
            act_mask &= lo <= hi
        else:
            act_mask = _overlapping(lo, hi, threshold_km)
        act_local = np.nonzero(act_mask)[0]
        if len(act_local) < 2:
            seconds["time filter"] += clock() - t_a
            continue
        speed = np.linalg.norm(v[act_local], axis=-1)
        vrel = 2.0 * float(speed.max()) * 1.02
        radius = threshold_km + 0.5 * vrel * dt
        radius_max = max(radius_max, radius)
        r_min = float(np.min(lo[act_local]))
        grad = 3.0 * _MU / max(r_min, 6000.0) ** 3
        chunk = _Chunk(
            first=g_lo,
            x=np.ascontiguousarray(
                np.concatenate([r[act_local], v[act_local]], axis=2).transpose(1, 2, 0)
            ),
            active=candidates[act_local],
            primary=None if cand_primary is None else cand_primary[act_local],
        )
        del r, v
        owned = range(first - g_lo, last - g_lo + 1)
        if chunk.primary is not None and chunk.primary.sum() * len(act_local) <= _DENSE_MAX:
            sub = _Chunk(
                first=first,
                x=chunk.x[owned.start : owned.stop],
                active=chunk.active,
                primary=chunk.primary,
            )
            results = [_dense_block(sub, radius, dt, threshold_km, vrel, grad)]
        else:

            def work(kl: int, chunk: _Chunk = chunk, radius: float = radius,
                     dt: float = dt, vrel: float = vrel, grad: float = grad) -> Any:  # fmt: skip
                return _kd_step(chunk, kl, radius, dt, threshold_km, vrel, grad)

            if n_workers > 1:
                with ThreadPoolExecutor(n_workers) as pool:
                    results = list(pool.map(work, owned, chunksize=16))
            else:
                results = [work(kl) for kl in owned]
        a = np.concatenate([x[0] for x in results])
        b = np.concatenate([x[1] for x in results])
        k = np.concatenate([x[2] for x in results])
        n_grid += sum(x[3] for x in results)
        n_linear += len(a)
        inside = (k >= 0) & (k < n_steps)
        a, b, k = a[inside], b[inside], k[inside]
        # Hermite filter on this chunk's brackets (both ends are held)
        if len(a):
            key = np.unique((a * len(act_local) + b) * (n_steps + 1) + k)
            k = key % (n_steps + 1)
            ab = key // (n_steps + 1)
            a, b = ab // len(act_local), ab % len(act_local)
            kl = k - g_lo
            h = grid_s[k + 1] - grid_s[k]
            d0 = chunk.pair_states(kl, a, b)
            d1 = chunk.pair_states(kl + 1, a, b)
            s, d_h, valid = _hermite_min(d0[:, :3], d0[:, 3:], d1[:, :3], d1[:, 3:], h)
            keep = valid & (d_h < threshold_km + _HERMITE_MARGIN_KM)
            ga, gb = chunk.active[a[keep]], chunk.active[b[keep]]
            herm_parts.append((ga, gb, k[keep], grid_s[k[keep]] + s[keep] * h[keep], d_h[keep]))
            n_found += len(ga)
        seconds["time filter"] += clock() - t_a
        if progress is not None:
            progress(f"steps {first}-{last} of {n_steps}: {n_found} brackets")

    # ---- merge this shard's brackets over its chunks and refine them ----
    t_a = clock()
    if herm_parts:
        ga = np.concatenate([p[0] for p in herm_parts])
        gb = np.concatenate([p[1] for p in herm_parts])
        gk = np.concatenate([p[2] for p in herm_parts])
        guess = np.concatenate([p[3] for p in herm_parts])
        i1, i2 = _ordered_pair(ga, gb, is_primary)
        key = (i1 * n + i2) * (n_steps + 1) + gk
        _, first_idx = np.unique(key, return_index=True)
        i1, i2, gk, guess = i1[first_idx], i2[first_idx], gk[first_idx], guess[first_idx]
    else:
        i1 = i2 = gk = np.zeros(0, np.int64)
        guess = np.zeros(0)
    widen = 0.5 * shard.step_s
    parts = []
    for q in range(0, len(i1), 50_000):
        sl = slice(q, q + 50_000)
        parts.append(
            _refine(
                pop,
                prop,
                state_all,
                i1[sl],
                i2[sl],
                t0_ns,
                guess[sl],
                grid_s[gk[sl]] - widen,
                grid_s[gk[sl] + 1] + widen,
            )
        )
    if parts:
        ref = _Refined(
            *(np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(_Refined))
        )
    else:
        ref = _refine(pop, prop, state_all, i1, i2, t0_ns, guess, guess, guess)
    seconds["refine"] = clock() - t_a
    return _ShardResult(
        i1=i1,
        i2=i2,
        gk=gk,
        refined=ref,
        band_lo=band_lo,
        band_hi=band_hi,
        invalid=invalid,
        pre_lo=pre_lo,
        pre_hi=pre_hi,
        radius_max=radius_max,
        n_grid_candidates=n_grid,
        n_linear=n_linear,
        seconds=seconds,
    )


def _ordered_pair(
    a: IntArray, b: IntArray, is_primary: npt.NDArray[np.bool_] | None
) -> tuple[IntArray, IntArray]:
    """(object 1, object 2) of each pair: the primary first, else the earlier row."""
    swap = a > b if is_primary is None else (~is_primary[a]) | (is_primary[b] & (b < a))
    return np.where(swap, b, a), np.where(swap, a, b)


def _n_shards(n_shards: int | None, ray_address: str | None, n_steps: int) -> int:
    """Shards to cut the window into: given, else 1 in this process and two per CPU of the
    Ray cluster; never more than the grid's steps."""
    if n_shards is None:
        if ray_address is None:
            n_shards = 1
        else:
            from starbrain.cluster import ray_init

            ray = ray_init(ray_address)
            n_shards = 2 * max(1, int(ray.cluster_resources().get("CPU", 1)))
    if n_shards < 1:
        raise ValueError(f"shards must be at least 1, not {n_shards}")
    return max(1, min(int(n_shards), n_steps + 1))


def screen_conjunctions(
    elements: pa.Table,
    start: Any = None,
    stop: Any = None,
    *,
    days: float = 7.0,
    threshold_km: float = 5.0,
    step_s: float = 60.0,
    primaries: npt.ArrayLike | None = None,
    object_radius_km: float | npt.ArrayLike = 0.01,
    covariance: CovarianceInput = None,
    max_chunk_mb: float = 256.0,
    workers: int | None = None,
    device: str | None = "cpu",
    compile: bool = False,
    propagator: Propagator | None = None,
    shards: int | None = None,
    ray_address: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> Conjunctions:
    """Every conjunction closer than ``threshold_km`` between objects of ``elements``.

    Args:
        elements: element sets (``ELEMENTS_SCHEMA``), one row per object (the latest set of
            each object: rows are not grouped by ``norad_id``).
        start, stop: the UTC window (anything ``timeconv.to_datetime64`` reads); ``start``
            defaults to now, ``stop`` to ``start + days``.
        threshold_km: report closest approaches under this distance (a sphere).
        step_s: the coarse grid step; the cost of the time filter is lowest around 60 s in LEO.
        primaries: catalogue numbers; when given, only pairs with at least one primary are
            screened (object 1 of each conjunction is then the primary).
        object_radius_km: hard-body radius of each object (scalar, or one per row); the
            collision probability uses the sum of the two.
        covariance: RTN position covariances, km^2: ``None`` for the default model
            (:class:`~starbrain.planners.collision_probability.RtnCovarianceModel`), a callable
            ``f(age_days, rows) -> (n, 3, 3)``, one ``(3, 3)`` matrix for all objects or one per
            row ``(n_rows, 3, 3)``.
        max_chunk_mb: memory for the propagated states of one time chunk (per shard).
        workers: threads for the per-step k-d trees (default ``torch.get_num_threads()``).
        device, compile: SGP4 device and ``torch.compile`` switch (see ``sgp4_propagate``).
        propagator: how objects move (:mod:`.propagator`); default SGP4.
        shards: cut the grid steps of the window into this many pieces, each screened and
            refined on its own (default: 1 in this process, two per CPU on Ray); a bracket at a
            shard boundary may be found by both neighbours, and is kept once.
        ray_address: ``None`` runs the shards here, anything else on Ray
            (:func:`starbrain.cluster.shard_map`); the shards run the same code either way.
        progress: called with a line of text after each chunk (in-process shards only).

    Returns:
        :class:`Conjunctions` sorted by TCA, with :class:`ScreeningStats` in ``.stats``.
    """
    from starbrain.cluster import shard_map

    clock = time.perf_counter
    t_begin = clock()
    t0 = timeconv.to_instant(timeconv.utc_now() if start is None else start, "start")
    if stop is not None:
        t1 = timeconv.to_instant(stop, "stop")
    else:
        t1 = t0 + np.timedelta64(round(days * 86400e9), "ns")
    span_ns = int((t1 - t0).astype(np.int64))
    if span_ns <= 0:
        raise ValueError(f"your start time {t0} is not earlier than your stop time {t1}")
    if not threshold_km > 0 or not step_s > 0:
        raise ValueError(f"threshold_km and step_s must be positive (got {threshold_km}, {step_s})")
    pop = _Population.from_table(elements, device)
    n = len(pop)
    if len(np.unique(pop.norad)) < n:
        raise ValueError(
            "the element sets repeat catalogue numbers: give one element set per object "
            "(the store's current_elements() does)"
        )
    prop: Propagator = propagator if propagator is not None else Sgp4Propagator()
    t0_ns = int(t0.astype(np.int64))
    step_ns = round(step_s * 1e9)
    n_steps = max(1, math.ceil(span_ns / step_ns))
    grid_s = np.minimum(np.arange(n_steps + 1, dtype=np.int64) * step_ns, span_ns) / 1e9
    radii = np.broadcast_to(np.asarray(object_radius_km, dtype=np.float64), (n,))
    stats = ScreeningStats(n_objects=n, n_steps=n_steps, step_s=step_s, propagator=prop.name)

    is_primary: npt.NDArray[np.bool_] | None = None
    if primaries is not None:
        wanted = np.asarray(primaries, dtype=np.int64).reshape(-1)
        is_primary = np.isin(pop.norad, wanted)
        missing = np.setdiff1d(wanted, pop.norad)
        if len(missing):
            raise ValueError(f"primaries not in the element sets: {missing[:10].tolist()}")
        n_p = int(is_primary.sum())
        stats.n_pairs = n_p * (n - n_p) + n_p * (n_p - 1) // 2
    else:
        stats.n_pairs = n * (n - 1) // 2

    # ---- shards: runs of owned grid steps [first, last], screened and refined on their own ----
    k_shards = _n_shards(shards, ray_address, n_steps)
    edges = np.linspace(0, n_steps + 1, k_shards + 1).round().astype(int)
    tasks = [
        _Shard(
            pop=pop,
            propagator=prop,
            t0_ns=t0_ns,
            grid_s=grid_s,
            first=int(a),
            last=int(b) - 1,
            threshold_km=threshold_km,
            step_s=step_s,
            is_primary=is_primary,
            max_chunk_mb=max_chunk_mb,
            workers=workers,
            compile=compile,
            progress=progress if ray_address is None else None,
        )
        for a, b in itertools.pairwise(edges)
        if b > a
    ]
    stats.n_shards = len(tasks)
    results = shard_map(
        _screen_shard,
        tasks,
        ray_address=ray_address,
        description=None if ray_address is None else f"screening {len(tasks)} shards on Ray",
    )
    seconds: dict[str, float] = {}
    for res in results:
        for key, value in res.seconds.items():
            seconds[key] = seconds.get(key, 0.0) + value
    band_lo = np.min([r.band_lo for r in results], axis=0)
    band_hi = np.max([r.band_hi for r in results], axis=0)
    stats.pair_radius_km = max(r.radius_max for r in results)
    stats.n_grid_candidates = sum(r.n_grid_candidates for r in results)
    stats.n_linear = sum(r.n_linear for r in results)
    if is_primary is None:
        stats.n_pairs_radial = _count_overlapping_pairs(band_lo, band_hi, threshold_km, None)
    else:
        pre_lo = np.min([r.pre_lo for r in results if r.pre_lo is not None], axis=0)
        pre_hi = np.max([r.pre_hi for r in results if r.pre_hi is not None], axis=0)
        stats.n_pairs_radial = _count_overlapping_pairs(pre_lo, pre_hi, threshold_km, is_primary)
    stats.n_invalid_objects = int(np.any([r.invalid for r in results], axis=0).sum())

    # ---- brackets found by two shards (at their common boundary) are kept once ----
    t_a = clock()
    i1 = np.concatenate([r.i1 for r in results])
    i2 = np.concatenate([r.i2 for r in results])
    gk = np.concatenate([r.gk for r in results])
    ref = _Refined(
        *(np.concatenate([getattr(r.refined, f.name) for r in results]) for f in fields(_Refined))
    )
    _, once = np.unique((i1 * n + i2) * (n_steps + 1) + gk, return_index=True)
    i1, i2 = i1[once], i2[once]
    ref = _Refined(*(getattr(ref, f.name)[once] for f in fields(_Refined)))
    stats.n_brackets = stats.n_refined = len(i1)

    # ---- conjunctions: under the threshold, inside the window, one per minimum ----
    dr = ref.r2 - ref.r1
    miss = np.linalg.norm(dr, axis=1)
    span_s = span_ns / 1e9
    keep = ref.ok & (miss < threshold_km) & (ref.t_s > 0.0) & (ref.t_s < span_s)
    i1, i2, t_s = i1[keep], i2[keep], ref.t_s[keep]
    r1, v1, r2, v2, miss = ref.r1[keep], ref.v1[keep], ref.r2[keep], ref.v2[keep], miss[keep]
    order = np.lexsort((t_s, i2, i1))
    i1, i2, t_s, r1, v1, r2, v2, miss = (x[order] for x in (i1, i2, t_s, r1, v1, r2, v2, miss))
    # two brackets converging on one minimum (grid-time ties): keep one
    dup = np.zeros(len(t_s), dtype=bool)
    dup[1:] = (i1[1:] == i1[:-1]) & (i2[1:] == i2[:-1]) & (np.diff(t_s) < 1.0)
    i1, i2, t_s, r1, v1, r2, v2, miss = (x[~dup] for x in (i1, i2, t_s, r1, v1, r2, v2, miss))
    by_time = np.argsort(t_s, kind="stable")
    i1, i2, t_s, r1, v1, r2, v2, miss = (x[by_time] for x in (i1, i2, t_s, r1, v1, r2, v2, miss))

    tca_ns = t0_ns + np.rint(t_s * 1e9).astype(np.int64)
    tca = tca_ns.astype("datetime64[ns]")
    basis = rtn_basis(r1, v1)  # (m, 3, 3) rows R, T, N
    dv = v2 - v1
    miss_rtn = np.einsum("nij,nj->ni", basis, r2 - r1)
    dv_rtn = np.einsum("nij,nj->ni", basis, dv)
    age1 = (tca_ns - pop.epoch_ns[i1]) / 86400e9
    age2 = (tca_ns - pop.epoch_ns[i2]) / 86400e9
    cov1, cov_name = _covariances(covariance, i1, age1)
    cov2, _ = _covariances(covariance, i2, age2)
    hbr = radii[i1] + radii[i2]
    if len(i1):
        c = rtn_to_inertial(cov1, r1, v1) + rtn_to_inertial(cov2, r2, v2)
        m2, c2 = encounter_plane(r2 - r1, dv, c)
        pc = pc_foster(m2, c2, hbr)
    else:
        pc = np.zeros(0)
    seconds["pc"] = clock() - t_a
    seconds["total"] = clock() - t_begin
    stats.n_conjunctions = len(i1)
    stats.seconds = seconds
    ep = pop.epoch_ns.astype("datetime64[ns]")
    return Conjunctions(
        index_1=i1,
        index_2=i2,
        norad_id_1=pop.norad[i1],
        norad_id_2=pop.norad[i2],
        name_1=pop.names[i1],
        name_2=pop.names[i2],
        epoch_1=ep[i1],
        epoch_2=ep[i2],
        tca=tca,
        miss_km=miss,
        relative_speed_kmps=np.linalg.norm(dv, axis=1),
        miss_rtn_km=miss_rtn,
        relative_velocity_rtn_kmps=dv_rtn,
        r1_km=r1,
        v1_kmps=v1,
        r2_km=r2,
        v2_kmps=v2,
        cov1_rtn_km2=cov1,
        cov2_rtn_km2=cov2,
        hard_body_radius_km=hbr,
        pc=pc,
        threshold_km=threshold_km,
        start=t0,
        stop=t1,
        covariance_source=cov_name,
        stats=stats,
    )


# --------------------------------------------------------------------------------------------
# Plain functions for the command line


def screen(
    elements: pa.Table,
    *,
    start: Any = None,
    days: float = 7.0,
    threshold_km: float = 5.0,
    step_s: float = 60.0,
    primaries: Sequence[int] | None = None,
    object_radius_m: float = 10.0,
    min_pc: float = 0.0,
    compile: bool = False,
    propagator: Propagator | None = None,
    shards: int | None = None,
    ray_address: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> tuple[pa.Table, ScreeningStats]:
    """Screen ``elements`` (``ELEMENTS_SCHEMA``, one row per object) for ``days`` from
    ``start`` (default now) and return the conjunctions (``CONJUNCTIONS_SCHEMA``, those with
    ``collision_probability >= min_pc``) sorted by TCA, and the screening statistics.
    ``propagator``, ``shards`` and ``ray_address`` as in :func:`screen_conjunctions`."""
    result = screen_conjunctions(
        elements,
        start,
        days=days,
        threshold_km=threshold_km,
        step_s=step_s,
        primaries=primaries,
        object_radius_km=object_radius_m / 1e3,
        compile=compile,
        propagator=propagator,
        shards=shards,
        ray_address=ray_address,
        progress=progress,
    )
    import pyarrow.compute as pc

    table = result.to_arrow()
    if min_pc > 0.0:
        table = table.filter(pc.greater_equal(table["collision_probability"], min_pc))
    return table, result.stats


_SORT_KEYS = {
    "pc": ("collision_probability", "descending"),
    "miss": ("miss_distance_km", "ascending"),
    "tca": ("tca", "ascending"),
}


def select_conjunctions(
    conjunctions: pa.Table,
    *,
    sort: str = "pc",
    norad_id: int | None = None,
    min_pc: float | None = None,
    max_miss_km: float | None = None,
) -> pa.Table:
    """The conjunctions involving ``norad_id`` (all when None), with Pc at least ``min_pc`` and
    miss at most ``max_miss_km``, sorted by ``sort`` ("pc" highest first, "miss", "tca")."""
    import pyarrow.compute as pc

    if sort not in _SORT_KEYS:
        raise ValueError(f"cannot sort by {sort!r}: choose one of {', '.join(_SORT_KEYS)}")
    t = conjunctions
    if norad_id is not None:
        t = t.filter(
            pc.or_(pc.equal(t["norad_id_1"], norad_id), pc.equal(t["norad_id_2"], norad_id))
        )
    if min_pc is not None:
        t = t.filter(pc.greater_equal(t["collision_probability"], min_pc))
    if max_miss_km is not None:
        t = t.filter(pc.less_equal(t["miss_distance_km"], max_miss_km))
    return t.sort_by([_SORT_KEYS[sort]])
