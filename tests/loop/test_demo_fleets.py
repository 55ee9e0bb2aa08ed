"""The demo's fleets section: every fleet simulated into a real store, each burst linked, the
launch's injected faults found, and every line and the console guide naming real console tabs."""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np
import pyarrow.compute as pc
from rich.console import Console

from starbrain.loop.demo import GUIDE
from starbrain.loop.demo_fleets import FLEETS, LAUNCH_FAULTS, run_fleets
from starbrain.store.database import Store

START = np.datetime64("2026-12-07T12:00:00", "ns")
INDEX = Path(__file__).parents[2] / "src/starbrain/console/static/index.html"
# every fleet of the platform, as the demo's table names them (issue #13's `make run` check)
ALL_FLEETS = (
    "satellites",
    "launch telemetry",
    "vehicles",
    "robot arm",
    "GPU data centre",
    "public posts",
)


def console_tabs() -> list[str]:
    """The labels of the console's tab buttons, read from its page."""
    return re.findall(
        r'<button role="tab" data-tab="[a-z]+"[^>]*>([^<]+)</button>', INDEX.read_text()
    )


def test_every_fleet_lands_in_its_stream(tmp_path: Path) -> None:
    out = io.StringIO()
    satellites = ("satellites", "4408 element sets (elements)", "console: Catalogue")
    with Store(tmp_path / "demo.duckdb") as store:
        # wide enough that no cell wraps: one line per row
        seconds = run_fleets(Console(file=out, width=400), store, START, first=(satellites, 1.0))
        streams = ("vehicle", "arm", "compute", "posts", "telemetry", "anomalies")
        counts = {s: store.count(s) for s in streams}
    text = out.getvalue()
    assert set(seconds) == {name for name, _ in FLEETS}
    assert "not installed" not in text
    # one line per fleet, the satellites' (made by run_demo) first; names never wrap
    rows = [line.split("│")[1:-1] for line in text.splitlines() if line.startswith("│")]
    assert [r[0].strip() for r in rows] == list(ALL_FLEETS)
    # each simulated fleet's line names the console tab that shows it
    tabs = console_tabs()
    for fleet, _, result, _ in rows[1:]:
        named = re.findall(r"console: ([A-Z][a-z]+)", result)
        assert len(named) == 1 and named[0] in tabs, (fleet, result)
    # 4 s at 20 Hz, 200 arm steps + the initial state, 64 GPUs x 60 one-second steps
    assert counts["vehicle"] == 81 and counts["arm"] == 201 and counts["compute"] == 64 * 60
    assert counts["posts"] > 100
    # 60 s of launch at 10 Hz, 5 packets of 50 parameters, less the 8 dropped GNSS packets
    assert 25_000 < counts["telemetry"] < 30_000 and counts["anomalies"] >= 2
    # the three simulated fleet events are each found as a burst and linked to it
    assert "3 linked to their event" in text


def test_launch_faults_are_found_and_land_before_the_loop(tmp_path: Path) -> None:
    launch = dict(FLEETS)["launch telemetry"]
    with Store(tmp_path / "demo.duckdb") as store:
        fleet, stored, result = launch(store, START)
        telemetry = store.read("telemetry")
        anomalies = store.read("anomalies")
    assert fleet == "launch telemetry" and "(telemetry)" in stored
    assert f"2 of {len(LAUNCH_FAULTS)} injected faults found (dropout, stuck)" in result
    # both injected kinds are among the rules' detections, and nothing else is
    assert set(anomalies.column("label").to_pylist()) == {"dropout", "stuck"}
    # the launch lifted off 60 s before START and is over before the live loop's first window
    t = telemetry.column("time").cast("int64")
    start_ns = int(START.astype(np.int64))
    assert pc.max(t).as_py() < start_ns and pc.min(t).as_py() >= start_ns - 60 * 10**9


def test_guide_names_every_console_tab() -> None:
    tabs = console_tabs()
    assert {"Vehicles", "Arm", "Compute", "Posts", "Telemetry", "Catalogue"} <= set(tabs)
    for tab in tabs:
        assert f"[bold]{tab}[/]" in GUIDE, tab
