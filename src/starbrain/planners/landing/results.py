"""Lander models and powered-descent results (:mod:`starbrain.planners.landing`): the lander
(:class:`LanderConfig`, the two published Mars landers) and the typed :class:`LandingResult`
with its planned thrust profile."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from starbrain.physics.lander import G0_MPS2, mass_flow_coefficient

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
