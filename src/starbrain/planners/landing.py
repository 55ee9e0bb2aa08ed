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
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from starbrain.physics.lander import G0_MPS2, mass_flow_coefficient, simulate_lander

__all__ = [
    "BLACKMORE_2010_LANDER",
    "MARS_LANDER_2007",
    "LanderConfig",
    "LandingResult",
    "solve_landing",
]

FloatArray = npt.NDArray[np.float64]
Objective = Literal["min_fuel", "min_error"]
Hold = Literal["foh", "zoh"]
Backend = Literal["conic", "cvxpy"]


@dataclass(frozen=True)
class LanderConfig:
    """A lander and its environment, in SI units (see the module docstring for the frame).

    ``thrust_min_n`` / ``thrust_max_n`` (``rho1`` / ``rho2``) bound the magnitude of the *net*
    thrust vector; ``alpha_s_per_m`` is the propellant use per unit net thrust and time.
    ``glide_slope_rad`` is the smallest elevation of the vehicle seen from the landing point
    (4 deg in the Mars example, i.e. a cone of half-angle 86 deg about the vertical); ``None``
    or ``0`` switches it off (stored as ``None``). A tiny positive angle is a valid constraint,
    not the same as none: it keeps the vehicle above the landing site's altitude
    (``x >= 0`` as the angle goes to 0), which the unconstrained optimum may dip below (235 m
    on Blackmore et al.'s case 1). ``max_tilt_rad`` bounds the angle between the thrust and the
    vertical (``None``: no pointing constraint).
    """

    gravity_mps2: tuple[float, float, float]
    wet_mass_kg: float
    dry_mass_kg: float
    thrust_min_n: float
    thrust_max_n: float
    alpha_s_per_m: float
    glide_slope_rad: float | None = math.radians(4.0)
    max_tilt_rad: float | None = None

    def __post_init__(self) -> None:
        if not 0 < self.dry_mass_kg < self.wet_mass_kg:
            raise ValueError(
                f"need 0 < dry mass < wet mass, got {self.dry_mass_kg} and {self.wet_mass_kg} kg"
            )
        if not 0 < self.thrust_min_n < self.thrust_max_n:
            raise ValueError(
                f"need 0 < thrust_min_n < thrust_max_n, got {self.thrust_min_n}, "
                f"{self.thrust_max_n} N"
            )
        if self.alpha_s_per_m <= 0:
            raise ValueError(f"alpha_s_per_m must be positive, not {self.alpha_s_per_m}")
        if self.glide_slope_rad == 0:
            object.__setattr__(self, "glide_slope_rad", None)  # 0 means no glide slope
        if self.glide_slope_rad is not None and not 0 < self.glide_slope_rad < math.pi / 2:
            raise ValueError(
                f"glide_slope_rad must lie in [0, pi/2) (0 or None: no glide slope), "
                f"not {self.glide_slope_rad}"
            )
        if self.max_tilt_rad is not None and not 0 < self.max_tilt_rad <= math.pi / 2:
            raise ValueError(f"max_tilt_rad must lie in (0, pi/2], not {self.max_tilt_rad}")

    @classmethod
    def from_engines(
        cls,
        *,
        n_engines: int,
        engine_thrust_n: float,
        cant_rad: float,
        throttle_min: float,
        throttle_max: float,
        isp_s: float,
        gravity_mps2: tuple[float, float, float],
        wet_mass_kg: float,
        dry_mass_kg: float,
        g0_mps2: float = G0_MPS2,
        **kwargs: Any,
    ) -> LanderConfig:
        """``n_engines`` engines of ``engine_thrust_n`` each, canted ``cant_rad`` off the thrust
        axis and throttled within ``[throttle_min, throttle_max]``: the net thrust bounds are
        ``throttle * n * T_engine * cos(cant)`` and ``alpha = 1 / (Isp g0 cos(cant))``
        (Acikmese & Ploen 2007, section II)."""
        net = n_engines * engine_thrust_n * math.cos(cant_rad)
        return cls(
            gravity_mps2=gravity_mps2,
            wet_mass_kg=wet_mass_kg,
            dry_mass_kg=dry_mass_kg,
            thrust_min_n=throttle_min * net,
            thrust_max_n=throttle_max * net,
            alpha_s_per_m=mass_flow_coefficient(isp_s, cant_rad, g0_mps2),
            **kwargs,
        )


MARS_LANDER_2007 = LanderConfig.from_engines(
    n_engines=6,
    engine_thrust_n=3100.0,
    cant_rad=math.radians(27.0),
    throttle_min=0.3,
    throttle_max=0.8,
    isp_s=225.0,
    gravity_mps2=(-3.7114, 0.0, 0.0),
    wet_mass_kg=1905.0,
    dry_mass_kg=1505.0,
)
"""The Mars lander of Acikmese & Ploen (2007, section V): six 3100 N engines canted 27 deg,
throttle 0.3-0.8, Isp 225 s, 1905 kg wet, 1505 kg dry, 4 deg glide slope. Net thrust
4972-13258 N, alpha = 5.09e-4 s/m."""

BLACKMORE_2010_LANDER = LanderConfig(
    gravity_mps2=(-3.7114, 0.0, 0.0),
    wet_mass_kg=1905.0,
    dry_mass_kg=1505.0,
    thrust_min_n=4972.0,
    thrust_max_n=13260.0,
    alpha_s_per_m=4.53e-4,
)
"""The same lander with the constants as printed by Blackmore, Acikmese & Scharf (2010, section
V): rho1 = 4972 N, rho2 = 13260 N and alpha = 4.53e-4 s/m (= 1 / (225 s g0), without the cant).
With this alpha their case 1 needs ~361 kg, not the 399.4 kg they print; :data:`MARS_LANDER_2007`
(alpha with the cant) reproduces 399.4 kg to 0.2 %, so that is the model behind their numbers
(see tests/planners/test_landing.py)."""


@dataclass(frozen=True)
class LandingResult:
    """A powered-descent solution on ``n + 1`` nodes (``n`` intervals).

    Arrays: ``t_s`` (n+1,), ``r_m`` / ``v_mps`` (n+1, 3), ``mass_kg`` (n+1,), ``thrust_n``
    (n+1, 3) the thrust vector at each node, ``gamma_n`` (n+1,) the slack ``Gamma`` bounding
    ``||T||``. With ``hold="zoh"`` node ``k < n`` carries the thrust at the start of interval
    ``k`` and node ``n`` the thrust at the end of the last interval (the control of the last
    interval continued). ``status`` is ``"optimal"``, ``"infeasible"`` (no trajectory within the
    constraints; ``fuel_kg`` then holds the propellant the lifted problem needed, if it had a
    solution) or a solver failure.

    Checks on the solution: ``relaxation_gap_n`` = max over the nodes of ``Gamma - ||T||`` (the
    relaxation is tight when it is ~0), ``glide_slope_margin_m`` (min over the nodes of altitude
    above the glide-slope cone, >= 0 when satisfied), ``thrust_margin_n`` (min over the nodes of
    the distance of ``||T||`` inside ``[rho1, rho2]``), ``max_tilt_rad`` (largest thrust angle
    from vertical), ``resim_*`` (the thrust profile flown open-loop through
    :func:`starbrain.physics.lander.simulate_lander`: position and velocity at ``tf`` minus the
    planned ones, and the fuel burnt).
    """

    status: str
    objective: str
    hold: str
    tf_s: float
    t_s: FloatArray
    r_m: FloatArray
    v_mps: FloatArray
    mass_kg: FloatArray
    thrust_n: FloatArray
    gamma_n: FloatArray
    fuel_kg: float
    landing_point_m: FloatArray
    landing_error_m: float
    relaxation_gap_n: float
    glide_slope_margin_m: float
    thrust_margin_n: float
    max_tilt_rad: float
    resim_position_error_m: float
    resim_velocity_error_mps: float
    resim_fuel_kg: float
    n_solves: int
    solve_time_s: float
    tf_search: list[tuple[float, float]] = field(default_factory=list)
    config: LanderConfig | None = None
    target_m: FloatArray = field(default_factory=lambda: np.zeros(3))

    @property
    def ok(self) -> bool:
        return self.status == "optimal"

    def thrust_at(self, t_s: float) -> FloatArray:
        """The planned thrust (N, shape (3,)) at time ``t_s``: the control acceleration
        ``a = T/m`` held or interpolated as the solution was discretised, times the planned
        mass, which follows ``dz/dt = -alpha sigma`` exactly. This is the profile re-simulated
        for ``resim_*``."""
        return _plan_thrust(self, t_s)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (lists for arrays, degrees added next to radians)."""
        out: dict[str, Any] = {}
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            if isinstance(value, np.ndarray):
                obj = value.astype(object)
                obj[~np.isfinite(value)] = None
                value = obj.tolist()
            elif isinstance(value, LanderConfig):
                value = {k: getattr(value, k) for k in value.__dataclass_fields__}
            elif isinstance(value, float) and not math.isfinite(value):
                value = None
            elif name == "tf_search":
                value = [[t, f if math.isfinite(f) else None] for t, f in value]
            out[name] = value
        out["max_tilt_deg"] = math.degrees(self.max_tilt_rad) if self.ok else None
        return out


# --------------------------------------------------------------------------- problem data
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
    """The cone program for one time of flight. The sparsity pattern depends only on ``spec``."""
    c = spec.config
    n, nc = spec.n, spec.n_ctrl
    L = _Layout(n, nc, spec.mode == "error")
    B = _Blocks()
    h = tf / n
    g = np.asarray(c.gravity_mps2, dtype=np.float64)
    al = c.alpha_s_per_m
    k = np.arange(n)
    foh = spec.hold == "foh"

    # ---- equalities
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

    # ---- inequalities (b - A x >= 0)
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

    # ---- second-order cones: s = b - A x with s[0] >= ||s[1:]||
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

    q = np.zeros(L.size)
    if spec.mode == "error":
        q[L.e] = 1.0
    else:
        q[L.z[n]] = -1.0
    return L, B, q


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

        spec, c = self.spec, self.spec.config
        n, nc = spec.n, spec.n_ctrl
        L = _Layout(n, nc, spec.mode == "error")
        h = tf / n
        g = np.asarray(c.gravity_mps2)
        al = c.alpha_s_per_m
        # Unknowns in km and 100 m/s, as in the conic path: unscaled, both Clarabel and ECOS stop
        # short of the optimum (by ~0.3 kg of propellant on the Mars example).
        r_km = cp.Variable((n + 1, 3))
        v_hm = cp.Variable((n + 1, 3))
        r = 1e3 * r_km
        v = 1e2 * v_hm
        z = cp.Variable(n + 1)
        a = cp.Variable((nc, 3))
        s = cp.Variable(nc)
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
        miss = cp.norm(r[n, 1:] - spec.target[1:])
        if spec.mode == "fuel":
            cons.append(r[n, 1:] == spec.target[1:])
            prob = cp.Problem(cp.Maximize(z[n]), cons)
        elif spec.mode == "fuel_within":
            cons.append(miss <= spec.max_distance)
            prob = cp.Problem(cp.Maximize(z[n]), cons)
        else:
            prob = cp.Problem(cp.Minimize(miss), cons)
        tol = 1e-8  # as the conic path
        opts: dict[str, Any] = (
            {"abstol": tol, "reltol": tol, "feastol": tol}
            if self.solver.upper() == "ECOS"
            else {"tol_gap_abs": tol, "tol_gap_rel": tol, "tol_feas": tol}
        )
        try:
            prob.solve(solver=self.solver, **opts)
        except cp.SolverError:
            return _Solution("solver_error", tf, None, L)
        status = {
            "optimal": "optimal",
            "optimal_inaccurate": "inaccurate",
            "infeasible": "infeasible",
            "infeasible_inaccurate": "infeasible",
        }.get(prob.status, str(prob.status))
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


# --------------------------------------------------------------------------- line search
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


# --------------------------------------------------------------------------- driver
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
    if objective not in ("min_fuel", "min_error"):
        raise ValueError(f"objective must be 'min_fuel' or 'min_error', not {objective!r}")
    if hold not in ("foh", "zoh"):
        raise ValueError(f"hold must be 'foh' or 'zoh', not {hold!r}")
    if backend not in ("conic", "cvxpy"):
        raise ValueError(f"backend must be 'conic' or 'cvxpy', not {backend!r}")
    if n_intervals < 2:
        raise ValueError(f"n_intervals must be at least 2, not {n_intervals}")
    r0 = np.asarray(r0_m, dtype=np.float64).reshape(3)
    v0 = np.asarray(v0_mps, dtype=np.float64).reshape(3)
    tgt2 = np.asarray(target_m, dtype=np.float64).reshape(2)
    target = np.array([0.0, tgt2[0], tgt2[1]])
    if r0[0] <= 0:
        raise ValueError(f"the initial altitude r0_m[0] must be positive, not {r0[0]} m")
    base = _Spec(
        config=config,
        r0=r0,
        v0=v0,
        target=target,
        vf=np.asarray(vf_mps, dtype=np.float64).reshape(3),
        n=n_intervals,
        hold=hold,
        mode="fuel",
    )
    c = config
    if tf_bounds_s is None:
        lo = max(c.dry_mass_kg * float(np.linalg.norm(v0)) / c.thrust_max_n, 1.0)
        hi = (c.wet_mass_kg - c.dry_mass_kg) / (c.alpha_s_per_m * c.thrust_min_n)
    else:
        lo, hi = map(float, tf_bounds_s)
        if not 0 < lo < hi:
            raise ValueError(f"tf_bounds_s must be increasing and positive, not {tf_bounds_s}")

    t_start = time.perf_counter()
    n_solves = 0
    search: list[tuple[float, float]] = []

    def make(spec: _Spec) -> Any:
        if backend == "conic":
            return _ConicSolver(spec)
        return _CvxpySolver(spec, cvxpy_solver)

    def counted(solver: Any) -> Any:
        def run(tf: float) -> _Solution:
            nonlocal n_solves
            n_solves += 1
            return solver.solve(tf)

        return run

    def search_tf(spec: _Spec) -> float:
        run = counted(make(spec))
        best, seen = _line_search(run, spec, lo, hi, n_grid, tf_tol_s)
        search.extend(seen)
        return best

    spec = base
    fallback: tuple[_Spec, _Solution] | None = None
    if objective == "min_error":
        err_spec = replace(base, mode="error")
        tf_err = float(tf_s) if tf_s is not None else search_tf(err_spec)
        if not math.isfinite(tf_err):
            return _failed(base, "infeasible", objective, n_solves, t_start, search)
        err_sol = counted(make(err_spec))(tf_err)
        if err_sol.status != "optimal":
            return _failed(base, err_sol.status, objective, n_solves, t_start, search)
        d_star = _objective_value(err_spec, err_sol)
        fallback = (err_spec, err_sol)
        if d_star <= _REACHED_M:
            spec = replace(base, mode="fuel_within", max_distance=_REACHED_M)
        else:
            # Out of reach: only times near tf_err land within d*, so keep tf_err; the distance
            # bound gets a small margin, without which the feasible set is a single point.
            spec = replace(base, mode="fuel_within", max_distance=d_star * (1 + 1e-4) + 1e-3)
            tf_s = tf_err
    if tf_s is None:
        tf = search_tf(replace(spec, enforce_dry_mass=False))
        if not math.isfinite(tf):
            return _failed(spec, "infeasible", objective, n_solves, t_start, search)
    else:
        tf = float(tf_s)
        if tf <= 0:
            raise ValueError(f"tf_s must be positive, not {tf_s}")
    sol = counted(make(spec))(tf)
    if sol.status != "optimal" and fallback is not None:
        # The minimum-fuel refinement failed: the minimum-error solution is still a landing.
        spec, sol = fallback
    if sol.status != "optimal":
        # Report the propellant the problem would need without the tank limit.
        lifted = counted(make(replace(spec, enforce_dry_mass=False)))(tf)
        fuel = math.nan
        if lifted.status == "optimal" and lifted.x is not None:
            fuel = c.wet_mass_kg - math.exp(lifted.x[lifted.layout.z[spec.n]])
        return _failed(spec, sol.status, objective, n_solves, t_start, search, tf, fuel)
    return _result(spec, sol, objective, n_solves, time.perf_counter() - t_start, search, simulate)


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


def _plan_thrust(res: LandingResult, t_s: float) -> FloatArray:
    """Planned thrust at ``t_s``: see :meth:`LandingResult.thrust_at`."""
    c = res.config
    assert c is not None
    n = res.t_s.size - 1
    h = res.tf_s / n
    k = min(max(int(t_s // h), 0), n - 1)
    tau = min(max(t_s - k * h, 0.0), h)
    m = res.mass_kg
    a0 = res.thrust_n[k] / m[k]
    s0 = res.gamma_n[k] / m[k]
    if res.hold == "zoh":
        z = math.log(m[k]) - c.alpha_s_per_m * s0 * tau
        return a0 * math.exp(z)
    a1 = res.thrust_n[k + 1] / m[k + 1]
    s1 = res.gamma_n[k + 1] / m[k + 1]
    frac = tau / h
    z = math.log(m[k]) - c.alpha_s_per_m * (s0 * tau + (s1 - s0) * tau * frac / 2)
    return (a0 + (a1 - a0) * frac) * math.exp(z)
