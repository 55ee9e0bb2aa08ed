"""Labelled faults in the vehicle, arm and GPU simulators (issue #19 B): a faulted run equals the
nominal run bit for bit until the fault starts, differs after it, and its fault table says
which object, kind and span."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from starbrain.core.errors import StarbrainError
from starbrain.sources.faults import FAULT_SCHEMA, Fault

T0 = int(np.datetime64("2026-01-01T00:00:00", "ns").astype(np.int64))


def _cols(t: pa.Table, names: list[str]) -> np.ndarray:
    return np.stack([t[n].to_numpy(zero_copy_only=False).astype(float) for n in names], 1)


def test_fault_validates_its_span() -> None:
    with pytest.raises(StarbrainError, match="end_s"):
        Fault("grip_loss", 2.0, 1.0)
    assert Fault("x", 1.0, 2.0).active(np.array([0.5, 1.0, 1.5, 2.0])).tolist() == [
        False, True, True, False,
    ]  # fmt: skip


def test_vehicle_sensor_bias_and_grip_loss() -> None:
    from starbrain.sources.driving.simulator import (
        DRIVERS,
        FLEET,
        simulate_faulty_log,
        simulate_log,
    )

    v, d = FLEET[0], DRIVERS[1]
    nominal = simulate_log(v, 1.0, d, duration_s=2.0)
    bias = Fault("sensor_bias", 1.0, 1.5, 0.03, "yaw_rate_radps")
    grip = Fault("grip_loss", 1.0, magnitude=0.4)
    biased, labels = simulate_faulty_log(v, 1.0, d, [bias], duration_s=2.0)
    gripped, _ = simulate_faulty_log(v, 1.0, d, [grip], duration_s=2.0)
    t = (nominal["time"].cast(pa.int64()).to_numpy() - T0) / 1e9
    diff = biased["yaw_rate_radps"].to_numpy() - nominal["yaw_rate_radps"].to_numpy()
    np.testing.assert_allclose(diff, np.where((t >= 1.0) & (t < 1.5), 0.03, 0.0), atol=1e-15)
    assert biased["speed_mps"].equals(nominal["speed_mps"])
    assert biased["log_id"][0].as_py().endswith("-sensor_bias")
    assert labels.schema.equals(FAULT_SCHEMA)
    row = labels.to_pylist()[0]
    assert (row["kind"], row["object_id"], row["channel"]) == ("sensor_bias", v.vehicle_id,
                                                             "yaw_rate_radps")  # fmt: skip
    assert row["start"].value - T0 == 1_000_000_000 and row["end"].value - T0 == 1_500_000_000
    names = ["yaw_rate_radps", "lateral_velocity_mps", "accel_y_mps2"]
    a, b = _cols(nominal, names), _cols(gripped, names)
    before = t < 1.0
    assert np.array_equal(a[before], b[before])  # bit-identical until the fault starts
    assert np.abs(a[t > 1.5] - b[t > 1.5]).max() > 1e-3


def test_arm_payload_and_joint_faults_touch_only_their_episode() -> None:
    from starbrain.sources.robots import WORN_ARM, simulate_arm
    from starbrain.sources.robots.simulator import simulate_faulty_arm

    names = ["q1_rad", "q2_rad", "qd1_radps", "qd2_radps", "tau_meas_1_nm"]
    nominal = simulate_arm(WORN_ARM, n_episodes=3, n_steps=60, seed=3)
    faults = {0: [Fault("payload_change", 0.4, magnitude=1.0)],
              1: [Fault("joint_fault", 0.4, 1.0, 4.0, "j2")]}  # fmt: skip
    faulty, labels = simulate_faulty_arm(faults, WORN_ARM, n_episodes=3, n_steps=60, seed=3)
    ep_n, ep_f = nominal["episode"].to_numpy(), faulty["episode"].to_numpy()
    a, b = _cols(nominal, names), _cols(faulty, names)
    k = np.arange(61)
    for e in (0, 1):
        before = k <= 20  # the fault acts from step 20 (0.4 s): its first effect is in row 21
        assert np.array_equal(a[ep_n == e][before], b[ep_f == e][before], equal_nan=True)
        assert np.nanmax(np.abs(a[ep_n == e][k > 30] - b[ep_f == e][k > 30])) > 1e-3
    assert np.array_equal(a[ep_n == 2], b[ep_f == 2], equal_nan=True)
    pay = faulty["payload_kg"].to_numpy()[ep_f == 0]
    assert pay[0] == pytest.approx(0.5) and pay[-1] == pytest.approx(1.5)
    rows = labels.to_pylist()
    assert [(r["run_id"], r["kind"]) for r in rows] == [("0", "payload_change"),
                                                        ("1", "joint_fault")]  # fmt: skip
    assert rows[1]["end"].value - rows[1]["start"].value == 600_000_000


def test_gpu_fan_failure_starts_at_its_time_and_labels_the_node() -> None:
    from starbrain.sources.compute.simulator import FleetConfig, fault_labels, simulate_fleet

    hall = dict(n_racks=1, racks_per_loop=1, nodes_per_rack=2)
    nominal = simulate_fleet(FleetConfig(**hall, seed=4), 60.0)
    fan = FleetConfig(**hall, seed=4, fan_fault_node=1, fan_fault_start_s=30.0,
                      fan_fault_step=0.3, fan_fault_per_h=0.0)  # fmt: skip
    rec = simulate_fleet(fan, 60.0)
    tg0, tg1 = nominal.metrics["gpu_temp_c"], rec.metrics["gpu_temp_c"]
    assert np.array_equal(tg0[:30], tg1[:30])
    assert np.array_equal(tg0[:, :8], tg1[:, :8])  # the other node is untouched
    assert (tg1[-1, 8:] - tg0[-1, 8:]).min() > 0.5  # the faulty node runs hotter
    lab = fault_labels(rec)
    assert lab.num_rows == 8 and set(lab["kind"].to_pylist()) == {"fan_failure"}
    assert lab["start"][0].value == 30_000_000_000 and lab["end"][0].value == 60_000_000_000
