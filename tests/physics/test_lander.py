"""3-DOF lander dynamics against closed forms: Tsiolkovsky and constant-thrust vertical flight."""

from __future__ import annotations

import math

import numpy as np
import pytest

from starbrain.physics.lander import G0_MPS2, mass_flow_coefficient, simulate_lander


def test_mass_flow_coefficient_with_cant() -> None:
    """alpha = 1 / (Isp g0 cos(cant)): 5.086e-4 s/m for Isp 225 s and a 27 deg cant
    (Acikmese & Ploen 2007's lander)."""
    assert mass_flow_coefficient(225.0) == pytest.approx(1 / (225.0 * G0_MPS2))
    assert mass_flow_coefficient(225.0, math.radians(27.0)) == pytest.approx(5.0863e-4, rel=1e-4)


def test_constant_thrust_vertical_flight_matches_closed_form() -> None:
    """Constant thrust T straight up under gravity g: m(t) = m0 - alpha T t,
    v(t) = v0 - g t - ln(m/m0) / alpha (the rocket equation, exhaust speed 1/alpha) and x(t) its
    integral. Tolerances 1e-6 m/s and 1e-5 m."""
    m0, thrust, alpha, g = 1905.0, 9000.0, 5e-4, 3.7114
    t = np.linspace(0.0, 40.0, 9)
    res = simulate_lander(
        lambda _t: np.array([thrust, 0.0, 0.0]),
        t,
        (100.0, 0.0, 0.0),
        (-20.0, 0.0, 0.0),
        m0,
        (-g, 0.0, 0.0),
        alpha,
    )
    mdot = alpha * thrust
    m = m0 - mdot * t
    c = 1.0 / alpha  # effective exhaust speed
    v = -20.0 - g * t - c * np.log(m / m0)
    # x = x0 + v0 t - g t^2/2 + c [ (m/mdot) ln(m/m0) + t ]
    x = 100.0 - 20.0 * t - 0.5 * g * t**2 + c * ((m / mdot) * np.log(m / m0) + t)
    assert np.allclose(res.mass_kg, m, atol=1e-8)
    assert np.allclose(res.v_mps[:, 0], v, atol=1e-6)
    assert np.allclose(res.r_m[:, 0], x, atol=1e-5)
    assert np.allclose(res.r_m[:, 1:], 0.0)


def test_bad_time_grid() -> None:
    with pytest.raises(ValueError, match="increasing"):
        simulate_lander(lambda _t: np.zeros(3), [0.0, 0.0], (0, 0, 0), (0, 0, 0), 1.0, (0, 0, 0), 1)
