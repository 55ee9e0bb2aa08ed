"""ISL routing: +Grid topology, shortest paths on a hand-checkable geometry, the physical lower
bound, an independent recomputation with Skyfield, and sharding (in process and on Ray)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from starbrain.core import timeconv
from starbrain.core.errors import StarbrainError
from starbrain.planners.cities import CITIES, city
from starbrain.planners.routing import (
    C_KM_S,
    FIBRE_GROUP_INDEX,
    RouteResult,
    RoutingNetwork,
    _Graph,
    great_circle_km,
    plus_grid,
    route,
    routing_network,
    shortest_paths,
)
from starbrain.sources.generators.constellation import PRESETS, WalkerShell

START = "2026-01-01T00:00:00"


@pytest.fixture(scope="module")
def shell1() -> RoutingNetwork:
    return routing_network(shells=[1], epoch="2026-01-01")


@pytest.fixture(scope="module")
def manila_dalian(shell1: RoutingNetwork) -> RouteResult:
    return route(city("Manila"), city("Dalian"), shell1, START, 30.0)


@pytest.fixture(scope="module")
def tokyo_new_york(shell1: RoutingNetwork) -> RouteResult:
    return route(city("Tokyo"), city("New York"), shell1, START, 30.0)


# --------------------------------------------------------------------------------------------
# Topology


def test_plus_grid_gives_every_satellite_four_distinct_links_in_its_own_shell() -> None:
    shells = PRESETS["starlink-gen1"]
    edges = plus_grid(shells)
    n = sum(s.size for s in shells)
    assert n == 4408
    assert len(edges) == 2 * n  # 4 links per satellite, each shared by two
    assert np.all(edges[:, 0] < edges[:, 1])
    assert len(np.unique(edges, axis=0)) == len(edges)
    assert np.all(np.bincount(edges.ravel(), minlength=n) == 4)
    shell_of = np.repeat(np.arange(len(shells)), [s.size for s in shells])
    assert np.all(shell_of[edges[:, 0]] == shell_of[edges[:, 1]])
    # the CSR graph the search runs on is symmetric
    g = _Graph.build(n, edges)
    isl = g.matrix[:n, :n]
    assert (isl != isl.T).nnz == 0


def test_plus_grid_links_ahead_behind_and_to_the_nearest_phase_in_next_planes() -> None:
    s = WalkerShell(550.0, 53.0, 72, 22, phasing=65)
    edges = plus_grid([s])
    p, k = np.divmod(edges, s.per_plane)
    same_plane = p[:, 0] == p[:, 1]
    assert same_plane.sum() == s.size and (~same_plane).sum() == s.size
    dk = (k[same_plane, 1] - k[same_plane, 0]) % s.per_plane
    assert set(dk.tolist()) <= {1, s.per_plane - 1}
    dp = (p[~same_plane, 1] - p[~same_plane, 0]) % s.planes
    assert set(dp.tolist()) <= {1, s.planes - 1}
    # phase (mean argument of latitude) difference of each cross-plane pair, in slot spacings:
    # the partner is the nearest in phase, so never more than half a slot away
    phase = (k + s.phasing * p / s.planes) / s.per_plane
    diff = (phase[~same_plane, 1] - phase[~same_plane, 0] + 0.5) % 1.0 - 0.5
    assert np.max(np.abs(diff)) * s.per_plane <= 0.5 + 1e-12
    # with zero phasing "nearest in phase" is Hypatia's "same slot index"
    flat = plus_grid([WalkerShell(550.0, 53.0, 6, 5, phasing=0)])
    fp, fk = np.divmod(flat, 5)
    cross = fp[:, 0] != fp[:, 1]
    assert np.array_equal(fk[cross, 0], fk[cross, 1])


def test_isl_lengths_at_epoch_match_the_circular_orbit_chords(shell1: RoutingNetwork) -> None:
    from starbrain.physics.sgp4 import propagate

    jd, fr = timeconv.datetime64_to_jd(np.array([np.datetime64("2026-01-01T00:00:00")]))
    r, _, err = propagate(shell1.elements, jd, fr, device="cpu")
    assert not err.any()
    r = r[:, 0]
    d = np.linalg.norm(r[shell1.isl[:, 0]] - r[shell1.isl[:, 1]], axis=1)
    p = shell1.isl // 22
    intra = d[p[:, 0] == p[:, 1]]
    # two satellites 360/22 deg apart on a ~6928 km circle (e = 1e-4 and J2 short-period
    # terms move them by a few km at most)
    chord = 2 * (6378.135 + 550.0) * math.sin(math.pi / 22)
    np.testing.assert_allclose(intra, chord, rtol=2e-3)
    # every +Grid link is far inside the 80 km-clearance line of sight (5,016 km at 550 km)
    assert d.max() < 3000.0


# --------------------------------------------------------------------------------------------
# Shortest paths on a geometry checked by hand


def _ring(n_sat: int = 72, alt_km: float = 550.0, radius_km: float = 6378.137) -> np.ndarray:
    a = radius_km + alt_km
    th = np.radians(np.arange(n_sat) * 360.0 / n_sat)
    return np.stack([a * np.cos(th), a * np.sin(th), np.zeros(n_sat)], -1)


def _equator_point(lon_deg: float, radius_km: float = 6378.137) -> tuple[np.ndarray, np.ndarray]:
    up = np.array([math.cos(math.radians(lon_deg)), math.sin(math.radians(lon_deg)), 0.0])
    return (radius_km * up)[None], up[None]


@pytest.mark.parametrize("astar", [True, False])
def test_ring_path_is_up_along_the_ring_and_down(astar: bool) -> None:
    # 72 satellites every 5 deg over the equator, 550 km up; cities under satellites 0 and 4.
    # With an 80 deg mask each city sees only the satellite overhead (the next one, 5 deg
    # along, is at 40.9 deg elevation), so the path is 0-1-2-3-4: 550 km up, four chords of
    # 2 a sin(2.5 deg), 550 km down.
    r = _ring()[None]
    ring = np.stack([np.arange(72), (np.arange(72) + 1) % 72], 1)
    src, up_s = _equator_point(0.0)
    dst, up_d = _equator_point(20.0)
    a = 6378.137 + 550.0
    length, paths = shortest_paths(r, ring, src, up_s, dst, up_d, 80.0, astar=astar)
    assert paths[0].tolist() == [0, 1, 2, 3, 4]
    assert length[0] == pytest.approx(
        2 * 550.0 + 4 * 2 * a * math.sin(math.radians(2.5)), rel=1e-12
    )
    # a direct 0-4 link (one chord of 20 deg) is shorter than four of 5 deg: it is taken
    shortcut = np.concatenate([ring, [[0, 4]]])
    length, paths = shortest_paths(r, shortcut, src, up_s, dst, up_d, 80.0, astar=astar)
    assert paths[0].tolist() == [0, 4]
    assert length[0] == pytest.approx(2 * 550.0 + 2 * a * math.sin(math.radians(10.0)), rel=1e-12)
    # the other way round the ring is 68 chords: never chosen
    length, paths = shortest_paths(r, ring, dst, up_d, src, up_s, 80.0, astar=astar)
    assert paths[0].tolist() == [4, 3, 2, 1, 0]
    # a city between two satellites sees neither at 89 deg: not connected
    mid, up_m = _equator_point(2.5)
    length, paths = shortest_paths(r, ring, mid, up_m, dst, up_d, 89.0, astar=astar)
    assert math.isnan(length[0]) and len(paths[0]) == 0


def test_low_mask_prefers_slant_links_to_a_longer_ring() -> None:
    # With a 10 deg mask both cities see several satellites; brute force over every
    # (first, last) satellite pair along the ring gives the shortest path to compare with.
    r = _ring()
    ring = np.stack([np.arange(72), (np.arange(72) + 1) % 72], 1)
    src, up_s = _equator_point(1.0)
    dst, up_d = _equator_point(33.0)
    a = 6378.137 + 550.0
    chord = 2 * a * math.sin(math.radians(2.5))

    def gsl(g: np.ndarray, up: np.ndarray, i: int) -> float:
        d = r[i] - g[0]
        return (
            float(np.linalg.norm(d))
            if d @ up[0] / np.linalg.norm(d) >= math.sin(math.radians(10.0))
            else math.inf
        )

    best = min(
        gsl(src, up_s, i) + chord * abs(j - i) + gsl(dst, up_d, j)
        for i in range(-10, 20)
        for j in range(-10, 20)
        for i, j in [(i % 72, j % 72)]
        if abs(j - i) < 36
    )
    length, _ = shortest_paths(r[None], ring, src, up_s, dst, up_d, 10.0)
    assert length[0] == pytest.approx(best, rel=1e-12)


# --------------------------------------------------------------------------------------------
# Real constellation: physics bounds and an independent recomputation


def _geocentric_bound_km(res: RouteResult) -> float:
    """No path between two points that stays outside the sphere through the nearer of them can
    be shorter than the arc of that sphere between them (radial projection onto a sphere never
    lengthens a curve outside it)."""
    from starbrain.planners.routing import _itrf_and_up

    ra, _ = _itrf_and_up(res.source)
    rb, _ = _itrf_and_up(res.destination)
    angle = math.acos(np.clip(ra @ rb / np.linalg.norm(ra) / np.linalg.norm(rb), -1, 1))
    return float(min(np.linalg.norm(ra), np.linalg.norm(rb))) * angle


@pytest.mark.parametrize("pair", ["manila_dalian", "tokyo_new_york"])
def test_every_snapshot_is_slower_than_light_along_the_great_circle(
    pair: str, request: pytest.FixtureRequest
) -> None:
    res: RouteResult = request.getfixturevalue(pair)
    assert len(res.times) == 300
    ok = np.isfinite(res.length_km)
    assert ok.mean() > 0.9
    assert np.all(res.length_km[ok] >= _geocentric_bound_km(res))
    assert np.all(res.rtt_ms[ok] > res.vacuum_rtt_ms)
    # and the path is not absurd: under twice the great circle plus two slant ranges
    assert np.all(res.length_km[ok] < 2 * res.great_circle_km + 2 * 1400.0)
    assert np.all(res.hops[ok] >= 2) and np.all(res.hops[~ok] == 0)
    assert res.n_path_changes == int(res.path_changed.sum())


def test_all_shells_paths_stay_in_one_shell() -> None:
    net = routing_network(epoch="2026-01-01")  # 4,408 satellites, five shells
    res = route(city("Tokyo"), city("New York"), net, START, 5.0)
    ok = np.isfinite(res.length_km)
    assert ok.all()
    assert np.all(res.length_km >= _geocentric_bound_km(res))
    for start, path in res.changes:  # shells are not linked to each other
        assert len(np.unique(net.shell[path])) == 1, start


def test_fast_path_equals_plain_dijkstra_on_exact_positions() -> None:
    """Interpolation, A*, bounds and pruned chunk graphs against the plain method: SGP4 for every
    satellite at the instant and Dijkstra on the whole graph. The window holds a satellite
    passing 580 km from New York, where interpolating distances to the city (instead of
    positions) was off by 1 m and the bounded search lost the path every other snapshot."""
    from starbrain.physics.sgp4 import propagate
    from starbrain.planners.routing import _ground_teme

    net = routing_network(epoch="2026-01-01")
    src, dst = city("Tokyo"), city("New York")
    res = route(src, dst, net, np.datetime64("2026-01-01T00:22:00"), 8.0, chunk=20)
    assert np.isfinite(res.length_km).all()
    picks = np.array([0, 44, 45, 46, 47, 79])
    jd, fr = timeconv.datetime64_to_jd(res.times[picks])
    r, _, err = propagate(net.elements, jd, fr, device="cpu")
    assert not err.any()
    rs, ups, _ = _ground_teme(src, jd, fr)
    rd, upd, _ = _ground_teme(dst, jd, fr)
    length, _ = shortest_paths(r.transpose(1, 0, 2), net.isl, rs, ups, rd, upd, astar=False)
    np.testing.assert_allclose(res.length_km[picks], length, rtol=0, atol=5e-5)  # 5 cm


def test_fibre_and_great_circle_numbers() -> None:
    # London - New York: 5,570 km on the mean sphere (haversine, R = 6371.0088 km)
    d = great_circle_km(CITIES["london"], CITIES["new york"])
    assert d == pytest.approx(5570.2, abs=1.0)
    # antipodes: half the circumference
    assert great_circle_km(city("A:0,0"), city("B:0,180")) == pytest.approx(math.pi * 6371.0088)
    assert 2 * d * FIBRE_GROUP_INDEX / C_KM_S * 1e3 == pytest.approx(54.56, abs=0.01)


def test_path_lengths_match_skyfield_positions(tokyo_new_york: RouteResult) -> None:
    """Re-measure the chosen paths with Skyfield: satellites from TLEs through its own SGP4
    wrapper and TEME -> GCRS -> ITRS chain, cities from its WGS-84 model. Tolerance 5 cm on
    paths of ~12,900 km and 45 links: at the knots (every 10 s) the two agree to 1e-7 m; in
    between, the Hermite interpolation of link lengths adds ~0.3 mm per link (13 mm measured
    at snapshot 137)."""
    from skyfield.api import EarthSatellite, wgs84
    from skyfield.framelib import itrs

    from starbrain.physics import frames
    from starbrain.sources.catalogs.tle import format_tle

    res = tokyo_new_york
    ts = frames.timescale()
    src = wgs84.latlon(res.source.lat_deg, res.source.lon_deg).itrs_xyz.km
    dst = wgs84.latlon(res.destination.lat_deg, res.destination.lon_deg).itrs_xyz.km
    for i in (0, 137, 299):
        path = res.path_at(i)
        lines = format_tle(res.network.elements.take(path))
        t = frames.skyfield_time(*timeconv.datetime64_to_jd(res.times[i : i + 1]))
        pos = np.array([
            EarthSatellite(lines[2 * j], lines[2 * j + 1], ts=ts).at(t).frame_xyz(itrs).km[:, 0]
            for j in range(len(path))
        ])  # fmt: skip
        points = np.concatenate([src[None], pos, dst[None]])
        length = np.sum(np.linalg.norm(np.diff(points, axis=0), axis=1))
        assert res.length_km[i] == pytest.approx(length, abs=5e-5), i
        for g, s in ((src, pos[0]), (dst, pos[-1])):  # both ground links above the mask
            up = g / np.linalg.norm(g)  # geocentric: within 0.2 deg of geodetic up
            el = math.degrees(math.asin((s - g) @ up / np.linalg.norm(s - g)))
            assert el > 25.0 - 0.2


def test_path_changes_are_recorded_with_their_paths(tokyo_new_york: RouteResult) -> None:
    res = tokyo_new_york
    starts = [c[0] for c in res.changes]
    assert starts[0] == 0 and len(starts) == res.n_path_changes + 1
    assert np.flatnonzero(res.path_changed).tolist() == starts[1:]
    for i in starts[1:]:
        assert not np.array_equal(res.path_at(i), res.path_at(i - 1))
    table = res.to_arrow()
    assert table.num_rows == 300
    assert table.column("hops").to_pylist() == res.hops.tolist()


# --------------------------------------------------------------------------------------------
# Sharding


def test_time_shards_in_process_give_the_single_shard_result(
    shell1: RoutingNetwork, manila_dalian: RouteResult
) -> None:
    sharded = route(city("Manila"), city("Dalian"), shell1, START, 30.0, shards=4)
    # each shard interpolates from its own SGP4 knots (~0.3 mm per link): on this 2-7 link
    # path the lengths agree to 1 mm
    np.testing.assert_allclose(sharded.length_km, manila_dalian.length_km, rtol=0, atol=1e-6)
    assert np.array_equal(sharded.hops, manila_dalian.hops)
    assert np.array_equal(sharded.path_changed, manila_dalian.path_changed)
    assert np.array_equal(sharded.times, manila_dalian.times)


def test_shard_boundaries_inside_an_outage_count_no_change(shell1: RoutingNetwork) -> None:
    # St Petersburg (59.9 N) loses shell 1 at 25 deg from snapshot 539 on: a shard boundary
    # at 550 falls inside the outage, one at 500 before it
    args = (city("Rio de Janeiro"), city("Saint Petersburg"), shell1, START, 60.0)
    one = route(*args)
    bad = np.flatnonzero(~np.isfinite(one.length_km))
    assert bad.tolist() == list(range(539, 600))
    many = route(*args, shards=12)
    assert np.array_equal(np.isnan(many.length_km), np.isnan(one.length_km))
    # ~20 links of ~0.3 mm interpolation error each, from differently placed knots: 5 cm
    np.testing.assert_allclose(many.length_km, one.length_km, rtol=0, atol=5e-5)
    assert np.array_equal(many.path_changed, one.path_changed)
    assert [c[0] for c in many.changes] == [c[0] for c in one.changes]
    assert one.path_changed[539] and not one.path_changed[540:].any()


@pytest.mark.slow
def test_ray_local_shards_equal_the_in_process_shards(shell1: RoutingNetwork) -> None:
    pytest.importorskip("ray")
    args = (city("Rio de Janeiro"), city("Saint Petersburg"), shell1, START, 20.0)
    here = route(*args, shards=3)
    remote = route(*args, shards=3, ray_address="local")
    np.testing.assert_array_equal(remote.length_km, here.length_km)
    assert np.array_equal(remote.path_changed, here.path_changed)
    assert [c[0] for c in remote.changes] == [c[0] for c in here.changes]


# --------------------------------------------------------------------------------------------
# Inputs


def test_cities_and_errors(shell1: RoutingNetwork) -> None:
    assert city("st. petersburg").name == "Saint Petersburg"
    assert city("Zurich:47.3769,8.5417").lat_deg == pytest.approx(47.3769)
    with pytest.raises(ValueError, match="neither a known city"):
        city("Atlantis")
    with pytest.raises(StarbrainError, match="no shell 6"):
        routing_network(shells=[6])
    with pytest.raises(StarbrainError, match="positive"):
        route(city("Tokyo"), city("Paris"), shell1, START, 0.0)
