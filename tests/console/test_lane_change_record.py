"""``starbrain vehicle drive --record`` stores the run and the console's lane-change route serves
it: the same entry speed, verdict and cones as the CLI printed, and the trajectory it wrote
(slow: one real double lane change on the multi-body plant)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from starbrain.cli import app
from starbrain.console.app import create_app


@pytest.mark.slow
def test_recorded_drive_is_served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "s.duckdb"
    monkeypatch.setenv("STARBRAIN_DB", str(db))
    traj = tmp_path / "t.csv"
    args = ["vehicle", "drive", "--friction", "1.0", "--speeds", "10", "--samples", "64",
            "--trajectory", str(traj), "--record", "--format", "json"]  # fmt: skip
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 0, r.output
    row = json.loads(r.stdout)[0]
    with TestClient(create_app(db), base_url="http://127.0.0.1") as client:
        got = client.get("/api/vehicles/lane-change", params={"vehicle_id": "bmw-320i"}).json()
    assert got["available"]
    run = got["run"]
    assert run["speed_mps"] == row["speed_mps"] == 10.0
    assert run["passed"] == row["passed"] and run["friction"] == 1.0
    assert ", ".join(run["cones_struck"]) == row["cones"]
    written = np.loadtxt(traj, delimiter=",", skiprows=1)
    np.testing.assert_allclose(run["x_m"], written[:, 0], atol=1e-3)
    np.testing.assert_allclose(run["y_m"], written[:, 1], atol=1e-3)
