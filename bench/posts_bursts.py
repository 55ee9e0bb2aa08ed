"""Event detection on simulated post days with held-out phrasing: the issue's four targets.

``--days`` days (seeds 100..; ``phrasing="heldout"``, 8 fleet events a day, two hashtag-spam
decoys, daily-cycle chatter); detector parameters as shipped (chosen on train-phrasing seeds
0-9). Prints: events found (a non-spam burst whose posts are mostly the event's), the share
flagged within 60 s of the event's first post, false bursts per day (mean and worst), link
precision, and the detection time per simulated day.

Run ``python bench/posts_bursts.py [--days D]``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from starbrain.models.text.bursts import detect_bursts, link_bursts, score_bursts
from starbrain.sources.posts import random_events, simulate_posts

START = "2026-12-07T00:00:00"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days", type=int, default=20)
    args = ap.parse_args()
    tot = np.zeros(6)
    false_per_day, secs, lats = [], [], []
    for seed in range(100, 100 + args.days):
        ev = random_events(np.random.default_rng(seed), START, n=8)
        sim = simulate_posts(ev, START, seed=seed, phrasing="heldout")
        t0 = time.perf_counter()
        b = link_bursts(detect_bursts(sim.posts), sim.posts, ev)
        secs.append(time.perf_counter() - t0)
        sc = score_bursts(b, sim.posts, sim.labels)
        false_per_day.append(sc.n_false)
        lats += sc.latencies_s
        tot += [
            sc.n_events,
            sc.n_found,
            sc.n_within_60s,
            sc.n_false,
            sc.n_linked,
            sc.n_linked_right,
        ]
    print(f"{args.days} held-out days, {int(tot[0])} events")
    print(
        f"  found                 {tot[1] / tot[0]:.3f}  ({int(tot[1])}/{int(tot[0])}; target 0.96)"
    )
    print(
        f"  flagged within 60 s   {tot[2] / tot[1]:.3f}  (median {np.median(lats):.0f} s; "
        "target 0.90)"
    )
    print(
        f"  false bursts per day  mean {np.mean(false_per_day):.2f}, worst "
        f"{max(false_per_day)}  (target <= 1)"
    )
    print(
        f"  link precision        {tot[5] / max(tot[4], 1):.3f}  ({int(tot[5])}/{int(tot[4])}; "
        "target 0.90)"
    )
    print(f"  detect + link         median {np.median(secs):.2f} s per simulated day")


if __name__ == "__main__":
    main()
