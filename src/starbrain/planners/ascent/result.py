"""The result of an ascent optimisation (:class:`AscentResult`) and its JSON form."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from starbrain.physics.launch_vehicle import (
    R_EARTH_M,
    Atmosphere,
    LaunchVehicle,
    PlanarOrbit,
)

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class AscentResult:
    """An optimised ascent. Node arrays (n,) or (n, ...) cover both burns in time order; the
    staging instant appears twice (end of stage 1, start of stage 2, ``stage`` 0 then 1).

    ``states``: ``[r, theta, v_r, v_t, m]`` (m, rad, m/s, m/s, kg) in the inertial orbit-plane
    frame; ``pitch_rad``: thrust angle above the local horizontal. ``max_aoa_rad``: the largest
    angle between thrust and air-relative velocity at the first-stage nodes after the vertical
    rise (the point-mass model has no aerodynamic moments; a large value flags a turn a real
    vehicle could not fly). ``orbit``: the orbit of the collocated burnout state;
    ``orbit_resim``: of the state reached by re-flying the pitch profile (DOP853, rtol 1e-11)
    from lift-off. ``budgets`` (m/s and J/kg):
    ``dv_ideal`` (sum of ``c_vac ln(m0/mf)``), ``thrust_accel_integral``, ``loss_backpressure``,
    ``loss_gravity``, ``loss_drag``, ``loss_steering``, ``speed_gain`` (inertial speed at
    burnout minus at lift-off), ``velocity_residual`` (``dv_ideal`` - losses - ``speed_gain``),
    ``tsiolkovsky_residual`` (``thrust_accel_integral`` - (``dv_ideal`` -
    ``loss_backpressure``)), ``energy_change``, ``work_thrust``, ``work_drag``,
    ``energy_residual``; all computed on the re-flown trajectory.
    """

    success: bool
    message: str
    vehicle: LaunchVehicle
    atmosphere: Atmosphere
    target_alt_m: float
    latitude_rad: float
    payload_kg: float
    liftoff_mass_kg: float
    burnout_mass_kg: float
    staging_time_s: float
    final_time_s: float
    t_s: FloatArray
    stage: npt.NDArray[np.int64]
    states: FloatArray
    pitch_rad: FloatArray
    dynamic_pressure_pa: FloatArray
    max_q_pa: float
    max_q_time_s: float
    max_q_alt_m: float
    max_aoa_rad: float
    orbit: PlanarOrbit
    orbit_resim: PlanarOrbit
    resim_final_state: FloatArray
    budgets: dict[str, float]
    nlp_iterations: int
    solve_time_s: float
    constraint_violation: float

    @property
    def altitude_m(self) -> FloatArray:
        return self.states[:, 0] - R_EARTH_M

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (lists for arrays; degrees and km added next to radians and metres)."""
        out: dict[str, Any] = {
            "success": self.success,
            "message": self.message,
            "vehicle": _vehicle_dict(self.vehicle),
            "target_alt_m": self.target_alt_m,
            "latitude_deg": math.degrees(self.latitude_rad),
            "payload_kg": self.payload_kg,
            "liftoff_mass_kg": self.liftoff_mass_kg,
            "burnout_mass_kg": self.burnout_mass_kg,
            "staging_time_s": self.staging_time_s,
            "final_time_s": self.final_time_s,
            "max_q_pa": self.max_q_pa,
            "max_q_time_s": self.max_q_time_s,
            "max_q_alt_m": self.max_q_alt_m,
            "max_aoa_deg": math.degrees(self.max_aoa_rad),
            "orbit": vars(self.orbit),
            "orbit_resim": vars(self.orbit_resim),
            "budgets": self.budgets,
            "nlp_iterations": self.nlp_iterations,
            "solve_time_s": self.solve_time_s,
            "constraint_violation": self.constraint_violation,
            "t_s": self.t_s.tolist(),
            "stage": self.stage.tolist(),
            "altitude_m": self.altitude_m.tolist(),
            "downrange_m": (self.states[:, 1] * R_EARTH_M).tolist(),
            "v_r_mps": self.states[:, 2].tolist(),
            "v_t_mps": self.states[:, 3].tolist(),
            "mass_kg": self.states[:, 4].tolist(),
            "pitch_deg": np.degrees(self.pitch_rad).tolist(),
            "dynamic_pressure_pa": self.dynamic_pressure_pa.tolist(),
        }
        return _finite_or_none(out)


def _finite_or_none(obj: Any) -> Any:
    """NaN and infinities become None, so the dict is strict JSON."""
    if isinstance(obj, dict):
        return {k: _finite_or_none(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite_or_none(v) for v in obj]
    if isinstance(obj, float | np.floating):
        return float(obj) if math.isfinite(obj) else None
    return obj


def _vehicle_dict(v: LaunchVehicle) -> dict[str, Any]:
    return {
        "name": v.name,
        "drag_coefficient": v.drag_coefficient,
        "reference_area_m2": v.reference_area_m2,
        "fairing_mass_kg": v.fairing_mass_kg,
        "stages": [vars(s) for s in v.stages],
    }
