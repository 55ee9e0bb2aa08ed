"""The MuJoCo arm's telemetry in the ``arm`` stream."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("mujoco")

from starbrain.core.errors import StarbrainError
from starbrain.sources.robots import ARM_SCHEMA, WORN_ARM, ArmParams, simulate_arm
from starbrain.store import Store


def test_simulated_episodes_fill_the_arm_stream(tmp_path) -> None:
    t = simulate_arm(WORN_ARM, n_episodes=2, n_steps=50, seed=3)
    assert t.schema.equals(ARM_SCHEMA)
    assert t.num_rows == 2 * 51
    assert t["episode"].to_pylist()[:51] == [0] * 51
    times = t["time"].to_numpy().astype("int64")
    assert (np.diff(times[:51]) == 20_000_000).all()  # 0.02 s control period
    assert times[51] > times[50]
    assert t.schema.field("qd1_radps").metadata[b"unit"] == b"rad/s"
    # the excitation stays within a few rad/s and uses the torque range
    assert np.abs(t["qd2_radps"].to_numpy()).max() < 20
    assert np.abs(t["tau_cmd_1_nm"].to_numpy()).max() > 4
    # measured torque is the delivered one: gain 0.85 times the command, plus 0.01 N m noise
    cmd = t["tau_cmd_1_nm"].to_numpy()[:50]
    meas = t["tau_meas_1_nm"].to_numpy()[:50]
    assert np.abs(meas - 0.85 * cmd).max() < 0.05
    with Store(tmp_path / "s.duckdb") as store:
        store.append("arm", t, source="sim")
        back = store.read("arm", where="episode = ?", params=[1])
    assert back.num_rows == 51
    np.testing.assert_allclose(back["q1_rad"].to_numpy(), t["q1_rad"].to_numpy()[51:])


def test_bad_parameters_are_one_clear_error() -> None:
    with pytest.raises(StarbrainError, match="damping_nms"):
        ArmParams(damping_nms=(-1.0, 0.3))
    with pytest.raises(StarbrainError, match="payload"):
        ArmParams(payload_kg=float("nan"))
