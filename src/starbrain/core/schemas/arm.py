"""The ``arm`` stream: one row per control period of a robot arm (real or simulated), in SI units
and the arm's base frame (x/y horizontal, z up, origin at joint 1).

Row ``k`` holds the joint state measured at ``time`` and the torque commanded from then until the
next row (and the torque the joint sensors measured over that period), so consecutive rows of one
episode are the transitions ``x[k], u[k] -> x[k+1]`` of a world model.
"""

from __future__ import annotations

import pyarrow as pa

from starbrain.core.schemas._fields import measured as _f

__all__ = ["ARM_KEY", "ARM_SCHEMA", "COMMAND_CHANNELS", "MEASURED_CHANNELS", "STATE_CHANNELS"]


ARM_SCHEMA = pa.schema(
    [
        pa.field("arm_id", pa.string(), nullable=False),
        pa.field("episode", pa.int32(), nullable=False),  # one task attempt or data run, from 0
        pa.field("time", pa.timestamp("ns", tz="UTC"), nullable=False),
        _f("q1_rad", "rad", "joint 1 angle from +x, counter-clockwise about +z", False),
        _f("q2_rad", "rad", "joint 2 angle relative to link 1", False),
        _f("qd1_radps", "rad/s", "joint 1 rate", False),
        _f("qd2_radps", "rad/s", "joint 2 rate", False),
        _f("tau_cmd_1_nm", "N m", "joint 1 torque commanded until the next row", False),
        _f("tau_cmd_2_nm", "N m", "joint 2 torque commanded until the next row", False),
        _f("tau_meas_1_nm", "N m", "joint 1 torque measured over that period"),
        _f("tau_meas_2_nm", "N m", "joint 2 torque measured over that period"),
        _f("ee_x_m", "m", "tool-flange x in the base frame"),
        _f("ee_y_m", "m", "tool-flange y in the base frame"),
        _f("ee_yaw_rad", "rad", "tool-flange yaw about +z"),
        _f("payload_kg", "kg", "payload carried (simulation truth; null on a real arm)"),
        pa.field("task", pa.string()),  # excitation, reach, ... (what the controller was doing)
        pa.field("source", pa.string()),  # the simulator configuration or the log
    ],
    metadata={"stream": "arm", "key": "arm_id,episode,time"},
)
ARM_KEY = ("arm_id", "episode", "time")

# the columns a world model reads, in order
STATE_CHANNELS = ("q1_rad", "q2_rad", "qd1_radps", "qd2_radps")
COMMAND_CHANNELS = ("tau_cmd_1_nm", "tau_cmd_2_nm")
MEASURED_CHANNELS = ("tau_meas_1_nm", "tau_meas_2_nm")
