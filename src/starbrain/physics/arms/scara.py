"""Torch rigid-body prior of the two-link SCARA arm (``starbrain.sources.robots.arm``), batched and
differentiable in its parameters.

State ``x = (q1, q2, qd1, qd2)`` (rad, rad/s), input ``u = (tau1, tau2)`` commanded torque (N m),
``theta = (payload_kg, damping_1, damping_2, friction_1, friction_2, gain_1, gain_2)`` in kg,
N m s/rad, N m and 1. The step integrates ``M(q) qdd + c(q, qd) = gain*u - D qd - F sign(qd)``
with MuJoCo's semi-implicit Euler (damping implicit: ``(M + h D) qdd = f``), ``n_substeps``
steps of ``timestep_s`` per control period, so with zero friction it reproduces MuJoCo's own
``Euler`` integration of the same arm to round-off; dry friction is smoothed as
``F tanh(qd / friction_vel)`` (MuJoCo treats it as a constraint), the one modelled difference.
Shapes: ``x (..., 4)``, ``u (..., 2)``, ``theta (7,)`` or ``(..., 7)``.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from starbrain.sources.robots.arm import NOMINAL_ARM, ArmParams

__all__ = ["THETA_NAMES", "ScaraPrior", "ee_position", "inverse_kinematics"]

THETA_NAMES = (
    "payload_kg",
    "damping_1_nms",
    "damping_2_nms",
    "friction_1_nm",
    "friction_2_nm",
    "gain_1",
    "gain_2",
)


class ScaraPrior:
    """The datasheet arm as a :class:`~starbrain.models.dynamics.PhysicsPrior`.

    ``params``: the nominal arm (geometry, link inertias, and the default ``theta``);
    ``n_substeps``/``timestep_s`` default to the arm's; ``friction_vel``: the rate (rad/s) over
    which dry friction is smoothed.
    """

    state_dim = 4
    input_dim = 2
    theta_names = THETA_NAMES

    def __init__(
        self,
        params: dict[str, Any] | ArmParams | None = None,
        n_substeps: int | None = None,
        friction_vel: float = 0.02,
    ) -> None:
        p = ArmParams.from_dict(params) if isinstance(params, dict) else (params or NOMINAL_ARM)
        self.params = p
        self.n_substeps = int(n_substeps or p.n_substeps)
        self.h = p.dt / self.n_substeps
        self.friction_vel = float(friction_vel)

    def theta_default(self) -> Tensor:
        p = self.params
        return torch.tensor(
            [p.payload_kg, *p.damping_nms, *p.friction_nm, *p.gain], dtype=torch.float64
        )

    def config(self) -> dict[str, Any]:
        return {"params": self.params.to_dict(), "n_substeps": self.n_substeps,
                "friction_vel": self.friction_vel}  # fmt: skip

    def _link2(self, payload: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Link 2 and the payload (a solid sphere at the flange) as one rigid body: the constant
        parts of the mass matrix, ``k = m2' l1 c2'`` (its ``cos q2`` factor), ``m22`` without
        armature and ``m11``'s constant part (armature included), all ``(...)``."""
        p = self.params
        l1, l2 = p.link_m
        m1, m2 = p.mass_kg
        c1, c2 = p.com_m
        i1, i2 = p.inertia_kgm2
        m2e = m2 + payload
        c2e = (m2 * c2 + payload * l2) / m2e
        i2e = (i2 + m2 * (c2 - c2e) ** 2 + 0.4 * payload * p.payload_radius_m**2
               + payload * (l2 - c2e) ** 2)  # fmt: skip
        m22 = i2e + m2e * c2e**2
        return m2e * l1 * c2e, m22, i1 + m1 * c1**2 + m22 + m2e * l1**2 + p.armature_kgm2[0]

    def mass_matrix(self, q2: Tensor, payload: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """``M11, M12, M22`` and the Coriolis factor ``h = m2' l1 c2' sin q2`` (all ``(...)``)."""
        k, m22, m11c = self._link2(payload)
        cos = torch.cos(q2)
        return (
            m11c + 2 * k * cos,
            m22 + k * cos,
            m22 + self.params.armature_kgm2[1],
            k * torch.sin(q2),
        )

    def step(self, x: Tensor, u: Tensor, theta: Tensor, dt: float) -> Tensor:
        """One control period. The payload's terms of the mass matrix and the implicit damping
        are computed once per call, not once per substep (only ``cos q2``/``sin q2`` change)."""
        if abs(dt - self.params.dt) > 1e-12:
            raise ValueError(f"this prior steps {self.params.dt} s, not {dt} s")
        th = theta.to(x.dtype)
        mp, d1, d2, f1, f2, g1, g2 = th.unbind(-1)
        lim = torch.as_tensor(self.params.torque_limit_nm, dtype=x.dtype, device=x.device)
        uc = torch.maximum(torch.minimum(u, lim), -lim)
        t1, t2 = g1 * uc[..., 0], g2 * uc[..., 1]
        q1, q2, w1, w2 = x.unbind(-1)
        h, inv_v = self.h, 1.0 / self.friction_vel
        k, m22, m11c = self._link2(mp)
        a11c = m11c + h * d1  # (M + h D)11 without its cos q2 term
        a22 = m22 + self.params.armature_kgm2[1] + h * d2
        for _ in range(self.n_substeps):
            kc, ks = k * torch.cos(q2), k * torch.sin(q2)
            m12 = m22 + kc
            a11 = a11c + 2 * kc
            # forces without damping's implicit part: tau - c(q, qd) - D qd - friction
            r1 = t1 + ks * (2 * w1 + w2) * w2 - d1 * w1 - f1 * torch.tanh(w1 * inv_v)
            r2 = t2 - ks * w1 * w1 - d2 * w2 - f2 * torch.tanh(w2 * inv_v)
            inv_det = 1.0 / (a11 * a22 - m12 * m12)
            w1 = w1 + h * (a22 * r1 - m12 * r2) * inv_det
            w2 = w2 + h * (a11 * r2 - m12 * r1) * inv_det
            q1, q2 = q1 + h * w1, q2 + h * w2
        return torch.stack([q1, q2, w1, w2], dim=-1)


def ee_position(q: Tensor, params: ArmParams = NOMINAL_ARM) -> Tensor:
    """Tool-flange position ``(..., 2)`` (m, world frame) of joint angles ``q`` ``(..., 2)``."""
    l1, l2 = params.link_m
    q1, q12 = q[..., 0], q[..., 0] + q[..., 1]
    return torch.stack(
        [l1 * torch.cos(q1) + l2 * torch.cos(q12), l1 * torch.sin(q1) + l2 * torch.sin(q12)], -1
    )


def inverse_kinematics(
    xy: tuple[float, float], params: ArmParams = NOMINAL_ARM, elbow_up: bool = True
) -> tuple[float, float]:
    """Joint angles (rad) that put the flange at ``xy`` (m); raises ValueError out of reach."""
    l1, l2 = params.link_m
    x, y = xy
    c2 = (x * x + y * y - l1 * l1 - l2 * l2) / (2 * l1 * l2)
    if not -1.0 <= c2 <= 1.0:
        raise ValueError(f"({x}, {y}) m is out of the arm's reach")
    q2 = math.acos(c2) * (1 if elbow_up else -1)
    q1 = math.atan2(y, x) - math.atan2(l2 * math.sin(q2), l1 + l2 * math.cos(q2))
    return q1, q2
