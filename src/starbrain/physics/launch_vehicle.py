"""Planar point-mass launch-vehicle dynamics over a rotating spherical Earth.

The model of :mod:`starbrain.planners.ascent`, with its simplifications stated:

* **Frame.** Inertial, planar, in the plane of the target orbit; polar coordinates about the
  Earth's centre. State ``x = [r, theta, v_r, v_t, m]``: radius (m), downrange angle (rad),
  radial and transverse inertial velocity (m/s), mass (kg). Out-of-plane motion is neglected.
* **Gravity.** Central, ``mu / r^2`` (no J2).
* **Earth rotation.** A launch due east from latitude ``phi`` into an orbit of inclination
  ``phi``: the site moves at ``omega R cos(phi)`` in the plane, and the atmosphere co-rotates
  with the component of the Earth's spin along the orbit normal, ``omega cos(phi)`` (exact on
  the equator; the out-of-plane wind elsewhere is neglected).
* **Atmosphere.** Exponential: ``rho = rho0 exp(-h / H)``, ``p = p0 exp(-h / H)`` with
  ``rho0 = 1.225 kg/m^3``, ``p0 = 101325 Pa`` (US Standard Atmosphere 1976 sea level) and one
  scale height ``H = 7200 m`` for both (a fit to the lower 100 km; density is ~30 % off the
  standard atmosphere in places, pressure at altitude matters only through the small nozzle
  back-pressure term).
* **Drag.** ``D = 1/2 rho |v_rel| v_rel C_D A`` against the air-relative velocity, with a
  constant ``C_D`` (no Mach dependence) and reference area ``A``. No lift.
* **Propulsion.** Constant mass flow ``mdot = T_vac / (Isp_vac g0)`` per stage; thrust
  ``T = T_vac - A_e p(h)`` where the exit area ``A_e = (T_vac - T_sl) / p0`` reproduces the
  stated sea-level thrust. The thrust points along the control angle ``pitch`` above the local
  horizontal, in the plane; no attitude dynamics (point mass), no throttling.

Arrays broadcast over leading dimensions, and the functions are written so that complex
inputs propagate (complex-step derivatives in the collocation): no ``abs``, ``max`` or clipping.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from starbrain.core.constants import EARTH_ROTATION_RADPS, G0_MPS2, WGS84_A_KM, WGS84_MU_KM3_S2

__all__ = [
    "FALCON9_LIKE",
    "MU_EARTH_M3_S2",
    "OMEGA_EARTH_RADPS",
    "R_EARTH_M",
    "Atmosphere",
    "LaunchVehicle",
    "PlanarOrbit",
    "Stage",
    "planar_derivatives",
    "planar_orbit",
]

MU_EARTH_M3_S2 = WGS84_MU_KM3_S2 * 1e9  # WGS 84 / IERS, in m^3/s^2
R_EARTH_M = WGS84_A_KM * 1e3  # WGS 84 equatorial radius
OMEGA_EARTH_RADPS = EARTH_ROTATION_RADPS

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Atmosphere:
    """Exponential atmosphere: ``rho0`` (kg/m^3) and ``p0`` (Pa) at altitude 0, one scale
    height ``scale_height_m`` for both."""

    rho0_kgm3: float = 1.225
    p0_pa: float = 101_325.0
    scale_height_m: float = 7_200.0

    def density(self, h_m: Any) -> Any:
        """Density (kg/m^3) at geometric altitude ``h_m`` (m)."""
        return self.rho0_kgm3 * np.exp(-h_m / self.scale_height_m)

    def pressure(self, h_m: Any) -> Any:
        """Static pressure (Pa) at ``h_m`` (m)."""
        return self.p0_pa * np.exp(-h_m / self.scale_height_m)


@dataclass(frozen=True)
class Stage:
    """One stage: masses (kg), vacuum thrust (N) and specific impulse (s), and the sea-level
    thrust (N) if it differs (``None``: a vacuum engine, no back-pressure loss)."""

    name: str
    dry_mass_kg: float
    propellant_mass_kg: float
    thrust_vac_n: float
    isp_vac_s: float
    thrust_sl_n: float | None = None

    @property
    def mass_flow_kgps(self) -> float:
        return self.thrust_vac_n / (self.isp_vac_s * G0_MPS2)

    @property
    def burn_time_s(self) -> float:
        """Burn time at full thrust (s)."""
        return self.propellant_mass_kg / self.mass_flow_kgps

    @property
    def exhaust_speed_mps(self) -> float:
        """Vacuum effective exhaust speed ``Isp_vac g0`` (m/s)."""
        return self.isp_vac_s * G0_MPS2

    def exit_area_m2(self, p0_pa: float = 101_325.0) -> float:
        if self.thrust_sl_n is None:
            return 0.0
        return (self.thrust_vac_n - self.thrust_sl_n) / p0_pa

    def thrust_n(self, p_pa: Any, p0_pa: float = 101_325.0) -> Any:
        """Thrust (N) at ambient pressure ``p_pa``."""
        return self.thrust_vac_n - self.exit_area_m2(p0_pa) * p_pa


@dataclass(frozen=True)
class LaunchVehicle:
    """Stages in firing order (serial staging), a constant drag coefficient and the reference
    area (m^2) it applies to; ``fairing_mass_kg`` rides on the upper stage to orbit (we do not
    model its jettison, a conservative simplification)."""

    name: str
    stages: tuple[Stage, ...]
    drag_coefficient: float
    reference_area_m2: float
    fairing_mass_kg: float = 0.0

    @property
    def gross_mass_without_payload_kg(self) -> float:
        return sum(s.dry_mass_kg + s.propellant_mass_kg for s in self.stages) + self.fairing_mass_kg


def planar_derivatives(
    x: Any,
    pitch_rad: Any,
    stage: Stage,
    vehicle: LaunchVehicle,
    *,
    atmosphere: Atmosphere = Atmosphere(),
    omega_plane_radps: float = OMEGA_EARTH_RADPS,
    mu: float = MU_EARTH_M3_S2,
    radius_m: float = R_EARTH_M,
    thrust_on: bool = True,
) -> Any:
    """``dx/dt`` for states ``x`` (..., 5) ``[r, theta, v_r, v_t, m]`` and pitch angles
    (...,) above the local horizontal, with ``stage`` firing (``thrust_on=False``: coasting).
    Returns (..., 5). ``omega_plane_radps`` is the atmosphere's rotation rate in the plane."""
    r, vr, vt, m = x[..., 0], x[..., 2], x[..., 3], x[..., 4]
    h = r - radius_m
    rho = atmosphere.density(h)
    wr = vr
    wt = vt - omega_plane_radps * r  # air-relative velocity
    vrel = np.sqrt(wr * wr + wt * wt)
    k = 0.5 * rho * vrel * vehicle.drag_coefficient * vehicle.reference_area_m2 / m
    if thrust_on:
        a_t = stage.thrust_n(atmosphere.pressure(h), atmosphere.p0_pa) / m
        mdot = stage.mass_flow_kgps
    else:
        a_t = 0.0 * m
        mdot = 0.0
    out = np.empty(
        (*np.broadcast(x[..., 0], pitch_rad).shape, 5), dtype=np.result_type(x, pitch_rad)
    )
    out[..., 0] = vr
    out[..., 1] = vt / r
    out[..., 2] = vt * vt / r - mu / (r * r) + a_t * np.sin(pitch_rad) - k * wr
    out[..., 3] = -vr * vt / r + a_t * np.cos(pitch_rad) - k * wt
    out[..., 4] = -mdot + 0.0 * m
    return out


@dataclass(frozen=True)
class PlanarOrbit:
    """Osculating orbit of a planar state: semi-major axis (m), eccentricity, perigee and
    apogee altitudes above ``R_EARTH_M`` (m), specific energy (J/kg), flight-path angle (rad)."""

    sma_m: float
    eccentricity: float
    perigee_alt_m: float
    apogee_alt_m: float
    energy_jpkg: float
    flight_path_rad: float


def planar_orbit(
    r_m: float,
    vr_mps: float,
    vt_mps: float,
    mu: float = MU_EARTH_M3_S2,
    radius_m: float = R_EARTH_M,
) -> PlanarOrbit:
    """The two-body orbit through ``(r, v_r, v_t)``; raises ``ValueError`` if it is not bound."""
    v2 = vr_mps * vr_mps + vt_mps * vt_mps
    energy = 0.5 * v2 - mu / r_m
    if energy >= 0:
        raise ValueError(f"the state is not on a bound orbit (energy {energy:.1f} J/kg >= 0)")
    h = r_m * vt_mps
    a = -mu / (2.0 * energy)
    e = math.sqrt(max(0.0, 1.0 + 2.0 * energy * h * h / (mu * mu)))
    return PlanarOrbit(
        sma_m=a,
        eccentricity=e,
        perigee_alt_m=a * (1.0 - e) - radius_m,
        apogee_alt_m=a * (1.0 + e) - radius_m,
        energy_jpkg=energy,
        flight_path_rad=math.atan2(vr_mps, vt_mps),
    )


# The one Falcon-9-like vehicle (the ascent planner's and the flight simulator's)
FALCON9_LIKE = LaunchVehicle(
    name="Falcon-9-like two-stage vehicle (expendable)",
    stages=(
        Stage(
            "first",
            dry_mass_kg=25_600.0,
            propellant_mass_kg=395_700.0,
            thrust_vac_n=8_227_000.0,
            isp_vac_s=311.0,
            thrust_sl_n=7_607_000.0,
        ),
        Stage(
            "second",
            dry_mass_kg=3_900.0,
            propellant_mass_kg=92_670.0,
            thrust_vac_n=934_000.0,
            isp_vac_s=348.0,
        ),
    ),
    drag_coefficient=0.5,
    reference_area_m2=math.pi * (3.66 / 2.0) ** 2,
)
"""A two-stage kerosene vehicle with Falcon 9 Full Thrust numbers from public sources: first
stage 9 engines, 7607 kN sea level / 8227 kN vacuum, Isp 282 s / 311 s, 3.66 m diameter
(Wikipedia, "Falcon 9 Full Thrust" and "Falcon 9 Block 5" infoboxes, citing SpaceX); second
stage vacuum engine 934 kN (same source), Isp 348 s; stage masses as commonly quoted
(first stage 25.6 t dry + 395.7 t propellant, second stage 3.9 t dry + 92.67 t propellant), not
verified against a SpaceX document. Our constant mass flow is set by the vacuum figures, so the
implied sea-level Isp is 288 s and the burn times 147 s and 339 s (published 162 s and 397 s
include throttling). Fairing (~1.9 t, jettisoned) and engine residuals are not modelled. C_D =
0.5 constant is our conservative choice, not a published figure. Published reference for
plausibility only: 22.8 t to LEO (28.5 deg) expendable."""
