"""The screening entry points: :func:`screen_conjunctions` (shards -> merge -> minima -> Pc) and
:func:`screen` for the command line."""

from __future__ import annotations

import dataclasses
import itertools
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import fields
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from starbrain.core import timeconv
from starbrain.planners.collision_probability import (
    encounter_plane,
    pc_foster,
    rtn_basis,
    rtn_to_inertial,
)
from starbrain.planners.conjunctions.common import FloatArray, IntArray, _Population
from starbrain.planners.conjunctions.filters import _count_overlapping_pairs
from starbrain.planners.conjunctions.refinement import CovarianceInput, _covariances, _Refined
from starbrain.planners.conjunctions.results import Conjunctions, ScreeningStats
from starbrain.planners.conjunctions.shards import _screen_shard, _Shard, _ShardResult
from starbrain.planners.propagator import Propagator, Sgp4Propagator


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
    clock = time.perf_counter
    t_begin = clock()
    t0, t1, span_ns = _window(start, stop, days)
    if not threshold_km > 0 or not step_s > 0:
        raise ValueError(f"threshold_km and step_s must be positive (got {threshold_km}, {step_s})")
    pop = _population(elements, device)
    prop: Propagator = propagator if propagator is not None else Sgp4Propagator()
    grid_s = _grid(span_ns, step_s)
    n_steps = len(grid_s) - 1
    stats = ScreeningStats(n_objects=len(pop), n_steps=n_steps, step_s=step_s, propagator=prop.name)
    is_primary = _primary_mask(pop, primaries, stats)
    template = _Shard(
        pop=pop, propagator=prop, t0_ns=int(t0.astype(np.int64)), grid_s=grid_s, first=0,
        last=n_steps, threshold_km=threshold_km, step_s=step_s, is_primary=is_primary,
        max_chunk_mb=max_chunk_mb, workers=workers, compile=compile,
        progress=progress if ray_address is None else None,
    )  # fmt: skip
    results = _run_shards(template, _n_shards(shards, ray_address, n_steps), ray_address, stats)
    seconds = _merge_stats(results, stats, is_primary, threshold_km)
    t_a = clock()
    i1, i2, ref = _brackets_once(results, len(pop), n_steps)
    stats.n_brackets = stats.n_refined = len(i1)
    found = _minima(i1, i2, ref, threshold_km, span_ns / 1e9)
    result = _conjunctions(pop, found, t0, t1, object_radius_km, covariance, threshold_km, stats)
    seconds["pc"] = clock() - t_a
    seconds["total"] = clock() - t_begin
    stats.n_conjunctions = len(result.index_1)
    stats.seconds = seconds
    return result


def _population(elements: pa.Table, device: str | None) -> _Population:
    """The objects to screen, initialised on ``device``; ValueError when a catalogue number
    repeats."""
    pop = _Population.from_table(elements, device)
    if len(np.unique(pop.norad)) < len(pop):
        raise ValueError(
            "the element sets repeat catalogue numbers: give one element set per object "
            "(the store's current_elements() does)"
        )
    return pop


def _grid(span_ns: int, step_s: float) -> FloatArray:
    """The coarse grid, s after the start: every ``step_s`` (rounded to the ns), the last
    point clipped to the window's end (at least one step)."""
    step_ns = round(step_s * 1e9)
    n_steps = max(1, math.ceil(span_ns / step_ns))
    return np.minimum(np.arange(n_steps + 1, dtype=np.int64) * step_ns, span_ns) / 1e9


def _run_shards(
    template: _Shard, k_shards: int, ray_address: str | None, stats: ScreeningStats
) -> list[_ShardResult]:
    """Screen ``template`` cut into ``k_shards`` shards, here or on Ray (``ray_address``);
    records the number of shards in ``stats``."""
    from starbrain.cluster import shard_map

    tasks = _shard_tasks(template, k_shards)
    stats.n_shards = len(tasks)
    return list(
        shard_map(
            _screen_shard,
            tasks,
            ray_address=ray_address,
            description=None if ray_address is None else f"screening {len(tasks)} shards on Ray",
        )
    )


def _shard_tasks(template: _Shard, k_shards: int) -> list[_Shard]:
    """``template`` cut into ``k_shards`` runs of owned grid steps ``[first, last]`` of nearly
    equal length, each screened and refined on its own."""
    n_steps = len(template.grid_s) - 1
    edges = np.linspace(0, n_steps + 1, k_shards + 1).round().astype(int)
    return [
        dataclasses.replace(template, first=int(a), last=int(b) - 1)
        for a, b in itertools.pairwise(edges)
        if b > a
    ]


def _conjunctions(
    pop: _Population,
    found: tuple[Any, ...],
    t0: np.datetime64,
    t1: np.datetime64,
    object_radius_km: float | npt.ArrayLike,
    covariance: CovarianceInput,
    threshold_km: float,
    stats: ScreeningStats,
) -> Conjunctions:
    """The conjunctions ``found`` by :func:`_minima` in the window ``[t0, t1]``, with their RTN
    miss and relative velocity, covariances aged to TCA, hard-body radii (the sum of the two
    objects' ``object_radius_km``) and 2-D Foster Pc."""
    i1, i2, t_s, r1, v1, r2, v2, miss = found
    t0_ns = int(t0.astype(np.int64))
    tca_ns = t0_ns + np.rint(t_s * 1e9).astype(np.int64)
    cov1, cov_name = _covariances(covariance, i1, (tca_ns - pop.epoch_ns[i1]) / 86400e9)
    cov2, _ = _covariances(covariance, i2, (tca_ns - pop.epoch_ns[i2]) / 86400e9)
    radii = np.broadcast_to(np.asarray(object_radius_km, dtype=np.float64), (len(pop),))
    hbr = radii[i1] + radii[i2]
    dv = v2 - v1
    if len(i1):
        c = rtn_to_inertial(cov1, r1, v1) + rtn_to_inertial(cov2, r2, v2)
        m2, c2 = encounter_plane(r2 - r1, dv, c)
        pc = pc_foster(m2, c2, hbr)
    else:
        pc = np.zeros(0)
    basis = rtn_basis(r1, v1)  # (m, 3, 3) rows R, T, N
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
        tca=tca_ns.astype("datetime64[ns]"),
        miss_km=miss,
        relative_speed_kmps=np.linalg.norm(dv, axis=1),
        miss_rtn_km=np.einsum("nij,nj->ni", basis, r2 - r1),
        relative_velocity_rtn_kmps=np.einsum("nij,nj->ni", basis, dv),
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


def _window(start: Any, stop: Any, days: float) -> tuple[np.datetime64, np.datetime64, int]:
    """The screening window: start (default now), stop (default ``start + days``) and its
    length in ns; ValueError unless start is before stop."""
    t0 = timeconv.to_instant(timeconv.utc_now() if start is None else start, "start")
    if stop is not None:
        t1 = timeconv.to_instant(stop, "stop")
    else:
        t1 = t0 + np.timedelta64(round(days * 86400e9), "ns")
    span_ns = int((t1 - t0).astype(np.int64))
    if span_ns <= 0:
        raise ValueError(f"your start time {t0} is not earlier than your stop time {t1}")
    return t0, t1, span_ns


def _primary_mask(
    pop: _Population, primaries: npt.ArrayLike | None, stats: ScreeningStats
) -> npt.NDArray[np.bool_] | None:
    """Which objects are primaries (None without primaries), and the number of pairs screened
    into ``stats.n_pairs``; ValueError for a primary not in the population."""
    n = len(pop)
    if primaries is None:
        stats.n_pairs = n * (n - 1) // 2
        return None
    wanted = np.asarray(primaries, dtype=np.int64).reshape(-1)
    is_primary = np.isin(pop.norad, wanted)
    missing = np.setdiff1d(wanted, pop.norad)
    if len(missing):
        raise ValueError(f"primaries not in the element sets: {missing[:10].tolist()}")
    n_p = int(is_primary.sum())
    stats.n_pairs = n_p * (n - n_p) + n_p * (n_p - 1) // 2
    return is_primary


def _merge_stats(
    results: Sequence[_ShardResult],
    stats: ScreeningStats,
    is_primary: npt.NDArray[np.bool_] | None,
    threshold_km: float,
) -> dict[str, float]:
    """The shards' filter counts and bands into ``stats`` (the radial pair count from the
    bands over the whole window: the shards' union); returns their summed timings (s)."""
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
    return seconds


def _brackets_once(
    results: Sequence[_ShardResult], n: int, n_steps: int
) -> tuple[IntArray, IntArray, _Refined]:
    """The shards' refined brackets, those found by two shards (at their common boundary)
    kept once (keyed by pair and lower grid step): ``(i1, i2, refined)``."""
    i1 = np.concatenate([r.i1 for r in results])
    i2 = np.concatenate([r.i2 for r in results])
    gk = np.concatenate([r.gk for r in results])
    ref = _Refined(
        *(np.concatenate([getattr(r.refined, f.name) for r in results]) for f in fields(_Refined))
    )
    _, once = np.unique((i1 * n + i2) * (n_steps + 1) + gk, return_index=True)
    return i1[once], i2[once], _Refined(*(getattr(ref, f.name)[once] for f in fields(_Refined)))


def _minima(
    i1: IntArray, i2: IntArray, ref: _Refined, threshold_km: float, span_s: float
) -> tuple[Any, ...]:
    """The conjunctions among the refined brackets: converged, under the threshold, strictly
    inside the window, one per minimum (brackets converging on one minimum less than 1 s apart
    kept once), sorted by TCA: ``(i1, i2, t_s, r1, v1, r2, v2, miss)``."""
    dr = ref.r2 - ref.r1
    miss = np.linalg.norm(dr, axis=1)
    keep = ref.ok & (miss < threshold_km) & (ref.t_s > 0.0) & (ref.t_s < span_s)
    cols = (i1[keep], i2[keep], ref.t_s[keep], ref.r1[keep], ref.v1[keep], ref.r2[keep],
            ref.v2[keep], miss[keep])  # fmt: skip
    i1, i2, t_s = cols[0], cols[1], cols[2]
    order = np.lexsort((t_s, i2, i1))
    cols = tuple(x[order] for x in cols)
    i1, i2, t_s = cols[0], cols[1], cols[2]
    # two brackets converging on one minimum (grid-time ties): keep one
    dup = np.zeros(len(t_s), dtype=bool)
    dup[1:] = (i1[1:] == i1[:-1]) & (i2[1:] == i2[:-1]) & (np.diff(t_s) < 1.0)
    cols = tuple(x[~dup] for x in cols)
    by_time = np.argsort(cols[2], kind="stable")
    return tuple(x[by_time] for x in cols)


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
