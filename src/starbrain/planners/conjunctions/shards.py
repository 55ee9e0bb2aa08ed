"""One shard of a screening (step 0 of :mod:`starbrain.planners.conjunctions`): a run of grid
steps filtered and refined on its own, in this process or on a Ray worker."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np
import numpy.typing as npt
import torch

from starbrain.planners.conjunctions.common import (
    _DENSE_MAX,
    _HERMITE_MARGIN_KM,
    _MU,
    _PREPASS_STEP_S,
    FloatArray,
    IntArray,
    _Population,
)
from starbrain.planners.conjunctions.filters import (
    _bands,
    _Chunk,
    _dense_block,
    _hermite_min,
    _kd_step,
    _overlap_matrix,
    _overlapping,
)
from starbrain.planners.conjunctions.refinement import _refine, _Refined
from starbrain.planners.propagator import Propagator


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
    pop, prop = shard.pop, shard.propagator
    n = len(pop)
    n_steps = len(shard.grid_s) - 1
    state_all = prop.init(pop.elements)
    scan = _Scan(
        seconds={"propagate": 0.0, "time filter": 0.0},
        band_lo=np.full(n, np.inf),
        band_hi=np.full(n, -np.inf),
        invalid=np.zeros(n, bool),
    )
    candidates = np.arange(n)
    pre_lo = pre_hi = None
    if shard.is_primary is not None:
        t_a = clock()
        candidates, pre_lo, pre_hi = _prepass(shard, state_all)
        scan.seconds["pre-pass"] = clock() - t_a
    state = prop.select(state_all, candidates) if len(candidates) < n else state_all
    chunk_steps = max(4, int(shard.max_chunk_mb * 2**20 // max(1, len(candidates) * 6 * 8 * 2)))
    for first in range(shard.first, shard.last + 1, chunk_steps):
        last = min(shard.last, first + chunk_steps - 1)  # owned steps [first, last]
        _scan_chunk(shard, state, candidates, first, last, scan)
        if shard.progress is not None:
            shard.progress(f"steps {first}-{last} of {n_steps}: {scan.n_found} brackets")

    t_a = clock()
    i1, i2, gk, ref = _refine_brackets(shard, state_all, scan.brackets)
    scan.seconds["refine"] = clock() - t_a
    return _ShardResult(
        i1=i1,
        i2=i2,
        gk=gk,
        refined=ref,
        band_lo=scan.band_lo,
        band_hi=scan.band_hi,
        invalid=scan.invalid,
        pre_lo=pre_lo,
        pre_hi=pre_hi,
        radius_max=scan.radius_max,
        n_grid_candidates=scan.n_grid,
        n_linear=scan.n_linear,
        seconds=scan.seconds,
    )


@dataclass(slots=True)
class _Scan:
    """What a shard's chunks accumulate: radial bands (km) and invalid flags per object of the
    population, the Hermite-filtered brackets ``(object a, object b, lower grid step, guessed
    TCA s after start, Hermite minimum km)``, counters and timings."""

    seconds: dict[str, float]
    band_lo: FloatArray
    band_hi: FloatArray
    invalid: npt.NDArray[np.bool_]
    brackets: list[tuple[IntArray, IntArray, IntArray, FloatArray, FloatArray]] = field(
        default_factory=list
    )
    n_found: int = 0
    n_grid: int = 0
    n_linear: int = 0
    radius_max: float = 0.0


def _prepass(shard: _Shard, state_all: Any) -> tuple[IntArray, FloatArray, FloatArray]:
    """With primaries: radial bands (km) of every object sampled every 300 s over the shard's
    span, and the objects whose band overlaps a primary's (padded by the threshold), primaries
    included: ``(candidates, band_lo, band_hi)``."""
    pop, prop, grid_s = shard.pop, shard.propagator, shard.grid_s
    assert shard.is_primary is not None
    n = len(pop)
    n_steps = len(grid_s) - 1
    w_lo, w_hi = max(0, shard.first - 1), min(n_steps, shard.last + 1)  # steps held
    a_s, b_s = float(grid_s[w_lo]), float(grid_s[w_hi])
    pre_s = np.minimum(np.arange(a_s, b_s + _PREPASS_STEP_S, _PREPASS_STEP_S), b_s)
    pre_lo, pre_hi = np.full(n, np.inf), np.full(n, -np.inf)
    per = max(2, int(shard.max_chunk_mb * 2**20 // max(1, n * 6 * 8 * 2)))
    for q in range(0, len(pre_s), per):
        r, v, ok = prop.propagate(
            state_all, pop.tsince_min(None, shard.t0_ns, pre_s[q : q + per]), shard.compile
        )
        lo_c, hi_c = _bands(r, v, ok, 0.5 * _PREPASS_STEP_S)
        pre_lo, pre_hi = np.minimum(pre_lo, lo_c), np.maximum(pre_hi, hi_c)
        del r, v
    p_idx = np.nonzero(shard.is_primary & (pre_lo <= pre_hi))[0]
    near = np.zeros(n, bool)
    for q in range(0, len(p_idx), 256):
        pp = p_idx[q : q + 256]
        near |= _overlap_matrix(pre_lo, pre_hi, pp, slice(None), shard.threshold_km).any(axis=0)
    return np.nonzero(near | shard.is_primary)[0], pre_lo, pre_hi


def _scan_chunk(
    shard: _Shard, state: Any, candidates: IntArray, first: int, last: int, scan: _Scan
) -> None:
    """One time chunk of the shard, owning grid steps ``[first, last]`` (and holding one more
    step each side): propagate the ``candidates`` (``state``: their initialised propagator
    state), update their radial bands, keep the objects whose band overlaps another's (or a
    primary's), run the time filter (dense distances for few primaries, else a k-d tree per
    step) and the Hermite filter; appends the brackets to ``scan``."""
    clock = time.perf_counter
    grid_s, threshold_km, dt = shard.grid_s, shard.threshold_km, shard.step_s
    n_steps = len(grid_s) - 1
    cand_primary = shard.is_primary[candidates] if shard.is_primary is not None else None
    g_lo, g_hi = max(0, first - 1), min(n_steps, last + 1)  # held steps
    t_a = clock()
    tsince = shard.pop.tsince_min(candidates, shard.t0_ns, grid_s[g_lo : g_hi + 1])
    r, v, ok = shard.propagator.propagate(state, tsince, shard.compile)
    scan.seconds["propagate"] += clock() - t_a
    t_a = clock()
    lo, hi = _bands(r, v, ok, 0.5 * dt)
    scan.band_lo[candidates] = np.minimum(scan.band_lo[candidates], lo)
    scan.band_hi[candidates] = np.maximum(scan.band_hi[candidates], hi)
    scan.invalid[candidates[~ok.all(axis=1)]] = True
    act_local = np.nonzero(_active(lo, hi, cand_primary, threshold_km))[0]
    if len(act_local) < 2:
        scan.seconds["time filter"] += clock() - t_a
        return
    speed = np.linalg.norm(v[act_local], axis=-1)
    vrel = 2.0 * float(speed.max()) * 1.02
    radius = threshold_km + 0.5 * vrel * dt
    scan.radius_max = max(scan.radius_max, radius)
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
    results = _time_filter(shard, chunk, owned, first, radius, vrel, grad)
    a = np.concatenate([x[0] for x in results])
    b = np.concatenate([x[1] for x in results])
    k = np.concatenate([x[2] for x in results])
    scan.n_grid += sum(x[3] for x in results)
    scan.n_linear += len(a)
    inside = (k >= 0) & (k < n_steps)
    a, b, k = a[inside], b[inside], k[inside]
    if len(a):  # Hermite filter on this chunk's brackets (both ends are held)
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
        scan.brackets.append((ga, gb, k[keep], grid_s[k[keep]] + s[keep] * h[keep], d_h[keep]))
        scan.n_found += len(ga)
    scan.seconds["time filter"] += clock() - t_a


def _time_filter(
    shard: _Shard, chunk: _Chunk, owned: range, first: int, radius: float, vrel: float, grad: float
) -> list[Any]:
    """The time filter over the chunk's owned steps (``owned``: indices into ``chunk``; ``first``
    the first owned grid step): for few primaries dense primary-to-object distances in one
    block, else a k-d tree per step (``workers`` threads). Pairs closer than ``radius`` (km) are
    thinned by their rectilinear closest approach (relative speed bound ``vrel`` km/s, gravity
    gradient ``grad`` 1/s^2); returns per block ``(a, b, lower step, n grid candidates)``."""
    dt, threshold_km = shard.step_s, shard.threshold_km
    if chunk.primary is not None and chunk.primary.sum() * len(chunk.active) <= _DENSE_MAX:
        sub = _Chunk(
            first=first,
            x=chunk.x[owned.start : owned.stop],
            active=chunk.active,
            primary=chunk.primary,
        )
        return [_dense_block(sub, radius, dt, threshold_km, vrel, grad)]

    def work(kl: int) -> Any:
        return _kd_step(chunk, kl, radius, dt, threshold_km, vrel, grad)

    n_workers = shard.workers or torch.get_num_threads()
    if n_workers > 1:
        with ThreadPoolExecutor(n_workers) as pool:
            return list(pool.map(work, owned, chunksize=16))
    return [work(kl) for kl in owned]


def _active(
    lo: FloatArray,
    hi: FloatArray,
    primary: npt.NDArray[np.bool_] | None,
    threshold_km: float,
) -> npt.NDArray[np.bool_]:
    """Objects of a chunk whose radial band ``[lo, hi]`` (km) overlaps, padded by the threshold,
    another object's (without primaries) or a primary's (with; empty bands never)."""
    if primary is None:
        return _overlapping(lo, hi, threshold_km)
    act_mask = np.zeros(len(lo), bool)
    p_loc = np.nonzero(primary & (lo <= hi))[0]
    for q in range(0, len(p_loc), 256):
        pp = p_loc[q : q + 256]
        act_mask |= _overlap_matrix(lo, hi, pp, slice(None), threshold_km).any(axis=0)
    return act_mask & (lo <= hi)


def _refine_brackets(
    shard: _Shard,
    state_all: Any,
    brackets: list[tuple[IntArray, IntArray, IntArray, FloatArray, FloatArray]],
) -> tuple[IntArray, IntArray, IntArray, _Refined]:
    """Merge the shard's brackets over its chunks (one per pair and lower grid step, object 1
    first) and refine their TCA, in batches of 50,000, within the bracket widened by half a
    step each side: ``(i1, i2, lower grid step, refined)``."""
    pop, prop, grid_s, t0_ns = shard.pop, shard.propagator, shard.grid_s, shard.t0_ns
    n, n_steps = len(pop), len(grid_s) - 1
    if brackets:
        ga = np.concatenate([p[0] for p in brackets])
        gb = np.concatenate([p[1] for p in brackets])
        gk = np.concatenate([p[2] for p in brackets])
        guess = np.concatenate([p[3] for p in brackets])
        i1, i2 = _ordered_pair(ga, gb, shard.is_primary)
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
        lo_s, hi_s = grid_s[gk[sl]] - widen, grid_s[gk[sl] + 1] + widen
        parts.append(_refine(pop, prop, state_all, i1[sl], i2[sl], t0_ns, guess[sl], lo_s, hi_s))
    if parts:
        ref = _Refined(
            *(np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(_Refined))
        )
    else:
        ref = _refine(pop, prop, state_all, i1, i2, t0_ns, guess, guess, guess)
    return i1, i2, gk, ref


def _ordered_pair(
    a: IntArray, b: IntArray, is_primary: npt.NDArray[np.bool_] | None
) -> tuple[IntArray, IntArray]:
    """(object 1, object 2) of each pair: the primary first, else the earlier row."""
    swap = a > b if is_primary is None else (~is_primary[a]) | (is_primary[b] & (b < a))
    return np.where(swap, b, a), np.where(swap, a, b)
