"""``starbrain robot simulate | train | evaluate | run`` on a real store file."""

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
    # the payload change on push episodes (2, the new payload from the second)
    out = r.invoke(app, ["--db", db, "robot", "run", "--task", "push", "--episodes", "2",
                         "--change-at", "1", "--samples", "32", "--format", "json"])  # fmt: skip
    assert out.exit_code == 0, out.output
    eps = json.loads(out.stdout)
    assert [e["payload_kg"] for e in eps] == [0.5, 1.5]
    assert all(e["success"] == (e["final_dist_m"] <= 0.02) for e in eps)
    assert all(0 <= e["final_dist_m"] < 1.0 and e["start_dist_m"] > 0.07 for e in eps)


def test_train_without_telemetry_is_one_clear_error(tmp_path) -> None:
    out = CliRunner().invoke(app, ["--db", str(tmp_path / "s.duckdb"), "robot", "train"])
    assert out.exit_code != 0
    assert "robot simulate" in str(out.exception) or "robot simulate" in out.output


def test_evaluate_push_reports_the_plants_puck_distance(tmp_path) -> None:
    """``robot evaluate --task push`` with the upper-bound model (the true arm's physics,
    registered): the reported puck distance is the plant's, judged by the 2 cm criterion."""
    import math

    from starbrain.models.dynamics import WorldModel, WorldModelConfig, register_world_model
    from starbrain.physics.arms import ScaraPrior
    from starbrain.planners.arm_push import sample_push_tasks
    from starbrain.sources.robots import WORN_ARM

    db = str(tmp_path / "s.duckdb")
    with Store(db) as store:
        prior = WorldModel(ScaraPrior(WORN_ARM, 2), WorldModelConfig(4, 2, 0.02, 1))
        register_world_model(store, "arm-true", prior, metrics={"reason": "upper bound"})
    out = CliRunner().invoke(app, ["--db", db, "robot", "evaluate", "--name", "arm-true",
                                   "--task", "push", "--tasks", "1", "--samples", "64",
                                   "--payload-kg", "0.5", "--format", "json"])  # fmt: skip
    assert out.exit_code == 0, out.output
    (ep,) = json.loads(out.stdout)
    (task,) = sample_push_tasks(1, 0)
    assert ep["start_dist_m"] == pytest.approx(math.dist(task.puck_xy, task.goal_xy), abs=1e-12)
    assert math.isfinite(ep["final_dist_m"]) and ep["final_dist_m"] < ep["start_dist_m"]
    assert ep["success"] == (ep["final_dist_m"] <= 0.02)
    assert "puck's centre within 2 cm of the goal after 3 s" in out.stderr + out.stdout
    bad = CliRunner().invoke(app, ["--db", db, "robot", "evaluate", "--task", "pick"])
    assert bad.exit_code != 0 and "reach or push" in str(bad.exception) + bad.output
