"""Inter-satellite link routing: +Grid topology, ground-satellite links and time-varying shortest
paths between two ground points, snapshot by snapshot.

The network, as Hypatia models it (Kassing et al., "Exploring the 'Internet from space' with
Hypatia", IMC 2020; code at github.com/snkas/hypatia):

* **ISLs, +Grid.** Every satellite keeps four laser links: to the satellites ahead and behind in
  its own plane and to one satellite in each of the two neighbouring planes of its shell. Hypatia
  pairs "the satellite with the same index" in the next plane; in its constellations same index
  means nearly the same phase. Our Walker-delta shells (:mod:`starbrain.sources.constellation`)
  offset each plane's phases by ``360 F / T`` degrees, so the cross-plane partner is the
  satellite of the next plane nearest in phase (slot ``k + d``, ``d = -round(S * dM)`` with
  ``dM`` the planes' phase offset in revolutions; at the seam between the last and the first
  plane the same rule picks the partner). The topology is fixed: only link lengths change. Shells
  are not linked to each other. An ISL is usable while the straight line between the two
  satellites stays above 80 km altitude (Hypatia's rule for the maximum ISL length: 5,016 km at
  550 km altitude). In Starlink's shells 1-3 no +Grid link exceeds 2,200 km; in the polar
  shells 4 and 5 (6 and 4 planes) cross-plane links grow too long near the equator, and 24% and
  33% of those shells' ISLs are down at any time.
* **GSLs.** A ground point links to every satellite at least ``min_elevation_deg`` above its
  horizon (geodetic up, WGS-84). Default 25 deg, the value Hypatia uses for Starlink, taken
  from SpaceX's FCC filing (Hypatia turns it into a maximum GSL length of 1,089.7 km in
  ``paper/satellite_networks_state/main_starlink_550.py``; a true 25 deg elevation at 550 km
  allows slant ranges up to 1,123 km). Or, as Hypatia does for Kuiper, a range rule
  (``max_gsl_km``): every satellite at most that far in a straight line (with a 0 deg mask
  unless one is given); and the ground points on WGS-72 instead of WGS-84 (``ellipsoid``).
  Networks (Walker presets, TLE files, the catalogue, Hypatia's own TLEs) are built in
  :mod:`starbrain.planners.routing_networks`; their ISLs never change, only their lengths.
* **Paths.** At every snapshot (default every 100 ms of simulated time) the shortest path by
  length from the source to the destination over GSL - ISLs - GSL (no ground relays), found
  with ``scipy.sparse.csgraph.dijkstra`` from the source only. Latency is the path length over
  the speed of light in vacuum, the round-trip time (RTT) twice that (propagation only: no
  queueing, transmission or processing delay). A path change is any change of the sequence of
  satellites between consecutive snapshots.

Propagation: SGP4 (:mod:`starbrain.physics.sgp4`) by default, or any planner
:class:`~starbrain.planners.propagator.Propagator` (``route(..., propagator=...)``: a registered
world model through :func:`~starbrain.planners.propagator.resolve_propagator`, as every orbit
planner takes it); :attr:`RouteResult.propagator` names the one used.

What keeps it fast: satellites are propagated with SGP4 at a coarse step (10 s) and placed at
every snapshot by cubic Hermite interpolation of position and rate (the rate by central
differences of SGP4 positions, as SGP4's own velocity is not quite the derivative of its
position). At 10 s the interpolated link lengths are within ~0.3 mm of SGP4's (a 45-link path
within ~1.5 cm: 0.05 ns). All geometry is vectorised over (snapshot, satellite) in chunks and
done in TEME (the ground points are rotated into TEME, not the satellites into ITRF). The CSR
structure of the ISL graph is built once (once per chunk when pruned, below) and a snapshot only
rewrites its weights. The search is
A* (Dijkstra on weights reduced by the straight-line distance to the destination, which keeps
the same shortest paths), bounded by the previous snapshot's path re-measured now; and each
chunk's graph keeps only the satellites inside the ellipsoid, with the two ground points as
foci, that such a bound allows.

Fibre comparison: great-circle distance between the cities (on the sphere of the IUGG mean
Earth radius, 6371.0088 km) over ``c / 1.4682``, the effective group index of Corning SMF-28
Ultra single-mode fibre at 1550 nm (Corning's SMF-28 Ultra product information sheet). Real fibre
routes are longer than great circles, so this is the best case for fibre.

Time ranges are split into shards run through :func:`starbrain.cluster.shard_map`, in this
process or on a Ray cluster with the same function.

Units: km, km/s inside; times UTC ``datetime64[ns]``; angles radians inside, degrees in the
public arguments named ``*_deg``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, overload

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from starbrain.core import timeconv
from starbrain.core.errors import StarbrainError
from starbrain.physics.earth import geodetic_to_itrf
from starbrain.planners.passes import GroundStation
from starbrain.planners.routing_networks import RoutingNetwork, plus_grid, routing_network
from starbrain.sources.constellation import RADIUS_WGS72_KM

if TYPE_CHECKING:
    from starbrain.planners.propagator import Propagator

__all__ = [
    "C_KM_S",
    "EARTH_MEAN_RADIUS_KM",
    "FIBRE_GROUP_INDEX",
    "HYPATIA_STARLINK_MIN_ELEVATION_DEG",
    "RouteResult",
    "RoutingNetwork",
    "great_circle_km",
    "isl_up",
    "plus_grid",
    "route",
    "routing_network",
    "shortest_paths",
]

C_KM_S = 299_792.458  # speed of light in vacuum
FIBRE_GROUP_INDEX = 1.4682  # Corning SMF-28 Ultra, effective group index at 1550 nm
EARTH_MEAN_RADIUS_KM = 6371.0088  # IUGG mean radius R1
HYPATIA_STARLINK_MIN_ELEVATION_DEG = 25.0
WGS72_FLATTENING = 1.0 / 298.26  # WGS-72 (Hypatia reads its ground stations on it)
ISL_MIN_ALTITUDE_KM = 80.0  # a laser link must clear the atmosphere below this (Hypatia)
_RADIUS_FOR_ISL_KM = RADIUS_WGS72_KM  # the radius the constellation's altitudes are over

# Slack on search limits and pruning bounds, far above the interpolation errors (< 1 m), far
# below anything that changes how much of the graph is searched
_SLACK_KM = 0.1

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


# --------------------------------------------------------------------------------------------
# Geometry


def great_circle_km(
    a: GroundStation, b: GroundStation, radius_km: float = EARTH_MEAN_RADIUS_KM
) -> float:
    """Great-circle distance between two ground points on a sphere of ``radius_km`` (haversine)."""
    p1, p2 = math.radians(a.lat_deg), math.radians(b.lat_deg)
    dl = math.radians(b.lon_deg - a.lon_deg)
    h = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2.0 * radius_km * math.asin(min(1.0, math.sqrt(h)))


def _itrf_and_up(g: GroundStation, ellipsoid: str = "wgs84") -> tuple[FloatArray, FloatArray]:
    """ITRF position (km) and geodetic up unit vector of a ground point, each (3,), with its
    latitude and height read on the WGS-84 or the WGS-72 ellipsoid (``ellipsoid``)."""
    lat, lon = math.radians(g.lat_deg), math.radians(g.lon_deg)
    if ellipsoid == "wgs84":
        r = np.asarray(geodetic_to_itrf(lat, lon, g.alt_km), dtype=np.float64)
    elif ellipsoid == "wgs72":
        e2 = WGS72_FLATTENING * (2.0 - WGS72_FLATTENING)
        n = RADIUS_WGS72_KM / math.sqrt(1.0 - e2 * math.sin(lat) ** 2)
        r = np.array([
            (n + g.alt_km) * math.cos(lat) * math.cos(lon),
            (n + g.alt_km) * math.cos(lat) * math.sin(lon),
            (n * (1.0 - e2) + g.alt_km) * math.sin(lat),
        ])  # fmt: skip
    else:
        raise StarbrainError(f"the ellipsoid must be wgs84 or wgs72, not {ellipsoid!r}")
    up = np.array([math.cos(lat) * math.cos(lon), math.cos(lat) * math.sin(lon), math.sin(lat)])
    return r, up


def _max_isl_km(r_a: FloatArray, r_b: FloatArray) -> FloatArray:
    """Longest line of sight between two radii (km) that clears ISL_MIN_ALTITUDE_KM."""
    rho2 = (_RADIUS_FOR_ISL_KM + ISL_MIN_ALTITUDE_KM) ** 2
    return np.sqrt(np.maximum(r_a * r_a - rho2, 0.0)) + np.sqrt(np.maximum(r_b * r_b - rho2, 0.0))


def isl_up(r_a: FloatArray, r_b: FloatArray) -> npt.NDArray[np.bool_]:
    """Whether inter-satellite links between positions ``r_a`` and ``r_b`` (..., 3) km, in any
    Earth-centred frame, are usable: the routing rule, length at most the longest line of sight
    that clears ``ISL_MIN_ALTITUDE_KM`` above the WGS-72 radius. False where a position is NaN."""
    r_a, r_b = np.asarray(r_a, dtype=np.float64), np.asarray(r_b, dtype=np.float64)
    length = np.linalg.norm(r_a - r_b, axis=-1)
    limit = _max_isl_km(np.linalg.norm(r_a, axis=-1), np.linalg.norm(r_b, axis=-1))
    with np.errstate(invalid="ignore"):
        return np.asarray(length <= limit)


@overload
def _gsl_km(
    r_sat: FloatArray, r_gs: FloatArray, up_gs: FloatArray, sin_min: float, max_km: float = ...
) -> FloatArray: ...
@overload
def _gsl_km(
    r_sat: FloatArray,
    r_gs: FloatArray,
    up_gs: FloatArray,
    sin_min: float,
    max_km: float,
    exact: bool,
) -> tuple[FloatArray, FloatArray]: ...


def _gsl_km(
    r_sat: FloatArray,
    r_gs: FloatArray,
    up_gs: FloatArray,
    sin_min: float,
    max_km: float = math.inf,
    exact: bool = False,
) -> FloatArray | tuple[FloatArray, FloatArray]:
    """GSL lengths (K, n) in km from ground point (K, 3) to satellites (K, n, 3); +inf where the
    satellite is below the elevation mask, farther than ``max_km`` (or its position is NaN).
    With ``exact``, also the distances of every satellite, usable or not."""
    d = r_sat - r_gs[:, None, :]
    dist = np.sqrt(np.einsum("kni,kni->kn", d, d))
    sin_el = np.einsum("kni,ki->kn", d, up_gs) / dist
    with np.errstate(invalid="ignore"):
        ok = (sin_el >= sin_min) & (dist <= max_km)
    gsl = np.where(ok, dist, np.inf)
    return (gsl, dist) if exact else gsl


# --------------------------------------------------------------------------------------------
# Shortest paths over snapshots


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
    if to_dst is not None and src_to_dst is not None:
        h = np.nan_to_num(to_dst, nan=0.0)
        h0 = np.asarray(src_to_dst, dtype=np.float64)
        # interpolation (< 1 cm away from the ground points) and rounding can make a reduced
        # weight slightly negative: clamp (an error of that size, no more, in near-ties only)
        w_isl = isl_km[:, graph.edge_of] - h[:, graph.row_of] + h[:, graph.col_of]
        np.maximum(w_isl, 0.0, out=w_isl)
        w_src = np.maximum(gs_src - h0[:, None] + h, 0.0)
    else:
        h = np.zeros((n_snap, n_sat))
        h0 = np.zeros(n_snap)
        w_isl = isl_km[:, graph.edge_of]
        w_src = gs_src
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
            bound = gs_src[k, prev[0]] + gs_dst[k, prev[-1]]
            for u, v in itertools.pairwise(prev):
                bound += w[graph.edge_index[int(u), int(v)]]
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
        length = gs_src[k, path[0]] + gs_dst[k, path[-1]]
        for u, v in itertools.pairwise(path):
            length += w[graph.edge_index[int(u), int(v)]]
        lengths[k] = length
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


# --------------------------------------------------------------------------------------------
# Link lengths over a time grid


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


def _route_shard(shard: _Shard) -> _ShardResult:
    """Route one shard.

    SGP4 runs at knots ``knot_step_s`` apart. ISL lengths are interpolated (cubic Hermite, with
    their exact rates ``d.v / |d|`` at the knots) straight to every snapshot, without
    positions; GSLs need positions only for the few satellites that can be above the mask of
    either ground point in the interval (the candidates), interpolated the same way, as are
    the ground points in TEME.
    """
    from starbrain.physics.sgp4 import propagate

    n = shard.stop - shard.first
    t_first_ns = shard.start_ns + shard.first * shard.step_ns
    span_s = (n - 1) * shard.step_ns / 1e9
    h = shard.knot_step_s
    n_knots = max(2, math.ceil(span_s / h) + 2)
    knot_ns = t_first_ns + np.rint(np.arange(n_knots) * h * 1e9).astype(np.int64)
    jd, fr = timeconv.datetime64_to_jd(knot_ns.astype("datetime64[ns]"))
    # SGP4's velocity is not exactly the derivative of its position (they differ by ~2 cm/s,
    # which would cost ~2 cm between knots): the rates come from fourth-order central
    # differences of positions, (-r(2d) + 8 r(d) - 8 r(-d) + r(-2d)) / 12 d
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
    del r, v, r_m2, r_m1, r_p1, r_p2
    n_sat = r_kn.shape[1]
    graph = _Graph.build(n_sat, shard.isl)

    # ISLs at the knots: length, its rate, and whether the line of sight clears the atmosphere
    a, b = shard.isl[:, 0], shard.isl[:, 1]
    dr = r_kn[:, a] - r_kn[:, b]
    dv = v_kn[:, a] - v_kn[:, b]
    isl_l = np.sqrt(np.einsum("jei,jei->je", dr, dr))
    isl_dl = np.einsum("jei,jei->je", dr, dv) / isl_l
    rad = np.sqrt(np.einsum("jni,jni->jn", r_kn, r_kn))
    with np.errstate(invalid="ignore"):
        isl_ok = isl_l <= _max_isl_km(rad[:, a], rad[:, b])  # NaN -> down
    del dr, dv

    # ground points and the satellites each may see, at the knots
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
    sin_min = math.sin(math.radians(shard.min_elevation_deg))
    # the A* heuristic: straight-line distances to the destination, and their rates
    rg_d, vg_d = ground[1][0], ground[1][1]
    rel = r_kn - rg_d[:, None, :]
    to_dst = np.sqrt(np.einsum("jni,jni->jn", rel, rel))
    d_to_dst = np.einsum("jni,jni->jn", rel, v_kn - vg_d[:, None, :]) / to_dst
    rel0 = ground[0][0] - rg_d
    src_to_dst = np.sqrt(np.einsum("ji,ji->j", rel0, rel0))
    d_src_to_dst = np.einsum("ji,ji->j", rel0, ground[0][1] - vg_d) / src_to_dst
    # ... and from the source, for pruning
    rg_s, vg_s = ground[0][0], ground[0][1]
    rel = r_kn - rg_s[:, None, :]
    to_src = np.sqrt(np.einsum("jni,jni->jn", rel, rel))
    d_to_src = np.einsum("jni,jni->jn", rel, v_kn - vg_s[:, None, :]) / to_src
    del rel

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
        j0, j1 = int(j.min()), int(j.max()) + 1
        # Straight-line distances to the ground points, interpolated as scalars: good to ~1 cm
        # beyond ~1,500 km, but up to ~1 m for a satellite passing nearly overhead (the
        # distance bends sharply there); so for the GSL candidates they come from positions.
        near_d = [_hermite(to_src, d_to_src, h, t_s), _hermite(to_dst, d_to_dst, h, t_s)]
        gs: list[FloatArray] = []
        for (rg, drg, up, dup, near), dist in zip(ground, near_d, strict=True):
            cand = np.flatnonzero(near[j0 : j1 + 1].any(axis=0))
            out = np.full((len(t_s), n_sat), np.inf)
            if len(cand):
                r_c = _hermite(r_kn[:, cand], v_kn[:, cand], h, t_s)
                rg_t = _hermite(rg, drg, h, t_s)
                up_t = _hermite(up, dup, h, t_s)
                up_t /= np.linalg.norm(up_t, axis=1, keepdims=True)
                out[:, cand], dist[:, cand] = _gsl_km(
                    r_c, rg_t, up_t, sin_min, shard.max_gsl_km, exact=True
                )
            gs.append(out)
        h_dst = near_d[1]
        h0 = _hermite(src_to_dst, d_src_to_dst, h, t_s)
        keep = _pruned(prev, graph, gs, isl_l, isl_dl, isl_ok, j, h, t_s, h_dst, near_d[0])
        if keep is None:
            isl_km = _hermite(isl_l, isl_dl, h, t_s)
            isl_km[~(isl_ok[j] & isl_ok[j + 1])] = np.inf
            length, paths = _paths(isl_km, gs[0], gs[1], graph, prev, h_dst, h0)
        else:
            # only satellites inside the ellipsoid of the bound can be on a shortest path
            local = np.full(n_sat, -1, dtype=np.int64)
            local[keep] = np.arange(len(keep))
            e_in = np.flatnonzero((local[a] >= 0) & (local[b] >= 0))
            sub = _Graph.build(len(keep), local[shard.isl[e_in]])
            isl_km = _hermite(isl_l[:, e_in], isl_dl[:, e_in], h, t_s)
            isl_km[~(isl_ok[j][:, e_in] & isl_ok[j + 1][:, e_in])] = np.inf
            assert prev is not None
            length, paths = _paths(
                isl_km, gs[0][:, keep], gs[1][:, keep], sub, local[prev], h_dst[:, keep], h0
            )
            paths = [keep[p] for p in paths]
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


# --------------------------------------------------------------------------------------------
# Public result and entry point


@dataclass
class RouteResult:
    """Shortest paths between two ground points over a time grid.

    Arrays are (n_snap,): ``times`` UTC ``datetime64[ns]``, ``length_km`` path length (NaN
    where not connected), ``hops`` links on the path (GSL up + ISLs + GSL down; 0 where not
    connected), ``path_changed`` True where the satellite sequence differs from the previous
    snapshot's. The GSL rule: elevation >= ``min_elevation_deg`` and, when set, slant range <=
    ``max_gsl_km``; ground points on the ``ellipsoid``. ``changes`` lists ``(snapshot index,
    path)`` for the first snapshot and every change, paths as indices into
    ``network.elements``; :meth:`path_at` expands them. ``propagator`` names what propagated
    the satellites (``"sgp4"``, or the world model's label).
    """

    source: GroundStation
    destination: GroundStation
    network: RoutingNetwork
    times: npt.NDArray[np.datetime64]
    length_km: FloatArray
    hops: IntArray
    path_changed: npt.NDArray[np.bool_]
    changes: list[tuple[int, IntArray]] = field(repr=False)
    min_elevation_deg: float = HYPATIA_STARLINK_MIN_ELEVATION_DEG
    max_gsl_km: float | None = None
    ellipsoid: str = "wgs84"
    propagator: str = "sgp4"

    @property
    def rtt_ms(self) -> FloatArray:
        """Round-trip propagation time (ms): twice the path length over c."""
        return 2.0 * self.length_km / C_KM_S * 1e3

    @property
    def great_circle_km(self) -> float:
        return great_circle_km(self.source, self.destination)

    @property
    def fibre_rtt_ms(self) -> float:
        """RTT over a great-circle fibre at ``c / FIBRE_GROUP_INDEX`` (ms)."""
        return 2.0 * self.great_circle_km * FIBRE_GROUP_INDEX / C_KM_S * 1e3

    @property
    def vacuum_rtt_ms(self) -> float:
        """RTT at c along the great circle (ms): the floor no network beats."""
        return 2.0 * self.great_circle_km / C_KM_S * 1e3

    @property
    def n_path_changes(self) -> int:
        return int(self.path_changed.sum())

    def path_at(self, i: int) -> IntArray:
        """Satellite indices (into ``network.elements``) of the path at snapshot ``i``."""
        starts = [c[0] for c in self.changes]
        k = int(np.searchsorted(starts, i, side="right")) - 1
        return self.changes[k][1]

    def summary(self) -> dict[str, float]:
        """Minimum, median and maximum RTT (ms) over connected snapshots, the fraction of
        snapshots connected, path changes, hops and the fibre and vacuum great-circle RTTs."""
        ok = np.isfinite(self.length_km)
        rtt = self.rtt_ms[ok]
        hops = self.hops[ok]
        nan = float("nan")
        return {
            "snapshots": float(len(self.times)),
            "connected_fraction": float(ok.mean()) if len(ok) else nan,
            "rtt_min_ms": float(rtt.min()) if len(rtt) else nan,
            "rtt_median_ms": float(np.median(rtt)) if len(rtt) else nan,
            "rtt_max_ms": float(rtt.max()) if len(rtt) else nan,
            "path_changes": float(self.n_path_changes),
            "hops_min": float(hops.min()) if len(hops) else nan,
            "hops_max": float(hops.max()) if len(hops) else nan,
            "great_circle_km": self.great_circle_km,
            "fibre_rtt_ms": self.fibre_rtt_ms,
            "vacuum_rtt_ms": self.vacuum_rtt_ms,
        }

    def to_arrow(self) -> pa.Table:
        """One row per snapshot: time, rtt_ms, length_km, hops, path_changed, and the NORAD ids
        of the first and last satellite on the path (null where not connected)."""
        norad = self.network.norad_id
        first = np.full(len(self.times), -1, dtype=np.int64)
        last = np.full(len(self.times), -1, dtype=np.int64)
        bounds = [c[0] for c in self.changes] + [len(self.times)]
        for (start, path), stop in zip(self.changes, bounds[1:], strict=True):
            if len(path):
                first[start:stop] = norad[path[0]]
                last[start:stop] = norad[path[-1]]
        ok = np.isfinite(self.length_km)
        return pa.table({
            "time": pa.array(self.times, pa.timestamp("ns", tz="UTC")),
            "rtt_ms": pa.array(self.rtt_ms, mask=~ok),
            "length_km": pa.array(self.length_km, mask=~ok),
            "hops": pa.array(self.hops, pa.int32()),
            "path_changed": pa.array(self.path_changed),
            "first_norad_id": pa.array(first, pa.int32(), mask=first < 0),
            "last_norad_id": pa.array(last, pa.int32(), mask=last < 0),
        })  # fmt: skip


def route(
    source: GroundStation,
    destination: GroundStation,
    network: RoutingNetwork,
    start: Any,
    duration_s: float,
    *,
    step_ms: float = 100.0,
    min_elevation_deg: float | None = None,
    max_gsl_km: float | None = None,
    ellipsoid: str = "wgs84",
    shards: int | None = None,
    ray_address: str | None = None,
    knot_step_s: float = 10.0,
    chunk: int | None = None,
    device: str | None = "cpu",
    propagator: Propagator | None = None,
) -> RouteResult:
    """Shortest paths from ``source`` to ``destination`` every ``step_ms`` for ``duration_s``.

    Args:
        source, destination: ground points (WGS-84, degrees).
        network: satellites and ISLs (:func:`routing_network`).
        start: first snapshot (UTC; anything :func:`timeconv.to_datetime64` reads).
        duration_s: simulated time; snapshots at ``start + i * step`` while ``< duration``.
        step_ms: snapshot spacing (Hypatia: 100 ms).
        min_elevation_deg: GSL elevation mask in degrees. Default: 25 deg (Hypatia's for
            Starlink) without ``max_gsl_km``, 0 (line of sight) with it.
        max_gsl_km: GSL range rule: a ground point uses any satellite at most this far (km),
            straight line (Hypatia's MAX_GSL_LENGTH; 1,260 km for its Kuiper-630). None: the
            elevation mask alone decides.
        ellipsoid: ``"wgs84"`` or ``"wgs72"`` (Hypatia's): the ellipsoid the ground points'
            latitude and height are read on.
        shards: number of time shards (default: one per 10 simulated minutes, at least one).
        ray_address: ``None`` runs the shards in this process; ``"local"`` or a cluster address
            runs them on Ray (:func:`starbrain.cluster.shard_map`). Same results either way.
        knot_step_s: SGP4 step; positions in between are Hermite-interpolated.
        chunk: snapshots whose geometry is computed together (memory ~ chunk x n_sat x 150 B;
            default: 20 s of simulated time, 20 to 200 snapshots).
        device: torch device for SGP4 (None: CUDA when available).
        propagator: what propagates the satellites at the knots (TEME km): a planner
            :class:`~starbrain.planners.propagator.Propagator` (e.g. a registered world model
            from :func:`~starbrain.planners.propagator.resolve_propagator`); None: SGP4.
    """
    if not duration_s > 0 or not math.isfinite(duration_s):
        raise StarbrainError("the duration must be a positive number of seconds")
    if not step_ms > 0:
        raise StarbrainError("the snapshot step must be positive")
    if min_elevation_deg is None:
        min_elevation_deg = HYPATIA_STARLINK_MIN_ELEVATION_DEG if max_gsl_km is None else 0.0
    if not 0.0 <= min_elevation_deg < 90.0:
        raise StarbrainError("the minimum elevation must be in [0, 90) degrees")
    if max_gsl_km is not None and not (0.0 < max_gsl_km < math.inf):
        raise StarbrainError("the maximum GSL length must be a positive number of km")
    if ellipsoid not in ("wgs84", "wgs72"):
        raise StarbrainError(f"the ellipsoid must be wgs84 or wgs72, not {ellipsoid!r}")
    if not 0.0 < knot_step_s <= 60.0:
        raise StarbrainError("the SGP4 knot step must be in (0, 60] seconds")
    step_ns = round(step_ms * 1e6)
    if chunk is None:
        chunk = max(20, min(200, round(20_000.0 / step_ms)))
    n = math.ceil(duration_s * 1e9 / step_ns - 1e-9)
    t0 = np.datetime64(timeconv.to_datetime64(start), "ns")
    if shards is None:
        shards = max(1, round(duration_s / 600.0))
    shards = max(1, min(int(shards), n))
    edges = np.linspace(0, n, shards + 1).round().astype(np.int64)
    tasks = [
        _Shard(
            network.elements,
            network.isl,
            source,
            destination,
            int(t0.astype(np.int64)),
            step_ns,
            int(a),
            int(b),
            min_elevation_deg,
            knot_step_s,
            chunk,
            device,
            math.inf if max_gsl_km is None else float(max_gsl_km),
            ellipsoid,
            propagator,
        )
        for a, b in itertools.pairwise(edges)
        if b > a
    ]
    from starbrain.cluster import shard_map

    parts = shard_map(
        _route_shard,
        tasks,
        ray_address=ray_address,
        description=f"routing {source.name} - {destination.name}",
    )
    res = _merge(parts, source, destination, network, t0, step_ns, n, min_elevation_deg)
    res.max_gsl_km, res.ellipsoid = max_gsl_km, ellipsoid
    res.propagator = "sgp4" if propagator is None else propagator.name
    return res


def _merge(
    parts: Sequence[_ShardResult],
    source: GroundStation,
    destination: GroundStation,
    network: RoutingNetwork,
    t0: np.datetime64,
    step_ns: int,
    n: int,
    min_elevation_deg: float,
) -> RouteResult:
    """Join shard results in time order; a path change at a shard boundary counts as one."""
    parts = sorted(parts, key=lambda p: p.first)
    length = np.concatenate([p.length_km for p in parts])
    n_sats = np.concatenate([p.n_sats for p in parts])
    changed = np.concatenate([p.changed for p in parts])
    changes: list[tuple[int, IntArray]] = []
    prev_last: IntArray | None = None
    for p in parts:
        if prev_last is None:
            changes.extend(p.changes)
        else:
            same = np.array_equal(p.first_path, prev_last)
            changed[p.first] = not same
            changes.extend(p.changes[1:] if same else p.changes)
        prev_last = p.last_path
    times = t0 + (np.arange(n, dtype=np.int64) * step_ns).astype("timedelta64[ns]")
    hops = np.where(n_sats > 0, n_sats + 1, 0)
    return RouteResult(
        source, destination, network, times, length, hops, changed, changes, min_elevation_deg
    )
