"""Powered-descent landing guidance by lossless convexification (minimum fuel, minimum error).

The problem and its convexification are those of

* B. Acikmese and S. R. Ploen, "Convex programming approach to powered descent guidance for
  Mars landing", JGCD 30(5), 2007, doi:10.2514/1.27553 (minimum fuel, Problems 1-4);
* L. Blackmore, B. Acikmese and D. P. Scharf, "Minimum-landing-error powered-descent guidance
  for Mars landing using convex optimization", JGCD 33(4), 2010, doi:10.2514/1.47202 (minimum
  landing error, the prioritised algorithm, the line search on the time of flight);
* B. Acikmese, J. M. Carson and L. Blackmore, "Lossless convexification of nonconvex control
  bound and pointing constraints of the soft landing optimal control problem", IEEE TCST 21(6),
  2013 (the thrust pointing constraint).

**Frame and units.** A surface-fixed frame with the landing site at the origin: the first axis
is altitude (up), the second and third are horizontal, as in the papers (``g = [-3.7114, 0, 0]``
on Mars). SI throughout: m, m/s, kg, N, s; angles in radians. Dynamics:
:mod:`starbrain.physics.lander`.

**Convexification.** The thrust magnitude bound ``rho1 <= ||T|| <= rho2`` is non-convex
(``rho1 > 0``). With the slack ``Gamma >= ||T||`` and the change of variables ``a = T/m``,
``sigma = Gamma/m``, ``z = ln m`` the dynamics become linear (``dv/dt = a + g``,
``dz/dt = -alpha sigma``) and the bounds ``rho1 e^-z <= sigma <= rho2 e^-z`` are replaced by
Taylor expansions about ``z0(t) = ln(m_wet - alpha rho2 t)``::

    rho1 e^-z0 [1 - (z - z0) + (z - z0)^2 / 2] <= sigma <= rho2 e^-z0 [1 - (z - z0)]

a second-order cone (lower) and a linear (upper) constraint, both conservative. The relaxation
is lossless: at the optimum ``||a|| = sigma`` (``||T|| = Gamma``); every result reports the
largest gap ``Gamma - ||T||`` over the nodes so that claim is checked, not assumed.

**Discretisation.** ``n_intervals`` equal intervals over ``[0, tf]``; the controls ``(a, sigma)``
are held constant on each interval (``hold="zoh"``) or interpolated linearly between nodes
(``hold="foh"``). Either way the linear dynamics are integrated exactly.

**Constraints** at every node: glide slope (the trajectory stays above a cone of elevation
``glide_slope_rad`` about the landing point; 0 or ``None``: none), thrust bounds (as above),
optional thrust pointing (the thrust within ``max_tilt_rad`` of the vertical), the mass bounds
``ln(m_wet - alpha rho2 t) <= z <= ln(m_wet - alpha rho1 t)`` and ``m(tf) >= m_dry``; at the end
zero altitude and the target velocity.

**Free final time.** The time of flight is found by a line search over the bracket
``[m_dry ||v0|| / rho2, (m_wet - m_dry) / (alpha rho1)]`` (stopping from ``||v0||`` at full
thrust takes at least the first; burning at minimum thrust empties the tank in the second): a
grid, then Brent's bounded minimisation (golden section with parabolic steps) around the best
grid point; the papers use golden section alone. For the minimum-fuel search the propellant
limit is lifted, so the objective is finite on a whole half-line of times (fuel grows smoothly
on both sides of the optimum); the limit is then enforced on the final solve, which reports
``"infeasible"`` with the fuel that would have been needed when the tank is too small.

**Solvers.** ``backend="conic"`` (default) assembles the cone program once per time of flight
with vectorised NumPy into a fixed sparsity pattern and hands it to Clarabel, re-using one
Clarabel workspace across the line search (only the numbers change with ``tf``);
``backend="cvxpy"`` states the same problem in CVXPY (Clarabel underneath by default), rebuilt for
every ``tf`` - the readable reference, and the baseline of ``bench/landing.py``.

The package: :mod:`.results` (the landers and :class:`LandingResult`), :mod:`.problem` (the cone
program of one time of flight), :mod:`.solvers` (Clarabel direct, CVXPY); the time-of-flight
search and :func:`solve_landing` are here.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import numpy.typing as npt

from starbrain.physics.lander import simulate_lander
from starbrain.planners.landing.problem import _Spec as _Spec
from starbrain.planners.landing.problem import _taylor_centre as _taylor_centre
from starbrain.planners.landing.results import (
    BLACKMORE_2010_LANDER,
    MARS_LANDER_2007,
    Backend,
    Hold,
    LanderConfig,
    LandingResult,
    Objective,
)
from starbrain.planners.landing.solvers import _ConicSolver as _ConicSolver
from starbrain.planners.landing.solvers import _CvxpySolver as _CvxpySolver
from starbrain.planners.landing.solvers import _Solution

__all__ = [
    "BLACKMORE_2010_LANDER",
    "MARS_LANDER_2007",
    "LanderConfig",
    "LandingResult",
    "solve_landing",
]


_PENALTY = 1e12  # stands for +inf (infeasible) inside Brent's method
_REACHED_M = 1e-2  # a minimum landing error below this (m) counts as landing on the target


def _objective_value(spec: _Spec, sol: _Solution) -> float:
    """Line-search objective: -ln m(tf), or the miss distance (m); +inf unless solved."""
    if sol.x is None or sol.status != "optimal":
        return math.inf
    L = sol.layout
    if spec.mode == "error":
        return float(np.linalg.norm(sol.x[L.r[spec.n, 1:]] - spec.target[1:]))
    return -float(sol.x[L.z[spec.n]])


def _line_search(
    solve: Any, spec: _Spec, lo: float, hi: float, n_grid: int, tol: float
) -> tuple[float, list[tuple[float, float]]]:
    """Minimise ``tf -> objective`` on ``[lo, hi]``: a grid, then Brent's bounded method
    (golden section with parabolic steps, SciPy) between the neighbours of the best grid point.
    Infeasible times count as +inf (a large penalty inside Brent, which then falls back to
    golden steps). Returns the best tf (nan if none was feasible) and every evaluation."""
    from scipy.optimize import minimize_scalar

    seen: dict[float, float] = {}

    def f(t: float) -> float:
        t = float(t)
        if t not in seen:
            seen[t] = _objective_value(spec, solve(t))
        return seen[t]

    grid = np.linspace(lo, hi, max(n_grid, 3))
    vals = [f(t) for t in grid]
    i = int(np.argmin(vals))
    if not math.isfinite(vals[i]):
        return math.nan, sorted(seen.items())
    a = float(grid[max(i - 1, 0)])
    b = float(grid[min(i + 1, len(grid) - 1)])
    minimize_scalar(
        lambda t: f(t) if math.isfinite(f(t)) else _PENALTY,
        bounds=(a, b),
        method="bounded",
        options={"xatol": tol},
    )
    best = min(seen, key=lambda t: (seen[t], t))
    return best, sorted(seen.items())


def solve_landing(
    r0_m: npt.ArrayLike,
    v0_mps: npt.ArrayLike,
    config: LanderConfig = MARS_LANDER_2007,
    *,
    target_m: npt.ArrayLike = (0.0, 0.0),
    vf_mps: npt.ArrayLike = (0.0, 0.0, 0.0),
    objective: Objective = "min_fuel",
    tf_s: float | None = None,
    tf_bounds_s: tuple[float, float] | None = None,
    n_intervals: int = 55,
    hold: Hold = "foh",
    backend: Backend = "conic",
    cvxpy_solver: str = "CLARABEL",
    tf_tol_s: float = 0.05,
    n_grid: int = 6,
    simulate: bool = True,
) -> LandingResult:
    """Powered-descent guidance from ``r0_m`` / ``v0_mps`` (3,) to a soft landing.

    ``objective="min_fuel"`` (Acikmese & Ploen 2007): land exactly on ``target_m`` (the
    horizontal coordinates (2,) of the landing site, altitude 0) with velocity ``vf_mps``,
    using the least propellant. ``objective="min_error"`` (Blackmore et al. 2010, the
    prioritised algorithm): first minimise the horizontal distance ``d*`` between the landing
    point and the target with the propellant available, then the propellant over the
    trajectories landing within ``d*``; when the target is reachable this is the minimum-fuel
    solution, otherwise the closest landing (the second step then keeps the first step's time
    of flight and a 1e-4 relative margin on ``d*``, and the first step's trajectory is returned
    if it fails).

    ``tf_s`` fixes the time of flight; ``None`` searches it (see the module docstring) within
    ``tf_bounds_s`` (default: the thrust/propellant bracket) on ``n_grid`` points refined to
    ``tf_tol_s``.
    ``n_intervals`` equal intervals, ``hold`` ``"foh"`` or ``"zoh"``, ``backend`` ``"conic"``
    (direct Clarabel) or ``"cvxpy"`` (``cvxpy_solver``: a CVXPY SOCP solver name).
    ``simulate`` re-flies the thrust profile through the nonlinear dynamics (``resim_*``).
    """
    _check_options(objective, hold, backend, n_intervals)
    base, lo, hi = _problem(r0_m, v0_mps, config, target_m, vf_mps, n_intervals, hold, tf_bounds_s)
    t_start = time.perf_counter()
    runs = _Runs(backend, cvxpy_solver, lo, hi, n_grid, tf_tol_s)
    spec = base
    fallback: tuple[_Spec, _Solution] | None = None
    if objective == "min_error":
        failure, spec, tf_s, fallback = _min_error_first(base, runs, tf_s)
        if failure:
            return _failed(base, failure, objective, runs.n_solves, t_start, runs.search)
    if tf_s is None:
        tf = runs.search_tf(replace(spec, enforce_dry_mass=False))
        if not math.isfinite(tf):
            return _failed(spec, "infeasible", objective, runs.n_solves, t_start, runs.search)
    else:
        tf = float(tf_s)
        if tf <= 0:
            raise ValueError(f"tf_s must be positive, not {tf_s}")
    sol = runs.solver(spec)(tf)
    if sol.status != "optimal" and fallback is not None:
        # The minimum-fuel refinement failed: the minimum-error solution is still a landing.
        spec, sol = fallback
    if sol.status != "optimal":
        # Report the propellant the problem would need without the tank limit.
        lifted = runs.solver(replace(spec, enforce_dry_mass=False))(tf)
        fuel = math.nan
        if lifted.status == "optimal" and lifted.x is not None:
            fuel = config.wet_mass_kg - math.exp(lifted.x[lifted.layout.z[spec.n]])
        return _failed(spec, sol.status, objective, runs.n_solves, t_start, runs.search, tf, fuel)
    elapsed = time.perf_counter() - t_start
    return _result(spec, sol, objective, runs.n_solves, elapsed, runs.search, simulate)


def _check_options(objective: str, hold: str, backend: str, n_intervals: int) -> None:
    """ValueError for an unknown objective, hold or backend, or under 2 intervals."""
    if objective not in ("min_fuel", "min_error"):
        raise ValueError(f"objective must be 'min_fuel' or 'min_error', not {objective!r}")
    if hold not in ("foh", "zoh"):
        raise ValueError(f"hold must be 'foh' or 'zoh', not {hold!r}")
    if backend not in ("conic", "cvxpy"):
        raise ValueError(f"backend must be 'conic' or 'cvxpy', not {backend!r}")
    if n_intervals < 2:
        raise ValueError(f"n_intervals must be at least 2, not {n_intervals}")


def _problem(
    r0_m: npt.ArrayLike,
    v0_mps: npt.ArrayLike,
    c: LanderConfig,
    target_m: npt.ArrayLike,
    vf_mps: npt.ArrayLike,
    n_intervals: int,
    hold: str,
    tf_bounds_s: tuple[float, float] | None,
) -> tuple[_Spec, float, float]:
    """The minimum-fuel problem (:class:`_Spec`) and the time-of-flight bracket (s): as given,
    or from the thrust and the propellant (see the module docstring)."""
    r0 = np.asarray(r0_m, dtype=np.float64).reshape(3)
    v0 = np.asarray(v0_mps, dtype=np.float64).reshape(3)
    tgt2 = np.asarray(target_m, dtype=np.float64).reshape(2)
    target = np.array([0.0, tgt2[0], tgt2[1]])
    if r0[0] <= 0:
        raise ValueError(f"the initial altitude r0_m[0] must be positive, not {r0[0]} m")
    base = _Spec(
        config=c,
        r0=r0,
        v0=v0,
        target=target,
        vf=np.asarray(vf_mps, dtype=np.float64).reshape(3),
        n=n_intervals,
        hold=hold,
        mode="fuel",
    )
    if tf_bounds_s is None:
        lo = max(c.dry_mass_kg * float(np.linalg.norm(v0)) / c.thrust_max_n, 1.0)
        hi = (c.wet_mass_kg - c.dry_mass_kg) / (c.alpha_s_per_m * c.thrust_min_n)
    else:
        lo, hi = map(float, tf_bounds_s)
        if not 0 < lo < hi:
            raise ValueError(f"tf_bounds_s must be increasing and positive, not {tf_bounds_s}")
    return base, lo, hi


@dataclass
class _Runs:
    """The solves of one :func:`solve_landing` call: the backend, the time-of-flight bracket
    and search settings, how many solves ran and every ``(tf, objective)`` evaluated."""

    backend: str
    cvxpy_solver: str
    lo: float
    hi: float
    n_grid: int
    tf_tol_s: float
    n_solves: int = 0
    search: list[tuple[float, float]] = field(default_factory=list)

    def solver(self, spec: _Spec) -> Callable[[float], _Solution]:
        """``tf -> solution`` for ``spec`` (one solver, its workspace re-used), counted."""
        solver: Any = (
            _ConicSolver(spec) if self.backend == "conic" else _CvxpySolver(spec, self.cvxpy_solver)
        )

        def run(tf: float) -> _Solution:
            self.n_solves += 1
            out: _Solution = solver.solve(tf)
            return out

        return run

    def search_tf(self, spec: _Spec) -> float:
        """The best time of flight for ``spec`` (:func:`_line_search`; nan: none feasible)."""
        best, seen = _line_search(
            self.solver(spec), spec, self.lo, self.hi, self.n_grid, self.tf_tol_s
        )
        self.search.extend(seen)
        return best


def _min_error_first(
    base: _Spec, runs: _Runs, tf_s: float | None
) -> tuple[str, _Spec, float | None, tuple[_Spec, _Solution] | None]:
    """Step 1 of the minimum-error objective: the closest landing ``d*`` (at ``tf_s`` or the
    best time of flight). Returns the failure status ("" when solved), the minimum-fuel problem
    of step 2 (land within ``d*``, or on the target when it is reached), the time of flight step
    2 keeps (``tf_s`` unless the target is out of reach) and step 1's solution as fallback."""
    err_spec = replace(base, mode="error")
    tf_err = float(tf_s) if tf_s is not None else runs.search_tf(err_spec)
    if not math.isfinite(tf_err):
        return "infeasible", base, tf_s, None
    err_sol = runs.solver(err_spec)(tf_err)
    if err_sol.status != "optimal":
        return err_sol.status, base, tf_s, None
    d_star = _objective_value(err_spec, err_sol)
    fallback = (err_spec, err_sol)
    if d_star <= _REACHED_M:
        return "", replace(base, mode="fuel_within", max_distance=_REACHED_M), tf_s, fallback
    # Out of reach: only times near tf_err land within d*, so keep tf_err; the distance bound
    # gets a small margin, without which the feasible set is a single point.
    spec = replace(base, mode="fuel_within", max_distance=d_star * (1 + 1e-4) + 1e-3)
    return "", spec, tf_err, fallback


def _failed(
    spec: _Spec,
    status: str,
    objective: str,
    n_solves: int,
    t_start: float,
    search: list[tuple[float, float]],
    tf: float = math.nan,
    fuel: float = math.nan,
) -> LandingResult:
    empty = np.zeros((0, 3))
    nan = math.nan
    return LandingResult(
        status=status,
        objective=objective,
        hold=spec.hold,
        tf_s=tf,
        t_s=np.zeros(0),
        r_m=empty,
        v_mps=empty,
        mass_kg=np.zeros(0),
        thrust_n=empty,
        gamma_n=np.zeros(0),
        fuel_kg=fuel,
        landing_point_m=np.full(3, nan),
        landing_error_m=nan,
        relaxation_gap_n=nan,
        glide_slope_margin_m=nan,
        thrust_margin_n=nan,
        max_tilt_rad=nan,
        resim_position_error_m=nan,
        resim_velocity_error_mps=nan,
        resim_fuel_kg=nan,
        n_solves=n_solves,
        solve_time_s=time.perf_counter() - t_start,
        tf_search=search,
        config=spec.config,
        target_m=spec.target,
    )


def _result(
    spec: _Spec,
    sol: _Solution,
    objective: str,
    n_solves: int,
    elapsed: float,
    search: list[tuple[float, float]],
    simulate: bool,
) -> LandingResult:
    assert sol.x is not None
    c, n, L, x = spec.config, spec.n, sol.layout, sol.x
    t = np.linspace(0.0, sol.tf, n + 1)
    r = x[L.r]
    v = x[L.v]
    z = x[L.z]
    m = np.exp(z)
    a = x[L.a]
    s = x[L.s]
    nc = spec.n_ctrl
    thrust_c = a * m[:nc, None]
    gamma_c = s * m[:nc]
    if nc == n:  # zoh: the last interval's control at its end
        thrust = np.vstack([thrust_c, a[-1] * m[-1]])
        gamma = np.append(gamma_c, s[-1] * m[-1])
    else:
        thrust, gamma = thrust_c, gamma_c
    tnorm = np.linalg.norm(thrust_c, axis=1)
    rel_gap = float(np.max(gamma_c - tnorm))
    thrust_margin = float(min(np.min(tnorm - c.thrust_min_n), np.min(c.thrust_max_n - tnorm)))
    tilt = float(np.max(np.arccos(np.clip(thrust_c[:, 0] / np.maximum(tnorm, 1e-12), -1, 1))))
    if c.glide_slope_rad is not None:
        d = r - r[n]
        gs = float(np.min(d[:, 0] - math.tan(c.glide_slope_rad) * np.linalg.norm(d[:, 1:], axis=1)))
    else:
        gs = math.inf
    result = LandingResult(
        status=sol.status,
        objective=objective,
        hold=spec.hold,
        tf_s=float(sol.tf),
        t_s=t,
        r_m=r,
        v_mps=v,
        mass_kg=m,
        thrust_n=thrust,
        gamma_n=gamma,
        fuel_kg=float(c.wet_mass_kg - m[-1]),
        landing_point_m=r[n].copy(),
        landing_error_m=float(np.linalg.norm(r[n, 1:] - spec.target[1:])),
        relaxation_gap_n=rel_gap,
        glide_slope_margin_m=gs,
        thrust_margin_n=thrust_margin,
        max_tilt_rad=tilt,
        resim_position_error_m=math.nan,
        resim_velocity_error_mps=math.nan,
        resim_fuel_kg=math.nan,
        n_solves=n_solves,
        solve_time_s=elapsed,
        tf_search=search,
        config=c,
        target_m=spec.target,
    )
    if simulate:
        traj = simulate_lander(
            result.thrust_at, t, r[0], v[0], m[0], c.gravity_mps2, c.alpha_s_per_m
        )
        result = replace(
            result,
            resim_position_error_m=float(np.linalg.norm(traj.r_m[-1] - r[n])),
            resim_velocity_error_mps=float(np.linalg.norm(traj.v_mps[-1] - v[n])),
            resim_fuel_kg=float(traj.mass_kg[0] - traj.mass_kg[-1]),
        )
    return result
