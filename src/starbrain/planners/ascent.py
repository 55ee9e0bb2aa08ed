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
"""

from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.integrate import solve_ivp
from scipy.optimize import minimize

from starbrain.physics.launch_vehicle import (
    FALCON9_LIKE,
    MU_EARTH_M3_S2,
    OMEGA_EARTH_RADPS,
    R_EARTH_M,
    Atmosphere,
    LaunchVehicle,
    PlanarOrbit,
    Stage,
    planar_derivatives,
    planar_orbit,
)

__all__ = [
    "FALCON9_LIKE",
    "AscentResult",
    "optimize_ascent",
]

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


# --------------------------------------------------------------------------- transcription
_OFFSET = np.array([R_EARTH_M, 0.0, 0.0, 0.0, 0.0])
_SCALE = np.array([1e5, 0.1, 1e3, 1e3, 1e5])  # 100 km, 0.1 rad, km/s, km/s, 100 t
_PAYLOAD_SCALE = 1e4
_EPS = 1e-30  # complex step


@dataclass
class _Phase:
    """One arc with one stage firing: ``k`` equal intervals, states and pitch at the ``k + 1``
    nodes (pitch linear between nodes); ``pitch`` pins the control (the vertical rise)."""

    stage_index: int
    stage: Stage
    k: int
    duration: float
    t0: float
    start: int  # index of the phase's first unknown in z
    pitch: float | None = None

    @property
    def h(self) -> float:
        return self.duration / self.k

    @property
    def size(self) -> int:
        return 6 * (self.k + 1)

    def unpack(self, z: Any) -> tuple[Any, Any]:
        """Scaled states (k+1, 5) and pitch (k+1,)."""
        n = self.k + 1
        s = self.start
        return z[s : s + 5 * n].reshape(n, 5), z[s + 5 * n : s + 6 * n]

    def x_index(self, node: int, comp: int) -> int:
        return self.start + 5 * node + comp

    def u_index(self, node: int) -> int:
        return self.start + 5 * (self.k + 1) + node


class _Transcription:
    def __init__(
        self,
        vehicle: LaunchVehicle,
        n_intervals: tuple[int, int],
        vertical_rise_s: float,
        atmosphere: Atmosphere,
        omega_plane: float,
    ) -> None:
        self.vehicle = vehicle
        self.atm = atmosphere
        self.omega = omega_plane
        s1, s2 = vehicle.stages
        if not 0 <= vertical_rise_s < 0.5 * s1.burn_time_s:
            raise ValueError(f"vertical_rise_s {vertical_rise_s} s must be in [0, half a burn)")
        phases: list[_Phase] = []
        start = 0
        t0 = 0.0
        arcs = [
            (0, s1, 2, vertical_rise_s, math.pi / 2),
            (0, s1, n_intervals[0], s1.burn_time_s - vertical_rise_s, None),
            (1, s2, n_intervals[1], s2.burn_time_s, None),
        ]
        for stage_index, stage, k, duration, pitch in arcs:
            if duration <= 0:
                continue
            phases.append(_Phase(stage_index, stage, k, duration, t0, start, pitch))
            start += phases[-1].size
            t0 += duration
        self.phases = tuple(phases)
        self.boost = next(p for p in phases if p.stage_index == 0 and p.pitch is None)
        self.i_payload = start
        self.size = start + 1

    def f(self, phase: _Phase, xs: Any, u: Any) -> Any:
        """Scaled derivative d(x~)/dt."""
        x = _OFFSET + _SCALE * xs
        dx = planar_derivatives(
            x, u, phase.stage, self.vehicle, atmosphere=self.atm, omega_plane_radps=self.omega
        )
        return dx / _SCALE

    def defects(self, phase: _Phase, z: Any) -> Any:
        """Hermite-Simpson defects (k, 5), the midpoint pitch the mean of the node pitches."""
        xs, u = phase.unpack(z)
        h = phase.h
        fk = self.f(phase, xs, u)
        xc = 0.5 * (xs[:-1] + xs[1:]) + h / 8.0 * (fk[:-1] - fk[1:])
        fc = self.f(phase, xc, 0.5 * (u[:-1] + u[1:]))
        return xs[1:] - xs[:-1] - h / 6.0 * (fk[:-1] + 4.0 * fc + fk[1:])

    def defects_all(self, z: FloatArray) -> FloatArray:
        return np.concatenate([self.defects(p, z).ravel() for p in self.phases])

    def defects_jac(self, z: FloatArray) -> FloatArray:
        """Dense Jacobian of :meth:`defects_all` by complex steps, two colours: interval ``i``
        involves nodes ``i`` and ``i + 1``, one even and one odd, so all even (odd) nodes can be
        perturbed at once (12 complex evaluations per phase)."""
        rows = sum(5 * p.k for p in self.phases)
        jac = np.zeros((rows, self.size))
        row0 = 0
        for p in self.phases:
            intervals = np.arange(p.k)
            rr = row0 + 5 * intervals[:, None] + np.arange(5)[None, :]  # (k, 5)
            for parity in (0, 1):
                node = np.where(intervals % 2 == parity, intervals, intervals + 1)
                nodes = np.arange(parity, p.k + 1, 2)
                for comp in range(5):
                    cols = [p.x_index(int(j), comp) for j in nodes]
                    hit = np.array([p.x_index(int(j), comp) for j in node])
                    jac[rr, hit[:, None]] = self._probe(p, z, cols)
                cols = [p.u_index(int(j)) for j in nodes]
                hit = np.array([p.u_index(int(j)) for j in node])
                jac[rr, hit[:, None]] = self._probe(p, z, cols)
            row0 += 5 * p.k
        return jac

    def _probe(self, p: _Phase, z: FloatArray, cols: list[int]) -> FloatArray:
        zc = z.astype(np.complex128)
        zc[cols] += 1j * _EPS
        return self.defects(p, zc).imag / _EPS

    def linear_equalities(
        self, target_alt_m: float, latitude_rad: float
    ) -> tuple[FloatArray, FloatArray]:
        """Initial state, phase linkage (dropping the spent stage) and burnout orbit:
        ``A z = b``."""
        first, last = self.phases[0], self.phases[-1]
        rows: list[tuple[dict[int, float], float]] = []
        v_site = OMEGA_EARTH_RADPS * R_EARTH_M * math.cos(latitude_rad)
        gross = self.vehicle.gross_mass_without_payload_kg
        for comp, value in enumerate((R_EARTH_M, 0.0, 0.0, v_site)):
            rows.append(({first.x_index(0, comp): 1.0}, (value - _OFFSET[comp]) / _SCALE[comp]))
        rows.append(
            (
                {first.x_index(0, 4): 1.0, self.i_payload: -_PAYLOAD_SCALE / _SCALE[4]},
                gross / _SCALE[4],
            )
        )
        for a, b in zip(self.phases[:-1], self.phases[1:], strict=True):
            for comp in range(5):
                drop = 0.0
                if comp == 4 and b.stage_index != a.stage_index:
                    drop = a.stage.dry_mass_kg / _SCALE[4]
                rows.append(({b.x_index(0, comp): 1.0, a.x_index(a.k, comp): -1.0}, -drop))
        r_f = R_EARTH_M + target_alt_m
        v_f = math.sqrt(MU_EARTH_M3_S2 / r_f)
        for comp, value in ((0, r_f), (2, 0.0), (3, v_f)):
            rows.append(({last.x_index(last.k, comp): 1.0}, (value - _OFFSET[comp]) / _SCALE[comp]))
        a_mat = np.zeros((len(rows), self.size))
        b_vec = np.zeros(len(rows))
        for i, (coefs, rhs) in enumerate(rows):
            for j, c in coefs.items():
                a_mat[i, j] = c
            b_vec[i] = rhs
        return a_mat, b_vec

    def dynamic_pressure(self, x: Any) -> Any:
        """q (Pa) for unscaled states (..., 5)."""
        h = x[..., 0] - R_EARTH_M
        wt = x[..., 3] - self.omega * x[..., 0]
        return 0.5 * self.atm.density(h) * (x[..., 2] ** 2 + wt**2)

    def angle_of_attack(self, x: Any, pitch: Any) -> Any:
        """Pitch minus the air-relative flight-path angle (rad), for climbing states
        (``v_r > 0``; complex-safe)."""
        wt = x[..., 3] - self.omega * x[..., 0]
        return pitch - (math.pi / 2 - np.arctan(wt / x[..., 2]))

    def node_constraint(self, fun: Any, comps: tuple[int, ...]) -> dict[str, Any]:
        """An inequality ``fun(x, pitch) >= 0`` at the boost-phase nodes after the first, with
        its Jacobian by complex steps (each row involves one node)."""
        p = self.boost
        nodes = np.arange(1, p.k + 1)

        def g(z: Any) -> Any:
            xs, u = p.unpack(z)
            return fun(_OFFSET + _SCALE * xs[nodes], u[nodes])

        def jac(z: FloatArray) -> FloatArray:
            g0 = g(z)
            out = np.zeros((g0.size, self.size))
            rows = np.arange(g0.size)
            per = g0.size // nodes.size
            for comp in (*comps, -1):
                idx = [p.u_index(int(j)) if comp < 0 else p.x_index(int(j), comp) for j in nodes]
                zc = z.astype(np.complex128)
                zc[idx] += 1j * _EPS
                out[rows, np.tile(idx, per)] = g(zc).imag.ravel() / _EPS
            return out

        return {"type": "ineq", "fun": lambda z: np.ravel(g(z)), "jac": jac}


def _pitch_programme(tr: _Transcription) -> Any:
    """Initial-guess steering: vertical, then pitch down linearly to 26 deg at first-stage
    burnout, and from 20 deg to -5 deg over the second burn."""
    b = tr.boost
    upper = tr.phases[-1]

    def pitch(t: float) -> float:
        if t < b.t0:
            return math.pi / 2
        if t < upper.t0:
            return math.pi / 2 - (math.pi / 2 - 0.45) * (t - b.t0) / b.duration
        return 0.35 - 0.45 * (t - upper.t0) / upper.duration

    return pitch


def _initial_guess(tr: _Transcription, latitude_rad: float, payload_guess_kg: float) -> FloatArray:
    """Fly :func:`_pitch_programme` and sample it at the nodes: dynamically consistent, but not
    yet in the target orbit."""
    z = np.zeros(tr.size)
    z[tr.i_payload] = payload_guess_kg / _PAYLOAD_SCALE
    x = np.array(
        [
            R_EARTH_M,
            0.0,
            0.0,
            OMEGA_EARTH_RADPS * R_EARTH_M * math.cos(latitude_rad),
            tr.vehicle.gross_mass_without_payload_kg + payload_guess_kg,
        ]
    )
    prog = _pitch_programme(tr)
    prev = tr.phases[0].stage_index
    for p in tr.phases:
        if p.stage_index != prev:
            x[4] -= tr.vehicle.stages[prev].dry_mass_kg
            prev = p.stage_index
        t_nodes = np.linspace(0.0, p.duration, p.k + 1)

        def rhs(t: float, y: FloatArray, p: _Phase = p) -> FloatArray:
            return planar_derivatives(
                y,
                prog(p.t0 + t),
                p.stage,
                tr.vehicle,
                atmosphere=tr.atm,
                omega_plane_radps=tr.omega,
            )

        sol = solve_ivp(rhs, (0.0, p.duration), x, t_eval=t_nodes, rtol=1e-8, atol=1e-6)
        xs = (sol.y.T - _OFFSET) / _SCALE
        xs[:, 0] = np.maximum(xs[:, 0], 0.0)
        n = p.k + 1
        z[p.start : p.start + 5 * n] = xs.ravel()
        z[p.start + 5 * n : p.start + 6 * n] = [prog(p.t0 + t) for t in t_nodes]
        x = sol.y[:, -1].copy()
    return z


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
    z0 = np.clip(z0, lb, ub)

    objective_grad = np.zeros(tr.size)
    objective_grad[tr.i_payload] = -1.0
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


def _single_threaded_blas() -> Any:
    """SLSQP makes many small dense BLAS calls: a multi-threaded BLAS on a busy machine makes
    them 10-30x slower (measured: 0.3 s vs 10 s for the default problem on 2 loaded cores), so
    the solve runs with one BLAS thread when threadpoolctl is installed."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - optional
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


# --------------------------------------------------------------------------- checks
def _result(
    tr: _Transcription,
    z: FloatArray,
    sol: Any,
    elapsed: float,
    viol: float,
    target_alt_m: float,
    latitude_rad: float,
) -> AscentResult:
    veh = tr.vehicle
    ts, stages, xs_all, us_all = [], [], [], []
    flown: list[tuple[_Phase, FloatArray, FloatArray, FloatArray]] = []
    x: FloatArray | None = None
    prev = tr.phases[0].stage_index
    dv_ideal = 0.0
    m_stage_start = 0.0
    for i, p in enumerate(tr.phases):
        xs, u = p.unpack(z)
        xn = _OFFSET + _SCALE * xs
        keep = slice(1, None) if i and p.stage_index == prev else slice(None)
        ts.append((p.t0 + p.h * np.arange(p.k + 1))[keep])
        stages.append(np.full(p.k + 1, p.stage_index)[keep])
        xs_all.append(xn[keep])
        us_all.append(u[keep])
        if x is None:
            x = xn[0].copy()
            m_stage_start = float(x[4])
        elif p.stage_index != prev:
            dv_ideal += tr.vehicle.stages[prev].exhaust_speed_mps * math.log(m_stage_start / x[4])
            x = x.copy()
            x[4] -= tr.vehicle.stages[prev].dry_mass_kg
            m_stage_start = float(x[4])
        prev = p.stage_index
        node_t = p.h * np.arange(p.k + 1)

        def rhs(
            t: float, y: FloatArray, p: _Phase = p, u: FloatArray = u, nt: Any = node_t
        ) -> FloatArray:
            pitch = float(np.interp(t, nt, u))
            return planar_derivatives(
                y, pitch, p.stage, veh, atmosphere=tr.atm, omega_plane_radps=tr.omega
            )

        grid = np.linspace(0.0, p.duration, 40 * p.k + 1)
        y = np.empty((grid.size, 5))
        y[0] = x
        for j in range(p.k):  # restart at nodes: the pitch has a kink there
            seg = grid[40 * j : 40 * (j + 1) + 1]
            run = solve_ivp(
                rhs,
                (seg[0], seg[-1]),
                y[40 * j],
                method="DOP853",
                t_eval=seg,
                rtol=1e-11,
                atol=1e-6,
            )
            y[40 * j : 40 * (j + 1) + 1] = run.y.T
        flown.append((p, grid, y, np.interp(grid, node_t, u)))
        x = y[-1]
    assert x is not None
    dv_ideal += tr.vehicle.stages[prev].exhaust_speed_mps * math.log(m_stage_start / x[4])
    budgets = _budgets(tr, flown, dv_ideal)
    yf = flown[-1][2][-1]

    t = np.concatenate(ts)
    states = np.vstack(xs_all)
    pitch = np.concatenate(us_all)
    stage = np.concatenate(stages)
    q = tr.dynamic_pressure(states)
    iq = int(np.argmax(q))
    climbing = (stage == 0) & (states[:, 2] > 1.0) & (t > tr.boost.t0)
    aoa = np.abs(tr.angle_of_attack(states[climbing], pitch[climbing]))
    xf = states[-1]
    try:
        orbit = planar_orbit(xf[0], xf[2], xf[3])
        orbit_resim = planar_orbit(yf[0], yf[2], yf[3])
    except ValueError:
        nan = math.nan
        orbit = orbit_resim = PlanarOrbit(nan, nan, nan, nan, nan, nan)
    payload = float(z[tr.i_payload] * _PAYLOAD_SCALE)
    return AscentResult(
        success=bool(sol.success) and viol < 1e-6,
        message=str(sol.message),
        vehicle=veh,
        atmosphere=tr.atm,
        target_alt_m=target_alt_m,
        latitude_rad=latitude_rad,
        payload_kg=payload,
        liftoff_mass_kg=float(states[0, 4]),
        burnout_mass_kg=float(xf[4]),
        staging_time_s=tr.phases[-1].t0,
        final_time_s=float(t[-1]),
        t_s=t,
        stage=stage,
        states=states,
        pitch_rad=pitch,
        dynamic_pressure_pa=q,
        max_q_pa=float(q[iq]),
        max_q_time_s=float(t[iq]),
        max_q_alt_m=float(states[iq, 0] - R_EARTH_M),
        max_aoa_rad=float(np.max(aoa)) if aoa.size else 0.0,
        orbit=orbit,
        orbit_resim=orbit_resim,
        resim_final_state=yf.copy(),
        budgets=budgets,
        nlp_iterations=int(getattr(sol, "nit", 0)),
        solve_time_s=elapsed,
        constraint_violation=viol,
    )


def _budgets(
    tr: _Transcription,
    flown: list[tuple[_Phase, FloatArray, FloatArray, FloatArray]],
    dv_ideal: float,
) -> dict[str, float]:
    """Velocity, Tsiolkovsky and energy budgets on the re-flown arcs (Simpson quadrature)."""
    from scipy.integrate import simpson

    veh = tr.vehicle
    b = dict.fromkeys(
        (
            "thrust_accel_integral",
            "loss_backpressure",
            "loss_gravity",
            "loss_drag",
            "loss_steering",
            "work_thrust",
            "work_drag",
        ),
        0.0,
    )
    for p, grid, y, pitch in flown:
        r, vr, vt, m = y[:, 0], y[:, 2], y[:, 3], y[:, 4]
        h = r - R_EARTH_M
        pres = tr.atm.pressure(h)
        acc = p.stage.thrust_n(pres, tr.atm.p0_pa) / m
        v = np.sqrt(vr * vr + vt * vt)
        gamma = np.arctan2(vr, vt)
        wt = vt - tr.omega * r
        k = 0.5 * tr.atm.density(h) * np.sqrt(vr * vr + wt * wt)
        k = k * veh.drag_coefficient * veh.reference_area_m2 / m  # drag per unit mass / v_rel
        drag_power = k * (vr * vr + wt * vt)  # (D / m) . v
        g = MU_EARTH_M3_S2 / (r * r)
        integrands = {
            "thrust_accel_integral": acc,
            "loss_backpressure": p.stage.exit_area_m2(tr.atm.p0_pa) * pres / m,
            "loss_gravity": g * np.sin(gamma),
            "loss_drag": drag_power / v,
            "loss_steering": acc * (1.0 - np.cos(pitch - gamma)),
            "work_thrust": acc * (np.sin(pitch) * vr + np.cos(pitch) * vt),
            "work_drag": drag_power,
        }
        for j in range(p.k):  # Simpson per interval: the integrands have kinks at nodes
            sl = slice(40 * j, 40 * (j + 1) + 1)
            for key, val in integrands.items():
                b[key] += float(simpson(val[sl], x=grid[sl]))
    y0 = flown[0][2][0]
    yf = flown[-1][2][-1]
    b["dv_ideal"] = dv_ideal
    b["speed_gain"] = math.hypot(yf[2], yf[3]) - math.hypot(y0[2], y0[3])
    b["velocity_residual"] = (
        dv_ideal
        - b["loss_backpressure"]
        - b["loss_gravity"]
        - b["loss_drag"]
        - b["loss_steering"]
        - b["speed_gain"]
    )
    b["tsiolkovsky_residual"] = b["thrust_accel_integral"] - (dv_ideal - b["loss_backpressure"])

    def energy(s: FloatArray) -> float:
        return 0.5 * (s[2] ** 2 + s[3] ** 2) - MU_EARTH_M3_S2 / s[0]

    b["energy_change"] = energy(yf) - energy(y0)
    b["energy_residual"] = b["energy_change"] - (b["work_thrust"] - b["work_drag"])
    return b
