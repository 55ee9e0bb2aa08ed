"""One shard of a routing run for :mod:`starbrain.planners.routing`: the satellites propagated at
knots, link lengths and ground points Hermite-interpolated to every snapshot, the pruned graph
and the paths of each chunk of snapshots (:func:`_route_shard`)."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from starbrain.core import timeconv
from starbrain.planners.passes import GroundStation

if TYPE_CHECKING:
    from starbrain.planners.propagator import Propagator

from starbrain.planners.routing.links import (
    _SLACK_KM,
    FloatArray,
    IntArray,
    _gsl_km,
    _itrf_and_up,
    _max_isl_km,
)
from starbrain.planners.routing.paths import _Graph, _paths


def _hermite_weights(tau: FloatArray, h_s: float) -> tuple[FloatArray, ...]:
    """Cubic Hermite basis at ``tau`` in [0, 1] (value, value, derivative, derivative terms,
    the derivative ones already scaled by the knot spacing ``h_s``)."""
    tau2, tau3 = tau * tau, tau * tau * tau
    return (
        2 * tau3 - 3 * tau2 + 1,
        -2 * tau3 + 3 * tau2,
        (tau3 - 2 * tau2 + tau) * h_s,
        (tau3 - tau2) * h_s,
    )


def _hermite(x_kn: FloatArray, dx_kn: FloatArray, h_s: float, t_s: FloatArray) -> FloatArray:
    """Cubic Hermite interpolation of knot values (J, ...) and their time derivatives (per
    second) at spacing ``h_s`` to times ``t_s`` (K,) seconds from the first knot: (K, ...)."""
    j = np.clip(np.floor(t_s / h_s).astype(np.int64), 0, x_kn.shape[0] - 2)
    tau = ((t_s - j * h_s) / h_s).reshape((-1,) + (1,) * (x_kn.ndim - 1))
    h00, h01, h10, h11 = _hermite_weights(tau, h_s)
    out: FloatArray = h00 * x_kn[j]
    out += h01 * x_kn[j + 1]
    out += h10 * dx_kn[j]
    out += h11 * dx_kn[j + 1]
    return out


def _ground_teme(
    g: GroundStation, jd: FloatArray, fr: FloatArray, ellipsoid: str = "wgs84"
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """A ground point in TEME at UTC (jd, fr) (J,): position (J, 3) km, up vector (J, 3) and
    the Earth rotation rate (J,) rad/s."""
    from starbrain.physics.frames import teme_to_itrf_matrix

    m, omega = teme_to_itrf_matrix(jd, fr)  # r_itrf = m @ r_teme
    r, up = _itrf_and_up(g, ellipsoid)
    return np.einsum("kji,j->ki", m, r), np.einsum("kji,j->ki", m, up), omega


def _spin(x: FloatArray, omega: FloatArray) -> FloatArray:
    """Time derivative (J, 3) of vectors (J, 3) fixed to the Earth: omega z x x."""
    return np.stack([-omega * x[:, 1], omega * x[:, 0], np.zeros_like(omega)], -1)


# Step of the central differences that give the rates at the knots: truncation error
# step^4 / 30 times the fifth derivative (~1e-13 km/s) and rounding (~1e-8 km/s) leave the
# interpolation, whose own error at a 10 s knot step is ~0.3 mm per link, as the only error
_RATE_STEP_S = 0.5

# Elevation margin for GSL candidates, per second of knot step: a LEO satellite near a 25 deg
# mask changes elevation by under 0.7 deg/s (0.45 deg/s at 550 km), so one below the mask by
# more than 1.5 deg/s x step at both knots of an interval stays below it in between.
_CANDIDATE_MARGIN_RAD_PER_S = math.radians(1.5)
# ... and range margin: a LEO satellite's range from a ground point changes by under 8 km/s
_CANDIDATE_MARGIN_KM_PER_S = 10.0


@dataclass(frozen=True)
class _Shard:
    """One contiguous range of snapshots ``[first, stop)`` of a routing run."""

    elements: pa.Table
    isl: IntArray
    source: GroundStation
    destination: GroundStation
    start_ns: int
    step_ns: int
    first: int
    stop: int
    min_elevation_deg: float
    knot_step_s: float
    chunk: int
    device: str | None
    max_gsl_km: float = math.inf
    ellipsoid: str = "wgs84"
    propagator: Propagator | None = None  # None: physics.sgp4 directly


@dataclass
class _ShardResult:
    first: int
    length_km: FloatArray
    n_sats: IntArray
    changed: npt.NDArray[np.bool_]  # vs the previous snapshot within the shard (first: False)
    changes: list[tuple[int, IntArray]]  # (global snapshot index, new path) at each change
    first_path: IntArray
    last_path: IntArray


def _pruned(
    prev: IntArray | None,
    graph: _Graph,
    gs: list[FloatArray],
    isl_l: FloatArray,
    isl_dl: FloatArray,
    isl_ok: npt.NDArray[np.bool_],
    j: IntArray,
    h: float,
    t_s: FloatArray,
    to_dst: FloatArray,
    to_src: FloatArray,
) -> IntArray | None:
    """Satellites that can lie on a shortest path at some snapshot of a chunk, or None (all).

    The path found last, re-measured at each snapshot ``k`` of the chunk, bounds the shortest
    path there (``U_k``); a satellite ``v`` on a path no longer than ``U_k`` has
    ``|src - v| + |v - dst| <= U_k`` (straight lines are shortest), so every other satellite
    can be dropped from the chunk's graph: what is left is an ellipsoid with the two ground
    points as foci. None when there is no such path, when one of its links goes down during
    the chunk, or when the ellipsoid holds over half of the satellites.
    """
    if prev is None or len(prev) == 0:
        return None
    bound = gs[0][:, prev[0]] + gs[1][:, prev[-1]]
    if len(prev) > 1:
        e = np.array([graph.edge_index[int(u), int(v)] for u, v in itertools.pairwise(prev)])
        seg = _hermite(isl_l[:, e], isl_dl[:, e], h, t_s)
        seg[~(isl_ok[j][:, e] & isl_ok[j + 1][:, e])] = np.inf
        bound = bound + seg.sum(axis=1)
    if not np.all(np.isfinite(bound)):
        return None
    with np.errstate(invalid="ignore"):  # 100 m of slack for the interpolated distances
        inside = np.any(to_src + to_dst <= bound[:, None] + _SLACK_KM, axis=0)
    keep = np.flatnonzero(inside)
    return None if len(keep) > graph.n_sat // 2 else keep


def _knot_states(shard: _Shard, n_knots: int, knot_ns: IntArray) -> tuple[FloatArray, FloatArray]:
    """TEME positions (km) and rates (km/s) ``(n_knots, n_sat, 3)`` of the shard's satellites at
    the knots, by SGP4 or ``shard.propagator`` (NaN where it fails).

    SGP4's velocity is not exactly the derivative of its position (they differ by ~2 cm/s,
    which would cost ~2 cm between knots): the rates come from fourth-order central
    differences of positions, (-r(2d) + 8 r(d) - 8 r(-d) + r(-2d)) / 12 d."""
    from starbrain.physics.sgp4 import propagate

    delta_ns = int(_RATE_STEP_S * 1e9)
    at = np.concatenate([knot_ns + m * delta_ns for m in (0, -2, -1, 1, 2)])
    at_jd, at_fr = timeconv.datetime64_to_jd(at.astype("datetime64[ns]"))
    if shard.propagator is None:
        r, _, err = propagate(shard.elements, at_jd, at_fr, device=shard.device)
        r[err != 0] = np.nan
    else:
        from starbrain.planners.propagator import utc_propagate

        r, _ = utc_propagate(shard.propagator, shard.elements, device=shard.device)(at_jd, at_fr)
    r_m2, r_m1, r_p1, r_p2 = (r[:, i * n_knots : (i + 1) * n_knots] for i in range(1, 5))
    v = (r_m2 - r_p2 + 8.0 * (r_p1 - r_m1)) / (12.0 * _RATE_STEP_S)
    r_kn = np.ascontiguousarray(r[:, :n_knots].transpose(1, 0, 2))  # (J, n_sat, 3)
    v_kn = np.ascontiguousarray(v.transpose(1, 0, 2))
    return r_kn, v_kn


def _isl_knots(
    r_kn: FloatArray, v_kn: FloatArray, isl: IntArray
) -> tuple[FloatArray, FloatArray, npt.NDArray[np.bool_]]:
    """ISLs at the knots ``(n_knots, n_edge)``: length (km), its rate (km/s), and whether the
    line of sight clears the atmosphere."""
    a, b = isl[:, 0], isl[:, 1]
    dr = r_kn[:, a] - r_kn[:, b]
    dv = v_kn[:, a] - v_kn[:, b]
    isl_l = np.sqrt(np.einsum("jei,jei->je", dr, dr))
    isl_dl = np.einsum("jei,jei->je", dr, dv) / isl_l
    rad = np.sqrt(np.einsum("jni,jni->jn", r_kn, r_kn))
    with np.errstate(invalid="ignore"):
        isl_ok = isl_l <= _max_isl_km(rad[:, a], rad[:, b])  # NaN -> down
    return isl_l, isl_dl, isl_ok


def _ground_knots(
    shard: _Shard, r_kn: FloatArray, jd: FloatArray, fr: FloatArray, h: float
) -> list[tuple[Any, ...]]:
    """For the source and the destination: TEME position and its rate, up vector and its rate
    at the knots, and the GSL candidates ``(n_knots, n_sat)``: the satellites within the
    elevation and range margins of the knot step ``h`` of being usable."""
    margin = _CANDIDATE_MARGIN_RAD_PER_S * h
    sin_cand = math.sin(max(-math.pi / 2, math.radians(shard.min_elevation_deg) - margin))
    ground = []
    max_cand = shard.max_gsl_km + _CANDIDATE_MARGIN_KM_PER_S * h
    for g in (shard.source, shard.destination):
        rg, up, omega = _ground_teme(g, jd, fr, shard.ellipsoid)
        rel = r_kn - rg[:, None, :]
        with np.errstate(invalid="ignore"):
            dist_kn = np.sqrt(np.einsum("jni,jni->jn", rel, rel))
            sin_el = np.einsum("jni,ji->jn", rel, up) / dist_kn
            near = (sin_el >= sin_cand) & (dist_kn <= max_cand)
        ground.append((rg, _spin(rg, omega), up, _spin(up, omega), near))
    return ground


def _ranges(
    r_kn: FloatArray, v_kn: FloatArray, ground: list[tuple[Any, ...]]
) -> tuple[FloatArray, ...]:
    """Straight-line distances at the knots and their rates (km, km/s): each satellite to the
    destination (the A* heuristic), the source to the destination, each satellite to the
    source (for pruning)."""
    rg_d, vg_d = ground[1][0], ground[1][1]
    rel = r_kn - rg_d[:, None, :]
    to_dst = np.sqrt(np.einsum("jni,jni->jn", rel, rel))
    d_to_dst = np.einsum("jni,jni->jn", rel, v_kn - vg_d[:, None, :]) / to_dst
    rel0 = ground[0][0] - rg_d
    src_to_dst = np.sqrt(np.einsum("ji,ji->j", rel0, rel0))
    d_src_to_dst = np.einsum("ji,ji->j", rel0, ground[0][1] - vg_d) / src_to_dst
    rg_s, vg_s = ground[0][0], ground[0][1]
    rel = r_kn - rg_s[:, None, :]
    to_src = np.sqrt(np.einsum("jni,jni->jn", rel, rel))
    d_to_src = np.einsum("jni,jni->jn", rel, v_kn - vg_s[:, None, :]) / to_src
    return to_dst, d_to_dst, src_to_dst, d_src_to_dst, to_src, d_to_src


def _gsls(
    ground: list[tuple[Any, ...]],
    near_d: list[FloatArray],
    r_kn: FloatArray,
    v_kn: FloatArray,
    h: float,
    t_s: FloatArray,
    knots: tuple[int, int],
    sin_min: float,
    max_gsl_km: float,
) -> list[FloatArray]:
    """GSL lengths (km, +inf where down) ``(n_snap, n_sat)`` from the source and to the
    destination at times ``t_s`` of a chunk over knots ``[j0, j1]``, from interpolated
    positions of the candidates; also overwrites the candidates' distances in ``near_d``.

    Straight-line distances to the ground points, interpolated as scalars, are good to ~1 cm
    beyond ~1,500 km, but up to ~1 m for a satellite passing nearly overhead (the distance bends
    sharply there); so for the GSL candidates they come from positions."""
    j0, j1 = knots
    gs: list[FloatArray] = []
    for (rg, drg, up, dup, near), dist in zip(ground, near_d, strict=True):
        cand = np.flatnonzero(near[j0 : j1 + 1].any(axis=0))
        out = np.full((len(t_s), r_kn.shape[1]), np.inf)
        if len(cand):
            r_c = _hermite(r_kn[:, cand], v_kn[:, cand], h, t_s)
            rg_t = _hermite(rg, drg, h, t_s)
            up_t = _hermite(up, dup, h, t_s)
            up_t /= np.linalg.norm(up_t, axis=1, keepdims=True)
            out[:, cand], dist[:, cand] = _gsl_km(r_c, rg_t, up_t, sin_min, max_gsl_km, exact=True)
        gs.append(out)
    return gs


def _chunk_paths(
    shard: _Shard,
    graph: _Graph,
    keep: IntArray | None,
    prev: IntArray | None,
    isl: tuple[FloatArray, FloatArray, npt.NDArray[np.bool_]],
    gs: list[FloatArray],
    h_dst: FloatArray,
    h0: FloatArray,
    j: IntArray,
    t_s: FloatArray,
) -> tuple[FloatArray, list[IntArray]]:
    """Path lengths and paths of one chunk: over the whole graph, or (``keep``) over the
    satellites inside the ellipsoid of the bound, which alone can be on a shortest path."""
    isl_l, isl_dl, isl_ok = isl
    h = shard.knot_step_s
    if keep is None:
        isl_km = _hermite(isl_l, isl_dl, h, t_s)
        isl_km[~(isl_ok[j] & isl_ok[j + 1])] = np.inf
        return _paths(isl_km, gs[0], gs[1], graph, prev, h_dst, h0)
    a, b = shard.isl[:, 0], shard.isl[:, 1]
    local = np.full(graph.n_sat, -1, dtype=np.int64)
    local[keep] = np.arange(len(keep))
    e_in = np.flatnonzero((local[a] >= 0) & (local[b] >= 0))
    sub = _Graph.build(len(keep), local[shard.isl[e_in]])
    isl_km = _hermite(isl_l[:, e_in], isl_dl[:, e_in], h, t_s)
    isl_km[~(isl_ok[j][:, e_in] & isl_ok[j + 1][:, e_in])] = np.inf
    assert prev is not None
    length, paths = _paths(
        isl_km, gs[0][:, keep], gs[1][:, keep], sub, local[prev], h_dst[:, keep], h0
    )
    return length, [keep[p] for p in paths]


def _route_shard(shard: _Shard) -> _ShardResult:
    """Route one shard.

    SGP4 runs at knots ``knot_step_s`` apart (:func:`_knot_states`). ISL lengths are
    interpolated (cubic Hermite, with their exact rates ``d.v / |d|`` at the knots) straight to
    every snapshot, without positions; GSLs need positions only for the few satellites that can
    be above the mask of either ground point in the interval (the candidates), interpolated the
    same way, as are the ground points in TEME.
    """
    n = shard.stop - shard.first
    t_first_ns = shard.start_ns + shard.first * shard.step_ns
    span_s = (n - 1) * shard.step_ns / 1e9
    h = shard.knot_step_s
    n_knots = max(2, math.ceil(span_s / h) + 2)
    knot_ns = t_first_ns + np.rint(np.arange(n_knots) * h * 1e9).astype(np.int64)
    jd, fr = timeconv.datetime64_to_jd(knot_ns.astype("datetime64[ns]"))
    r_kn, v_kn = _knot_states(shard, n_knots, knot_ns)
    graph = _Graph.build(r_kn.shape[1], shard.isl)
    isl = _isl_knots(r_kn, v_kn, shard.isl)
    ground = _ground_knots(shard, r_kn, jd, fr, h)
    sin_min = math.sin(math.radians(shard.min_elevation_deg))
    to_dst, d_to_dst, src_to_dst, d_src_to_dst, to_src, d_to_src = _ranges(r_kn, v_kn, ground)

    lengths = np.full(n, np.nan)
    n_sats = np.zeros(n, dtype=np.int64)
    changed = np.zeros(n, dtype=bool)
    changes: list[tuple[int, IntArray]] = []
    prev: IntArray | None = None
    first_path = last_path = np.zeros(0, dtype=np.int64)
    for c0 in range(0, n, shard.chunk):
        c1 = min(n, c0 + shard.chunk)
        t_s = np.arange(c0, c1, dtype=np.int64) * shard.step_ns / 1e9
        j = np.clip(np.floor(t_s / h).astype(np.int64), 0, n_knots - 2)
        near_d = [_hermite(to_src, d_to_src, h, t_s), _hermite(to_dst, d_to_dst, h, t_s)]
        knots = (int(j.min()), int(j.max()) + 1)
        gs = _gsls(ground, near_d, r_kn, v_kn, h, t_s, knots, sin_min, shard.max_gsl_km)
        h_dst = near_d[1]
        h0 = _hermite(src_to_dst, d_src_to_dst, h, t_s)
        keep = _pruned(prev, graph, gs, *isl, j, h, t_s, h_dst, near_d[0])
        length, paths = _chunk_paths(shard, graph, keep, prev, isl, gs, h_dst, h0, j, t_s)
        lengths[c0:c1] = length
        for i, p in enumerate(paths):
            n_sats[c0 + i] = len(p)
            if c0 + i == 0:
                first_path = p
                changes.append((shard.first, p))
            elif not np.array_equal(p, last_path):
                changed[c0 + i] = True
                changes.append((shard.first + c0 + i, p))
            last_path = p
        prev = last_path if len(last_path) else None
    return _ShardResult(shard.first, lengths, n_sats, changed, changes, first_path, last_path)
