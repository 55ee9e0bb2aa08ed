"""Kinematic and dynamic single-track (bicycle) vehicle models in torch, batched, as physics
priors for world models.

Both share one state and one input so the same logs feed either:
state ``(x_m, y_m, yaw_rad, vx_mps, vy_mps, yaw_rate_radps)`` at the centre of mass (x, y in a
local ENU plane, vx/vy along the body x/y axes), input ``(steering_wheel_angle_rad,
accel_mps2)`` (the road-wheel angle is the steering-wheel angle over the steering ratio; the
acceleration is along the path, dv/dt). The dynamic model is CommonRoad's single-track model
(Althoff, "CommonRoad: Vehicle Models", ``vehicleDynamics_st``): linear tyres whose lateral
force is ``mu * C_S * F_z * alpha`` with the normal loads shifted by longitudinal acceleration;
below ``v_switch`` it relaxes to the kinematic model as CommonRoad's does. Parameters
(``THETA_NAMES``) are per row: ``theta`` ``(n_theta,)`` or ``(..., n_theta)``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import Tensor

__all__ = [
    "THETA_NAMES",
    "DynamicSingleTrack",
    "KinematicSingleTrack",
    "SaturatingSingleTrack",
    "VehicleParams",
]

G = 9.81  # m/s^2, as CommonRoad
THETA_NAMES = (
    "lf_m",  # centre of mass to front axle
    "lr_m",  # centre of mass to rear axle
    "steering_ratio",  # steering-wheel angle / road-wheel angle
    "mu",  # road friction coefficient
    "cs_front_per_rad",  # load-normalised cornering stiffness, front (CommonRoad C_Sf)
    "cs_rear_per_rad",  # rear (C_Sr)
    "yaw_inertia_per_mass_m2",  # I_z / m
    "h_cg_m",  # height of the centre of mass
)


@dataclass(frozen=True)
class VehicleParams:
    """Nominal single-track parameters (SI). ``from_commonroad`` takes CommonRoad's parameter
    set as its own ``vehicleDynamics_st`` reads it (C_S = -p_ky1 / p_dy1, mu = p_dy1)."""

    lf_m: float = 1.156
    lr_m: float = 1.423
    steering_ratio: float = 16.0
    mu: float = 1.0
    cs_front_per_rad: float = 20.9
    cs_rear_per_rad: float = 20.9
    yaw_inertia_per_mass_m2: float = 1.639
    h_cg_m: float = 0.614

    def theta(self) -> Tensor:
        return torch.tensor([getattr(self, n) for n in THETA_NAMES], dtype=torch.float64)

    @classmethod
    def from_commonroad(cls, p: Any, steering_ratio: float = 16.0) -> VehicleParams:
        cs = -float(p.tire.p_ky1) / float(p.tire.p_dy1)
        return cls(float(p.a), float(p.b), steering_ratio, float(p.tire.p_dy1), cs, cs,
                   float(p.I_z) / float(p.m), float(p.h_s))  # fmt: skip


def _split(theta: Tensor) -> list[Tensor]:
    return [theta[..., i : i + 1] for i in range(len(THETA_NAMES))]


def _to_internal(x: Tensor) -> tuple[Tensor, ...]:
    """(x, y, yaw, vx, vy, r) -> x, y, yaw, speed v, slip angle beta, r; each (..., 1)."""
    px, py, yaw, vx, vy, r = (x[..., i : i + 1] for i in range(6))
    return px, py, yaw, torch.hypot(vx, vy), torch.atan2(vy, vx), r


class _SingleTrack:
    state_dim = 6
    input_dim = 2
    theta_names = THETA_NAMES

    def __init__(self, params: dict[str, float] | None = None, substep_s: float = 0.01,
                 v_switch_mps: float = 1.0) -> None:  # fmt: skip
        self.params = VehicleParams(**(params or {}))
        self.substep_s, self.v_switch_mps = substep_s, v_switch_mps

    def theta_default(self) -> Tensor:
        return self.params.theta()

    def config(self) -> dict[str, Any]:
        return {"params": asdict(self.params), "substep_s": self.substep_s,
                "v_switch_mps": self.v_switch_mps}  # fmt: skip

    def _deriv(self, s: Tensor, delta: Tensor, a: Tensor, th: list[Tensor]) -> Tensor:
        raise NotImplementedError

    def _finish(self, s: Tensor, delta: Tensor, th: list[Tensor]) -> Tensor:
        px, py, yaw, v, beta, r = (s[..., i : i + 1] for i in range(6))
        return torch.cat([px, py, yaw, v * torch.cos(beta), v * torch.sin(beta), r], -1)

    def step(self, x: Tensor, u: Tensor, theta: Tensor, dt: float) -> Tensor:
        """RK4 over ``dt`` in sub-steps of at most ``substep_s``, inputs held; ``(..., 6)``."""
        th = _split(theta.to(x.dtype))
        delta = u[..., 0:1] / th[2]
        a = u[..., 1:2]
        s = torch.cat(_to_internal(x), -1)
        n = max(1, round(dt / self.substep_s))
        h = dt / n
        for _ in range(n):
            k1 = self._deriv(s, delta, a, th)
            k2 = self._deriv(s + 0.5 * h * k1, delta, a, th)
            k3 = self._deriv(s + 0.5 * h * k2, delta, a, th)
            k4 = self._deriv(s + h * k3, delta, a, th)
            s = s + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
        return self._finish(s, delta, th)


def _kinematic(s: Tensor, delta: Tensor, a: Tensor, th: list[Tensor]) -> Tensor:
    """CommonRoad ``vehicle_dynamics_ks_cog`` (centre of mass), slip angle algebraic."""
    lf, lr = th[0], th[1]
    wb = lf + lr
    yaw, v = s[..., 2:3], s[..., 3:4]
    beta = torch.atan(torch.tan(delta) * lr / wb)
    yaw_rate = v * torch.cos(beta) * torch.tan(delta) / wb
    z = torch.zeros_like(v)
    return torch.cat([v * torch.cos(beta + yaw), v * torch.sin(beta + yaw), yaw_rate, a, z, z], -1)


class KinematicSingleTrack(_SingleTrack):
    """No tyre slip: the slip angle and yaw rate follow from the road-wheel angle."""

    def _deriv(self, s: Tensor, delta: Tensor, a: Tensor, th: list[Tensor]) -> Tensor:
        return _kinematic(s, delta, a, th)

    def _finish(self, s: Tensor, delta: Tensor, th: list[Tensor]) -> Tensor:
        lf, lr = th[0], th[1]
        v = s[..., 3:4]
        beta = torch.atan(torch.tan(delta) * lr / (lf + lr))
        r = v * torch.cos(beta) * torch.tan(delta) / (lf + lr)
        return torch.cat([s[..., 0:3], v * torch.cos(beta), v * torch.sin(beta), r], -1)


class DynamicSingleTrack(_SingleTrack):
    """CommonRoad's single-track model with linear, load-dependent tyres (see module doc)."""

    def _deriv(self, s: Tensor, delta: Tensor, a: Tensor, th: list[Tensor]) -> Tensor:
        lf, lr, _, mu, csf, csr, i_m, h = th
        wb = lf + lr
        beta, r = s[..., 4:5], s[..., 5:6]
        vs = s[..., 3:4].clamp_min(self.v_switch_mps)
        load_f, load_r = G * lr - a * h, G * lf + a * h
        dr = (
            -mu / (vs * i_m * wb) * (lf**2 * csf * load_f + lr**2 * csr * load_r) * r
            + mu / (i_m * wb) * (lr * csr * load_r - lf * csf * load_f) * beta
            + mu / (i_m * wb) * lf * csf * load_f * delta
        )
        dbeta = (
            (mu / (vs**2 * wb) * (csr * load_r * lr - csf * load_f * lf) - 1) * r
            - mu / (vs * wb) * (csr * load_r + csf * load_f) * beta
            + mu / (vs * wb) * csf * load_f * delta
        )
        return self._blend(s, delta, a, th, dbeta, dr)

    def _blend(self, s: Tensor, delta: Tensor, a: Tensor, th: list[Tensor], dbeta: Tensor,
               dr: Tensor) -> Tensor:  # fmt: skip
        """The full derivative from the slip-angle and yaw-rate ones; below ``v_switch`` the
        slip angle and yaw rate relax to their kinematic values (tau = 0.05 s)."""
        yaw, v, beta, r = s[..., 2:3], s[..., 3:4], s[..., 4:5], s[..., 5:6]
        wb = th[0] + th[1]
        dyn = torch.cat([v * torch.cos(beta + yaw), v * torch.sin(beta + yaw), r, a, dbeta, dr], -1)
        kin = _kinematic(s, delta, a, th)
        beta_k = torch.atan(torch.tan(delta) * th[1] / wb)
        r_k = v * torch.cos(beta_k) * torch.tan(delta) / wb
        kin = torch.cat([kin[..., :4], (beta_k - beta) / 0.05, (r_k - r) / 0.05], -1)
        return torch.where(v < self.v_switch_mps, kin, dyn)

    def rollout(self, x0: Tensor, U: Tensor, theta: Tensor, dt: float) -> Tensor:
        """States after each input, ``(B, H, 6)`` for ``x0`` ``(B, 6)`` and ``U`` ``(B, H, 2)``.

        Coasting (every acceleration 0) above ``v_switch`` the speed is constant and the slip
        angle, yaw rate and heading obey a linear time-invariant system per row, so they are
        propagated exactly (zero-order hold, ``matrix_exp``, at half steps) and the position by
        Simpson's rule over each step: a handful of batched operations per step instead of four
        derivative evaluations, for sampling MPC. Otherwise this is :meth:`step` repeated.
        """
        v0 = torch.hypot(x0[..., 3], x0[..., 4])
        if bool((U[..., 1] != 0).any()) or bool((v0 < self.v_switch_mps).any()):
            return _stepped(self, x0, U, theta, dt)
        if not hasattr(self, "_lti_cache"):
            self._lti_cache: dict[str, Any] = {}
        return _coast(x0, U[..., 0], theta.to(torch.float64), dt, self._lti_cache)


class SaturatingSingleTrack(DynamicSingleTrack):
    """The dynamic single-track model with tyres that saturate at the road's grip.

    Each axle's lateral force per unit mass is the linear one, ``f = mu C_S F_z alpha / m``
    (the same cornering stiffness as :class:`DynamicSingleTrack`, slip angles
    ``alpha_f = delta - beta - lf r / v``, ``alpha_r = -beta + lr r / v``), passed through
    ``f_max tanh(f / f_max)`` with ``f_max = road_friction F_z / m``: equal to the linear model
    for small slip, never above the road's friction circle (Pacejka's peak, without the drop
    beyond it). ``road_friction`` (dimensionless) is the road's, not a tyre parameter: estimate it
    from the logs (e.g. the peak lateral acceleration over g), not from the tyre's ``mu``.
    """

    def __init__(self, params: dict[str, float] | None = None, substep_s: float = 0.01,
                 v_switch_mps: float = 1.0, road_friction: float = 1.0) -> None:  # fmt: skip
        super().__init__(params, substep_s, v_switch_mps)
        self.road_friction = float(road_friction)

    def config(self) -> dict[str, Any]:
        return {**super().config(), "road_friction": self.road_friction}

    def _deriv(self, s: Tensor, delta: Tensor, a: Tensor, th: list[Tensor]) -> Tensor:
        lf, lr, _, mu, csf, csr, i_m, h = th
        wb = lf + lr
        beta, r = s[..., 4:5], s[..., 5:6]
        vs = s[..., 3:4].clamp_min(self.v_switch_mps)
        load_f, load_r = (G * lr - a * h) / wb, (G * lf + a * h) / wb  # F_z / m per axle
        f_max_f, f_max_r = self.road_friction * load_f, self.road_friction * load_r
        fyf = f_max_f * torch.tanh(mu * csf * load_f * (delta - beta - lf * r / vs) / f_max_f)
        fyr = f_max_r * torch.tanh(mu * csr * load_r * (lr * r / vs - beta) / f_max_r)
        return self._blend(s, delta, a, th, (fyf + fyr) / vs - r, (lf * fyf - lr * fyr) / i_m)

    def rollout(self, x0: Tensor, U: Tensor, theta: Tensor, dt: float) -> Tensor:
        """States after each input, ``(B, H, 6)``: :meth:`step` repeated (no linear shortcut)."""
        return _stepped(self, x0, U, theta, dt)


def _stepped(model: _SingleTrack, x0: Tensor, U: Tensor, theta: Tensor, dt: float) -> Tensor:
    """``model.step`` after each input of ``U`` ``(B, H, 2)`` from ``x0``: ``(B, H, 6)``."""
    xs, out = x0, []
    for k in range(U.shape[-2]):
        xs = model.step(xs, U[..., k, :], theta, dt)
        out.append(xs)
    return torch.stack(out, -2)


def _lateral_transitions(key: Tensor, dt: float) -> Tensor:
    """Zero-order-hold transitions of ``(beta, r, yaw)`` with the road-wheel angle held, over
    ``dt`` and ``dt / 2``: ``(2, N, 4, 4)`` (``[..., :3, :3]`` the state map, ``[..., :3, 3]``
    the input's) for rows ``key`` ``(N, 1 + n_theta)`` = (speed, parameters), float64."""
    v = key[:, :1]
    lf, lr, _ratio, mu, csf, csr, i_m, _h = _split(key[:, 1:])
    wb = lf + lr
    kf, kr = mu * csf * G * lr, mu * csr * G * lf  # axle cornering stiffness per unit mass
    z, one = torch.zeros_like(v), torch.ones_like(v)
    entries = [  # d/dt (beta, r, yaw, delta)
        -(kr + kf) / (v * wb), (kr * lr - kf * lf) / (v**2 * wb) - 1, z, kf / (v * wb),
        (lr * kr - lf * kf) / (i_m * wb), -(lf**2 * kf + lr**2 * kr) / (v * i_m * wb), z,
        lf * kf / (i_m * wb), z, one, z, z, z, z, z, z,
    ]  # fmt: skip
    m = torch.cat(entries, -1).reshape(-1, 4, 4)
    return torch.linalg.matrix_exp(torch.stack([m * dt, m * (0.5 * dt)]))


def _coast(x0: Tensor, steer: Tensor, theta: Tensor, dt: float, cache: dict[str, Any]) -> Tensor:
    """:meth:`DynamicSingleTrack.rollout`'s exact coasting rollout (``x0`` ``(B, 6)``,
    ``steer`` the steering-wheel angles ``(B, H)``, ``theta`` float64). Rows that share speed
    and parameters (an MPC's samples of one vehicle) share one transition matrix, so each step
    is one batched matrix product per distinct row; ``cache`` keeps the last rows' matrices
    (an MPC evaluates several sample batches from one state per step)."""
    b, dtype = x0.shape[0], x0.dtype
    px, py, yaw, v, beta, r = _to_internal(x0.to(torch.float64))
    key = torch.cat([v, torch.broadcast_to(theta, (b, theta.shape[-1]))], -1)
    if bool((key == key[:1]).all()):  # one vehicle's samples: skip the sort
        uniq, inv = key[:1], torch.zeros(b, dtype=torch.long, device=key.device)
    else:
        uniq, inv = torch.unique(key, dim=0, return_inverse=True)
    n_u = uniq.shape[0]
    if n_u > 1 and bool((torch.bincount(inv, minlength=n_u) != b // n_u).any()):
        uniq, inv, n_u = key, torch.arange(b), b  # unequal groups: one matrix per row
    order = torch.argsort(inv, stable=True)
    back = torch.argsort(order)
    hit = cache.get("key")
    if (
        hit is None
        or hit.shape != uniq.shape
        or cache.get("dt") != dt
        or not torch.equal(hit, uniq)
    ):
        cache.update(key=uniq, dt=dt, e=_lateral_transitions(uniq, dt))  # same rows: reused
    e = cache["e"].to(dtype)
    ad, bd, ad_half, bd_half = e[0, :, :3, :3], e[0, :, :3, 3:], e[1, :, :3, :3], e[1, :, :3, 3:]
    ratio = key[:, 3:4].to(dtype)
    delta = (steer.to(dtype) / ratio)[order].reshape(n_u, 1, -1, steer.shape[-1])  # (U, 1, G, H)
    drive = bd[..., None] * delta  # (U, 3, G, H)
    w = torch.cat([beta, r, yaw], -1).to(dtype)[order].reshape(n_u, -1, 3).transpose(1, 2)
    ws = [w]
    for k in range(steer.shape[-1]):  # the only sequential part: one small bmm per step
        w = torch.baddbmm(drive[..., k], ad, w)
        ws.append(w)
    full = torch.stack(ws, -1)  # (U, 3, G, H + 1) at every step
    mid = torch.einsum("uij,ujgh->uigh", ad_half, full[..., :-1]) + bd_half[..., None] * delta
    halves = torch.stack([full[..., :-1], mid], -1).flatten(-2)
    big_w = torch.cat([halves, full[..., -1:]], -1)  # (U, 3, G, 2H + 1) at half steps
    big_w = big_w.permute(0, 2, 1, 3).reshape(b, 3, -1)[back]
    ang = big_w[:, 0] + big_w[:, 2]
    vv, h = v.to(dtype), dt / 6.0
    c, s = torch.cos(ang), torch.sin(ang)
    xs = px.to(dtype) + torch.cumsum(vv * h * (c[:, :-1:2] + 4 * c[:, 1::2] + c[:, 2::2]), -1)
    ys = py.to(dtype) + torch.cumsum(vv * h * (s[:, :-1:2] + 4 * s[:, 1::2] + s[:, 2::2]), -1)
    b_, r_, yaw_ = big_w[:, 0, 2::2], big_w[:, 1, 2::2], big_w[:, 2, 2::2]
    return torch.stack([xs, ys, yaw_, vv * torch.cos(b_), vv * torch.sin(b_), r_], -1)
