"""The "real" factory arm: a two-link SCARA-type arm (two vertical revolute joints, links moving in
a horizontal plane) simulated by MuJoCo (``mujoco`` from PyPI, Apache-2.0).

The arm is written here as MJCF (no shipped model fits: gymnasium's Reacher is a 2-link arm with
capsule-derived inertias and no damping or payload to wear, and pulling gymnasium in for one XML
file would add a dependency). Every inertial property is stated explicitly in the XML
(``inertiafromgeom="false"``), so a rigid-body prior written from the same :class:`ArmParams`
(``starbrain.physics.arms``) matches MuJoCo to round-off when friction is zero.

Frames and units: world frame x/y horizontal, z up, origin at the base joint; joint angles in rad
(q1 from +x, q2 relative to link 1, both counter-clockwise about +z), rates in rad/s, torques in
N m, masses in kg, lengths in m. MuJoCo integrates with its semi-implicit ``Euler`` integrator
(joint damping implicit) at ``timestep_s``; the controller holds each command for ``n_substeps``
MuJoCo steps (``dt = n_substeps * timestep_s``, 0.02 s by default).

"Worn" means: joint damping and dry friction off by tens of percent, an unmodelled payload at
the tool flange (a solid sphere of ``payload_radius_m``) and actuator gain drift (the torque
delivered is ``gain * commanded``).

The push task adds a :class:`Puck` on the table (``MujocoArm(params, puck=Puck())``): a cylinder
that slides in the arm's plane on two slide joints (``px``, ``py``; table friction as their
``frictionloss = mu m g``) and that only the pusher (a sphere of ``pusher_radius_m`` at the
flange) touches. Without a puck the model is the arm alone, byte for byte.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np
import numpy.typing as npt

from starbrain.core.errors import StarbrainError

__all__ = ["NOMINAL_ARM", "WORN_ARM", "ArmParams", "MujocoArm", "Puck", "arm_mjcf"]


@dataclass(frozen=True)
class ArmParams:
    """Physical parameters of the two-link arm (SI units; per joint as ``(joint 1, joint 2)``).

    ``com_m``: distance of each link's centre of mass from its joint along the link;
    ``inertia_kgm2``: each link's moment of inertia about the vertical axis through its centre of
    mass; ``armature_kgm2``: reflected rotor inertia; ``damping_nms``: viscous joint damping
    (N m s/rad); ``friction_nm``: dry (Coulomb) joint friction, MuJoCo ``frictionloss``;
    ``gain``: delivered torque per commanded torque; ``torque_limit_nm``: command range.
    """

    link_m: tuple[float, float] = (0.40, 0.30)
    mass_kg: tuple[float, float] = (2.0, 1.2)
    com_m: tuple[float, float] = (0.20, 0.15)
    inertia_kgm2: tuple[float, float] = (0.030, 0.010)
    armature_kgm2: tuple[float, float] = (0.010, 0.005)
    damping_nms: tuple[float, float] = (0.50, 0.30)
    friction_nm: tuple[float, float] = (0.10, 0.05)
    gain: tuple[float, float] = (1.0, 1.0)
    torque_limit_nm: tuple[float, float] = (8.0, 4.0)
    payload_kg: float = 0.0
    payload_radius_m: float = 0.03
    timestep_s: float = 0.002
    n_substeps: int = 10

    def __post_init__(self) -> None:
        for name in ("link_m", "mass_kg", "inertia_kgm2", "torque_limit_nm"):
            if any(not (v > 0 and math.isfinite(v)) for v in getattr(self, name)):
                raise StarbrainError(
                    f"arm parameter {name} must be positive, got {getattr(self, name)}"
                )
        for name in ("armature_kgm2", "damping_nms", "friction_nm", "gain"):
            if any(not (v >= 0 and math.isfinite(v)) for v in getattr(self, name)):
                raise StarbrainError(
                    f"arm parameter {name} must be non-negative, got {getattr(self, name)}"
                )
        if not (self.payload_kg >= 0 and math.isfinite(self.payload_kg)):
            raise StarbrainError(f"payload_kg must be >= 0, got {self.payload_kg}")
        if self.timestep_s <= 0 or self.n_substeps < 1:
            raise StarbrainError("timestep_s must be > 0 and n_substeps >= 1")

    @property
    def dt(self) -> float:
        """Control period in seconds (one command held for ``n_substeps`` MuJoCo steps)."""
        return self.timestep_s * self.n_substeps

    @property
    def reach_m(self) -> float:
        return self.link_m[0] + self.link_m[1]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ArmParams:
        known = {f for f in cls.__dataclass_fields__}
        unknown = sorted(set(d) - known)
        if unknown:
            raise StarbrainError(f"unknown arm parameters {unknown}; known: {sorted(known)}")
        kw: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in d.items()}
        return cls(**kw)

    def with_payload(self, payload_kg: float) -> ArmParams:
        return replace(self, payload_kg=float(payload_kg))


NOMINAL_ARM = ArmParams()
"""The datasheet arm: the physics prior's parameters (no payload, gain 1)."""

WORN_ARM = replace(
    NOMINAL_ARM,
    damping_nms=(0.70, 0.39),  # +40 %, +30 %
    friction_nm=(0.13, 0.07),  # +30 %, +40 %
    gain=(0.85, 0.90),  # actuator gain drift
    payload_kg=0.5,
)
"""The "real" arm on the factory floor: worn joints, weaker actuators and a 0.5 kg payload."""


@dataclass(frozen=True)
class Puck:
    """A puck on the table for the push task: ``radius_m``, ``mass_kg``, table friction
    coefficient ``table_mu`` (sliding resistance ``mu m g`` N per axis), ``pusher_radius_m`` of
    the sphere at the flange that pushes it, and its start ``xy_m`` (base frame)."""

    radius_m: float = 0.03
    mass_kg: float = 0.2
    table_mu: float = 0.3
    pusher_radius_m: float = 0.02
    xy_m: tuple[float, float] = (0.45, 0.0)

    def __post_init__(self) -> None:
        for name in ("radius_m", "mass_kg", "pusher_radius_m"):
            v = getattr(self, name)
            if not (v > 0 and math.isfinite(v)):
                raise StarbrainError(f"puck parameter {name} must be positive, got {v}")
        if not (self.table_mu >= 0 and math.isfinite(self.table_mu)):
            raise StarbrainError(f"puck table_mu must be >= 0, got {self.table_mu}")

    @property
    def contact_m(self) -> float:
        """Centre distance at contact between the pusher and the puck (m)."""
        return self.radius_m + self.pusher_radius_m

    def mjcf(self, flange_x_m: float) -> tuple[str, str]:
        """The pusher geom (inside ``link2``, at ``flange_x_m``) and the puck body (in the world
        body), each on a new line."""
        fl = self.table_mu * self.mass_kg * 9.81
        i = 0.5 * self.mass_kg * self.radius_m**2
        pusher = (f'\n        <geom name="pusher" type="sphere" pos="{flange_x_m} 0 0" '
                  f'size="{self.pusher_radius_m}" contype="1" conaffinity="1" condim="3" '
                  'friction="0.1 0.005 0.0001"/>')  # fmt: skip
        body = f"""
    <body name="puck" pos="0 0 0">
      <joint name="px" type="slide" axis="1 0 0" frictionloss="{fl}" damping="0.05"/>
      <joint name="py" type="slide" axis="0 1 0" frictionloss="{fl}" damping="0.05"/>
      <inertial pos="0 0 0" mass="{self.mass_kg}" diaginertia="{i} {i} {i}"/>
      <geom name="puck" type="cylinder" size="{self.radius_m} 0.02" contype="1"
            conaffinity="1" condim="3" friction="0.1 0.005 0.0001" rgba="0.2 0.4 0.9 1"/>
    </body>"""
        return pusher, body


def arm_mjcf(p: ArmParams, puck: Puck | None = None) -> str:
    """The MJCF XML of arm ``p`` (bodies ``link1``, ``link2``, ``payload``; joints ``j1``, ``j2``;
    motors ``m1``, ``m2`` with ``gear = gain``; site ``ee`` at the tool flange), plus the pusher
    geom and the ``puck`` body (slide joints ``px``, ``py``) when ``puck`` is given."""
    l1, l2 = p.link_m
    pusher, puck_body = puck.mjcf(l2) if puck is not None else ("", "")
    ip = 0.4 * p.payload_kg * p.payload_radius_m**2
    payload = (
        f'<body name="payload" pos="{l2} 0 0"><inertial pos="0 0 0" mass="{p.payload_kg}" '
        f'diaginertia="{ip} {ip} {ip}"/><geom type="sphere" size="{p.payload_radius_m}" '
        'contype="0" conaffinity="0" rgba="0.9 0.5 0.1 1"/></body>'
        if p.payload_kg > 0
        else ""
    )

    def joint(i: int) -> str:
        return (
            f'<joint name="j{i + 1}" type="hinge" axis="0 0 1" damping="{p.damping_nms[i]}" '
            f'frictionloss="{p.friction_nm[i]}" armature="{p.armature_kgm2[i]}"/>'
        )

    def inertial(i: int) -> str:
        # a link's inertia about x and y does not matter for rotations about z; keep it valid
        izz = p.inertia_kgm2[i]
        return (
            f'<inertial pos="{p.com_m[i]} 0 0" mass="{p.mass_kg[i]}" '
            f'diaginertia="{izz / 10} {izz} {izz}"/>'
        )

    lim = p.torque_limit_nm

    def motor(i: int) -> str:
        return (
            f'<motor name="m{i + 1}" joint="j{i + 1}" gear="{p.gain[i]}" ctrllimited="true" '
            f'ctrlrange="{-lim[i]} {lim[i]}"/>'
        )

    return f"""<mujoco model="starbrain-scara">
  <compiler angle="radian" inertiafromgeom="false"/>
  <option timestep="{p.timestep_s}" integrator="Euler" gravity="0 0 -9.81"/>
  <worldbody>
    <body name="link1" pos="0 0 0">
      {joint(0)}
      {inertial(0)}
      <geom type="capsule" fromto="0 0 0 {l1} 0 0" size="0.025" contype="0" conaffinity="0"/>
      <body name="link2" pos="{l1} 0 0">
        {joint(1)}
        {inertial(1)}
        <geom type="capsule" fromto="0 0 0 {l2} 0 0" size="0.02" contype="0" conaffinity="0"/>
        <site name="ee" pos="{l2} 0 0" size="0.01"/>
        {payload}{pusher}
      </body>
    </body>{puck_body}
  </worldbody>
  <actuator>
    {motor(0)}
    {motor(1)}
  </actuator>
</mujoco>
"""


def _mujoco() -> Any:
    try:
        import mujoco
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise StarbrainError(
            "the robot-arm simulator needs MuJoCo: pip install 'starbrain[robots]' (mujoco)"
        ) from exc
    return mujoco


class MujocoArm:
    """One simulated arm. ``state`` is ``(q1, q2, qd1, qd2)`` (rad, rad/s); :meth:`step` applies a
    commanded torque ``(2,)`` N m (clipped to the limits) for one control period ``dt``. With a
    ``puck``, :meth:`puck_xy` is its position (m, base frame) and :meth:`reset` puts it at
    ``puck_xy`` (default ``puck.xy_m``) at rest."""

    def __init__(self, params: ArmParams = WORN_ARM, puck: Puck | None = None) -> None:
        mj = _mujoco()
        self.params, self.puck = params, puck
        self.model = mj.MjModel.from_xml_string(arm_mjcf(params, puck))
        self.data = mj.MjData(self.model)
        self._mj = mj
        self._site = self.model.site("ee").id

    @property
    def dt(self) -> float:
        return self.params.dt

    def reset(
        self, state: npt.ArrayLike | None = None, puck_xy: npt.ArrayLike | None = None
    ) -> np.ndarray:
        """Set ``(q1, q2, qd1, qd2)`` (default all zero) and the puck at ``puck_xy`` m (default
        its ``xy_m``), at rest; returns the arm state."""
        self._mj.mj_resetData(self.model, self.data)
        if state is not None:
            s = np.asarray(state, np.float64).reshape(4)
            self.data.qpos[:2] = s[:2]
            self.data.qvel[:2] = s[2:]
        if self.puck is not None:
            self.data.qpos[2:4] = np.asarray(
                self.puck.xy_m if puck_xy is None else puck_xy, np.float64
            ).reshape(2)
        elif puck_xy is not None:
            raise StarbrainError("this arm has no puck: build it with MujocoArm(params, Puck())")
        self._mj.mj_forward(self.model, self.data)
        return self.state

    @property
    def state(self) -> np.ndarray:
        """The arm's joint state ``(q1, q2, qd1, qd2)``."""
        return np.concatenate([self.data.qpos[:2], self.data.qvel[:2]]).astype(np.float64)

    def puck_xy(self) -> np.ndarray:
        """The puck's centre ``(x_m, y_m)`` in the base frame."""
        if self.puck is None:
            raise StarbrainError("this arm has no puck: build it with MujocoArm(params, Puck())")
        return self.data.qpos[2:4].astype(np.float64).copy()

    def ee_pose(self) -> np.ndarray:
        """Tool-flange pose ``(x_m, y_m, yaw_rad)`` in the world frame (yaw = q1 + q2)."""
        xy = self.data.site_xpos[self._site][:2]
        return np.array([xy[0], xy[1], float(self.data.qpos[:2].sum())])

    def step(self, torque_cmd_nm: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
        """Apply ``torque_cmd_nm`` for ``dt`` seconds; returns ``(state, measured_torque_nm)``
        where the measured torque is what the actuators delivered (``gain * clipped command``)."""
        lim = np.asarray(self.params.torque_limit_nm)
        u = np.clip(np.asarray(torque_cmd_nm, np.float64).reshape(2), -lim, lim)
        self.data.ctrl[:] = u
        self._mj.mj_step(self.model, self.data, nstep=self.params.n_substeps)
        return self.state, self.data.qfrc_actuator[:2].copy()  # joint torque: gear * force

    def set_payload(self, payload_kg: float) -> None:
        """Change the payload mid-run (keeps the joint state): the plant is rebuilt around it."""
        s = self.state
        xy = None if self.puck is None else self.puck_xy()
        self.__init__(self.params.with_payload(payload_kg), self.puck)  # type: ignore[misc]
        self.reset(s, xy)
