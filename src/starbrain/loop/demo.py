"""The demo that ``make run`` runs: the loop on embedded defaults, summarised on the terminal.

It builds the Starlink Gen1 catalogue (no network needed), stores it, exports it as TLE and OMM,
reloads the export to prove the round trip, propagates every satellite with the batched SGP4
(checked on the spot against python-sgp4's C++ core), finds the next hours' ground passes over
three stations and the next Earth-Mars transfer window (:func:`run_demo`). Then the live loop
runs for a few simulated minutes as fast as it can (:func:`demo_loop_config`,
:func:`print_loop_summary`): catalogue refreshes with world-model drift checks and a re-fit,
housekeeping telemetry, conjunction screenings and pass plans, all stored and published;
``starbrain demo`` then serves the console with the loop running on at wall-clock speed.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from rich.console import Console
from rich.table import Table

from starbrain.config import settings
from starbrain.core import timeconv
from starbrain.sources.catalogs.catalog import load_catalog
from starbrain.sources.catalogs.omm import write_omm
from starbrain.sources.catalogs.tle import format_tle
from starbrain.sources.generators.constellation import PRESETS, RADIUS_WGS72_KM, generate_preset
from starbrain.store.database import Store

if TYPE_CHECKING:
    from starbrain.loop.config import LoopConfig
    from starbrain.loop.service import LoopSummary

__all__ = ["GUIDE", "demo_loop_config", "next_mars_window", "print_loop_summary", "run_demo"]


def _shell_summary(table: pa.Table, preset: str) -> Table:
    out = Table(title=f"{preset}: {table.num_rows} satellites")
    for col in ("shell", "sats", "planes x per plane", "alt km", "incl °", "period min"):
        out.add_column(col, justify="right")
    names = table.column("object_name").to_pylist()
    shell_of = np.array([n.split()[1].split("-")[0] for n in names])
    n_rev = table.column("mean_motion_rev_per_day").to_numpy()
    for shell in PRESETS[preset]:
        sel = shell_of == shell.name
        out.add_row(
            shell.name,
            str(int(sel.sum())),
            f"{shell.planes} x {shell.per_plane}",
            f"{shell.altitude_km:.0f}",
            f"{shell.inclination_deg:.1f}",
            f"{1440.0 / n_rev[sel].mean():.2f}",
        )
    return out


def next_mars_window(epoch: np.datetime64) -> list[dict[str, Any]]:
    """The type I and II rows (:func:`~starbrain.planners.transfers.windows_table`) of the first
    Earth-Mars opportunity with a launch after UTC ``epoch``, those launches only.

    A coarse search (the 2-day grid, not refined: under a second) of this year and the next two
    picks the opportunity; only that one is refined, not an opportunity already past (it halves
    the demo's Mars step; the numbers are the refined search's, as before)."""
    from starbrain.planners.transfers import windows_table

    year, after = int(str(epoch)[:4]), str(epoch)
    coarse = windows_table(year, year + 2, refine=False)
    ahead = [r["opportunity"] for r in coarse if r["launch"] > after]
    if ahead:
        years = [int(r["launch"][:4]) for r in coarse if r["opportunity"] == ahead[0]]
        rows = windows_table(min(years), max(years))
        found = [r for r in rows if r["opportunity"] == ahead[0] and r["launch"] > after]
        if found:
            return found
    # the coarse and refined launch dates straddle ``epoch``: search all three years refined
    rows = [r for r in windows_table(year, year + 2) if r["launch"] > after]
    return [r for r in rows if r["opportunity"] == rows[0]["opportunity"]] if rows else []


def _physics_steps(
    console: Console, table: pa.Table, epoch: np.datetime64
) -> tuple[dict[str, float], str]:
    """SGP4 over one orbit for the whole fleet, passes over three stations, the next Mars window.

    Returns the step timings (s) and the satellites' line of the fleets table."""
    from starbrain.physics.sgp4 import propagate
    from starbrain.planners.passes import KNOWN_STATIONS, find_passes, sgp4_propagator

    timings: dict[str, float] = {}
    times = epoch.astype("datetime64[ns]") + np.arange(96) * np.timedelta64(60, "s")
    jd, fr = timeconv.datetime64_to_jd(times)
    t = time.perf_counter()
    r, _, err = propagate(table, jd, fr)
    timings["sgp4"] = time.perf_counter() - t
    sample = table.take(np.arange(0, table.num_rows, 37))
    r_ref, _, _ = propagate(sample, jd, fr, backend="cpp")
    worst_mm = float(np.abs(r[::37] - r_ref).max() * 1e6)
    alt = np.linalg.norm(r, axis=-1) - RADIUS_WGS72_KM
    console.print(
        f"SGP4 (PyTorch, batched): {r.shape[0]} satellites x {r.shape[1]} steps in "
        f"{timings['sgp4']:.2f} s ({r.shape[0] * r.shape[1] / timings['sgp4'] / 1e6:.1f} M "
        f"states/s), {int((err != 0).sum())} errors, altitude {alt.min():.0f}-{alt.max():.0f} km; "
        f"agrees with python-sgp4's C++ core within {worst_mm:.1e} mm",
        highlight=False,
    )

    stations = list(KNOWN_STATIONS.values())
    start = timeconv.utc_now()
    t = time.perf_counter()
    found = find_passes(
        sgp4_propagator(table),
        table.column("norad_id").to_numpy(),
        stations,
        start,
        start + np.timedelta64(6, "h"),
        min_elevation_deg=25.0,
    )
    timings["passes"] = time.perf_counter() - t
    out = Table(title=f"passes above 25° in the next 6 h ({timings['passes']:.1f} s)")
    for col in ("station", "passes", "next rise (UTC)", "satellite", "max el °"):
        out.add_column(col, justify="right")
    for st in stations:
        sel = np.flatnonzero((found.station == st.name) & ~np.isnat(found.rise))
        k = sel[np.argmin(found.rise[sel])] if len(sel) else None
        out.add_row(
            st.name,
            str(int((found.station == st.name).sum())),
            "-" if k is None else str(found.rise[k])[:19].replace("T", " "),
            "-" if k is None else str(found.norad_id[k]),
            "-" if k is None else f"{found.max_elevation_deg[k]:.1f}",
        )
    console.print(out)

    t = time.perf_counter()
    rows = next_mars_window(epoch)
    timings["mars"] = time.perf_counter() - t
    if rows:
        best = min(rows, key=lambda r: r["c3_km2_s2"])
        console.print(
            f"next Earth-Mars window: launch {best['launch'][:10]}, arrive {best['arrival'][:10]}, "
            f"type {'I' * best['type']}, C3 {best['c3_km2_s2']:.1f} km²/s², "
            f"Δv {best['dv_total_kms']:.2f} km/s ({timings['mars']:.1f} s)",
            highlight=False,
        )
    line = (
        f"SGP4 within {worst_mm:.0e} mm of python-sgp4; {len(found):,} passes over "
        f"{len(stations)} stations in 6 h"
    )
    return timings, line


def run_demo(console: Console, preset: str = "starlink-gen1") -> dict[str, float]:
    """Run the demo, printing as it goes; returns the step timings in seconds."""
    cfg = settings()
    timings: dict[str, float] = {}
    epoch = timeconv.utc_now().astype("datetime64[D]")
    console.rule(f"[bold]starbrain demo[/]: {preset} on {epoch}")

    t = time.perf_counter()
    table = generate_preset(preset, epoch=epoch)
    timings["generate"] = time.perf_counter() - t
    console.print(f"generated {table.num_rows} element sets in {timings['generate']:.2f} s")

    out_dir = cfg.data_dir / "catalogues"
    out_dir.mkdir(parents=True, exist_ok=True)
    tle_path = out_dir / f"{preset}.tle"
    omm_path = out_dir / f"{preset}.json"
    t = time.perf_counter()
    tle_path.write_text("\n".join(format_tle(table, names=True)) + "\n")
    omm_path.write_text(write_omm(table, "json"))
    reloaded = load_catalog(tle_path)
    timings["export+reload"] = time.perf_counter() - t
    same = (
        reloaded.n_good == table.num_rows
        and not reloaded.errors
        and all(
            pc.all(pc.equal(reloaded.table.column(c), table.column(c))).as_py()
            for c in (
                "norad_id",
                "epoch",
                "mean_motion_rev_per_day",
                "inclination_deg",
                "ra_of_asc_node_deg",
                "mean_anomaly_deg",
                "eccentricity",
            )
        )
    )
    console.print(
        f"wrote {tle_path} and {omm_path}; reloaded the TLE file: {reloaded.n_good} valid, "
        f"{len(reloaded.errors)} bad, values {'identical' if same else '[red]DIFFERENT[/]'}",
        highlight=False,
    )

    t = time.perf_counter()
    with Store(cfg.db_path) as store:
        added = store.append("elements", reloaded.table, source=str(tle_path))
        n_objects = store.count("elements", current=True)
        n_sets = store.count("elements")
    timings["store"] = time.perf_counter() - t
    console.print(
        f"store {cfg.db_path}: {added.n_new} new element sets ({added.n_duplicate} already "
        f"stored); {n_objects} objects, {n_sets} element sets in all",
        highlight=False,
    )
    console.print(_shell_summary(table, preset))
    steps, physics = _physics_steps(console, reloaded.table, epoch)
    timings.update(steps)
    from starbrain.loop.demo_fleets import run_fleets

    satellites = (
        "satellites",
        f"{n_objects:,} objects of {preset}, {added.n_new:,} new element sets, TLE round trip "
        f"{'identical' if same else 'DIFFERENT'} (elements)",
        f"{physics}; console: Catalogue, Passes, Conjunctions",
    )
    with Store(cfg.db_path) as store:
        fleets = run_fleets(
            console, store, timeconv.utc_now(), first=(satellites, sum(timings.values()))
        )
    timings.update({f"fleet: {name}": s for name, s in fleets.items()})
    console.print(
        "next: [bold]starbrain catalog show[/], [bold]starbrain propagate --norad 200001 "
        '--format oem[/], [bold]starbrain passes --station "Tokyo:35.68,139.77,40"[/], '
        "[bold]starbrain mars windows[/], [bold]starbrain catalog load FILE|URL[/]"
    )
    return timings


def demo_loop_config(minutes: float = 5.0, preset: str = "starlink-gen1") -> LoopConfig:
    """The demo's loop: the preset plus 2000 debris objects, one-minute windows, as fast as
    possible, for ``minutes`` simulated; the drift threshold is set low enough that the demo
    shows a world-model re-fit, the screening threshold (10 km) high enough to find some
    conjunctions in every window."""
    from starbrain.loop.config import LoopConfig

    return LoopConfig(
        preset=preset,
        debris=2000,
        threshold_km=10.0,
        speed=0.0,
        duration_s=minutes * 60.0,
        catalog_interval_s=60.0,
        telemetry_interval_s=30.0,
        conjunctions_interval_s=60.0,
        conjunctions_lookahead_s=0.0,
        passes_interval_s=60.0,
        passes_lookahead_s=0.0,
        drift_threshold_km=0.15,
        refit_objects=6,
        refit_epochs=30,
    )


def print_loop_summary(console: Console, summary: LoopSummary) -> None:
    """The loop run as tables: tasks, what was stored and published, drift, re-fits."""
    console.rule("[bold]live loop[/]")
    console.print(
        f"simulated {summary.start[:19].replace('T', ' ')} .. {summary.end[11:19]} UTC in "
        f"{summary.wall_s:.1f} s wall{' (resumed from the checkpoint)' if summary.resumed else ''}"
        f"; published to the {summary.publisher}",
        highlight=False,
    )
    tasks = Table(title="tasks (each window processed once, checkpointed)")
    for col in ("task", "windows", "done until (UTC)", "seconds", "errors"):
        tasks.add_column(col, justify="right")
    for name, t in summary.tasks.items():
        tasks.add_row(
            name, str(t["runs"]), t["done_until"][:19].replace("T", " "), f"{t['seconds']:.2f}",
            str(t["errors"]),
        )  # fmt: skip
    console.print(tasks)
    stored = ", ".join(f"{n:,} {k}" for k, n in sorted(summary.stored.items())) or "nothing"
    published = ", ".join(f"{n} {k.split('.')[-1]}" for k, n in sorted(summary.published.items()))
    console.print(f"stored: {stored}", highlight=False)
    console.print(f"published: {published}; {summary.alerts} alerts", highlight=False)
    if summary.drift:
        last = summary.drift[-1]
        console.print(
            f"world model: {len(summary.drift)} drift checks, last {last['median_km']:.3f} km "
            f"median over {last['n']} objects (threshold {last['threshold_km']:g} km)",
            highlight=False,
        )
    for refit in summary.refits:
        rows = refit.get("evaluation") or []
        text = ", ".join(
            f"{r['horizon_min']:.0f} min: SGP4 {r['sgp4_median_km']:.3f} km -> model "
            f"{r['model_median_km']:.3f} km"
            for r in rows
            if r.get("sgp4_median_km") is not None and r.get("model_median_km") is not None
        )
        console.print(
            f"re-fitted {refit['model']} in {refit.get('seconds', 0):.1f} s: {text}",
            highlight=False,
        )


GUIDE = """[bold]The console[/] is at [link={url}]{url}[/link]: a tab per fleet
  - globe: live satellite positions (drag to rotate, wheel to zoom); click a
    satellite for its orbit and ground track
  - [bold]Catalogue[/]: the satellites' shells and element sets, searchable
  - [bold]Conjunctions[/]: the loop's screenings; click a row for miss
    distance, RIC, TCA, Pc, relative speed and both objects
  - [bold]Telemetry[/]: the launch's and the satellites' telemetry; pick a
    parameter for its chart; anomalies in red
  - [bold]Loop[/]: the world-model registry (error per horizon), the tasks
    and the live feed of what the loop publishes
  - [bold]Passes[/], [bold]Mars[/]: passes on demand; Earth-Mars windows, porkchop
  - [bold]Vehicles[/]: driven tracks, model error, the double lane change
  - [bold]Arm[/]: the robot arm's joint tracking, its drawing, model error
  - [bold]Compute[/]: the GPU data centre's power, temperatures and schedule
  - [bold]Posts[/]: search the public posts; bursts linked to fleet events
  - API docs: {url}api/docs
The loop runs on at wall-clock speed; Ctrl-C stops it gracefully and the
next run resumes where it stopped."""
