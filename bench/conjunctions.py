"""Conjunction screening: 10,000+ objects x 7 days on the CPU, and the speed-up over brute force.

Workload: the Starlink Gen1 preset (4,408 element sets) plus debris-like objects
(``sources.debris``, fixed seed) up to ``--objects`` (default 10,408), screened all against all
for ``--days`` (default 7) with a 5 km threshold, 60 s grid, SGP4 on the CPU
(``planners.conjunctions.screen_conjunctions``). Prints the wall time of each stage, the number
of conjunctions and the peak memory.

Peer, measured in the same run: a brute-force screen of a random ``--subset`` of the objects
(default 300) over ``--subset-hours`` (default 2 h): positions every ``--bf-step-s`` (1 s) with
the same SGP4, every pairwise distance at every step, local minima under the threshold (plus the
distance covered in half a step) refined by a parabola through the three samples. Our screen runs
on the same subset and span; the ratio is brute-force time / our time (above 1: we are faster),
and the two conjunction lists are compared (TCA within 1 s). The brute force's cost for the full
workload is extrapolated (pairs x steps) and compared with the measured full screen.

Run with ``make bench`` or ``python bench/conjunctions.py [--days D] [--objects N] [--subset M]
[--subset-hours H] [--threshold-km T] [--step-s S] [--compile] [--no-brute-force]
[--shards K] [--ray-address local|auto|ray://host:port]``. The full screen is cut into ``K``
time shards (``planners.conjunctions``; default 1 in this process, two per CPU on Ray) run by
``starbrain.cluster.shard_map``: in this process, or on Ray with ``--ray-address``.
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np
import pyarrow as pa
import torch

from starbrain.physics.sgp4 import Sgp4Elements, sgp4_init, sgp4_propagate
from starbrain.planners.conjunctions import screen_conjunctions
from starbrain.sources.generators.constellation import generate_preset
from starbrain.sources.generators.debris import generate_debris

EPOCH = np.datetime64("2026-01-01T00:00:00", "ns")


def population(n_objects: int) -> pa.Table:
    starlink = generate_preset("starlink-gen1", epoch=EPOCH)
    if n_objects <= starlink.num_rows:
        return starlink.slice(0, n_objects)
    return pa.concat_tables([starlink, generate_debris(n_objects - starlink.num_rows, epoch=EPOCH)])


def brute_force(
    table: pa.Table, span_s: float, step_s: float, threshold_km: float
) -> list[tuple[int, int, float, float]]:
    """(i, j, TCA s, miss km) of every local distance minimum under the threshold."""
    state = sgp4_init(Sgp4Elements.from_table(table, device="cpu"))
    t = torch.arange(0.0, span_s + step_s / 2, step_s, dtype=torch.float64)
    with torch.no_grad():
        r, _, err = sgp4_propagate(state, t / 60.0)
    r = r.transpose(0, 1).contiguous()  # (T, n, 3)
    n, n_t = r.shape[1], r.shape[0]
    upper = torch.ones(n, n, dtype=torch.bool).triu(1)
    limit = threshold_km + 16.0 * step_s / 2
    out = []
    block = max(4, 8_000_000 // (n * n))
    for a in range(1, n_t - 1, block):
        lo, hi = a - 1, min(n_t, a + block + 1)
        d = torch.cdist(r[lo:hi], r[lo:hi], compute_mode="donot_use_mm_for_euclid_dist")
        k, i, j = torch.nonzero((d[1:-1] < limit) & upper, as_tuple=True)
        k = k + 1
        d0, d1, d2 = d[k - 1, i, j], d[k, i, j], d[k + 1, i, j]
        is_min = (d1 <= d0) & (d1 < d2)
        k, i, j, d0, d1, d2 = (x[is_min] for x in (k, i, j, d0, d1, d2))
        # parabola through the squared distances (smooth through the minimum)
        q0, q1, q2 = d0 * d0, d1 * d1, d2 * d2
        den = q0 - 2 * q1 + q2
        x = torch.where(den > 0, 0.5 * (q0 - q2) / den, torch.zeros_like(den))
        q_min = q1 - 0.25 * (q0 - q2) * x
        keep = q_min < threshold_km**2
        tca = (k[keep] + lo + x[keep]) * step_s
        miss = torch.sqrt(torch.clamp(q_min[keep], min=0.0))
        out += zip(i[keep].tolist(), j[keep].tolist(), tca.tolist(), miss.tolist(), strict=True)
    assert int((err != 0).sum()) == 0
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--days", type=float, default=7.0)
    parser.add_argument("--objects", type=int, default=10_408)
    parser.add_argument("--threshold-km", type=float, default=5.0)
    parser.add_argument("--step-s", type=float, default=60.0)
    parser.add_argument("--subset", type=int, default=300)
    parser.add_argument("--subset-hours", type=float, default=2.0)
    parser.add_argument("--bf-step-s", type=float, default=1.0)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--compile", action="store_true", help="torch.compile the SGP4 kernel")
    parser.add_argument("--no-brute-force", action="store_true")
    parser.add_argument(
        "--shards", type=int, default=None, help="time shards (default: 1 here, 2 per CPU on Ray)"
    )
    parser.add_argument(
        "--ray-address", default=None, help="run the shards on Ray ('local' starts one here)"
    )
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    table = population(args.objects)
    n = table.num_rows
    print(
        f"{n} objects ({min(n, 4408)} Starlink Gen1 + {max(0, n - 4408)} debris-like), "
        f"{args.days:g} days, threshold {args.threshold_km:g} km, grid {args.step_s:g} s, "
        f"{torch.get_num_threads()} threads"
    )

    ratio = None
    if not args.no_brute_force:
        rng = np.random.default_rng(1)
        sub = table.take(np.sort(rng.choice(n, size=min(args.subset, n), replace=False)))
        span_s = args.subset_hours * 3600.0
        t0 = time.perf_counter()
        ref = brute_force(sub, span_s, args.bf_step_s, args.threshold_km)
        t_bf = time.perf_counter() - t0
        times = []
        for _ in range(3):
            t0 = time.perf_counter()
            ours = screen_conjunctions(
                sub, EPOCH, EPOCH + np.timedelta64(int(span_s), "s"),
                threshold_km=args.threshold_km, step_s=args.step_s, compile=args.compile,
            )  # fmt: skip
            times.append(time.perf_counter() - t0)
        t_ours = float(np.median(times))
        t_found = (ours.tca - EPOCH).astype(np.int64) / 1e9
        matched = sum(
            bool(np.any((ours.index_1 == i) & (ours.index_2 == j) & (np.abs(t_found - t) < 1.0)))
            for i, j, t, _ in ref
        )
        ratio = t_bf / t_ours
        print(
            f"subset {sub.num_rows} objects x {args.subset_hours:g} h: brute force "
            f"({args.bf_step_s:g} s steps, all pairs) {t_bf:.2f} s, {len(ref)} conjunctions; "
            f"ours {t_ours:.3f} s (median of 3), {len(ours)} conjunctions, {matched} of "
            f"{len(ref)} brute-force ones matched within 1 s"
        )
        print(f"speed-up over brute force on the subset: {ratio:.1f}x")
        scale = (
            (n * (n - 1))
            / (sub.num_rows * (sub.num_rows - 1))
            * (args.days * 24 / args.subset_hours)
        )
        t_bf_full = t_bf * scale

    t0 = time.perf_counter()
    result = screen_conjunctions(
        table, EPOCH, days=args.days, threshold_km=args.threshold_km, step_s=args.step_s,
        compile=args.compile, shards=args.shards, ray_address=args.ray_address,
        progress=lambda line: print(f"  [{time.perf_counter() - t0:6.1f} s] {line}", flush=True),
    )  # fmt: skip
    wall = time.perf_counter() - t0
    rss_gib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(result.stats.summary())
    pcs = np.sort(result.pc)[::-1]
    print(
        f"{len(result)} conjunctions under {args.threshold_km:g} km "
        f"({len(result) / args.days:.0f} per day), {int((result.pc > 1e-4).sum())} with Pc > 1e-4, "
        f"highest Pc {pcs[0] if len(pcs) else 0:.2e}; peak memory {rss_gib:.2f} GiB"
    )
    goal = "within" if wall < 300 else "OVER"
    print(f"full screen: {n} objects x {args.days:g} days in {wall:.1f} s ({goal} the 5 min goal)")
    if ratio is not None:
        print(
            f"brute force extrapolated to the full workload: {t_bf_full / 3600:.1f} h, "
            f"{t_bf_full / wall:.0f}x the measured screen"
        )


if __name__ == "__main__":
    main()
