"""Inter-satellite link routing: +Grid topology, ground-satellite links and time-varying shortest
paths between two ground points, snapshot by snapshot.

The network, as Hypatia models it (Kassing et al., "Exploring the 'Internet from space' with
Hypatia", IMC 2020; code at github.com/snkas/hypatia):

* **ISLs, +Grid.** Every satellite keeps four laser links: to the satellites ahead and behind in
  its own plane and to one satellite in each of the two neighbouring planes of its shell. Hypatia
  pairs "the satellite with the same index" in the next plane; in its constellations same index
  means nearly the same phase. Our Walker-delta shells
  (:mod:`starbrain.sources.generators.constellation`)
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

The package: :mod:`.links` (constants, link geometry), :mod:`.paths` (the graph and the
shortest-path search), :mod:`.shards` (one shard: interpolation, pruning, paths per chunk),
:mod:`.routes` (:func:`route` and :class:`RouteResult`).
"""

from __future__ import annotations

from starbrain.planners.routing.links import (
    C_KM_S,
    EARTH_MEAN_RADIUS_KM,
    FIBRE_GROUP_INDEX,
    HYPATIA_STARLINK_MIN_ELEVATION_DEG,
    great_circle_km,
    isl_up,
)
from starbrain.planners.routing.links import _itrf_and_up as _itrf_and_up
from starbrain.planners.routing.paths import _Graph as _Graph
from starbrain.planners.routing.paths import shortest_paths
from starbrain.planners.routing.routes import RouteResult, route
from starbrain.planners.routing.shards import _ground_teme as _ground_teme
from starbrain.planners.routing_networks import RoutingNetwork, plus_grid, routing_network

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
