"""The demo's fleets table: a few seconds of each fleet simulated into the store, one line each.

The satellites' line comes from :func:`starbrain.loop.demo.run_demo` (the catalogue it built and
checked); this module simulates the others: a launch (the launch vehicle's CCSDS telemetry
with two injected faults, found by the data-quality rules of :mod:`starbrain.models.anomaly`),
vehicles (CommonRoad's multi-body car), a robot arm (MuJoCo), a GPU data centre (the RC thermal
simulator and the power-capped scheduler) and the public post stream (posts tied to fleet
events, with bursts detected and linked). Each line names the console tab that shows it. Each
fleet is small enough that the whole section takes a few seconds; a fleet whose optional
package is missing is reported, not fatal.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from starbrain.store.database import Store

__all__ = ["FLEETS", "LAUNCH_FAULTS", "run_fleets"]

Row = tuple[str, str, str]  # fleet, what was stored, what the platform made of it

# the demo launch's injected faults (seconds after lift-off): an 8-sample GNSS packet gap and a
# flat-lined LOX level, the two kinds the detector's data-quality rules find without training
LAUNCH_FAULTS = ("dropout:LV_GNSS@20+0.8", "stuck:lox_level@35+10")
LAUNCH_S = 60.0


def _launch(store: Store, start: np.datetime64) -> Row:
    import pyarrow as pa

    from starbrain.core.schemas.telemetry import TELEMETRY_SCHEMA
    from starbrain.models.anomaly.data import frame_from_flight
    from starbrain.models.anomaly.detector import (
        AnomalyDetector,
        detections_table,
        label_detections,
    )
    from starbrain.physics.flight_sim import (
        FlightConfig,
        launch_vehicle_definitions,
        parse_anomaly,
        simulate_flight,
    )
    from starbrain.sources.telemetry.ccsds import PacketDecoder

    # lifted off LAUNCH_S before ``start`` so it has landed before the live loop's first window
    lift_off = start.astype("datetime64[ms]") - np.timedelta64(round(LAUNCH_S * 1000), "ms")
    config = FlightConfig(
        seed=0, duration_s=LAUNCH_S, rate_hz=10.0, start=f"{lift_off}Z", name="demo-launch",
        anomalies=tuple(parse_anomaly(a) for a in LAUNCH_FAULTS),
    )  # fmt: skip
    flight = simulate_flight(config)
    decoder = PacketDecoder(launch_vehicle_definitions(), source=config.flight_id)
    batches = decoder.feed(flight.packet_bytes()) + decoder.flush()
    n = store.append("telemetry", pa.Table.from_batches(batches).cast(TELEMETRY_SCHEMA)).n_new
    frame = frame_from_flight(flight)
    rules = AnomalyDetector(frame.channels, dict(frame.groups)).rule_detections(frame)
    found = label_detections(rules, flight.labels)
    store.append("anomalies", detections_table(found))
    kinds = sorted({d.label for d in found if d.label})
    return (
        "launch telemetry",
        f"{n:,} values from {len(flight.times_ns)} samples of a {LAUNCH_S:.0f} s launch, "
        "CCSDS-decoded (telemetry)",
        f"{len(found)} anomalies by the data-quality rules, {len(kinds)} of "
        f"{flight.labels.num_rows} injected faults found ({', '.join(kinds) or 'none'}); "
        "console: Telemetry",
    )


def _vehicles(store: Store, start: np.datetime64) -> Row:
    from starbrain.sources.driving.simulator import DRIVERS, FLEET, simulate_log

    log = simulate_log(FLEET[1], 0.6, DRIVERS[2], duration_s=4.0, start=str(start))
    n = store.append("vehicle", log).n_new
    speed = np.asarray(log.column("speed_mps").to_numpy(zero_copy_only=False))
    return (
        "vehicles",
        f"{n} samples of a {FLEET[1].vehicle_id} on friction 0.6 (vehicle)",
        f"mean speed {speed.mean():.1f} m/s; starbrain vehicle train|drive; console: Vehicles",
    )


def _arm(store: Store, start: np.datetime64) -> Row:
    from starbrain.sources.robots.simulator import simulate_arm

    table = simulate_arm(n_episodes=1, n_steps=200, start=start)
    n = store.append("arm", table).n_new
    return (
        "robot arm",
        f"{n} samples of a worn SCARA arm with a 0.5 kg payload (arm)",
        "starbrain robot train|evaluate|run; console: Arm",
    )


def _compute(store: Store, start: np.datetime64) -> Row:
    from starbrain.planners.power_schedule import Jobs, Site, evaluate_schedule, plan_schedule
    from starbrain.sources.compute.simulator import FleetConfig, simulate_fleet

    rec = simulate_fleet(FleetConfig(n_racks=2, racks_per_loop=1), 60.0)
    n = store.append("compute", rec.to_table(start_ns=int(start.astype(np.int64)))).n_new
    hottest = float(rec.metrics["gpu_temp_c"].max())
    jobs = Jobs.random(400, 100_000, seed=0)
    full = float((jobs.n_gpus * (jobs.demand_w + 90.0)).sum())
    site = Site(budget_w=0.55 * full, ramp_w_per_s=0.05 * full / 60)
    nocap = evaluate_schedule(jobs, site, plan_schedule(jobs, site, "nocap"))
    plan = evaluate_schedule(jobs, site, plan_schedule(jobs, site, "starbrain"))
    saved = 1.0 - float(plan["energy_mwh"]) / float(nocap["energy_mwh"])
    return (
        "GPU data centre",
        f"{n} samples, 64 GPUs x 60 s, die up to {hottest:.1f} °C (compute)",
        f"400 jobs on 100,000 GPUs: {saved:.0%} less energy than no cap, peak "
        f"{float(plan['peak_site_mw']):.1f} MW within {site.budget_w / 1e6:.1f} MW; "
        "console: Compute",
    )


def _posts(store: Store, start: np.datetime64) -> Row:
    from starbrain.models.text.bursts import detect_bursts, link_bursts
    from starbrain.sources.posts.simulator import random_events, simulate_posts

    events = random_events(np.random.default_rng(0), start, 3 * 3600.0, n=3)
    sim = simulate_posts(events, start, 3 * 3600.0, seed=0, chatter_per_hour=60.0)
    n = store.append("posts", sim.posts).n_new
    bursts = link_bursts(detect_bursts(sim.posts), sim.posts, sim.events)
    linked = sum(b.event_id is not None for b in bursts)
    spam = sum(b.spam for b in bursts)
    return (
        "public posts",
        f"{n} posts over 3 simulated hours, {len(events)} fleet events (posts)",
        f"{len(bursts)} bursts: {linked} linked to their event, {spam} flagged as spam; "
        "console: Posts",
    )


FLEETS: tuple[tuple[str, Callable[[Store, np.datetime64], Row]], ...] = (
    ("launch telemetry", _launch),
    ("vehicles", _vehicles),
    ("robot arm", _arm),
    ("GPU data centre", _compute),
    ("public posts", _posts),
)


def run_fleets(
    console: Console,
    store: Store,
    start: np.datetime64,
    first: tuple[Row, float] | None = None,
) -> dict[str, float]:
    """Simulate each fleet of :data:`FLEETS` briefly into ``store`` around UTC ``start``; print
    one table, ``first`` (a row made elsewhere and its seconds: the satellites') at its top.

    Returns the seconds each simulated fleet took (by name)."""
    view = Table(title="the fleets (simulated, stored, one step of their pipeline)")
    view.add_column("fleet", no_wrap=True)  # the names stay whole, whatever the width
    for col in ("stored (stream)", "result", "s"):
        view.add_column(col)
    if first is not None:
        view.add_row(*first[0], f"{first[1]:.1f}")
    seconds: dict[str, float] = {}
    for name, run in FLEETS:
        t0 = time.perf_counter()
        try:
            fleet, stored, result = run(store, start)
        except ImportError as exc:  # an optional extra is not installed
            fleet, stored, result = name, "-", f"not installed: {exc.name or exc}"
        seconds[name] = time.perf_counter() - t0
        view.add_row(fleet, stored, result, f"{seconds[name]:.1f}")
    console.print(view)
    return seconds
