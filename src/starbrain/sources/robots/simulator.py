"""Arm telemetry from the MuJoCo arm: episodes under a policy, written in the ``arm`` stream's
schema.

A policy is ``policy(k, state) -> torque_cmd_nm (2,)``; :class:`Excitation` is the data-collection
policy (a joint-space PD pull toward random targets plus band-limited noise, which keeps the rates
within a few rad/s while exciting inertia, damping and friction). Sensors: joint state is MuJoCo's
(plus optional encoder noise), the measured torque is the delivered torque plus Gaussian noise.

Faults (``faults=``; labels from :func:`simulate_faulty_arm` in ``sources.faults.FAULT_SCHEMA``):
``payload_change`` (``magnitude`` kg added at the tool flange while active: a part picked up or
a tool swapped) and ``joint_fault`` (joint ``channel`` ``"j1"`` or ``"j2"``: its viscous damping
and dry friction multiplied by ``magnitude`` while active, a failing bearing or gearbox). The
policy and the noise draw the same numbers with or without faults; without faults the episode
is bit-identical.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from starbrain.core.errors import StarbrainError
from starbrain.core.schemas.arm import ARM_SCHEMA
from starbrain.sources.faults import Fault, fault_rows, fault_table
from starbrain.sources.robots.arm import WORN_ARM, ArmParams, MujocoArm

__all__ = ["FAULT_KINDS", "Excitation", "Policy", "simulate_arm", "simulate_episode",
           "simulate_faulty_arm"]  # fmt: skip

Policy = Callable[[int, np.ndarray], npt.ArrayLike]
EPOCH = np.datetime64("2026-01-01T00:00:00", "ns")
FAULT_KINDS = ("payload_change", "joint_fault")


@dataclass
class Excitation:
    """PD toward a new random joint target every ``hold_steps`` steps (angles uniform within
    ``q_range_rad``), plus first-order filtered noise of ``noise_frac`` of the torque limit."""

    params: ArmParams
    rng: np.random.Generator
    hold_steps: int = 25
    q_range_rad: float = 2.0
    kp: tuple[float, float] = (12.0, 5.0)  # N m / rad
    kd: tuple[float, float] = (1.5, 0.5)  # N m s / rad
    noise_frac: float = 0.4

    def __post_init__(self) -> None:
        self._target = np.zeros(2)
        self._noise = np.zeros(2)

    def __call__(self, k: int, state: np.ndarray) -> np.ndarray:
        lim = np.asarray(self.params.torque_limit_nm)
        if k % self.hold_steps == 0:
            self._target = self.rng.uniform(-self.q_range_rad, self.q_range_rad, 2)
        self._noise = 0.8 * self._noise + 0.6 * self.rng.normal(0, self.noise_frac, 2) * lim
        u = np.asarray(self.kp) * (self._target - state[:2]) - np.asarray(self.kd) * state[2:]
        return np.clip(u + self._noise, -lim, lim)


def simulate_episode(
    arm: MujocoArm,
    policy: Policy,
    n_steps: int,
    x0: npt.ArrayLike | None = None,
    rng: np.random.Generator | None = None,
    torque_noise_nm: float = 0.01,
    q_noise_rad: float = 0.0,
    faults: Sequence[Fault] = (),
) -> dict[str, np.ndarray]:
    """Run ``n_steps`` control periods from ``x0`` (default rest at zero). Returns arrays:
    ``x`` ``(n_steps + 1, 4)``, ``u`` ``(n_steps, 2)`` commanded, ``tau`` ``(n_steps, 2)``
    measured, ``ee`` ``(n_steps + 1, 3)`` and ``payload_kg`` ``(n_steps + 1,)`` (changes when
    the policy calls ``arm.set_payload`` or a ``payload_change`` fault is active)."""
    rng = rng or np.random.default_rng(0)
    unknown = {f.kind for f in faults} - set(FAULT_KINDS)
    if unknown:
        raise StarbrainError(f"unknown arm fault kinds {sorted(unknown)}: use {FAULT_KINDS}")
    base = arm.params
    arm.reset(x0)
    xs, ee, pay = [arm.state], [arm.ee_pose()], [arm.params.payload_kg]
    us, taus = [], []
    for k in range(n_steps):
        if faults:
            _apply_faults(arm, base, faults, k * arm.params.dt)
        u = np.asarray(policy(k, xs[-1]), np.float64).reshape(2)
        if not np.isfinite(u).all():
            raise StarbrainError(f"the policy returned a non-finite torque {u} at step {k}")
        s, tau = arm.step(u)
        if q_noise_rad:
            s = s + np.concatenate([rng.normal(0, q_noise_rad, 2), np.zeros(2)])
        us.append(np.clip(u, -np.asarray(arm.params.torque_limit_nm), arm.params.torque_limit_nm))
        taus.append(tau + rng.normal(0, torque_noise_nm, 2))
        xs.append(s)
        ee.append(arm.ee_pose())
        pay.append(arm.params.payload_kg)
    return {"x": np.array(xs), "u": np.array(us), "tau": np.array(taus), "ee": np.array(ee),
            "payload_kg": np.array(pay)}  # fmt: skip


def _apply_faults(arm: MujocoArm, base: ArmParams, faults: Sequence[Fault], t_s: float) -> None:
    """Set the arm's payload, damping and friction to ``base`` changed by the faults active at
    ``t_s`` (s from the episode's start)."""
    on = [f for f in faults if bool(f.active(t_s))]
    payload = base.payload_kg + sum(f.magnitude for f in on if f.kind == "payload_change")
    if payload != arm.params.payload_kg:
        arm.set_payload(payload)
    damping, friction = list(base.damping_nms), list(base.friction_nm)
    for f in on:
        if f.kind == "joint_fault":
            if f.channel not in ("j1", "j2"):
                raise StarbrainError(f"joint_fault needs channel 'j1' or 'j2', got {f.channel!r}")
            j = int(f.channel[1]) - 1
            damping[j] *= f.magnitude
            friction[j] *= f.magnitude
    arm.model.dof_damping[:] = damping
    arm.model.dof_frictionloss[:] = friction


def episode_table(
    ep: dict[str, np.ndarray],
    arm_id: str,
    episode: int,
    dt: float,
    start: np.datetime64 = EPOCH,
    task: str = "excitation",
    source: str = "sim:mujoco",
) -> pa.Table:
    """The ``arm`` rows of one episode: one per state; the last state has no command, so its
    command columns repeat zeros (its row closes the episode)."""
    n = ep["x"].shape[0]
    t = start + (np.arange(n) * round(dt * 1e9)).astype("timedelta64[ns]")
    u = np.vstack([ep["u"], np.zeros((1, 2))])
    tau = np.vstack([ep["tau"], np.full((1, 2), np.nan)])
    cols = {
        "arm_id": pa.array([arm_id] * n, pa.string()),
        "episode": pa.array(np.full(n, episode, np.int32)),
        "time": pa.array(t, pa.timestamp("ns", tz="UTC")),
        "q1_rad": ep["x"][:, 0], "q2_rad": ep["x"][:, 1],
        "qd1_radps": ep["x"][:, 2], "qd2_radps": ep["x"][:, 3],
        "tau_cmd_1_nm": u[:, 0], "tau_cmd_2_nm": u[:, 1],
        "tau_meas_1_nm": pa.array(tau[:, 0], from_pandas=True),
        "tau_meas_2_nm": pa.array(tau[:, 1], from_pandas=True),
        "ee_x_m": ep["ee"][:, 0], "ee_y_m": ep["ee"][:, 1], "ee_yaw_rad": ep["ee"][:, 2],
        "payload_kg": ep["payload_kg"],
        "task": pa.array([task] * n, pa.string()),
        "source": pa.array([source] * n, pa.string()),
    }  # fmt: skip
    return pa.Table.from_pydict(cols, schema=ARM_SCHEMA)


def simulate_arm(
    params: ArmParams = WORN_ARM,
    n_episodes: int = 8,
    n_steps: int = 200,
    seed: int = 0,
    arm_id: str = "arm-1",
    start: np.datetime64 = EPOCH,
    first_episode: int = 0,
    faults: Mapping[int, Sequence[Fault]] | None = None,
) -> pa.Table:
    """``n_episodes`` excitation episodes of ``n_steps`` steps (``params.dt`` each) of the arm,
    from random rest poses, as one ``arm`` table (episodes back to back in time). ``faults``:
    episode index (from 0 in this call) -> the faults injected into it."""
    if n_episodes < 1 or n_steps < 1:
        raise StarbrainError("simulate at least one episode of at least one step")
    rng = np.random.default_rng(seed)
    arm = MujocoArm(params)
    tables = []
    for e in range(n_episodes):
        x0 = np.concatenate([rng.uniform(-1.5, 1.5, 2), np.zeros(2)])
        ep_faults = (faults or {}).get(e, ())
        run = MujocoArm(params) if ep_faults else arm  # a fault leaves its own plant changed
        ep = simulate_episode(run, Excitation(params, rng), n_steps, x0, rng, faults=ep_faults)
        t0 = start + np.timedelta64(round(e * (n_steps + 1) * params.dt * 1e9), "ns")
        src = f"sim:mujoco payload={params.payload_kg}kg"
        tables.append(episode_table(ep, arm_id, first_episode + e, params.dt, t0, source=src))
    return pa.concat_tables(tables)


def simulate_faulty_arm(
    faults: Mapping[int, Sequence[Fault]], params: ArmParams = WORN_ARM, **kw: Any
) -> tuple[pa.Table, pa.Table]:
    """:func:`simulate_arm` (``kw``: its other arguments) with ``faults`` (episode index ->
    faults); returns the ``arm`` table and its fault table (``run_id``: the episode number)."""
    table = simulate_arm(params, faults=faults, **kw)
    first = int(kw.get("first_episode", 0))
    ep = table["episode"].to_numpy()
    t = table["time"].cast(pa.int64()).to_numpy()
    arm_id, src = table["arm_id"][0].as_py(), table["source"][0].as_py()
    rows = []
    for e, fs in sorted(faults.items()):
        sel = t[ep == first + e]
        if sel.size:
            rows += fault_rows(fs, stream="arm", object_id=arm_id, run_id=str(first + e),
                               t0_ns=int(sel[0]), last_ns=int(sel[-1]), source=src)  # fmt: skip
    return table, fault_table(rows)
