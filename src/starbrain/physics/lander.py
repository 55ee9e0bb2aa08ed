"""3-DOF point-mass lander dynamics under constant gravity, and their high-accuracy integration.

The model of powered-descent guidance (Acikmese & Ploen 2007, JGCD 30(5), eq. 1): a point mass
in a surface-fixed frame over a flat, non-rotating planet, with constant gravity ``g`` and a
thrust vector ``T`` that burns propellant at ``dm/dt = -alpha ||T||``::

    dr/dt = v,    dv/dt = g + T / m,    dm/dt = -alpha ||T||

Units are SI: position ``r`` (m), velocity ``v`` (m/s), mass ``m`` (kg), thrust ``T`` (N),
``g`` (m/s^2), ``alpha`` (s/m). The frame is whatever the caller uses; the guidance in
:mod:`starbrain.planners.landing` puts altitude on the first axis (x up, y and z horizontal), as
the papers do. Aerodynamic forces, planet rotation and the curvature of the surface are
neglected (sub-percent effects over a ~2 km, ~80 s Mars powered descent).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.integrate import solve_ivp

from starbrain.core.constants import G0_MPS2

__all__ = [
    "G0_MPS2",
    "LanderTrajectory",
    "lander_derivatives",
    "mass_flow_coefficient",
    "simulate_lander",
]


FloatArray = npt.NDArray[np.float64]
ThrustProfile = Callable[[float], FloatArray]


def mass_flow_coefficient(isp_s: float, cant_rad: float = 0.0, g0_mps2: float = G0_MPS2) -> float:
    """``alpha`` (s/m) with ``dm/dt = -alpha ||T||`` for the net thrust ``T`` of engines canted
    ``cant_rad`` off the thrust axis: each engine's thrust is ``1/cos(cant)`` times its share of
    the net thrust, hence ``alpha = 1 / (Isp g0 cos(cant))`` (Acikmese & Ploen 2007, eq. 2)."""
    if isp_s <= 0:
        raise ValueError(f"specific impulse must be positive, not {isp_s} s")
    return 1.0 / (isp_s * g0_mps2 * math.cos(cant_rad))


def lander_derivatives(
    state: FloatArray, thrust_n: FloatArray, gravity_mps2: FloatArray, alpha_s_per_m: float
) -> FloatArray:
    """Time derivative of ``state = [r (3), v (3), m]`` (m, m/s, kg) under thrust ``thrust_n``
    (3,) N: ``[v, g + T/m, -alpha ||T||]``, shape (7,)."""
    out = np.empty(7)
    out[:3] = state[3:6]
    out[3:6] = gravity_mps2 + thrust_n / state[6]
    out[6] = -alpha_s_per_m * math.sqrt(float(thrust_n @ thrust_n))
    return out


@dataclass(frozen=True)
class LanderTrajectory:
    """States at the requested times: ``t_s`` (n,), ``r_m`` (n, 3), ``v_mps`` (n, 3),
    ``mass_kg`` (n,)."""

    t_s: FloatArray
    r_m: FloatArray
    v_mps: FloatArray
    mass_kg: FloatArray


def simulate_lander(
    thrust: ThrustProfile,
    t_nodes_s: npt.ArrayLike,
    r0_m: npt.ArrayLike,
    v0_mps: npt.ArrayLike,
    m0_kg: float,
    gravity_mps2: npt.ArrayLike,
    alpha_s_per_m: float,
    *,
    rtol: float = 1e-10,
    atol: float = 1e-8,
) -> LanderTrajectory:
    """Integrate the 3-DOF dynamics with the open-loop thrust profile ``thrust(t) -> (3,) N``.

    The integration (SciPy ``DOP853``, 8th order) restarts at every time in ``t_nodes_s``
    (increasing, shape (n,)), where a piecewise thrust profile may have a kink or a jump, so the
    error control never straddles one; states are returned at those times. Mass is not clamped:
    a profile that burns more than the propellant shows it as a final mass below the dry mass.
    """
    t = np.asarray(t_nodes_s, dtype=np.float64)
    if t.ndim != 1 or t.size < 2 or np.any(np.diff(t) <= 0):
        raise ValueError("t_nodes_s must be an increasing 1-D array of at least two times")
    g = np.asarray(gravity_mps2, dtype=np.float64)
    x = np.concatenate([np.asarray(r0_m, float), np.asarray(v0_mps, float), [float(m0_kg)]])
    states = np.empty((t.size, 7))
    states[0] = x

    def rhs(tt: float, s: FloatArray) -> FloatArray:
        return lander_derivatives(s, np.asarray(thrust(tt), dtype=np.float64), g, alpha_s_per_m)

    for k in range(t.size - 1):
        sol = solve_ivp(rhs, (t[k], t[k + 1]), x, method="DOP853", rtol=rtol, atol=atol)
        if not sol.success:
            raise RuntimeError(
                f"lander integration failed on [{t[k]}, {t[k + 1]}] s: {sol.message}"
            )
        x = sol.y[:, -1]
        states[k + 1] = x
    return LanderTrajectory(t, states[:, :3], states[:, 3:6], states[:, 6])
