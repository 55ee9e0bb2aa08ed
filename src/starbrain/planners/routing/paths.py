"""Shortest paths over snapshots for :mod:`starbrain.planners.routing`: the CSR graph of the ISLs
(:class:`_Graph`), A* over a batch of snapshots bounded by the previous path (:func:`_paths`) and
the public :func:`shortest_paths`."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    pass

from starbrain.planners.routing.links import (
    _SLACK_KM,
    HYPATIA_STARLINK_MIN_ELEVATION_DEG,
    FloatArray,
    IntArray,
    _gsl_km,
    _max_isl_km,
)


@dataclass
class _Graph:
    """CSR structure of the ISL graph (both directions) and a last row for the source node,
    which has an entry for every satellite (weight +inf while not visible). The structure never
    changes: a snapshot only rewrites ``matrix.data``."""

    n_sat: int
    nnz_isl: int
    edge_of: IntArray  # undirected edge index of each ISL entry of the CSR
    row_of: IntArray  # the entry's tail and head satellites
    col_of: IntArray
    edge_index: dict[tuple[int, int], int]  # (from, to) -> undirected edge index
    matrix: Any  # scipy.sparse.csr_matrix, (n_sat + 1, n_sat + 1)

    @classmethod
    def build(cls, n_sat: int, isl: IntArray) -> _Graph:
        from scipy.sparse import csr_matrix

        a, b = isl[:, 0], isl[:, 1]
        rows = np.concatenate([a, b])
        cols = np.concatenate([b, a])
        eid = np.concatenate([np.arange(len(isl)), np.arange(len(isl))])
        order = np.lexsort((cols, rows))
        rows, cols = rows[order], cols[order]
        nnz = len(order)
        indptr = np.concatenate([
            np.searchsorted(rows, np.arange(n_sat + 1)), [nnz + n_sat]
        ]).astype(np.int32)  # fmt: skip
        indices = np.concatenate([cols, np.arange(n_sat)]).astype(np.int32)
        matrix = csr_matrix(
            (np.full(nnz + n_sat, np.inf), indices, indptr), shape=(n_sat + 1, n_sat + 1)
        )
        eid = eid[order]
        edge_index = {(int(u), int(w)): int(e) for u, w, e in zip(rows, cols, eid, strict=True)}
        return cls(n_sat, nnz, eid, rows, cols, edge_index, matrix)


def _reduced_weights(
    isl_km: FloatArray,
    gs_src: FloatArray,
    graph: _Graph,
    to_dst: FloatArray | None,
    src_to_dst: FloatArray | None,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """The A* heuristic ``h`` (K, n_sat) and ``h0`` (K,) (zeros without ``to_dst``: plain
    Dijkstra) and the weights searched: ISL entries of the CSR (K, nnz) and source GSLs
    (K, n_sat), reduced by ``h`` (see :func:`_paths`), km."""
    if to_dst is None or src_to_dst is None:
        n_snap = isl_km.shape[0]
        return np.zeros((n_snap, graph.n_sat)), np.zeros(n_snap), isl_km[:, graph.edge_of], gs_src
    h = np.nan_to_num(to_dst, nan=0.0)
    h0 = np.asarray(src_to_dst, dtype=np.float64)
    # interpolation (< 1 cm away from the ground points) and rounding can make a reduced
    # weight slightly negative: clamp (an error of that size, no more, in near-ties only)
    w_isl = isl_km[:, graph.edge_of] - h[:, graph.row_of] + h[:, graph.col_of]
    np.maximum(w_isl, 0.0, out=w_isl)
    return h, h0, w_isl, np.maximum(gs_src - h0[:, None] + h, 0.0)


def _path_length(
    path: IntArray, gs_src: FloatArray, gs_dst: FloatArray, isl_km: FloatArray, graph: _Graph
) -> float:
    """Length (km) of ``path`` (satellite indices from the source side) at one snapshot: the two
    GSLs (n_sat,) and its ISLs (n_edge,), added in path order."""
    length = gs_src[path[0]] + gs_dst[path[-1]]
    for u, v in itertools.pairwise(path):
        length += isl_km[graph.edge_index[int(u), int(v)]]
    return float(length)


def _paths(
    isl_km: FloatArray,
    gs_src: FloatArray,
    gs_dst: FloatArray,
    graph: _Graph,
    previous: IntArray | None = None,
    to_dst: FloatArray | None = None,
    src_to_dst: FloatArray | None = None,
) -> tuple[FloatArray, list[IntArray]]:
    """Shortest paths for K snapshots from link lengths: ISLs (K, n_edge), GSLs from the source
    and to the destination (K, n_sat), all km, +inf where a link is down. Returns the lengths
    (K,) (NaN: not connected) and the paths (satellite indices from the source side).

    With ``to_dst`` (K, n_sat), each satellite's straight-line distance to the destination,
    and ``src_to_dst`` (K,), the source's, the search is A*: Dijkstra on the reduced weights
    ``w(u, v) - h(u) + h(v)`` with ``h`` the straight-line distance to the destination, which
    never overestimates what is left of a path (a path is never shorter than the straight line)
    and is consistent (an ISL is itself a straight line), so the reduced weights are >= 0 and
    the shortest path is unchanged; the search then settles only satellites inside the
    ellipsoid of the length bound instead of the whole ball around the source.
    """
    from scipy.sparse.csgraph import dijkstra

    n_snap = isl_km.shape[0]
    n_sat, nnz = graph.n_sat, graph.nnz_isl
    data = graph.matrix.data
    lengths = np.full(n_snap, np.nan)
    paths: list[IntArray] = []
    prev = previous if previous is not None and len(previous) else None
    empty = np.zeros(0, dtype=np.int64)
    h, h0, w_isl, w_src = _reduced_weights(isl_km, gs_src, graph, to_dst, src_to_dst)
    for k in range(n_snap):
        vis_d = np.flatnonzero(np.isfinite(gs_dst[k]))
        if len(vis_d) == 0 or not np.isfinite(gs_src[k]).any():
            paths.append(empty)
            prev = None
            continue
        data[:nnz] = w_isl[k]
        data[nnz:] = w_src[k]
        w = isl_km[k]
        limit = np.inf
        if prev is not None:
            # the previous path re-measured now bounds the new shortest path
            bound = _path_length(prev, gs_src[k], gs_dst[k], w, graph)
            if math.isfinite(bound):
                limit = bound - h0[k] + _SLACK_KM
        dist, pred = dijkstra(
            graph.matrix, directed=True, indices=n_sat, return_predecessors=True, limit=limit
        )
        total = dist[vis_d] + h0[k] - h[k, vis_d] + gs_dst[k, vis_d]
        j = int(np.argmin(total))
        if not np.isfinite(total[j]):
            paths.append(empty)
            prev = None
            continue
        node = int(vis_d[j])
        seq = [node]
        while (node := int(pred[node])) != n_sat:
            seq.append(node)
        path = np.array(seq[::-1], dtype=np.int64)
        # the length from the true weights, free of the reduced weights' rounding
        lengths[k] = _path_length(path, gs_src[k], gs_dst[k], w, graph)
        paths.append(path)
        prev = path
    return lengths, paths


def shortest_paths(
    r_sat: FloatArray,
    isl: IntArray,
    r_src: FloatArray,
    up_src: FloatArray,
    r_dst: FloatArray,
    up_dst: FloatArray,
    min_elevation_deg: float = HYPATIA_STARLINK_MIN_ELEVATION_DEG,
    previous: IntArray | None = None,
    astar: bool = True,
    max_gsl_km: float | None = None,
) -> tuple[FloatArray, list[IntArray]]:
    """Shortest source-destination paths over GSL - ISLs - GSL for K snapshots of positions.

    Args:
        r_sat: satellite positions (K, n_sat, 3) km, any frame shared with the ground points.
        isl: ISLs (n_edge, 2) satellite indices (undirected).
        r_src, up_src, r_dst, up_dst: ground positions (K, 3) km and their unit up vectors
            (K, 3), in the same frame.
        min_elevation_deg: GSL elevation mask (degrees).
        previous: the path (satellite indices) at the snapshot before the first, if known; it
            bounds the first search.
        astar: guide the search by the straight-line distance to the destination (same
            paths, fewer satellites settled); False runs plain Dijkstra.
        max_gsl_km: GSL range limit (km), applied with the mask; None: none.

    Returns:
        ``(length_km (K,), paths)``: path lengths (NaN where the two points are not connected)
        and each path as satellite indices from the source side (empty where none).
    """
    r_sat = np.asarray(r_sat, dtype=np.float64)
    isl = np.asarray(isl, dtype=np.int64).reshape(-1, 2)
    sin_min = math.sin(math.radians(min_elevation_deg))
    gsl_max = math.inf if max_gsl_km is None else float(max_gsl_km)
    gs_src = _gsl_km(
        r_sat, np.asarray(r_src, np.float64), np.asarray(up_src, np.float64), sin_min, gsl_max
    )
    gs_dst = _gsl_km(
        r_sat, np.asarray(r_dst, np.float64), np.asarray(up_dst, np.float64), sin_min, gsl_max
    )
    d = r_sat[:, isl[:, 0]] - r_sat[:, isl[:, 1]]
    isl_km = np.sqrt(np.einsum("kei,kei->ke", d, d))
    rad = np.sqrt(np.einsum("kni,kni->kn", r_sat, r_sat))
    max_km = _max_isl_km(rad[:, isl[:, 0]], rad[:, isl[:, 1]])
    with np.errstate(invalid="ignore"):
        isl_km = np.where(isl_km <= max_km, isl_km, np.inf)  # NaN (failed SGP4) -> down too
    rel = r_sat - np.asarray(r_dst, np.float64)[:, None, :]
    to_dst = np.sqrt(np.einsum("kni,kni->kn", rel, rel))
    src_to_dst = np.linalg.norm(
        np.asarray(r_src, np.float64) - np.asarray(r_dst, np.float64), axis=1
    )
    graph = _Graph.build(r_sat.shape[1], isl)
    if not astar:
        return _paths(isl_km, gs_src, gs_dst, graph, previous)
    return _paths(isl_km, gs_src, gs_dst, graph, previous, to_dst, src_to_dst)
