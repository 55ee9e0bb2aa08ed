"""Planar launch-vehicle dynamics: two-body invariants when coasting, orbit elements from a
state, thrust and back-pressure bookkeeping."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from starbrain.physics.launch_vehicle import (
    MU_EARTH_M3_S2,
    R_EARTH_M,
    Atmosphere,
    LaunchVehicle,
    Stage,
    planar_derivatives,
    planar_orbit,
)

STAGE = Stage("s", 1000.0, 9000.0, 200_000.0, 300.0, thrust_sl_n=180_000.0)
VEH = LaunchVehicle("test", (STAGE,), drag_coefficient=0.5, reference_area_m2=1.0)


def test_coasting_above_the_atmosphere_conserves_energy_and_angular_momentum() -> None:
    """At 2000 km altitude the air density is e^-278 of sea level: a coast is two-body motion;
    energy and angular momentum hold to 1e-10 relative over a quarter orbit."""
    r0 = R_EARTH_M + 2_000_000.0
    x0 = np.array([r0, 0.0, 300.0, 7000.0, 5000.0])

    def rhs(_t: float, x: np.ndarray) -> np.ndarray:
        return planar_derivatives(x, 0.0, STAGE, VEH, thrust_on=False)

    sol = solve_ivp(rhs, (0.0, 2000.0), x0, method="DOP853", rtol=1e-12, atol=1e-6)
    r, vr, vt = sol.y[0], sol.y[2], sol.y[3]
    energy = 0.5 * (vr**2 + vt**2) - MU_EARTH_M3_S2 / r
    h = r * vt
    assert np.ptp(energy) / abs(energy[0]) < 1e-10
    assert np.ptp(h) / h[0] < 1e-10
    assert np.allclose(sol.y[4], 5000.0)


def test_planar_orbit_of_circular_and_elliptic_states() -> None:
    r = R_EARTH_M + 200_000.0
    v = math.sqrt(MU_EARTH_M3_S2 / r)
    o = planar_orbit(r, 0.0, v)
    assert o.eccentricity < 1e-12
    assert o.perigee_alt_m == pytest.approx(200_000.0, abs=1e-6)
    # at perigee of a 200 x 1000 km ellipse: v = sqrt(mu (2/r - 1/a))
    ra = R_EARTH_M + 1_000_000.0
    a = (r + ra) / 2
    o = planar_orbit(r, 0.0, math.sqrt(MU_EARTH_M3_S2 * (2 / r - 1 / a)))
    assert o.perigee_alt_m == pytest.approx(200_000.0, abs=1e-3)
    assert o.apogee_alt_m == pytest.approx(1_000_000.0, abs=1e-3)
    with pytest.raises(ValueError, match="not on a bound orbit"):
        planar_orbit(r, 0.0, 12_000.0)


def test_thrust_with_back_pressure() -> None:
    """Sea-level thrust reproduced at p0, vacuum thrust at zero pressure; mass flow from the
    vacuum figures."""
    atm = Atmosphere()
    assert STAGE.thrust_n(atm.pressure(0.0)) == pytest.approx(180_000.0)
    assert STAGE.thrust_n(0.0) == pytest.approx(200_000.0)
    assert STAGE.mass_flow_kgps == pytest.approx(200_000.0 / (300.0 * 9.80665))
    assert STAGE.burn_time_s == pytest.approx(9000.0 / STAGE.mass_flow_kgps)
