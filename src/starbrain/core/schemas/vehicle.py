"""The ``vehicle`` stream: one row per 20 Hz sample of a ground vehicle's log (real or simulated),
in SI units and the ISO 8855 vehicle frame (x forward, y left, z up)."""

from __future__ import annotations

import pyarrow as pa

from starbrain.core.schemas._fields import measured as _f

__all__ = ["STATE_CHANNELS", "VEHICLE_KEY", "VEHICLE_SCHEMA"]


VEHICLE_SCHEMA = pa.schema(
    [
        pa.field("vehicle_id", pa.string(), nullable=False),
        pa.field("log_id", pa.string(), nullable=False),
        pa.field("segment", pa.int32(), nullable=False),  # valid stretch of the log, from 0
        pa.field("time", pa.timestamp("ns", tz="UTC"), nullable=False),
        _f("x_m", "m", "east of the log's first pose (local ENU tangent plane)", False),
        _f("y_m", "m", "north of the log's first pose", False),
        _f("yaw_rad", "rad", "heading, counter-clockwise from east", False),
        _f("speed_mps", "m/s", "longitudinal speed (CAN speed on a real car)", False),
        _f("lateral_velocity_mps", "m/s", "velocity along y at the centre of mass (sim truth)"),
        _f("steering_wheel_angle_rad", "rad", "steering-wheel angle, positive left", False),
        _f("road_wheel_angle_rad", "rad", "front road-wheel angle (sim truth)"),
        _f("wheel_speed_fl_mps", "m/s", "front-left wheel speed"),
        _f("wheel_speed_fr_mps", "m/s", "front-right wheel speed"),
        _f("wheel_speed_rl_mps", "m/s", "rear-left wheel speed"),
        _f("wheel_speed_rr_mps", "m/s", "rear-right wheel speed"),
        _f("accel_x_mps2", "m/s^2", "specific force along x (IMU)"),
        _f("accel_y_mps2", "m/s^2", "specific force along y"),
        _f("accel_z_mps2", "m/s^2", "specific force along z (about +9.8 at rest)"),
        _f("gyro_x_radps", "rad/s", "roll rate"),
        _f("gyro_y_radps", "rad/s", "pitch rate"),
        _f("yaw_rate_radps", "rad/s", "yaw rate about z (IMU gyro, or sim truth)"),
        _f("lat_deg", "deg", "GNSS latitude (WGS-84)"),
        _f("lon_deg", "deg", "GNSS longitude"),
        _f("ecef_x_m", "m", "pose position, ECEF"),
        _f("ecef_y_m", "m", "pose position, ECEF"),
        _f("ecef_z_m", "m", "pose position, ECEF"),
        _f("friction", "1", "road friction coefficient (sim truth)"),
        pa.field("driver", pa.string()),  # sim driver profile
        pa.field("source", pa.string()),  # the log folder or simulator configuration
    ],
    metadata={"stream": "vehicle", "key": "vehicle_id,log_id,time"},
)
VEHICLE_KEY = ("vehicle_id", "log_id", "time")

# the columns a world model reads, in order: the dynamic single-track state
STATE_CHANNELS = ("x_m", "y_m", "yaw_rad", "speed_mps", "yaw_rate_radps")
