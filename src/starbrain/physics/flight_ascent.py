"""The simulated launcher's ascent (for :mod:`starbrain.physics.flight_sim`): the pitch
programme, the throttle of thrust-loss anomalies, and the planar point-mass dynamics of
:mod:`starbrain.physics.launch_vehicle` integrated stage by stage (SciPy DOP853, dense output).

States are ``[r, theta, v_r, v_t, m]`` (m, rad, m/s, m/s, kg) in the launch plane; times are s
after lift-off.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from starbrain.physics.launch_vehicle import (
    OMEGA_EARTH_RADPS,
    R_EARTH_M,
    Atmosphere,
    LaunchVehicle,
    Stage,
    planar_derivatives,
)

if TYPE_CHECKING:
    from starbrain.physics.flight_sim import Anomaly, FlightConfig

__all__ = ["fly_ascent", "mean_throttle", "pitch_programme", "throttle_windows"]

FloatArray = npt.NDArray[np.float64]


def pitch_programme(
    t: FloatArray, rise: float, meco: float, ignition: float, end2: float, d: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Commanded pitch (rad above the horizontal) and its rate: vertical for ``rise`` s, then
    linear to ``0.45 + d[0]`` rad at MECO; from ``0.35 + d[1]`` to ``-0.10`` rad over the second
    burn."""
    p1_end = 0.45 + d[0]
    p2_start, p2_end = 0.35 + d[1], -0.10
    rate1 = (p1_end - math.pi / 2) / (meco - rise)
    rate2 = (p2_end - p2_start) / (end2 - ignition)
    pitch = np.where(
        t < rise,
        math.pi / 2,
        np.where(
            t < meco,
            math.pi / 2 + rate1 * (t - rise),
            np.where(t < ignition, p1_end, p2_start + rate2 * (np.minimum(t, end2) - ignition)),
        ),
    )
    rate = np.where(
        t < rise,
        0.0,
        np.where(t < meco, rate1, np.where((t >= ignition) & (t < end2), rate2, 0.0)),
    )
    return pitch, rate


def throttle_windows(anomalies: Sequence[Anomaly]) -> list[tuple[float, float, float]]:
    return [(a.start_s, a.end_s, 1.0 - a.value) for a in anomalies if a.kind == "thrust_loss"]


def mean_throttle(t: FloatArray, windows: Sequence[tuple[float, float, float]]) -> FloatArray:
    k = np.ones_like(t)
    for a, b, level in windows:
        k = np.where((t >= a) & (t < b), level, k)
    return k


def fly_ascent(
    cfg: FlightConfig, vehicle: LaunchVehicle, m0: float, d_pitch: FloatArray, t: FloatArray
) -> tuple[FloatArray, FloatArray, float, float]:
    """Integrate the ascent; returns the states ``(n, 5)`` and stage numbers at ``t`` (1: first
    stage burning, 1.5: coasting between stages, 2: second stage burning, 3: burnt out), and the
    MECO and second-stage ignition times."""
    from scipy.integrate import solve_ivp

    s1, s2 = vehicle.stages
    windows = throttle_windows(cfg.anomalies)
    lat = math.radians(cfg.latitude_deg)
    omega = OMEGA_EARTH_RADPS * math.cos(lat)
    atm = Atmosphere()
    # MECO without thrust loss; the pitch programme is fixed before flight from nominal times.
    meco_nominal = s1.burn_time_s
    coast = 3.0
    end2_nominal = meco_nominal + coast + s2.burn_time_s

    def segment(
        x0: FloatArray, t0: float, t1: float, stage: Stage, ign: float, thrust: bool, m_dry: float
    ) -> tuple[list[tuple[float, float, Any]], float]:
        rhs = _ascent_rhs(cfg, vehicle, stage, ign, thrust, d_pitch, windows, atm, omega,
                          meco_nominal, end2_nominal)  # fmt: skip

        def burnout(_tt: float, x: FloatArray) -> float:
            return float(x[4] - m_dry)

        burnout.terminal = True  # type: ignore[attr-defined]
        breaks = sorted({t0, t1, *(w for a, b, _ in windows for w in (a, b) if t0 < w < t1)})
        sols: list[tuple[float, float, Any]] = []
        x = x0
        t_end = t1
        for a, b in itertools.pairwise(breaks):
            sol = solve_ivp(
                rhs, (a, b), x, method="DOP853", rtol=1e-9, atol=1e-6, dense_output=True,
                events=burnout if thrust else None,
            )  # fmt: skip
            sols.append((a, sol.t[-1], sol.sol))
            x = sol.y[:, -1]
            if thrust and sol.status == 1:
                t_end = float(sol.t[-1])
                break
        return sols, t_end

    x0 = np.array([R_EARTH_M, 0.0, 0.0, omega * R_EARTH_M, m0])
    horizon = max(cfg.duration_s, 1.0) + 1.0
    seg1, meco = segment(
        x0, 0.0, min(horizon, meco_nominal * 1.5), s1, 1e9, True, m0 - s1.propellant_mass_kg
    )
    pieces: list[tuple[float, float, Any, float]] = [(a, b, s, 1.0) for a, b, s in seg1]
    ignition = meco + coast
    if meco < horizon:
        x_meco = seg1[-1][2](meco).copy()
        x_meco[4] -= s1.dry_mass_kg + (x_meco[4] - (m0 - s1.propellant_mass_kg))
        seg_c, _ = segment(x_meco, meco, ignition, s2, ignition, False, 0.0)
        pieces += [(a, b, s, 1.5) for a, b, s in seg_c]
        if ignition < horizon:
            x_ign = seg_c[-1][2](ignition)
            m_dry2 = x_ign[4] - s2.propellant_mass_kg
            seg2, end2 = segment(x_ign, ignition, horizon, s2, ignition, True, m_dry2)
            pieces += [(a, b, s, 2.0) for a, b, s in seg2]
            if end2 < horizon:
                x_end = seg2[-1][2](end2)
                seg3, _ = segment(x_end, end2, horizon, s2, ignition, False, 0.0)
                pieces += [(a, b, s, 3.0) for a, b, s in seg3]
    states, stage = _sample_pieces(pieces, t)
    return states, stage, meco, ignition


def _ascent_rhs(
    cfg: FlightConfig,
    vehicle: LaunchVehicle,
    stage: Stage,
    ign: float,
    thrust: bool,
    d_pitch: FloatArray,
    windows: Sequence[tuple[float, float, float]],
    atm: Atmosphere,
    omega: float,
    meco_nominal: float,
    end2_nominal: float,
) -> Callable[[float, FloatArray], FloatArray]:
    """The planar equations of motion ``dx/dt = f(t, x)`` for one flight segment under the
    pitch programme (fixed from the nominal MECO ``meco_nominal`` and second-stage burnout
    ``end2_nominal``, s; ``ign`` the segment's ignition time). With ``thrust`` the derivative
    blends unpowered and full-thrust dynamics by the mean throttle of ``windows``; ``omega`` is
    the Earth's rotation about the plane's normal (rad/s)."""

    def rhs(tt: float, x: FloatArray) -> FloatArray:
        pitch, _ = pitch_programme(
            np.array([tt]), cfg.vertical_rise_s, meco_nominal, ign, end2_nominal, d_pitch
        )
        if not thrust:
            return planar_derivatives(
                x, pitch[0], stage, vehicle, atmosphere=atm, omega_plane_radps=omega,
                thrust_on=False,
            )  # fmt: skip
        k = mean_throttle(np.array([tt]), windows)[0]
        f0 = planar_derivatives(
            x, pitch[0], stage, vehicle, atmosphere=atm, omega_plane_radps=omega,
            thrust_on=False,
        )  # fmt: skip
        f1 = planar_derivatives(
            x, pitch[0], stage, vehicle, atmosphere=atm, omega_plane_radps=omega
        )
        return f0 + k * (f1 - f0)  # thrust and mass flow scale with the throttle

    return rhs


def _sample_pieces(
    pieces: Sequence[tuple[float, float, Any, float]], t: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """States ``(n, 5)`` and stage numbers ``(n,)`` at ``t`` from the dense solutions of the
    flight's pieces ``(t_start, t_end, solution, stage number)``."""
    states = np.empty((len(t), 5))
    stage = np.empty(len(t))
    for a, b, sol, st in pieces:
        sel = (t >= a) & (t <= b)
        if sel.any():
            states[sel] = sol(t[sel]).T
            stage[sel] = st
    return states, stage
