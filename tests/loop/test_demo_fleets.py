"""The demo's fleets section: every fleet simulated into a real store, each burst linked."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from rich.console import Console

from starbrain.loop.demo_fleets import FLEETS, run_fleets
from starbrain.store.database import Store


def test_every_fleet_lands_in_its_stream(tmp_path: Path) -> None:
    out = io.StringIO()
    start = np.datetime64("2026-12-07T12:00:00", "ns")
    with Store(tmp_path / "demo.duckdb") as store:
        seconds = run_fleets(Console(file=out, width=200), store, start)
        counts = {s: store.count(s) for s in ("vehicle", "arm", "compute", "posts")}
    text = out.getvalue()
    assert set(seconds) == {name for name, _ in FLEETS}
    assert "not installed" not in text
    # 4 s at 20 Hz, 200 arm steps + the initial state, 64 GPUs x 60 one-second steps
    assert counts["vehicle"] == 81 and counts["arm"] == 201 and counts["compute"] == 64 * 60
    assert counts["posts"] > 100
    # the three simulated fleet events are each found as a burst and linked to it
    assert "3 linked to their event" in text
