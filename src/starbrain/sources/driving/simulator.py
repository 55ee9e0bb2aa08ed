"""The fleet simulator: CommonRoad's multi-body vehicle model (29 states, Pacejka tyres that
saturate) as "the real car", for several parameter sets, road frictions and drivers, writing logs
in the ``vehicle`` stream's schema.

Each log integrates ``vehiclemodels.vehicle_dynamics_mb`` (commonroad-vehicle-models, BSD-3) with
SciPy's LSODA between 20 Hz samples, the driver's inputs (steering-angle rate, longitudinal
acceleration) held over each interval. The reference model is scalar Python, so logs are
simulated one after another (about 0.3 s of CPU per simulated second); everything downstream is
batched. Friction scales the tyres' peak longitudinal and lateral friction (``p_dx1``, ``p_dy1``).

Faults (:func:`simulate_faulty_log`, labels in ``sources.faults.FAULT_SCHEMA``): ``grip_loss``
(while active, every tyre's peak friction and slip stiffnesses, ``p_dx1 p_dy1 p_kx1 p_ky1``, are
multiplied by ``magnitude``, e.g. 0.4: a tyre losing grip on a wet or icy stretch; the driver does
not notice) and ``sensor_bias`` (``magnitude`` added to the logged column ``channel``, e.g.
``yaw_rate_radps`` +0.03 rad/s: an IMU gyro bias, or ``steering_wheel_angle_rad``). Without
faults the logs are bit-identical to :func:`simulate_log`'s.
"""

from __future__ import annotations

import copy
import math
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
from scipy.integrate import solve_ivp
from vehiclemodels.init_mb import init_mb
from vehiclemodels.parameters_vehicle1 import parameters_vehicle1
from vehiclemodels.parameters_vehicle2 import parameters_vehicle2
from vehiclemodels.parameters_vehicle3 import parameters_vehicle3
from vehiclemodels.vehicle_dynamics_mb import vehicle_dynamics_mb

from starbrain.core.errors import StarbrainError
from starbrain.core.schemas.vehicle import VEHICLE_SCHEMA
from starbrain.sources.faults import Fault, fault_rows, fault_table

__all__ = ["DRIVERS", "FAULT_KINDS", "FLEET", "FRICTIONS", "Driver", "VehicleSpec",
           "simulate_faulty_log", "simulate_fleet", "simulate_log",
           "vehicle_parameters"]  # fmt: skip

RATE_HZ = 20.0
G = 9.81  # m/s^2, as in vehiclemodels
FAULT_KINDS = ("grip_loss", "sensor_bias")


@dataclass(frozen=True)
class VehicleSpec:
    """A fleet member: a CommonRoad parameter set (1 Ford Escort, 2 BMW 320i, 3 VW Vanagon) and
    the steering ratio (steering-wheel / road-wheel angle) its CAN bus reports through."""

    vehicle_id: str
    commonroad_id: int
    steering_ratio: float


FLEET = (
    VehicleSpec("ford-escort", 1, 15.0),
    VehicleSpec("bmw-320i", 2, 16.0),
    VehicleSpec("vw-vanagon", 3, 18.0),
)
FRICTIONS = (1.0, 0.6, 0.3)


@dataclass(frozen=True)
class Driver:
    """A driver: cruise speed (m/s) with a slow swing, and a road-wheel steering target made of
    two sines (amplitude in rad, periods in s), tracked through rate-limited steering."""

    name: str
    speed_mps: float
    speed_swing_mps: float
    steer_amp_rad: float
    steer_period_s: float
    accel_gain_per_s: float = 0.8
    steer_gain_per_s: float = 4.0


DRIVERS = (
    Driver("calm", 15.0, 2.0, 0.015, 7.0),
    Driver("sporty", 20.0, 4.0, 0.04, 3.5, accel_gain_per_s=1.5),
    Driver("weaving", 11.0, 2.0, 0.07, 2.5),
)


def vehicle_parameters(spec: VehicleSpec, friction: float = 1.0) -> Any:
    """CommonRoad's parameter set for ``spec`` with the tyres' peak friction scaled."""
    p = {1: parameters_vehicle1, 2: parameters_vehicle2, 3: parameters_vehicle3}[
        spec.commonroad_id
    ]()
    p.tire.p_dx1 = float(p.tire.p_dx1) * friction
    p.tire.p_dy1 = float(p.tire.p_dy1) * friction
    return p


def simulate_log(
    vehicle: VehicleSpec,
    friction: float,
    driver: Driver,
    duration_s: float = 20.0,
    seed: int = 0,
    start: str = "2026-01-01T00:00:00",
    faults: Sequence[Fault] = (),
) -> pa.Table:
    """One simulated log at 20 Hz in ``VEHICLE_SCHEMA`` (segment 0; truth columns filled), with
    ``faults`` injected (see the module docstring; labels: :func:`simulate_faulty_log`)."""
    p = vehicle_parameters(vehicle, friction)
    grips = [f for f in faults if f.kind == "grip_loss"]
    unknown = {f.kind for f in faults} - set(FAULT_KINDS)
    if unknown:
        raise StarbrainError(f"unknown vehicle fault kinds {sorted(unknown)}: use {FAULT_KINDS}")
    key = f"{vehicle.vehicle_id}|{friction}|{driver.name}|{seed}"
    rng = np.random.default_rng(zlib.crc32(key.encode()))
    ph = rng.uniform(0, 2 * np.pi, 3)
    v0 = driver.speed_mps + rng.uniform(-1, 1)
    x = np.asarray(init_mb([0.0, 0.0, 0.0, v0, 0.0, 0.0, 0.0], p), np.float64)
    n = round(duration_s * RATE_HZ) + 1
    dt = 1.0 / RATE_HZ
    states = np.empty((n, x.size))
    inputs = np.zeros((n, 2))
    states[0] = x
    p_rows = [p] * n if grips else None
    for k in range(n - 1):
        t = k * dt
        pk = _grip_params(p, grips, t) if grips else p
        v_ref = v0 + driver.speed_swing_mps * math.sin(2 * math.pi * t / 15.0 + ph[0])
        d_ref = driver.steer_amp_rad * (
            math.sin(2 * math.pi * t / driver.steer_period_s + ph[1])
            + 0.5 * math.sin(2 * math.pi * t / (0.37 * driver.steer_period_s) + ph[2])
        )
        a_lim = 0.4 * friction * G  # drivers feel the road in how hard they accelerate
        u_acc = float(np.clip(driver.accel_gain_per_s * (v_ref - x[3]), -a_lim, a_lim))
        u_str = float(np.clip(driver.steer_gain_per_s * (d_ref - x[2]), -0.4, 0.4))
        u = [u_str, u_acc]
        with np.errstate(all="ignore"):
            sol = solve_ivp(lambda _t, s, u=u, pk=pk: vehicle_dynamics_mb(s, u, pk), (0.0, dt),
                            x, method="LSODA", rtol=1e-6, atol=1e-8)  # fmt: skip
        if not sol.success or not np.isfinite(sol.y[:, -1]).all() or sol.y[3, -1] < 1.0:
            n = k + 1  # the car spun or stopped: the log ends here (rare; not below 1 m/s)
            states, inputs = states[:n], inputs[:n]
            p_rows = p_rows[:n] if p_rows is not None else None
            break
        x = sol.y[:, -1]
        states[k + 1], inputs[k] = x, u
        if p_rows is not None:
            p_rows[k] = pk
    if n > 1:
        inputs[-1] = inputs[-2]
    table = _table(states, inputs, p, vehicle, friction, driver, seed, start, key, p_rows)
    return _with_sensor_bias(table, faults) if faults else table


def _grip_params(p: Any, grips: Sequence[Fault], t_s: float) -> Any:
    """``p`` with the tyres' friction and slip stiffnesses scaled by every active grip loss."""
    scale = math.prod(f.magnitude for f in grips if f.active(t_s))
    if scale == 1.0:
        return p
    q = copy.deepcopy(p)
    for name in ("p_dx1", "p_dy1", "p_kx1", "p_ky1"):
        setattr(q.tire, name, float(getattr(q.tire, name)) * scale)
    return q


def _with_sensor_bias(table: pa.Table, faults: Sequence[Fault]) -> pa.Table:
    """The log with each ``sensor_bias`` fault's magnitude added to its column while active."""
    t_ns = table["time"].cast(pa.int64()).to_numpy()
    t_s = (t_ns - t_ns[0]) / 1e9
    for f in faults:
        if f.kind != "sensor_bias":
            continue
        if f.channel is None or f.channel not in table.column_names:
            raise StarbrainError(f"sensor_bias needs a logged float column, got {f.channel!r}")
        col = table[f.channel].to_numpy(zero_copy_only=False).astype(np.float64)
        col = np.where(f.active(t_s), col + f.magnitude, col)
        i = table.schema.get_field_index(f.channel)
        table = table.set_column(i, table.schema.field(i), pa.array(col, pa.float64()))
    return table


def simulate_faulty_log(
    vehicle: VehicleSpec,
    friction: float,
    driver: Driver,
    faults: Sequence[Fault],
    duration_s: float = 20.0,
    seed: int = 0,
    start: str = "2026-01-01T00:00:00",
) -> tuple[pa.Table, pa.Table]:
    """:func:`simulate_log` with ``faults`` (the same drive: same driver, phases and speed), its
    ``log_id`` suffixed with the fault kinds; returns the log and its fault table."""
    table = simulate_log(vehicle, friction, driver, duration_s, seed, start, faults)
    kinds = "+".join(f.kind for f in faults)
    log_id = f"{table['log_id'][0].as_py()}-{kinds}" if faults else table["log_id"][0].as_py()
    i = table.schema.get_field_index("log_id")
    table = table.set_column(i, table.schema.field(i), pa.array([log_id] * table.num_rows))
    t_ns = table["time"].cast(pa.int64()).to_numpy()
    rows = fault_rows(faults, stream="vehicle", object_id=vehicle.vehicle_id, run_id=log_id,
                      t0_ns=int(t_ns[0]), last_ns=int(t_ns[-1]),
                      source=table["source"][0].as_py())  # fmt: skip
    return table, fault_table(rows)


def _table(
    states: np.ndarray, inputs: np.ndarray, p: Any, vehicle: VehicleSpec, friction: float,
    driver: Driver, seed: int, start: str, key: str, p_rows: Sequence[Any] | None = None,
) -> pa.Table:  # fmt: skip
    n = states.shape[0]
    ps = p_rows or [p] * n  # the parameters in force at each sample (a grip loss changes them)
    f = np.array([vehicle_dynamics_mb(s, list(u), pk)
                  for s, u, pk in zip(states, inputs, ps, strict=True)])  # fmt: skip
    vx, vy, r = states[:, 3], states[:, 10], states[:, 5]
    t0 = np.datetime64(start, "ns").astype(np.int64)
    time_ns = t0 + np.round(np.arange(n) / RATE_HZ * 1e9).astype(np.int64)
    log_id = f"{vehicle.vehicle_id}-mu{friction:.1f}-{driver.name}-s{seed}"

    def c(v: np.ndarray | float | None) -> pa.Array:
        if v is None:
            return pa.nulls(n, pa.float64())
        return pa.array(np.broadcast_to(np.asarray(v, np.float64), (n,)), pa.float64())

    cols = {
        "vehicle_id": pa.array([vehicle.vehicle_id] * n, pa.string()),
        "log_id": pa.array([log_id] * n, pa.string()),
        "segment": pa.array(np.zeros(n, np.int32)),
        "time": pa.array(time_ns, pa.timestamp("ns", tz="UTC")),
        "x_m": c(states[:, 0]), "y_m": c(states[:, 1]), "yaw_rad": c(states[:, 4]),
        "speed_mps": c(vx), "lateral_velocity_mps": c(vy),
        "steering_wheel_angle_rad": c(states[:, 2] * vehicle.steering_ratio),
        "road_wheel_angle_rad": c(states[:, 2]),
        "wheel_speed_fl_mps": c(states[:, 23] * p.R_w),
        "wheel_speed_fr_mps": c(states[:, 24] * p.R_w),
        "wheel_speed_rl_mps": c(states[:, 25] * p.R_w),
        "wheel_speed_rr_mps": c(states[:, 26] * p.R_w),
        "accel_x_mps2": c(f[:, 3] - vy * r), "accel_y_mps2": c(f[:, 10] + vx * r),
        "accel_z_mps2": c(G), "gyro_x_radps": c(states[:, 7]), "gyro_y_radps": c(states[:, 9]),
        "yaw_rate_radps": c(r), "lat_deg": c(None), "lon_deg": c(None),
        "ecef_x_m": c(None), "ecef_y_m": c(None), "ecef_z_m": c(None),
        "friction": c(friction), "driver": pa.array([driver.name] * n, pa.string()),
        "source": pa.array([f"sim:commonroad-mb:{key}"] * n, pa.string()),
    }  # fmt: skip
    return pa.table(cols).select(VEHICLE_SCHEMA.names).cast(VEHICLE_SCHEMA)


def simulate_fleet(
    vehicles: Sequence[VehicleSpec] = FLEET,
    frictions: Sequence[float] = FRICTIONS,
    drivers: Sequence[Driver] = DRIVERS,
    duration_s: float = 20.0,
    seed: int = 0,
) -> pa.Table:
    """Every combination of vehicle, friction and driver, one log each, concatenated."""
    logs = [
        simulate_log(v, mu, d, duration_s, seed)
        for v in vehicles
        for mu in frictions
        for d in drivers
    ]
    return pa.concat_tables(logs)
