"""Lambert solves per second: starbrain's batched Izzo (NumPy, torch) vs pykep and lamberthub.

Two workloads on the same random geometries (fixed seed, mu = 1, radii 0.3-3, times of flight
0.5-60, 30 % retrograde):

* ``single``: the zero-revolution solution of each geometry (one solve per geometry);
* ``multi``: every solution with up to 2 revolutions (M=0, 1 left/right, 2 left/right).

Peers solve one problem per Python call: pykep 3.0.1's ``lambert_problem`` (Izzo's C++; one call
returns all solutions up to ``multi_revs``) and lamberthub 1.0.0's numba ``izzo2015`` (one call
per solution). They are timed on a subset (``--peer-n``) and their rate per solve is compared with
ours on the full batch (``--n``). Rates are medians over ``--repeats`` runs, after a warm-up
(numba compilation, torch start-up). The ratio is our rate / the peer's (above 1: we are faster).
Run with ``make bench`` or ``python bench/lambert.py [--n N] [--peer-n N] [--repeats R]``.
"""

from __future__ import annotations

import argparse
import ctypes
import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from _timing import median_time
from starbrain.physics.lambert import solve_lambert, solve_lambert_all

MAX_REVS = 2


def geometries(n: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)

    def dirs() -> np.ndarray:
        v = rng.normal(size=(n, 3))
        return v / np.linalg.norm(v, axis=1)[:, None]

    r1 = dirs() * 10 ** rng.uniform(-0.5, 0.5, n)[:, None]
    r2 = dirs() * 10 ** rng.uniform(-0.5, 0.5, n)[:, None]
    tof = 10 ** rng.uniform(np.log10(0.5), np.log10(60.0), n)
    prograde = rng.random(n) >= 0.3
    return r1, r2, tof, prograde


def pykep_core() -> Any | None:
    """pykep's compiled core, loaded without pykep/__init__.py (the 3.0.1 wheel's __init__
    fails on a missing data file)."""
    spec = importlib.util.find_spec("pykep")
    if spec is None or spec.origin is None:
        return None
    sos = sorted(Path(spec.origin).parent.glob("core*.so"))
    if not sos:
        return None
    flags = sys.getdlopenflags()
    try:
        sys.setdlopenflags(flags | ctypes.RTLD_GLOBAL)
        core_spec = importlib.util.spec_from_file_location("pykep.core", sos[0])
        assert core_spec is not None and core_spec.loader is not None
        core = importlib.util.module_from_spec(core_spec)
        core_spec.loader.exec_module(core)
    except Exception:
        return None
    finally:
        sys.setdlopenflags(flags)
    return core


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000, help="geometries in our batch")
    ap.add_argument("--peer-n", type=int, default=5_000, help="geometries for the peers")
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()

    def timed(fn: Callable[[], int]) -> tuple[float, int]:
        return median_time(fn, args.repeats, warmup=True)

    r1, r2, tof, pro = geometries(args.n)
    pr1, pr2, ptof, ppro = (
        r1[: args.peer_n],
        r2[: args.peer_n],
        tof[: args.peer_n],
        pro[: args.peer_n],
    )
    rows: list[tuple[str, str, float, int]] = []  # workload, solver, seconds, solves

    def ours_np_single() -> int:
        return int(solve_lambert(r1, r2, tof, 1.0, prograde=pro).converged.sum())

    def ours_np_multi() -> int:
        sol = solve_lambert_all(r1, r2, tof, 1.0, max_revs=MAX_REVS, prograde=pro)
        return int(sol.converged.sum())

    rows.append(("single", "starbrain NumPy", *timed(ours_np_single)))
    rows.append(("multi", "starbrain NumPy", *timed(ours_np_multi)))

    try:
        import torch
    except ImportError:
        torch = None
    if torch is not None:
        devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
        for dev in devices:
            t_r1, t_r2, t_tof, t_pro = (torch.as_tensor(a, device=dev) for a in (r1, r2, tof, pro))

            def sync(dev: str = dev) -> None:
                if dev == "cuda":
                    torch.cuda.synchronize()

            def ours_t_single(t_r1=t_r1, t_r2=t_r2, t_tof=t_tof, t_pro=t_pro, sync=sync) -> int:
                ok = solve_lambert(t_r1, t_r2, t_tof, 1.0, prograde=t_pro).converged
                sync()
                return int(ok.sum())

            def ours_t_multi(t_r1=t_r1, t_r2=t_r2, t_tof=t_tof, t_pro=t_pro, sync=sync) -> int:
                sol = solve_lambert_all(t_r1, t_r2, t_tof, 1.0, max_revs=MAX_REVS, prograde=t_pro)
                sync()
                return int(sol.converged.sum())

            name = f"starbrain torch {dev}"
            rows.append(("single", name, *timed(ours_t_single)))
            rows.append(("multi", name, *timed(ours_t_multi)))

    core = pykep_core()
    if core is not None:

        def pykep_single() -> int:
            for i in range(len(ptof)):
                core.lambert_problem(pr1[i], pr2[i], float(ptof[i]), 1.0, not ppro[i], 0)
            return len(ptof)

        def pykep_multi() -> int:
            n = 0
            for i in range(len(ptof)):
                lp = core.lambert_problem(
                    pr1[i], pr2[i], float(ptof[i]), 1.0, not ppro[i], MAX_REVS
                )
                n += len(lp.v0)
            return n

        rows.append(("single", "pykep 3.0.1", *timed(pykep_single)))
        rows.append(("multi", "pykep 3.0.1", *timed(pykep_multi)))
    else:
        print("pykep not importable: skipped")

    try:
        from lamberthub import izzo2015
    except Exception:
        izzo2015 = None
    if izzo2015 is not None:

        def hub_single() -> int:
            for i in range(len(ptof)):
                izzo2015(1.0, pr1[i], pr2[i], float(ptof[i]), M=0, prograde=bool(ppro[i]))
            return len(ptof)

        def hub_multi() -> int:
            n = 0
            for i in range(len(ptof)):
                for m in range(MAX_REVS + 1):
                    for low in (True, False) if m else (True,):
                        try:
                            izzo2015(
                                1.0, pr1[i], pr2[i], float(ptof[i]), M=m,
                                prograde=bool(ppro[i]), low_path=low,
                            )  # fmt: skip
                        except ValueError:
                            continue
                        n += 1
            return n

        rows.append(("single", "lamberthub 1.0.0", *timed(hub_single)))
        rows.append(("multi", "lamberthub 1.0.0", *timed(hub_multi)))
    else:
        print("lamberthub not importable: skipped")

    print(
        f"Lambert solves/s; ours on {args.n:,} geometries, peers on {args.peer_n:,}; "
        f"median of {args.repeats}; multi = all solutions up to M={MAX_REVS}"
    )
    print(f"{'workload':8} {'solver':24} {'solves':>9} {'seconds':>9} {'solves/s':>12}")
    rates: dict[tuple[str, str], float] = {}
    for work, name, sec, count in rows:
        rates[(work, name)] = count / sec
        print(f"{work:8} {name:24} {count:9,d} {sec:9.4f} {count / sec:12,.0f}")
    print("\nratios (our rate / peer rate; above 1: starbrain faster)")
    ours = [n for w, n, _, _ in rows if w == "single" and n.startswith("starbrain")]
    peers = [n for w, n, _, _ in rows if w == "single" and not n.startswith("starbrain")]
    for work in ("single", "multi"):
        for o in ours:
            parts = [f"vs {p}: {rates[(work, o)] / rates[(work, p)]:.1f}x" for p in peers]
            print(f"{work:8} {o:24} " + ", ".join(parts))


if __name__ == "__main__":
    main()
