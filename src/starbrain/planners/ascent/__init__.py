"""Two-stage ascent to a circular orbit, payload maximised by direct collocation (SciPy SLSQP).

**Model** (:mod:`starbrain.physics.launch_vehicle`): planar point mass in the target orbit's
plane over a rotating spherical Earth, central gravity, exponential atmosphere, constant-C_D
drag, nozzle back-pressure loss on the first stage; launch due east from ``latitude_rad`` into
an orbit of that inclination.

**Trajectory.** Lift-off from the surface, a vertical rise of ``vertical_rise_s`` (tower
clearance; its own arc, so the pitch-over starts exactly at a node), then free pitch steering;
the first stage burns to depletion, is dropped instantaneously, and the second stage burns to
depletion at orbit insertion (no coast arc, no throttling: full burns maximise payload, so the
arc durations are fixed and the payload mass is the free parameter that makes the burnout state
exactly circular at the target altitude). The problem::

    maximise  m_payload
    over      pitch(t), m_payload
    s.t.      dynamics, r(tf) = R + h, v_r(tf) = 0, v_t(tf) = sqrt(mu / r(tf)),
              altitude >= 0; optionally dynamic pressure <= q_max and
              |pitch - air-relative flight-path angle| <= max angle of attack (first stage)

**Transcription.** Hermite-Simpson collocation (compressed form: states and pitch at the nodes,
pitch linear in between) on equal intervals per arc, unknowns scaled to order one, defect
Jacobians by complex-step differentiation with a two-colour pattern (12 complex evaluations per
arc, exact to machine precision), solved by SciPy's SLSQP (with one BLAS thread: see
:func:`_single_threaded_blas`). The boundary and linkage conditions are linear in the scaled
unknowns.

**Checks on every solution** (:class:`AscentResult`): the orbit of the burnout state (perigee
and apogee altitudes), the same for the control profile re-flown by a high-accuracy integrator
(SciPy DOP853), Tsiolkovsky consistency (the thrust acceleration integrated along the flight
equals ``c ln(m0/mf)`` less the back-pressure loss), the velocity budget (ideal delta-v less
gravity, drag, steering and back-pressure losses equals the speed gained) and the energy budget
(work of thrust and drag per unit mass equals the change of specific orbital energy), and the
maximum dynamic pressure with its time and altitude.

The package: :mod:`.transcription` (the collocation problem), :mod:`.checks` (the re-flown
trajectory and the budgets), :mod:`.result` (:class:`AscentResult`); the driver,
:func:`optimize_ascent`, is here.
"""

from __future__ import annotations

import contextlib
import math
import time
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.optimize import minimize

from starbrain.physics.launch_vehicle import (
    FALCON9_LIKE,
    OMEGA_EARTH_RADPS,
    Atmosphere,
    LaunchVehicle,
)
from starbrain.planners.ascent.checks import _result
from starbrain.planners.ascent.result import AscentResult
from starbrain.planners.ascent.transcription import _initial_guess, _Transcription

__all__ = [
    "FALCON9_LIKE",
    "AscentResult",
    "optimize_ascent",
]

FloatArray = npt.NDArray[np.float64]


# --------------------------------------------------------------------------- driver
def optimize_ascent(
    vehicle: LaunchVehicle = FALCON9_LIKE,
    *,
    target_alt_m: float = 200_000.0,
    latitude_rad: float = math.radians(28.5),
    vertical_rise_s: float = 10.0,
    n_intervals: tuple[int, int] = (20, 12),
    q_max_pa: float | None = None,
    max_aoa_rad: float | None = None,
    atmosphere: Atmosphere | None = None,
    payload_guess_kg: float | None = None,
    max_iter: int = 300,
    tol: float = 1e-10,
) -> AscentResult:
    """Maximum-payload ascent of a two-stage ``vehicle`` to a circular orbit at
    ``target_alt_m`` (m), launched due east from latitude ``latitude_rad``.

    ``n_intervals``: Hermite-Simpson intervals for the first-stage burn after the vertical
    rise and for the second-stage burn. ``q_max_pa`` bounds the dynamic pressure and
    ``max_aoa_rad`` the angle between thrust and air-relative velocity at the first-stage
    nodes (``None``: free; both are reported). ``payload_guess_kg`` seeds the solver (default
    4 % of the gross mass). See the module docstring for the model and the checks reported.
    """
    if len(vehicle.stages) != 2:
        raise ValueError(f"optimize_ascent handles two-stage vehicles, not {len(vehicle.stages)}")
    if not 80_000.0 <= target_alt_m <= 2_000_000.0:
        raise ValueError(f"target_alt_m {target_alt_m} m is outside the 80-2000 km LEO range")
    if min(n_intervals) < 4:
        raise ValueError(f"n_intervals must be at least 4 per stage, not {n_intervals}")
    atm = atmosphere or Atmosphere()
    omega_plane = OMEGA_EARTH_RADPS * math.cos(latitude_rad)
    tr = _Transcription(vehicle, n_intervals, vertical_rise_s, atm, omega_plane)
    guess = payload_guess_kg
    if guess is None:
        guess = 0.04 * vehicle.gross_mass_without_payload_kg
    z0 = _initial_guess(tr, latitude_rad, guess)
    a_lin, b_lin = tr.linear_equalities(target_alt_m, latitude_rad)
    lb, ub = _bounds(tr)
    z0 = np.clip(z0, lb, ub)
    objective_grad = np.zeros(tr.size)
    objective_grad[tr.i_payload] = -1.0
    constraints = _constraints(tr, a_lin, b_lin, q_max_pa, max_aoa_rad)

    t_start = time.perf_counter()
    with _single_threaded_blas():
        sol = minimize(
            lambda z: -z[tr.i_payload],
            z0,
            jac=lambda z: objective_grad,
            bounds=list(zip(lb, ub, strict=True)),
            constraints=constraints,
            method="SLSQP",
            options={"maxiter": max_iter, "ftol": tol},
        )
    elapsed = time.perf_counter() - t_start
    z = sol.x
    viol = float(max(np.max(np.abs(tr.defects_all(z))), np.max(np.abs(a_lin @ z - b_lin))))
    for con in constraints[2:]:
        viol = max(viol, float(np.max(-np.minimum(con["fun"](z), 0.0))))
    return _result(tr, z, sol, elapsed, viol, target_alt_m, latitude_rad)


def _bounds(tr: _Transcription) -> tuple[FloatArray, FloatArray]:
    """Lower and upper bounds of the scaled unknowns: altitude and mass at least 0, pitch
    within +-90 deg (pinned to a tiny box where the arc fixes it), payload at least 0."""
    lb = np.full(tr.size, -np.inf)
    ub = np.full(tr.size, np.inf)
    for p in tr.phases:
        for j in range(p.k + 1):
            lb[p.x_index(j, 0)] = 0.0  # altitude >= 0
            lb[p.x_index(j, 4)] = 0.0
            if p.pitch is None:
                lb[p.u_index(j)], ub[p.u_index(j)] = -math.pi / 2, math.pi / 2
            else:  # SLSQP wants lb < ub: pinned controls get a tiny box
                lb[p.u_index(j)], ub[p.u_index(j)] = p.pitch, p.pitch + 1e-12
    lb[tr.i_payload] = 0.0
    return lb, ub


def _constraints(
    tr: _Transcription,
    a_lin: FloatArray,
    b_lin: FloatArray,
    q_max_pa: float | None,
    max_aoa_rad: float | None,
) -> list[dict[str, Any]]:
    """SLSQP constraints: the collocation defects and the linear boundary conditions
    (equalities), then the dynamic-pressure and angle-of-attack bounds at the first-stage nodes
    when asked (inequalities, ``>= 0``)."""
    constraints: list[dict[str, Any]] = [
        {"type": "eq", "fun": tr.defects_all, "jac": tr.defects_jac},
        {"type": "eq", "fun": lambda z: a_lin @ z - b_lin, "jac": lambda z: a_lin},
    ]
    if q_max_pa is not None:
        constraints.append(
            tr.node_constraint(lambda x, u: 1.0 - tr.dynamic_pressure(x) / q_max_pa, (0, 2, 3))
        )
    if max_aoa_rad is not None:
        constraints.append(
            tr.node_constraint(
                lambda x, u: np.stack(
                    [max_aoa_rad - tr.angle_of_attack(x, u), max_aoa_rad + tr.angle_of_attack(x, u)]
                ),
                (0, 2, 3),
            )
        )
    return constraints


def _single_threaded_blas() -> Any:
    """SLSQP makes many small dense BLAS calls: a multi-threaded BLAS on a busy machine makes
    them 10-30x slower (measured: 0.3 s vs 10 s for the default problem on 2 loaded cores), so
    the solve runs with one BLAS thread when threadpoolctl is installed."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - optional
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")
