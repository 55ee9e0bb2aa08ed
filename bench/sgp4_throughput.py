"""SGP4 states per second: starbrain's batched torch SGP4 vs python-sgp4's SatrecArray (C++).

Workload: 4,408 Starlink Gen1 satellites (550 km/53.0 deg 72x22, 540/53.2 72x22, 570/70.0 36x20,
560/97.6 6x58 and 4x43) x 1,440 one-minute steps (one day): 6.35 million TEME states.

* peer: python-sgp4's ``SatrecArray.sgp4(jd, fr)``, Vallado's C++ in one call (this build has
  no OpenMP, so one core);
* ours: ``starbrain.physics.sgp4.propagate(state, jd, fr)`` on CPU with the same (jd, fr) in and
  NumPy arrays out, initialised once (initialisation is timed separately), eager PyTorch and,
  unless ``--no-compile``, with ``compile=True`` (``torch.compile``; compilation time reported
  apart and excluded from the rate);
* CUDA when available: the same propagation on the GPU, states left on the device.

Rates are medians over ``--repeats`` runs after a warm-up, all measured in this run; the ratio
is our rate / SatrecArray's (above 1: starbrain faster). Before timing, our states are checked
against SatrecArray's (max position difference printed). Run with ``make bench`` or
``python bench/sgp4_throughput.py [--repeats R] [--steps N] [--threads T] [--no-compile]``.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from collections.abc import Callable

import numpy as np
import pyarrow as pa
import torch
from sgp4.api import SatrecArray

from starbrain.core import timeconv
from starbrain.physics.sgp4 import (
    Sgp4Elements,
    propagate,
    satrecs_from_elements,
    sgp4_init,
    sgp4_propagate,
)

EPOCH = np.datetime64("2026-01-01T00:00:00", "ns")
# Walker shells (altitude km, inclination deg, planes, satellites per plane) of Starlink Gen1.
SHELLS = [(550.0, 53.0, 72, 22), (540.0, 53.2, 72, 22), (570.0, 70.0, 36, 20)]
SHELLS += [(560.0, 97.6, 6, 58), (560.0, 97.6, 4, 43)]


def starlink_table() -> tuple[pa.Table, str]:
    """The 4,408 element sets: ``sources.constellation`` when present, else built here."""
    try:
        from starbrain.sources.generators.constellation import generate_preset
    except ImportError:
        return _walker_table(), "inline Walker builder"
    return generate_preset("starlink-gen1", epoch=EPOCH), "sources.constellation"


def _walker_table() -> pa.Table:
    """Walker-delta shells with phasing 1, e = 1e-4, B* = 1e-4 (Kozai ~ Brouwer mean motion)."""
    from starbrain.core.schemas.elements import ELEMENTS_SCHEMA

    mu, re_km = 398600.8, 6378.135
    cols: dict[str, list[np.ndarray]] = {}
    for alt, inc, planes, per_plane in SHELLS:
        size = planes * per_plane
        j, k = np.divmod(np.arange(size), per_plane)
        a = re_km + alt
        n_rev_day = math.sqrt(mu / a**3) * 86400.0 / (2.0 * math.pi)
        part = {
            "mean_motion_rev_per_day": np.full(size, n_rev_day),
            "eccentricity": np.full(size, 1e-4),
            "inclination_deg": np.full(size, inc),
            "ra_of_asc_node_deg": 360.0 * j / planes,
            "arg_of_pericenter_deg": np.full(size, 90.0),
            "mean_anomaly_deg": np.mod(360.0 * k / per_plane + 360.0 * j / size, 360.0),
            "bstar_per_earth_radius": np.full(size, 1e-4),
        }
        for key, value in part.items():
            cols.setdefault(key, []).append(value)
    data = {key: np.concatenate(v) for key, v in cols.items()}
    n = data["eccentricity"].size
    data["norad_id"] = pa.array(np.arange(200_001, 200_001 + n), pa.int32())
    data["epoch"] = pa.array(np.full(n, EPOCH), pa.timestamp("ns", tz="UTC"))
    arrays = [data[f.name] if f.name in data else pa.nulls(n, f.type) for f in ELEMENTS_SCHEMA]
    return pa.Table.from_arrays(arrays, schema=ELEMENTS_SCHEMA)


def median_seconds(fn: Callable[[], object], repeats: int, sync: Callable[[], None]) -> float:
    fn()  # warm-up
    sync()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--steps", type=int, default=1440, help="one-minute steps")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: all)")
    ap.add_argument("--no-compile", action="store_true", help="skip the torch.compile variant")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    table, origin = starlink_table()
    n_sat, n_time = table.num_rows, args.steps
    jd0, fr0 = timeconv.datetime64_to_jd(EPOCH)
    jd = np.full(n_time, float(jd0))
    fr = float(fr0) + np.arange(n_time) / 1440.0
    states = n_sat * n_time
    print(
        f"{n_sat:,} satellites ({origin}) x {n_time:,} steps = {states / 1e6:.2f} M states; "
        f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads"
    )

    elements = Sgp4Elements.from_table(table, device="cpu")
    array = SatrecArray(satrecs_from_elements(elements, table.column("norad_id").to_pylist()))
    t0 = time.perf_counter()
    with torch.inference_mode():
        state = sgp4_init(elements)
    init_s = time.perf_counter() - t0

    # agreement first: our states vs the C++ core's
    err_ref, r_ref, v_ref = array.sgp4(jd, fr)
    with torch.inference_mode():
        r, v, err = propagate(state, jd, fr)
    dr = float(np.nanmax(np.linalg.norm(r - r_ref, axis=-1)))
    dv = float(np.nanmax(np.linalg.norm(v - v_ref, axis=-1)))
    print(
        f"agreement with SatrecArray: max |dr| = {dr * 1e6:.3g} mm, max |dv| = {dv * 1e6:.3g} "
        f"mm/s, error codes identical: {bool(np.array_equal(err, err_ref))}"
    )

    rows: list[tuple[str, float, str]] = []
    nosync: Callable[[], None] = lambda: None  # noqa: E731
    peer_s = median_seconds(lambda: array.sgp4(jd, fr), args.repeats, nosync)
    rows.append(("SatrecArray (C++, 1 core)", peer_s, "peer"))

    def ours(compile: bool = False) -> Callable[[], object]:
        def run() -> object:
            with torch.inference_mode():
                return propagate(state, jd, fr, compile=compile)

        return run

    eager_s = median_seconds(ours(), args.repeats, nosync)
    rows.append((f"starbrain torch CPU eager ({torch.get_num_threads()} threads)", eager_s, ""))
    if not args.no_compile:
        t0 = time.perf_counter()
        ours(compile=True)()
        compile_s = time.perf_counter() - t0
        comp_s = median_seconds(ours(compile=True), args.repeats, nosync)
        rows.append(
            (
                f"starbrain torch CPU compiled ({torch.get_num_threads()} threads)",
                comp_s,
                f"compile + first call {compile_s:.1f} s",
            )
        )
    if torch.cuda.is_available():
        gpu_state = sgp4_init(elements.to("cuda"))
        tsince = torch.as_tensor((jd - jd0) * 1440.0 + (fr - fr0) * 1440.0, device="cuda")

        def gpu() -> object:
            with torch.inference_mode():
                return sgp4_propagate(gpu_state, tsince)

        gpu_s = median_seconds(gpu, args.repeats, torch.cuda.synchronize)
        rows.append((f"starbrain torch CUDA ({torch.cuda.get_device_name()})", gpu_s, "on device"))

    print(f"init (once, {n_sat:,} satellites): {init_s * 1e3:.1f} ms\n")
    print(f"{'propagator':48} {'seconds':>8} {'M states/s':>11} {'ratio':>7}  note")
    for name, sec, note in rows:
        print(f"{name:48} {sec:8.3f} {states / sec / 1e6:11.2f} {peer_s / sec:6.2f}x  {note}")
    print("\nratio: our rate / SatrecArray's rate (above 1: starbrain faster), medians of "
          f"{args.repeats} runs after a warm-up, same process")  # fmt: skip


if __name__ == "__main__":
    main()
