"""The routing entry point for :mod:`starbrain.planners.routing`: :func:`route` splits the time
range into shards (:mod:`.shards`), runs them through :func:`starbrain.cluster.shard_map` and
joins them into a :class:`RouteResult`."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from starbrain.core import timeconv
from starbrain.core.errors import StarbrainError
from starbrain.planners.passes import GroundStation
from starbrain.planners.routing_networks import RoutingNetwork

if TYPE_CHECKING:
    from starbrain.planners.propagator import Propagator

from starbrain.planners.routing.links import (
    C_KM_S,
    FIBRE_GROUP_INDEX,
    HYPATIA_STARLINK_MIN_ELEVATION_DEG,
    FloatArray,
    IntArray,
    great_circle_km,
)
from starbrain.planners.routing.shards import _route_shard, _Shard, _ShardResult


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


def _checked(
    duration_s: float,
    step_ms: float,
    min_elevation_deg: float | None,
    max_gsl_km: float | None,
    ellipsoid: str,
    knot_step_s: float,
) -> float:
    """Check :func:`route`'s arguments (one-sentence :class:`StarbrainError` for each bad one)
    and return the elevation mask (deg): as given, else 25 without a GSL range rule, 0 with."""
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
    return min_elevation_deg


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
    min_elevation_deg = _checked(
        duration_s, step_ms, min_elevation_deg, max_gsl_km, ellipsoid, knot_step_s
    )
    step_ns = round(step_ms * 1e6)
    if chunk is None:
        chunk = max(20, min(200, round(20_000.0 / step_ms)))
    n = math.ceil(duration_s * 1e9 / step_ns - 1e-9)
    t0 = np.datetime64(timeconv.to_datetime64(start), "ns")
    if shards is None:
        shards = max(1, round(duration_s / 600.0))
    shards = max(1, min(int(shards), n))
    template = _Shard(
        network.elements, network.isl, source, destination, int(t0.astype(np.int64)), step_ns,
        0, 0, min_elevation_deg, knot_step_s, chunk, device,
        math.inf if max_gsl_km is None else float(max_gsl_km), ellipsoid, propagator,
    )  # fmt: skip
    tasks = _split(template, n, shards)
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


def _split(template: _Shard, n: int, shards: int) -> list[_Shard]:
    """``template`` (a shard of the run, its range unset) over ``shards`` contiguous, non-empty
    ranges of the ``n`` snapshots, as equal as whole snapshots allow."""
    edges = np.linspace(0, n, shards + 1).round().astype(np.int64)
    return [
        replace(template, first=int(a), stop=int(b)) for a, b in itertools.pairwise(edges) if b > a
    ]


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
