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

__all__ = ["THETA_NAMES", "DynamicSingleTrack", "KinematicSingleTrack", "VehicleParams"]

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
        yaw, v, beta, r = s[..., 2:3], s[..., 3:4], s[..., 4:5], s[..., 5:6]
        vs = v.clamp_min(self.v_switch_mps)
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
        dyn = torch.cat([v * torch.cos(beta + yaw), v * torch.sin(beta + yaw), r, a, dbeta, dr], -1)
        # below v_switch: relax slip angle and yaw rate to their kinematic values (tau = 0.05 s)
        kin = _kinematic(s, delta, a, th)
        beta_k = torch.atan(torch.tan(delta) * lr / wb)
        r_k = v * torch.cos(beta_k) * torch.tan(delta) / wb
        kin = torch.cat([kin[..., :4], (beta_k - beta) / 0.05, (r_k - r) / 0.05], -1)
        return torch.where(v < self.v_switch_mps, kin, dyn)
