"""ISL routing: snapshots per second for the 4,408-satellite Starlink preset, against naive peers.

Workload: Starlink Gen1 as filed (``routing_network()``: all five shells, 4,408 satellites,
8,816 +Grid ISLs), shortest path Tokyo -> New York (``--from``/``--to``) every 100 ms for
``--seconds`` (default 120 s: 1,200 snapshots) with a 25 deg GSL mask, in this process, one
shard (``planners.routing.route``). Counted end to end: SGP4, geometry, searches, path-change
bookkeeping.

Peers, measured in the same run on ``--peer-snapshots`` (default 20) snapshots spread over the
same span, each doing per snapshot what a straightforward implementation does: SGP4 for every
satellite at that instant (python-sgp4 ``SatrecArray``, C++), ISL and GSL lengths from the
positions, then

* networkx: build an ``nx.Graph`` (satellites, ISLs, the two cities' GSLs) and run
  ``nx.shortest_path`` (Dijkstra) between the cities, the way Hypatia's satgenpy computes paths;
* scipy rebuilt: a new COO -> CSR matrix and ``scipy.sparse.csgraph.dijkstra`` from the source,
  no reused structure, no bound, no A*.

Both peers' path lengths are checked against ours at the sampled snapshots (within 5 cm: our
link lengths are interpolated between 10 s SGP4 knots, ~0.3 mm per link). The ratio is peer
time per snapshot / our time per snapshot (above 1: we are faster), in wall time and in CPU
time (``time.process_time``, all threads): on a loaded machine the CPU ratio is the steadier.

Run with ``make bench`` or ``python bench/routing.py [--seconds S] [--peer-snapshots N]
[--from CITY] [--to CITY] [--shards K] [--ray-address local|auto|ray://host:port]``.

``python bench/routing.py --hypatia`` instead compares with Hypatia's own expected Kuiper-630
outputs (``tests/data/hypatia-kuiper630``): per pair, the time taken, unreachable snapshots,
RTT differences where both use the same path, and each path change's offset in snapshots.
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import dijkstra
from sgp4.api import SatrecArray

from starbrain.core import timeconv
from starbrain.physics.sgp4 import Sgp4Elements, satrecs_from_elements
from starbrain.planners.cities import city
from starbrain.planners.routing import _ground_teme, route, routing_network

START = np.datetime64("2026-01-01T00:00:00", "ns")
HYPATIA = Path(__file__).resolve().parent.parent / "tests" / "data" / "hypatia-kuiper630"


def hypatia() -> None:
    """Our Kuiper-630 against Hypatia's expected RTTs and path changes, three pairs."""
    from starbrain.planners.routing_networks import KUIPER_630, hypatia_network

    names = {1173: "Manila", 1241: "Dalian", 1229: "Saint Petersburg"}
    net = hypatia_network()
    gsl, ell = KUIPER_630.max_gsl_km, "wgs72"
    route(city("Manila"), city("Dalian"), net, "2000-01-01", 1.0, max_gsl_km=gsl, ellipsoid=ell)
    total = 0
    for a, b in [(1173, 1241), (1229, 1173), (1229, 1241)]:
        t = time.perf_counter()
        src, dst = city(names[a]), city(names[b])
        res = route(src, dst, net, "2000-01-01", 200.0, max_gsl_km=gsl, ellipsoid=ell)
        spent = time.perf_counter() - t
        data = np.loadtxt(HYPATIA / f"networkx_rtt_{a}_to_{b}.txt", delimiter=",")
        ref = np.full(len(res.times), np.nan)
        ref[np.rint(data[:, 0] / 1e8).astype(int)] = np.where(data[:, 1] > 0, data[:, 1], np.nan)
        ref_changes = [
            (int(line.split(",")[0]) // 100_000_000, line.split(",")[1])
            for line in (HYPATIA / f"networkx_path_{a}_to_{b}.txt").read_text().split()
        ]

        def name(p: np.ndarray, a: int = a, b: int = b) -> str:
            return "-".join(map(str, [a, *p.tolist(), b])) if len(p) else "Unreachable"

        ours = [(i, name(p)) for i, p in res.changes]
        same_seq = [p for _, p in ours] == [p for _, p in ref_changes]
        offsets = [i - j for (i, _), (j, _) in zip(ours, ref_changes, strict=False)]
        starts = [j for j, _ in ref_changes]
        paths = [p for _, p in ref_changes]
        same = np.array([
            paths[int(np.searchsorted(starts, i, side="right")) - 1] == name(res.path_at(i))
            for i in range(len(res.times))
        ])  # fmt: skip
        d = np.abs(res.rtt_ms * 1e6 - ref)  # ns
        both = np.isfinite(d) & same
        total += int(both.sum())
        print(
            f"{a} -> {b} ({names[a]} -> {names[b]}): {len(res.times)} snapshots in {spent:.2f} s; "
            f"unreachable {int(np.isnan(res.length_km).sum())} (Hypatia "
            f"{int(np.isnan(ref).sum())}, same snapshots: "
            f"{np.array_equal(np.isnan(res.length_km), np.isnan(ref))}); same path sequence: "
            f"{same_seq}; change offsets (snapshots) {offsets}; RTT at {int(both.sum())} "
            f"same-path snapshots: max |diff| {d[both].max():.0f} ns, median "
            f"{np.median(d[both]):.0f} ns; paths differ at {np.flatnonzero(~same).tolist()}"
        )
    print(f"{total} same-path snapshots in all")


def _ground(ground: list, times: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """TEME position and up vector (n_time, 3) of each city at ``times`` (not timed: the
    Earth-orientation lookups are the same work for everyone)."""
    jd, fr = timeconv.datetime64_to_jd(times)
    return [_ground_teme(g, jd, fr)[:2] for g in ground]


def _snapshot_links(
    sats: SatrecArray, isl: np.ndarray, ground: list, i: int, t: np.datetime64, min_el: float
) -> tuple[np.ndarray, list[tuple[np.ndarray, np.ndarray]]]:
    """Per-snapshot geometry as a plain implementation computes it: SGP4 for every satellite,
    ISL lengths (n_edge,) and, per city, the visible satellites and their GSL lengths."""
    jd, fr = timeconv.datetime64_to_jd(np.array([t]))
    _, r, _ = sats.sgp4(jd, fr)
    r = r[:, 0]
    isl_km = np.linalg.norm(r[isl[:, 0]] - r[isl[:, 1]], axis=1)
    gsls = []
    for rg, up in ground:
        d = r - rg[i]
        dist = np.linalg.norm(d, axis=1)
        vis = np.flatnonzero(d @ up[i] / dist >= math.sin(math.radians(min_el)))
        gsls.append((vis, dist[vis]))
    return isl_km, gsls


def peer_networkx(isl: np.ndarray, isl_km: np.ndarray, gsls: list) -> float:
    import networkx as nx

    g = nx.Graph()
    g.add_weighted_edges_from(
        (int(a), int(b), float(w)) for (a, b), w in zip(isl, isl_km, strict=True)
    )
    for name, (vis, dist) in zip(("src", "dst"), gsls, strict=True):
        g.add_weighted_edges_from((name, int(s), float(w)) for s, w in zip(vis, dist, strict=True))
    try:
        path = nx.shortest_path(g, "src", "dst", weight="weight")
    except (nx.NetworkXNoPath, nx.NodeNotFound):
        return math.nan
    return float(nx.path_weight(g, path, weight="weight"))


def peer_scipy(n_sat: int, isl: np.ndarray, isl_km: np.ndarray, gsls: list) -> float:
    (vs, ds), (vd, dd) = gsls
    src, dst = n_sat, n_sat + 1
    rows = np.concatenate([isl[:, 0], isl[:, 1], np.full(len(vs), src), vd])
    cols = np.concatenate([isl[:, 1], isl[:, 0], vs, np.full(len(vd), dst)])
    data = np.concatenate([isl_km, isl_km, ds, dd])
    m = coo_matrix((data, (rows, cols)), shape=(n_sat + 2, n_sat + 2)).tocsr()
    return float(dijkstra(m, directed=True, indices=src)[dst])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--peer-snapshots", type=int, default=20)
    parser.add_argument("--from", dest="source", default="Tokyo")
    parser.add_argument("--to", dest="destination", default="New York")
    parser.add_argument("--shards", type=int, default=1)
    parser.add_argument("--ray-address", default=None)
    parser.add_argument("--hypatia", action="store_true", help="compare with Hypatia instead")
    args = parser.parse_args()
    if args.hypatia:
        hypatia()
        return

    net = routing_network(epoch=START.astype("datetime64[D]"))
    src, dst = city(args.source), city(args.destination)
    print(f"{net.n_sat} satellites, {len(net.isl)} ISLs; {src.name} -> {dst.name}")
    route(src, dst, net, START, 2.0)  # warm-up: imports, SGP4 and Skyfield data

    t, c = time.perf_counter(), time.process_time()
    res = route(
        src, dst, net, START, args.seconds, shards=args.shards, ray_address=args.ray_address
    )
    ours_s, ours_cpu = time.perf_counter() - t, time.process_time() - c
    n = len(res.times)
    per_ours, cpu_ours = ours_s / n, ours_cpu / n
    s = res.summary()
    print(
        f"starbrain: {n} snapshots in {ours_s:.2f} s = {n / ours_s:,.0f} snapshots/s "
        f"({per_ours * 1e3:.2f} ms each; CPU {cpu_ours * 1e3:.2f} ms = {1 / cpu_ours:,.0f} "
        f"snapshots per CPU-second); RTT {s['rtt_min_ms']:.2f}-{s['rtt_max_ms']:.2f} ms, "
        f"{int(s['path_changes'])} path changes"
    )

    sats = SatrecArray(satrecs_from_elements(Sgp4Elements.from_table(net.elements, device="cpu")))
    picks = np.linspace(0, n - 1, args.peer_snapshots).round().astype(int)
    peers = {"scipy rebuilt": peer_scipy}
    try:
        import networkx  # noqa: F401

        peers["networkx"] = lambda _n, isl, w, g: peer_networkx(isl, w, g)  # type: ignore[assignment]
    except ImportError:
        print("networkx not installed: its peer is skipped")
    ground = _ground([src, dst], res.times[picks])
    for name, fn in peers.items():
        spent = cpu = 0.0
        worst = 0.0
        for k, i in enumerate(picks):
            t, c = time.perf_counter(), time.process_time()
            isl_km, gsls = _snapshot_links(sats, net.isl, ground, k, res.times[i], 25.0)
            length = fn(net.n_sat, net.isl, isl_km, gsls)
            spent += time.perf_counter() - t
            cpu += time.process_time() - c
            if np.isfinite(length) or np.isfinite(res.length_km[i]):
                worst = max(worst, abs(length - res.length_km[i]))
        per, per_cpu = spent / len(picks), cpu / len(picks)
        assert worst < 5e-5, f"{name}: path lengths differ by {worst * 1e3:.3f} m"
        print(
            f"peer {name}: {per * 1e3:.2f} ms per snapshot ({1 / per:,.0f} snapshots/s; CPU "
            f"{per_cpu * 1e3:.2f} ms; {len(picks)} timed); same lengths to {worst * 1e6:.2f} mm;"
            f" ratio {per / per_ours:.1f}x wall, {per_cpu / cpu_ours:.1f}x CPU"
        )


if __name__ == "__main__":
    main()
