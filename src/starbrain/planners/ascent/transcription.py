"""Hermite-Simpson transcription of the two-stage ascent (see :mod:`starbrain.planners.ascent`):
scaled unknowns, arcs (:class:`_Phase`), defects and their complex-step Jacobians, the linear
boundary and linkage conditions, node constraints and the initial guess."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.integrate import solve_ivp

from starbrain.physics.launch_vehicle import (
    MU_EARTH_M3_S2,
    OMEGA_EARTH_RADPS,
    R_EARTH_M,
    Atmosphere,
    LaunchVehicle,
    Stage,
    planar_derivatives,
)

FloatArray = npt.NDArray[np.float64]


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
