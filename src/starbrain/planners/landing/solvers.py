"""The two solvers of the landing cone program (:mod:`starbrain.planners.landing`): Clarabel on
the directly assembled problem, one workspace re-used across times of flight
(:class:`_ConicSolver`), and the same problem stated in CVXPY (:class:`_CvxpySolver`, the
reference)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from starbrain.planners.landing.problem import (
    _assemble,
    _Blocks,
    _glide_slope_row,
    _Layout,
    _Spec,
    _taylor_centre,
)
from starbrain.planners.landing.results import FloatArray


@dataclass
class _Solution:
    status: str
    tf: float
    x: FloatArray | None
    layout: _Layout


class _ConicSolver:
    """Clarabel on the directly assembled problem, one workspace re-used across ``tf``."""

    def __init__(self, spec: _Spec, tol: float = 1e-8) -> None:
        try:
            import clarabel
        except ImportError as exc:  # pragma: no cover - a declared dependency
            raise ImportError("landing guidance needs clarabel: pip install clarabel") from exc

        self.spec = spec
        self._clarabel = clarabel
        self.settings = clarabel.DefaultSettings()
        self.settings.verbose = False
        self.settings.presolve_enable = False  # required for in-place data updates
        self.settings.input_sparse_dropzeros = False
        # Refinement costs a third of the solve time and moves ln m(tf) by ~1e-7 here.
        self.settings.iterative_refinement_enable = False
        self.settings.tol_gap_abs = tol
        self.settings.tol_gap_rel = tol
        self.settings.tol_feas = tol
        self._solver: Any = None
        self._perm: npt.NDArray[np.int64] | None = None

    def _matrix(self, B: _Blocks, n_cols: int, scale: FloatArray) -> Any:
        from scipy import sparse

        rows = np.concatenate(B.rows)
        cols = np.concatenate(B.cols)
        vals = np.concatenate(B.vals) * scale[cols]
        if self._perm is None:
            # CSC order of the COO triplets, found once: entries are unique (row, col) pairs.
            tag = sparse.coo_matrix(
                (np.arange(1, vals.size + 1, dtype=np.float64), (rows, cols)),
                shape=(B.m, n_cols),
            ).tocsc()
            if tag.nnz != vals.size:
                raise AssertionError("duplicate entries in the landing cone program")
            self._perm = tag.data.astype(np.int64) - 1
            self._indices, self._indptr = tag.indices, tag.indptr
        return sparse.csc_matrix(
            (vals[self._perm], self._indices, self._indptr), shape=(B.m, n_cols)
        )

    def solve(self, tf: float) -> _Solution:
        from scipy import sparse

        L, B, q = _assemble(self.spec, tf)
        scale = L.scale()
        A = self._matrix(B, L.size, scale)
        b = np.concatenate(B.b)
        q = q * scale
        if self._solver is None:
            cl = self._clarabel
            kinds = {"zero": cl.ZeroConeT, "nonneg": cl.NonnegativeConeT}
            cones = [kinds.get(kind, cl.SecondOrderConeT)(dim) for kind, dim in B.cones]
            P = sparse.csc_matrix((L.size, L.size))
            self._solver = cl.DefaultSolver(P, q, A, b, cones, self.settings)
        else:
            self._solver.update(q=q, A=A.data, b=b)
        sol = self._solver.solve()
        status = _status_name(str(sol.status))
        x = np.asarray(sol.x) * scale if status in ("optimal", "inaccurate") else None
        return _Solution(status, tf, x, L)


def _status_name(raw: str) -> str:
    s = raw.lower()
    if "infeasible" in s:
        return "infeasible"
    if "almost" in s or "inaccurate" in s:
        return "inaccurate"
    if s in ("solved", "optimal"):
        return "optimal"
    return s


class _CvxpySolver:
    """The same problem written in CVXPY and rebuilt for every ``tf`` (reference, baseline)."""

    def __init__(self, spec: _Spec, solver: str = "CLARABEL") -> None:
        self.spec = spec
        self.solver = solver

    def solve(self, tf: float) -> _Solution:
        import cvxpy as cp

        spec = self.spec
        n, nc = spec.n, spec.n_ctrl
        L = _Layout(n, nc, spec.mode == "error")
        h = tf / n
        # Unknowns in km and 100 m/s, as in the conic path: unscaled, both Clarabel and ECOS stop
        # short of the optimum (by ~0.3 kg of propellant on the Mars example).
        r_km = cp.Variable((n + 1, 3))
        v_hm = cp.Variable((n + 1, 3))
        r = 1e3 * r_km
        v = 1e2 * v_hm
        z = cp.Variable(n + 1)
        a = cp.Variable((nc, 3))
        s = cp.Variable(nc)
        cons = self._constraints(cp, h, r, v, z, a, s)
        miss = cp.norm(r[n, 1:] - spec.target[1:])
        if spec.mode == "fuel":
            cons.append(r[n, 1:] == spec.target[1:])
            prob = cp.Problem(cp.Maximize(z[n]), cons)
        elif spec.mode == "fuel_within":
            cons.append(miss <= spec.max_distance)
            prob = cp.Problem(cp.Maximize(z[n]), cons)
        else:
            prob = cp.Problem(cp.Minimize(miss), cons)
        status = self._run(cp, prob)
        if status not in ("optimal", "inaccurate"):
            return _Solution(status, tf, None, L)
        x = np.zeros(L.size)
        x[L.r.ravel()] = 1e3 * np.asarray(r_km.value).ravel()
        x[L.v.ravel()] = 1e2 * np.asarray(v_hm.value).ravel()
        x[L.z] = np.asarray(z.value)
        x[L.a.ravel()] = np.asarray(a.value).ravel()
        x[L.s] = np.asarray(s.value)
        if spec.mode == "error":
            x[L.e] = miss.value
        return _Solution(status, tf, x, L)

    def _constraints(self, cp: Any, h: float, r: Any, v: Any, z: Any, a: Any, s: Any) -> list[Any]:
        """Every constraint but the landing-point one: initial state, dynamics, terminal
        altitude and velocity, thrust cones and bounds, mass corridor, tilt and glide slope."""
        spec, c = self.spec, self.spec.config
        n, nc = spec.n, spec.n_ctrl
        g = np.asarray(c.gravity_mps2)
        al = c.alpha_s_per_m
        cons = [r[0] == spec.r0, v[0] == spec.v0, z[0] == math.log(c.wet_mass_kg)]
        if spec.hold == "foh":
            cons += [
                v[1:] == v[:-1] + h * np.tile(g, (n, 1)) + h / 2 * (a[:-1] + a[1:]),
                r[1:]
                == r[:-1]
                + h * v[:-1]
                + h * h / 2 * np.tile(g, (n, 1))
                + h * h * (a[:-1] / 3 + a[1:] / 6),
                z[1:] == z[:-1] - al * h / 2 * (s[:-1] + s[1:]),
            ]
        else:
            cons += [
                v[1:] == v[:-1] + h * (a + np.tile(g, (n, 1))),
                r[1:] == r[:-1] + h * v[:-1] + h * h / 2 * (a + np.tile(g, (n, 1))),
                z[1:] == z[:-1] - al * h * s,
            ]
        cons += [r[n, 0] == spec.target[0], v[n] == spec.vf]
        tj = np.arange(nc) * h
        z0, _, emz0 = _taylor_centre(spec, tj)
        mu1, mu2 = c.thrust_min_n * emz0, c.thrust_max_n * emz0
        zc = z[:nc]
        cons += [
            cp.norm(a, axis=1) <= s,
            s <= cp.multiply(mu2, 1 - (zc - z0)),
            s >= cp.multiply(mu1, 1 - (zc - z0) + cp.square(zc - z0) / 2),
        ]
        z0n, z1n, _ = _taylor_centre(spec, np.arange(1, n + 1) * h)
        cons += [z[1:] >= z0n, z[1:] <= z1n]
        if spec.enforce_dry_mass:
            cons.append(z[n] >= math.log(c.dry_mass_kg))
        if c.max_tilt_rad is not None:
            cons.append(a[:, 0] >= math.cos(c.max_tilt_rad) * s)
        if c.glide_slope_rad is not None:
            d = r[:n] - np.ones((n, 1)) @ cp.reshape(r[n], (1, 3), order="C")
            cg, sg = _glide_slope_row(c.glide_slope_rad)
            cons.append(sg * cp.norm(d[:, 1:], axis=1) <= cg * d[:, 0])  # as the conic path
        return cons

    def _run(self, cp: Any, prob: Any) -> str:
        """Solve ``prob`` to the conic path's tolerances; its status as the conic path names
        them (``"solver_error"`` when the solver fails)."""
        tol = 1e-8  # as the conic path
        opts: dict[str, Any] = (
            {"abstol": tol, "reltol": tol, "feastol": tol}
            if self.solver.upper() == "ECOS"
            else {"tol_gap_abs": tol, "tol_gap_rel": tol, "tol_feas": tol}
        )
        try:
            prob.solve(solver=self.solver, **opts)
        except cp.SolverError:
            return "solver_error"
        return {
            "optimal": "optimal",
            "optimal_inaccurate": "inaccurate",
            "infeasible": "infeasible",
            "infeasible_inaccurate": "infeasible",
        }.get(prob.status, str(prob.status))
