"""The second-order cone program of one time of flight (:mod:`starbrain.planners.landing`): the
problem data (:class:`_Spec`), the column layout of the unknowns, the constraint blocks and their
assembly in a fixed sparsity pattern (:func:`_assemble`)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from starbrain.planners.landing.results import FloatArray, LanderConfig


@dataclass(frozen=True)
class _Spec:
    """Everything but the time of flight: one instance per line search."""

    config: LanderConfig
    r0: FloatArray
    v0: FloatArray
    target: FloatArray  # (3,), target[0] = 0 (landing altitude)
    vf: FloatArray
    n: int
    hold: str
    # "fuel": land on target, maximise final mass; "error": minimise the horizontal distance to
    # the target; "fuel_within": maximise final mass with distance <= max_distance.
    mode: str
    max_distance: float = 0.0
    enforce_dry_mass: bool = True

    @property
    def n_ctrl(self) -> int:
        return self.n + 1 if self.hold == "foh" else self.n


class _Layout:
    """Column indices of the variable vector ``[r, v, z, a, sigma, e]``."""

    def __init__(self, n: int, n_ctrl: int, with_epigraph: bool) -> None:
        nn = n + 1
        self.r = np.arange(3 * nn).reshape(nn, 3)
        self.v = 3 * nn + np.arange(3 * nn).reshape(nn, 3)
        self.z = 6 * nn + np.arange(nn)
        self.a = 7 * nn + np.arange(3 * n_ctrl).reshape(n_ctrl, 3)
        self.s = 7 * nn + 3 * n_ctrl + np.arange(n_ctrl)
        self.size = 7 * nn + 4 * n_ctrl
        self.e = self.size if with_epigraph else -1
        self.size += int(with_epigraph)

    def scale(self) -> FloatArray:
        """Column scales ``D`` (x = D x~): km for positions, 100 m/s for velocities, so that the
        solver sees unknowns of order one (fewer iterations, a more repeatable optimum)."""
        d = np.ones(self.size)
        d[self.r.ravel()] = 1e3
        d[self.v.ravel()] = 1e2
        if self.e >= 0:
            d[self.e] = 1e2
        return d


class _Blocks:
    """Rows ``A x + s = b`` collected per cone as COO triplets, in a fixed order."""

    def __init__(self) -> None:
        self.rows: list[npt.NDArray[np.int64]] = []
        self.cols: list[npt.NDArray[np.int64]] = []
        self.vals: list[FloatArray] = []
        self.b: list[FloatArray] = []
        self.cones: list[tuple[str, int]] = []
        self.m = 0

    def add(
        self, cone: str, dim: int, count: int, terms: list[tuple[Any, Any, Any]], b: Any
    ) -> None:
        """``count`` cones of dimension ``dim`` (or ``count * dim`` rows of a zero/nonnegative
        cone). ``terms``: (row within a cone (int), columns (count,), values (count,) or
        scalar). ``b``: (count, dim) or broadcastable."""
        base = self.m + dim * np.arange(count)
        for row, cols, vals in terms:
            cols = np.broadcast_to(np.asarray(cols, dtype=np.int64), (count,))
            self.rows.append(base + row)
            self.cols.append(cols)
            self.vals.append(np.broadcast_to(np.asarray(vals, dtype=np.float64), (count,)))
        b = np.asarray(b, dtype=np.float64)
        if dim == 1 and b.ndim == 1:
            b = b[:, None]
        self.b.append(np.broadcast_to(b, (count, dim)).ravel())
        if cone in ("zero", "nonneg") and self.cones and self.cones[-1][0] == cone:
            self.cones[-1] = (cone, self.cones[-1][1] + count * dim)
        elif cone in ("zero", "nonneg"):
            self.cones.append((cone, count * dim))
        else:
            self.cones.extend([(cone, dim)] * count)
        self.m += count * dim


def _taylor_centre(spec: _Spec, t: Any) -> tuple[FloatArray, FloatArray, FloatArray]:
    """``z0(t) = ln(m_wet - alpha rho2 t)``, ``z1(t) = ln(m_wet - alpha rho1 t)`` and ``e^-z0``.
    The centre mass is kept above 1 % of the wet mass so that absurd times of flight stay finite
    (they are infeasible anyway)."""
    c = spec.config
    m0 = np.maximum(c.wet_mass_kg - c.alpha_s_per_m * c.thrust_max_n * t, 0.01 * c.wet_mass_kg)
    m1 = np.maximum(c.wet_mass_kg - c.alpha_s_per_m * c.thrust_min_n * t, 0.01 * c.wet_mass_kg)
    return np.log(m0), np.log(m1), 1.0 / m0


def _assemble(spec: _Spec, tf: float) -> tuple[_Layout, _Blocks, FloatArray]:
    """The cone program for one time of flight. The sparsity pattern depends only on ``spec``:
    equalities (:func:`_add_dynamics`), linear inequalities (:func:`_add_bounds`), cones
    (:func:`_add_cones`), in that order; the cost ``q`` minimises the miss (``"error"``) or
    maximises the final log-mass."""
    n = spec.n
    L = _Layout(n, spec.n_ctrl, spec.mode == "error")
    B = _Blocks()
    h = tf / n
    _add_dynamics(spec, L, B, h)
    _add_bounds(spec, L, B, h)
    _add_cones(spec, L, B, h)
    q = np.zeros(L.size)
    if spec.mode == "error":
        q[L.e] = 1.0
    else:
        q[L.z[n]] = -1.0
    return L, B, q


def _add_dynamics(spec: _Spec, L: _Layout, B: _Blocks, h: float) -> None:
    """Equalities: initial state, the discretised dynamics (first- or zero-order hold of the
    control over intervals ``h`` s), the mass flow and the terminal conditions."""
    c = spec.config
    n = spec.n
    g = np.asarray(c.gravity_mps2, dtype=np.float64)
    al = c.alpha_s_per_m
    k = np.arange(n)
    foh = spec.hold == "foh"
    for i in range(3):
        B.add("zero", 1, 1, [(0, L.r[0, i], 1.0)], spec.r0[i])
        B.add("zero", 1, 1, [(0, L.v[0, i], 1.0)], spec.v0[i])
    B.add("zero", 1, 1, [(0, L.z[0], 1.0)], math.log(c.wet_mass_kg))
    for i in range(3):
        # v[k+1] - v[k] - (a-terms) = h g
        terms = [(0, L.v[k + 1, i], 1.0), (0, L.v[k, i], -1.0)]
        if foh:
            terms += [(0, L.a[k, i], -h / 2), (0, L.a[k + 1, i], -h / 2)]
        else:
            terms += [(0, L.a[k, i], -h)]
        B.add("zero", 1, n, terms, h * g[i])
        # r[k+1] - r[k] - h v[k] - (a-terms) = h^2/2 g
        terms = [(0, L.r[k + 1, i], 1.0), (0, L.r[k, i], -1.0), (0, L.v[k, i], -h)]
        if foh:
            terms += [(0, L.a[k, i], -h * h / 3), (0, L.a[k + 1, i], -h * h / 6)]
        else:
            terms += [(0, L.a[k, i], -h * h / 2)]
        B.add("zero", 1, n, terms, h * h / 2 * g[i])
    terms = [(0, L.z[k + 1], 1.0), (0, L.z[k], -1.0)]
    if foh:
        terms += [(0, L.s[k], al * h / 2), (0, L.s[k + 1], al * h / 2)]
    else:
        terms += [(0, L.s[k], al * h)]
    B.add("zero", 1, n, terms, 0.0)
    B.add("zero", 1, 1, [(0, L.r[n, 0], 1.0)], spec.target[0])
    for i in range(3):
        B.add("zero", 1, 1, [(0, L.v[n, i], 1.0)], spec.vf[i])
    if spec.mode == "fuel":
        for i in (1, 2):
            B.add("zero", 1, 1, [(0, L.r[n, i], 1.0)], spec.target[i])


def _add_bounds(spec: _Spec, L: _Layout, B: _Blocks, h: float) -> None:
    """Linear inequalities ``b - A x >= 0``: the upper thrust bound (linearised about the
    Taylor centre), the mass corridor, the dry mass and the tilt limit."""
    c = spec.config
    n, nc = spec.n, spec.n_ctrl
    j = np.arange(nc)
    tj = j * h
    z0, _, emz0 = _taylor_centre(spec, tj)
    mu2 = c.thrust_max_n * emz0
    # sigma <= mu2 (1 - (z - z0))  <=>  sigma / mu2 + z <= 1 + z0
    B.add("nonneg", 1, nc, [(0, L.s[j], 1.0 / mu2), (0, L.z[j], 1.0)], 1.0 + z0)
    kk = np.arange(1, n + 1)
    z0n, z1n, _ = _taylor_centre(spec, kk * h)
    B.add("nonneg", 1, n, [(0, L.z[kk], -1.0)], -z0n)
    B.add("nonneg", 1, n, [(0, L.z[kk], 1.0)], z1n)
    if spec.enforce_dry_mass:
        B.add("nonneg", 1, 1, [(0, L.z[n], -1.0)], -math.log(c.dry_mass_kg))
    if c.max_tilt_rad is not None:
        # e1 . a >= cos(theta) sigma
        B.add("nonneg", 1, nc, [(0, L.s[j], math.cos(c.max_tilt_rad)), (0, L.a[j, 0], -1.0)], 0.0)


def _add_cones(spec: _Spec, L: _Layout, B: _Blocks, h: float) -> None:
    """Second-order cones ``s = b - A x``, ``s[0] >= ||s[1:]||``: the thrust magnitude, the lower
    thrust bound (second-order Taylor), the glide slope and the landing-distance epigraph."""
    c = spec.config
    n, nc = spec.n, spec.n_ctrl
    k = np.arange(n)
    j = np.arange(nc)
    z0, _, emz0 = _taylor_centre(spec, j * h)
    # s = b - A x with s[0] >= ||s[1:]||
    B.add("soc", 4, nc, [(0, L.s[j], -1.0)] + [(1 + i, L.a[j, i], -1.0) for i in range(3)], 0.0)
    # sigma >= mu1 (1 - d + d^2/2), d = z - z0  <=>  d^2/2 <= w := sigma/mu1 - 1 + d,
    # as ||(sqrt2 d, w - 1)|| <= w + 1.
    inv_mu1 = 1.0 / (c.thrust_min_n * emz0)
    b_low = np.stack([-z0, -math.sqrt(2.0) * z0, -z0 - 2.0], axis=1)
    B.add(
        "soc",
        3,
        nc,
        [
            (0, L.s[j], -inv_mu1),
            (0, L.z[j], -1.0),
            (1, L.z[j], -math.sqrt(2.0)),
            (2, L.s[j], -inv_mu1),
            (2, L.z[j], -1.0),
        ],
        b_low,
    )
    if c.glide_slope_rad is not None and c.glide_slope_rad < _GLIDE_FLOOR_RAD:
        # A cone this flat is the floor d_alt >= 0 to within 1 mm per km of downrange; as a
        # cone, its nearly degenerate apex stalls Clarabel (see _glide_slope_row).
        B.add("nonneg", 1, n, [(0, L.r[k, 0], -1.0), (0, L.r[n, 0], 1.0)], 0.0)
    elif c.glide_slope_rad is not None:
        cg, sg = _glide_slope_row(c.glide_slope_rad)
        terms = [(0, L.r[k, 0], -cg), (0, L.r[n, 0], cg)]
        terms += [(1 + i, L.r[k, 1 + i], -sg) for i in range(2)]
        terms += [(1 + i, L.r[n, 1 + i], sg) for i in range(2)]
        B.add("soc", 3, n, terms, 0.0)
    if spec.mode in ("error", "fuel_within"):
        head = [(0, L.e, -1.0)] if spec.mode == "error" else []
        b0 = 0.0 if spec.mode == "error" else spec.max_distance
        terms = head + [(1 + i, L.r[n, 1 + i], -1.0) for i in range(2)]
        B.add("soc", 3, 1, terms, [[b0, -spec.target[1], -spec.target[2]]])


_GLIDE_ROW_MIN_SIN = math.sin(math.radians(1.0))
# Below this glide-slope angle (rad; 5.7e-5 deg) the conic backend imposes the floor
# ``altitude >= landing altitude`` instead of the cone, from which it differs by under 1 mm per
# km of horizontal distance: as a cone, Clarabel stops "inaccurate" from ~1e-5 deg.
_GLIDE_FLOOR_RAD = 1e-6


def _glide_slope_row(angle_rad: float) -> tuple[float, float]:
    """Coefficients ``(ca, ch)`` of the glide-slope cone ``ca d_alt >= ch ||d_horiz||``.

    The textbook form ``||d_horiz|| <= cot(gs) d_alt`` puts ``cot(gs)`` beside entries of 1:
    5.7e5 at 1e-4 deg, and Clarabel then stops "inaccurate" or with "insufficient progress"
    (from about 0.01 deg on the Mars example) although the problem is well posed. Dividing
    ``cos(gs) d_alt >= sin(gs) ||d_horiz||`` by ``max(sin(gs), sin(1 deg))`` keeps the textbook
    coefficients from 1 deg up and bounds them by ``cot(1 deg)`` = 57 below.
    """
    scale = max(math.sin(angle_rad), _GLIDE_ROW_MIN_SIN)
    return math.cos(angle_rad) / scale, math.sin(angle_rad) / scale
