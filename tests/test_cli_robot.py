"""``starbrain robot simulate | train | evaluate`` on a real store file."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

pytest.importorskip("mujoco")

from starbrain.cli import app
from starbrain.store.database import Store


@pytest.mark.slow  # ~90 s on the shared 2-core machine under load
def test_simulate_train_evaluate(tmp_path) -> None:
    db = str(tmp_path / "s.duckdb")
    r = CliRunner()
    out = r.invoke(app, ["--db", db, "robot", "simulate", "--episodes", "2", "--steps", "150"])
    assert out.exit_code == 0, out.output
    with Store(db, read_only=True) as store:
        assert store.read("arm").num_rows == 2 * 151
    out = r.invoke(app, ["--db", db, "robot", "train", "--kind", "residual", "--epochs", "5",
                         "--members", "2", "--format", "json"])  # fmt: skip
    assert out.exit_code == 0, out.output
    rows = {row["parameter"]: row["value"] for row in json.loads(out.stdout)}
    assert rows["payload_kg"] == pytest.approx(0.5, rel=0.1)  # the worn arm's 0.5 kg
    assert rows["n_transitions"] == 300
    out = r.invoke(app, ["--db", db, "robot", "evaluate", "--name", "arm-residual", "--tasks",
                         "1", "--samples", "64", "--format", "json"])  # fmt: skip
    assert out.exit_code == 0, out.output
    (ep,) = json.loads(out.stdout)
    assert set(ep) >= {"success", "final_dist_m", "ms_per_step"}
    assert ep["final_dist_m"] < 0.05


def test_train_without_telemetry_is_one_clear_error(tmp_path) -> None:
    out = CliRunner().invoke(app, ["--db", str(tmp_path / "s.duckdb"), "robot", "train"])
    assert out.exit_code != 0
    assert "robot simulate" in str(out.exception) or "robot simulate" in out.output
