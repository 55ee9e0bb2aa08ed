"""The launcher's telemetry channels as functions of its sampled trajectory (for
:mod:`starbrain.physics.flight_sim`).

Each function takes arrays of shape ``(n,)`` sampled at the telemetry times (SI units: m, s, kg,
Pa, K, rad) and returns true (noise-free) channel values keyed by the channel names of
``sources/telemetry/definitions/launch_vehicle.yaml``. The models are the simplifications stated in
:mod:`starbrain.physics.flight_sim`: air data from the standard atmosphere and a constant speed
of sound, propulsion scaled by the throttle, temperatures as first-order lags towards algebraic
targets, vibration algebraic in throttle, dynamic pressure and pump speed.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from starbrain.physics.launch_vehicle import (
    OMEGA_EARTH_RADPS,
    R_EARTH_M,
    Atmosphere,
    LaunchVehicle,
)

__all__ = [
    "air_data",
    "lag",
    "propulsion_channels",
    "state_channels",
    "thermal_channels",
]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

MIXTURE_RATIO = 2.36  # LOX / RP-1 by mass
SPEED_OF_SOUND_MPS = 320.0
PC_NOMINAL_PA = (9.7e6, 9.7e6)  # chamber pressure per stage at full throttle
PUMP_SPEED_RADPS = (3600.0, 4000.0)
TANK_HEAD_M = (20.0, 6.0)
RHO_LOX, RHO_FUEL = 1141.0, 810.0
Q_REF_PA = 35_000.0


def air_data(
    t: FloatArray, x: FloatArray, pitch: FloatArray, latitude_deg: float, vertical_rise_s: float
) -> dict[str, FloatArray]:
    """Air data along the trajectory ``x`` ``(n, 5)``: altitude ``h`` (m), ambient pressure
    ``p_amb`` (Pa), density ``rho`` (kg/m^3), airspeed ``v_air`` (m/s, relative to the rotating
    atmosphere), dynamic pressure ``q`` (Pa) and angle of attack ``aoa`` (rad, 0 while rising
    vertically)."""
    r, _theta, vr, vt, _m = x.T
    atm = Atmosphere()
    h = r - R_EARTH_M
    rho = atm.density(h)
    omega = OMEGA_EARTH_RADPS * math.cos(math.radians(latitude_deg))
    wr, wt = vr, vt - omega * r
    v_air = np.hypot(wr, wt)
    gamma_air = np.arctan2(wr, np.maximum(wt, 1e-3))
    return {
        "h": h,
        "p_amb": atm.pressure(h),
        "rho": rho,
        "v_air": v_air,
        "q": 0.5 * rho * v_air**2,
        "aoa": np.where(t < vertical_rise_s, 0.0, pitch - gamma_air),
    }


def propulsion_channels(
    vehicle: LaunchVehicle,
    m0: float,
    m: FloatArray,
    upper: BoolArray,
    firing: BoolArray,
    k: FloatArray,
    valve_osc: FloatArray,
    air: dict[str, FloatArray],
) -> dict[str, FloatArray]:
    """True propulsion channels (thrust N, pressures Pa, flows kg/s, levels 0-1, pump rad/s,
    valve positions 0-1) and the axial/normal accelerations (m/s^2) at mass ``m`` (kg); ``upper``
    marks samples after staging."""
    s1, s2 = vehicle.stages
    si = upper.astype(np.int64)
    thrust = k * np.where(upper, s2.thrust_n(air["p_amb"]), s1.thrust_n(air["p_amb"]))
    mdot = k * np.where(upper, s2.mass_flow_kgps, s1.mass_flow_kgps)
    pc = k * np.take(PC_NOMINAL_PA, si)
    m_empty = np.where(upper, (m0 - s1.propellant_mass_kg - s1.dry_mass_kg) - s2.propellant_mass_kg,
                       m0 - s1.propellant_mass_kg)  # fmt: skip
    prop = np.where(upper, s2.propellant_mass_kg, s1.propellant_mass_kg)
    level = np.clip((m - m_empty) / prop, 0.0, 1.0)
    drag = air["q"] * vehicle.drag_coefficient * vehicle.reference_area_m2
    accel_axial = (thrust - drag * np.cos(air["aoa"])) / m
    tank_lox = np.where(upper, 3.8e5, 3.5e5) * (1.0 - 0.03 * (1.0 - level))
    tank_fuel = np.where(upper, 3.2e5, 3.0e5) * (1.0 - 0.03 * (1.0 - level))
    head = np.take(TANK_HEAD_M, si) * level
    valve_nominal = np.where(firing, 0.98, 0.0)
    return {
        "thrust": thrust,
        "chamber_pressure_a": pc,
        "chamber_pressure_b": pc,
        "lox_flow": mdot * MIXTURE_RATIO / (1 + MIXTURE_RATIO),
        "fuel_flow": mdot / (1 + MIXTURE_RATIO),
        "mixture_ratio": np.where(firing, MIXTURE_RATIO * (1.0 + 0.5 * valve_osc), 0.0),
        "lox_level": level,
        "fuel_level": level,
        "lox_tank_pressure": tank_lox,
        "fuel_tank_pressure": tank_fuel,
        "lox_pump_inlet_pressure": tank_lox + RHO_LOX * np.maximum(accel_axial, 0) * head,
        "fuel_pump_inlet_pressure": tank_fuel + RHO_FUEL * np.maximum(accel_axial, 0) * head,
        "lox_injector_pressure": 1.22 * pc,
        "fuel_injector_pressure": 1.18 * pc,
        "turbopump_speed": k * np.take(PUMP_SPEED_RADPS, si),
        "lox_valve_position": valve_nominal * (1.0 + np.where(firing, valve_osc, 0.0)),
        "fuel_valve_position": valve_nominal,
        "accel_axial": accel_axial,
        "accel_normal": drag * np.sin(air["aoa"]) / m,
    }


def thermal_channels(
    t: FloatArray,
    dt: float,
    ignition: float,
    k: FloatArray,
    speed_ratio: FloatArray,
    level: FloatArray,
    air: dict[str, FloatArray],
) -> dict[str, FloatArray]:
    """True temperatures (K): first-order lags towards algebraic targets (engine temperatures
    restart cold on the second-stage engine at ``ignition``), propellants by tank ``level``."""
    i_ign = int(np.searchsorted(t, ignition))
    h, rho, v_air = air["h"], air["rho"], air["v_air"]
    return {
        "nozzle_temperature": lag(300.0 + 1400.0 * k, dt, 8.0, 300.0, [i_ign]),
        "turbine_inlet_temperature": lag(300.0 + 650.0 * k, dt, 1.5, 300.0, [i_ign]),
        "bearing_temperature": lag(300.0 + 60.0 * speed_ratio**2, dt, 40.0, 300.0, [i_ign]),
        "lox_temperature": 90.5 + 3.0 * (1.0 - level) + 0.002 * t,
        "fuel_temperature": 288.0 - 2.0 * (1.0 - level),
        "avionics_temperature": 300.0 + 0.02 * t,
        "base_temperature": lag(300.0 + 500.0 * k * np.exp(-h / 30e3) + 80.0 * k, dt, 10.0, 300.0),
        "fairing_temperature": lag(290.0 + 2.5e-6 * rho * v_air**3, dt, 20.0, 290.0),
        "battery_temperature": 295.0 + 0.01 * t,
    }


def state_channels(
    t: FloatArray,
    x: FloatArray,
    stage: FloatArray,
    firing: BoolArray,
    pitch: FloatArray,
    pitch_rate: FloatArray,
    k: FloatArray,
    speed_ratio: FloatArray,
    air: dict[str, FloatArray],
    rng: np.random.Generator,
) -> dict[str, FloatArray]:
    """True stage and engine state, IMU rates (rad/s) and attitude (rad), vibration RMS (g),
    air data, GNSS (position m, velocity m/s, satellites, GDOP) and bus power (V, A); the slow
    attitude and GNSS wander takes its phases from ``rng``."""
    _r, theta, vr, vt, _m = x.T
    q = air["q"]
    rw = rng.uniform(0, 2 * np.pi, 6)  # phases of slow attitude wander
    bus_current = 30.0 + 15.0 * firing + 5.0 * q / Q_REF_PA
    return {
        "stage": np.where(stage >= 1.5, 2.0, 1.0),
        "engine_state": np.where(firing, 4.0, np.where(stage == 3.0, 5.0, 6.0)),
        "accel_lateral": 0.05 * np.sin(2 * np.pi * t / 23 + rw[0]),
        "roll_rate": 0.01 * np.sin(2 * np.pi * t / 31 + rw[1]),
        "pitch_rate": pitch_rate,
        "yaw_rate": 0.003 * np.sin(2 * np.pi * t / 17 + rw[2]),
        "pitch_angle": pitch,
        "vibration_axial": np.where(firing, 5.0 + 20.0 * k + 10.0 * q / Q_REF_PA, 1.0),
        "vibration_lateral": np.where(firing, 3.0, 0.5) + 12.0 * q / Q_REF_PA,
        "vibration_turbopump": np.where(firing, 2.0 + 30.0 * speed_ratio**2, 0.5),
        "dynamic_pressure": q,
        "mach": air["v_air"] / SPEED_OF_SOUND_MPS,
        "altitude": air["h"],
        "downrange": R_EARTH_M * theta,
        "velocity_radial": vr,
        "velocity_horizontal": vt,
        "speed": np.hypot(vr, vt),
        "flight_path_angle": np.arctan2(vr, vt),
        "sats_tracked": np.clip(np.rint(10 + 1.5 * np.sin(2 * np.pi * t / 170 + rw[3])), 4, 14),
        "gdop": 1.6 + 0.2 * np.sin(2 * np.pi * t / 90 + rw[4]),
        "bus_voltage": 28.0 - 0.02 * bus_current,
        "bus_current": bus_current,
    }


def lag(
    target: FloatArray, dt: float, tau: float, y0: float, resets: Sequence[int] = ()
) -> FloatArray:
    """First-order lag ``tau dy/dt = target - y`` sampled every ``dt`` (exact for a target held
    over each step), starting from ``y0`` and restarting from ``y0`` at each index in
    ``resets`` (a new engine)."""
    from scipy.signal import lfilter

    a = math.exp(-dt / tau)
    out = np.empty_like(target)
    bounds = [0, *sorted(r for r in resets if 0 < r < len(target)), len(target)]
    for i, j in itertools.pairwise(bounds):
        out[i:j], _ = lfilter([1.0 - a], [1.0, -a], target[i:j], zi=[a * y0])
    return out
