"""Ground passes: 4,408 Starlink-like satellites x 10 stations x 24 h, against Skyfield.

Peer: Skyfield's ``EarthSatellite.find_events``, one call per satellite-station pair, the way a
Skyfield user finds passes for a fleet. The peer is timed on a subset (default 100 satellites
spread over all shells x all stations) and extrapolated per satellite-station pair to the full
problem; the output says so. Both sides use the same SGP4 core (python-sgp4's C++), the same
element sets and the same Earth-orientation data (skyfield-data's finals2000A.all with polar
motion). On the subset, every pair's events are compared one to one: same kinds in the same
order, times within 1 s (Skyfield's own search stops at 0.5 s).

Elements: Starlink Gen1 as filed (``sources.constellation.generate_preset("starlink-gen1")``:
550 km/53.0 deg 72x22, 540/53.2 72x22, 570/70.0 36x20, 560/97.6 6x58 and 4x43), written as TLEs
and read back with ``Satrec.twoline2rv``. Run with ``make bench`` or
``python bench/passes.py [--sats N] [--subset N] [--hours H] [--min-elevation DEG]``.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
from sgp4.api import Satrec

from starbrain.core import timeconv
from starbrain.physics import frames
from starbrain.planners.passes import GroundStation, Passes, find_passes, satrec_propagator
from starbrain.sources.catalogs.tle import format_tle
from starbrain.sources.generators.constellation import generate_preset

START = np.datetime64("2024-07-05T12:00:00", "ns")  # inside the observed part of the EOP table
STATIONS = [
    GroundStation("Svalbard", 78.23, 15.41, 0.50),
    GroundStation("Fairbanks", 64.86, -147.85, 0.20),
    GroundStation("Redmond", 47.67, -122.12, 0.05),
    GroundStation("Turin", 45.07, 7.69, 0.24),
    GroundStation("White Sands", 32.50, -106.61, 1.20),
    GroundStation("Hawaii", 19.82, -155.47, 0.30),
    GroundStation("Singapore", 1.35, 103.82, 0.02),
    GroundStation("Sao Paulo", -23.55, -46.63, 0.76),
    GroundStation("Cape Town", -33.92, 18.42, 0.01),
    GroundStation("Canberra", -35.40, 148.98, 0.69),
]


def fleet(n_sats: int) -> list[Satrec]:
    table = generate_preset("starlink-gen1", epoch=START.astype("datetime64[D]"))
    lines = format_tle(table.slice(0, n_sats))
    return [Satrec.twoline2rv(lines[k], lines[k + 1]) for k in range(0, len(lines), 2)]


def skyfield_events(
    satrecs: list[Satrec], stop: np.datetime64, min_el: float
) -> dict[tuple[int, str], tuple[np.ndarray, np.ndarray]]:
    from skyfield.api import EarthSatellite, wgs84

    ts = frames.timescale()
    t0, t1 = frames.skyfield_time(*timeconv.datetime64_to_jd(np.array([START, stop])))
    sites = [wgs84.latlon(s.lat_deg, s.lon_deg, s.alt_km * 1000.0) for s in STATIONS]
    out = {}
    for sat in satrecs:
        es = EarthSatellite.from_satrec(sat, ts)
        for st, site in zip(STATIONS, sites, strict=True):
            t, kind = es.find_events(site, t0, t1, altitude_degrees=min_el)
            when = np.array(
                [np.datetime64(d.replace(tzinfo=None), "ns") for d in t.utc_datetime()],
                dtype="datetime64[ns]",
            )
            out[(sat.satnum, st.name)] = (when, np.asarray(kind, dtype=np.int64))
    return out


def our_events(p: Passes, norad: int, station: str) -> tuple[np.ndarray, np.ndarray]:
    m = (p.norad_id == norad) & (p.station == station)
    when = np.concatenate([p.rise[m], p.culminate[m], p.set[m]])
    kind = np.repeat([0, 1, 2], m.sum())
    keep = ~np.isnat(when)
    when, kind = when[keep], kind[keep]
    order = np.lexsort((kind, when))
    return when[order], kind[order]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sats", type=int, default=4408)
    ap.add_argument("--subset", type=int, default=100, help="satellites timed with Skyfield")
    ap.add_argument("--hours", type=float, default=24.0)
    ap.add_argument("--min-elevation", type=float, default=10.0)
    args = ap.parse_args()

    satrecs = fleet(args.sats)
    n_sat, n_sta = len(satrecs), len(STATIONS)
    stop = START + np.timedelta64(int(args.hours * 3600e9), "ns")
    frames.timescale(), frames.ephemeris()  # load the data files outside the timings

    t = time.perf_counter()
    passes = find_passes(
        satrec_propagator(satrecs),
        [s.satnum for s in satrecs],
        STATIONS,
        START,
        stop,
        min_elevation_deg=args.min_elevation,
    )
    ours_s = time.perf_counter() - t

    subset = [satrecs[i] for i in np.linspace(0, n_sat - 1, min(args.subset, n_sat)).astype(int)]
    t = time.perf_counter()
    peer = skyfield_events(subset, stop, args.min_elevation)
    peer_s = time.perf_counter() - t

    pairs, sub_pairs = n_sat * n_sta, len(subset) * n_sta
    peer_per_pair = peer_s / sub_pairs
    peer_full = peer_per_pair * pairs
    worst, n_events, mismatched = 0.0, 0, []
    for (norad, station), (when, kind) in peer.items():
        mine, mine_kind = our_events(passes, norad, station)
        if len(mine) != len(when) or not np.array_equal(mine_kind, kind):
            mismatched.append((norad, station))
            continue
        if len(when):
            worst = max(worst, float(np.abs((mine - when).astype(np.int64)).max()) / 1e9)
        n_events += len(when)

    print(
        f"passes: {n_sat} satellites x {n_sta} stations x {args.hours:g} h, "
        f"min elevation {args.min_elevation:g} deg"
    )
    print(
        f"  starbrain find_passes  {ours_s:8.2f} s  {pairs / ours_s:10.0f} pairs/s  "
        f"{len(passes)} passes"
    )
    print(
        f"  skyfield find_events   {peer_s:8.2f} s for the {len(subset)} x {n_sta} subset "
        f"({peer_per_pair * 1e3:.2f} ms/pair, {1 / peer_per_pair:.0f} pairs/s)"
    )
    print(f"  skyfield extrapolated  {peer_full:8.2f} s for all {pairs} pairs (per pair x pairs)")
    print(f"  ratio (skyfield / starbrain): {peer_full / ours_s:.1f}x  (goal >= 20x)")
    print(
        f"  subset check: {n_events} events in {sub_pairs - len(mismatched)}/{sub_pairs} pairs "
        f"identical in kind and order, max |dt| {worst:.3f} s"
    )
    if mismatched:
        print(f"  MISMATCH in {len(mismatched)} pairs, e.g. {mismatched[:5]}")
        return 1
    if worst > 1.0:
        print("  MISMATCH: an event differs by more than 1 s")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
