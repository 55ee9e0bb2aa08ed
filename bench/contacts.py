"""Contact planning: the MILP (HiGHS) against the greedy baseline on a Starlink-like fleet.

Workload: ``--sats`` satellites (default 100) taken evenly across the five shells of the
Starlink Gen1 preset as filed (``sources.constellation.generate_preset``), five ground stations
(Svalbard, Fairbanks, Turin, Hawaii, Canberra; ``--antennas`` each (default 1), 10 deg minimum
elevation, ``--rate`` Mbit/s (100), ``--setup`` s between contacts (120)), ``--hours``
(default 12) from 2024-07-05 12:00 UTC, 60 s slots. Every satellite starts with ``--demand``
Mbit onboard (default 200 Gbit: 33 minutes of downlink) and wants it all down, more than the
stations can take, so the plans differ in how well they share the antennas.

The peers are the greedy baseline of the same module (an antenna keeps its satellite, free ones
go to the earliest pass end: earliest deadline first), the usual first answer in operations,
and its variant that prefers the latest pass end (longest contact left, fewer set-ups); the
better of the two is the MILP's start. Both plans are validated by ``check_plan`` (set-up,
overlaps, windows, volumes; elevations re-propagated for the MILP plan). Times are medians of
``--repeats`` runs; the MILP gets ``--time-limit`` s and reports its optimality gap (the HiGHS
dual bound). Run: ``python bench/contacts.py [--sats N] [--hours H] [--time-limit S]``.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from starbrain.planners.contacts import (
    ContactStation,
    Fleet,
    check_plan,
    contact_problem,
    plan_greedy,
    plan_milp,
)
from starbrain.planners.passes import GroundStation, sgp4_propagator
from starbrain.sources.generators.constellation import generate_preset

START = np.datetime64("2024-07-05T12:00:00", "ns")
SITES = [
    GroundStation("Svalbard", 78.23, 15.41, 0.50),
    GroundStation("Fairbanks", 64.86, -147.85, 0.20),
    GroundStation("Turin", 45.07, 7.69, 0.24),
    GroundStation("Hawaii", 19.82, -155.47, 0.30),
    GroundStation("Canberra", -35.40, 148.98, 0.69),
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sats", type=int, default=100)
    ap.add_argument("--hours", type=float, default=12.0)
    ap.add_argument("--antennas", type=int, default=1)
    ap.add_argument("--rate", type=float, default=100.0, help="Mbit/s per antenna")
    ap.add_argument("--setup", type=float, default=120.0, help="s between contacts")
    ap.add_argument("--demand", type=float, default=200_000.0, help="Mbit per satellite")
    ap.add_argument("--time-limit", type=float, default=120.0, help="MILP limit, s")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()

    table = generate_preset("starlink-gen1", epoch=START.astype("datetime64[D]"))
    table = table.take(np.linspace(0, table.num_rows - 1, args.sats).astype(int))
    stations = [ContactStation(s, args.antennas, 10.0, args.rate, args.setup) for s in SITES]
    fleet = Fleet.uniform(table.column("norad_id").to_numpy(), args.demand)
    propagate = sgp4_propagator(table)
    t = time.perf_counter()
    problem = contact_problem(
        propagate, fleet, stations, START, START + np.timedelta64(int(args.hours * 3600), "s")
    )
    t_vis = time.perf_counter() - t
    print(
        f"{args.sats} satellites x {len(SITES)} stations x {args.antennas} antennas x "
        f"{args.hours:g} h: {len(problem.vis_sat)} usable satellite-station slots "
        f"(visibility {t_vis:.2f} s); demand {fleet.demand_mbit.sum() / 1e6:.1f} Tbit"
    )
    greedy_t, longest_t, milp_t = [], [], []
    for _ in range(args.repeats):
        greedy = plan_greedy(problem)
        greedy_t.append(greedy.summary.solve_s)
        longest = plan_greedy(problem, "longest")
        longest_t.append(longest.summary.solve_s)
        best = max(greedy, longest, key=lambda q: q.summary.delivered_mbit)
        milp = plan_milp(problem, time_limit_s=args.time_limit, warm_start=best)
        milp_t.append(milp.summary.solve_s)
    for plan in (greedy, longest):
        assert check_plan(plan.table, problem) == []
    assert check_plan(milp.table, problem, propagate) == []
    m = milp.summary
    print(f"median of {args.repeats} runs; every plan passes check_plan")
    for plan, times in ((greedy, greedy_t), (longest, longest_t)):
        g = plan.summary
        print(
            f"  {g.method:14s}  {g.delivered_mbit / 1e6:8.3f} Tbit  {g.contacts:5d} contacts  "
            f"{statistics.median(times):8.3f} s"
        )
    gap = "-" if m.gap is None else f"{100 * m.gap:.2f} %"
    bound = "-" if m.bound_mbit is None else f"{m.bound_mbit / 1e6:.3f} Tbit"
    print(
        f"  {'MILP':14s}  {m.delivered_mbit / 1e6:8.3f} Tbit  {m.contacts:5d} contacts  "
        f"{statistics.median(milp_t):8.3f} s  ({m.status}; gap {gap}, bound {bound})"
    )
    for plan in (greedy, longest):
        g = plan.summary
        gain = 100.0 * (m.delivered_mbit - g.delivered_mbit) / g.delivered_mbit
        print(f"  MILP gain over {g.method}: {gain:+.2f} %")


if __name__ == "__main__":
    main()
