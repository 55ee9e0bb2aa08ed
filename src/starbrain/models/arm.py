"""World models of a robot arm from its ``arm`` stream: the trajectories, physical-parameter
estimation (actuator gain from the torque sensors, then payload, damping and friction from the
motion) and the three model kinds the benchmark compares.

Kinds: ``nominal`` (the datasheet prior alone), ``pets`` (a pure probabilistic ensemble on an
identity prior: Chua et al. 2018's PETS delta model) and ``residual`` (the prior with estimated
parameters plus a residual ensemble). State ``(q1, q2, qd1, qd2)`` rad, rad/s; input the commanded
torque ``(tau1, tau2)`` N m; one step is the arm's control period (0.02 s by default).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pyarrow as pa
from torch import Tensor

from starbrain.core.errors import StarbrainError
from starbrain.core.schemas.arm import COMMAND_CHANNELS, MEASURED_CHANNELS, STATE_CHANNELS
from starbrain.models.dynamics import (
    FitConfig,
    IdentityPrior,
    Trajectories,
    WorldModel,
    WorldModelConfig,
    estimate_theta,
    fit_world_model,
)
from starbrain.physics.arms.scara import THETA_NAMES, ScaraPrior
from starbrain.sources.robots.arm import NOMINAL_ARM, ArmParams

__all__ = [
    "MODEL_KINDS",
    "ArmEstimate",
    "arm_trajectories",
    "estimate_arm",
    "estimate_gain",
    "fit_arm_model",
]

MODEL_KINDS = ("nominal", "pets", "residual")
# theta indices: payload, damping x2, friction x2, gain x2
_MOTION_FREE = (0, 1, 2, 3, 4)


def _episodes(table: pa.Table) -> list[dict[str, np.ndarray]]:
    missing = [c for c in ("arm_id", "episode", "time", *STATE_CHANNELS, *COMMAND_CHANNELS)
               if c not in table.column_names]  # fmt: skip
    if missing:
        raise StarbrainError(f"the arm table lacks the columns {missing}")
    t = table.sort_by([("arm_id", "ascending"), ("episode", "ascending"), ("time", "ascending")])
    arm = np.asarray(t["arm_id"].to_pylist(), dtype=object)
    ep = t["episode"].to_numpy()
    x = np.stack([t[c].to_numpy(zero_copy_only=False) for c in STATE_CHANNELS], 1)
    u = np.stack([t[c].to_numpy(zero_copy_only=False) for c in COMMAND_CHANNELS], 1)
    meas = (
        np.stack([t[c].to_numpy(zero_copy_only=False) for c in MEASURED_CHANNELS], 1)
        if all(c in t.column_names for c in MEASURED_CHANNELS)
        else np.full_like(u, np.nan)
    )
    out = []
    key = np.array([f"{a}/{e}" for a, e in zip(arm, ep, strict=True)], dtype=object)
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    ends = np.r_[starts[1:], len(key)]
    for s, e in zip(starts, ends, strict=True):
        if e - s >= 2:
            out.append({"key": key[s], "x": x[s:e], "u": u[s : e - 1], "tau": meas[s : e - 1]})
    return out


def arm_trajectories(table: pa.Table, n_steps: int | None = None, dt: float | None = None,
                     stratum: str | None = None) -> Trajectories:  # fmt: skip
    """Cut every episode of an ``arm`` table into consecutive windows of ``n_steps`` transitions
    (default, or when an episode is shorter: the shortest episode's length). ``dt`` defaults
    to the rows' time step; strata are ``stratum`` or ``arm_id/episode``."""
    eps = _episodes(table)
    if not eps:
        raise StarbrainError("the arm table holds no episode with at least one transition")
    shortest = min(len(e["u"]) for e in eps)
    n = min(n_steps, shortest) if n_steps else shortest
    if dt is None:
        tt = table.sort_by([("arm_id", "ascending"), ("episode", "ascending"),
                            ("time", "ascending")])["time"]  # fmt: skip
        d = np.diff(tt.to_numpy().astype("int64")[:2]) / 1e9
        dt = float(d[0])
    xs, us, strata = [], [], []
    for e in eps:
        for s in range(0, len(e["u"]) - n + 1, n):
            xs.append(e["x"][s : s + n + 1])
            us.append(e["u"][s : s + n])
            strata.append(stratum or e["key"])
    if not xs:
        raise StarbrainError(f"no episode is {n} steps long")
    return Trajectories.from_numpy(np.array(xs), np.array(us), dt, strata)


def estimate_gain(table: pa.Table, min_cmd_nm: float = 0.2) -> tuple[float, float]:
    """Actuator gains (delivered / commanded torque) by least squares through the origin, per
    joint, from the torque sensors; rows with ``|command| < min_cmd_nm`` or no measurement are
    skipped. Raises when a joint has no usable row."""
    gains = []
    for cmd_c, meas_c in zip(COMMAND_CHANNELS, MEASURED_CHANNELS, strict=True):
        if meas_c not in table.column_names:
            raise StarbrainError(f"the arm table has no {meas_c} column: gains need torque sensors")
        c = table[cmd_c].to_numpy(zero_copy_only=False).astype(float)
        m = table[meas_c].to_numpy(zero_copy_only=False).astype(float)
        ok = np.isfinite(c) & np.isfinite(m) & (np.abs(c) >= min_cmd_nm)
        if not ok.any():
            raise StarbrainError(f"no row with |{cmd_c}| >= {min_cmd_nm} N m and a measurement")
        gains.append(float(c[ok] @ m[ok] / (c[ok] @ c[ok])))
    return gains[0], gains[1]


@dataclass(frozen=True)
class ArmEstimate:
    """Estimated physical parameters: ``theta`` (``THETA_NAMES`` order), 1-sigma ``std`` where
    known, and the scaled one-step RMS before and after."""

    theta: Tensor
    std: Tensor | None
    rms_before: float
    rms_after: float

    def as_dict(self) -> dict[str, float]:
        return {n: float(v) for n, v in zip(THETA_NAMES, self.theta, strict=True)}

    @property
    def payload_kg(self) -> float:
        return float(self.theta[0])


def estimate_arm(
    table: pa.Table, params: ArmParams = NOMINAL_ARM, n_steps: int | None = None
) -> ArmEstimate:
    """Gains from the torque sensors, then payload, damping and friction by least squares on the
    rate states' one-step errors of the prior (``estimate_theta``), the gains held."""
    prior = ScaraPrior(params)
    g1, g2 = estimate_gain(table)
    th0 = prior.theta_default()
    th0[5], th0[6] = g1, g2
    th0[0] = max(float(th0[0]), 0.1)  # a zero payload gives the scaled step no typical size
    data = arm_trajectories(table, n_steps, params.dt)
    est = estimate_theta(prior, data, th0, free=_MOTION_FREE, dims=(2, 3))
    return ArmEstimate(est.theta, est.std, est.rms_before, est.rms_after)


def _prior_with(theta: Tensor, params: ArmParams, n_substeps: int | None = None) -> ScaraPrior:
    """A prior whose default parameters are ``theta`` (so the registry rebuilds it exactly)."""
    t = [float(v) for v in theta]
    p = replace(params, payload_kg=max(t[0], 0.0), damping_nms=(max(t[1], 0.0), max(t[2], 0.0)),
                friction_nm=(max(t[3], 0.0), max(t[4], 0.0)), gain=(t[5], t[6]))  # fmt: skip
    return ScaraPrior(p, n_substeps)


def fit_arm_model(
    kind: str,
    table: pa.Table,
    params: ArmParams = NOMINAL_ARM,
    config: FitConfig | None = None,
    estimate: ArmEstimate | None = None,
    n_substeps: int | None = None,
    window_steps: int = 50,
) -> tuple[WorldModel, dict[str, Any]]:
    """A world model of kind ``nominal``, ``pets`` or ``residual`` from an ``arm`` table; returns
    the model and a summary (the fit history, the estimated parameters for ``residual``).

    ``n_substeps``: integration substeps of the model's prior per control period (default the
    arm's 10, MuJoCo's own step; 2 makes planning about 5x cheaper, and a residual absorbs the
    coarser integration). Parameters are always estimated with the full substeps. Episodes are
    cut into ``window_steps``-step windows (1 s), split by window for early stopping."""
    if kind not in MODEL_KINDS:
        raise StarbrainError(f"unknown arm model kind {kind!r}: use one of {MODEL_KINDS}")
    if kind == "nominal":
        prior = ScaraPrior(params, n_substeps)
        wcfg = WorldModelConfig(4, 2, params.dt, n_members=1)
        return WorldModel(prior, wcfg), {"kind": kind, "theta": prior.theta_default().tolist()}
    data = arm_trajectories(table, window_steps, params.dt)
    cfg = config or FitConfig(n_members=5, hidden=128, depth=3, epochs=200, patience=25)
    info: dict[str, Any] = {"kind": kind}
    if kind == "pets":
        model, hist = fit_world_model(IdentityPrior(4, 2), data, cfg)
    else:
        est = estimate or estimate_arm(table, params)
        info["estimate"] = est.as_dict()
        # the residual corrects the rates only (positions follow from them inside the prior)
        cfg = replace(cfg, residual_dims=cfg.residual_dims or (2, 3))
        model, hist = fit_world_model(_prior_with(est.theta, params, n_substeps), data, cfg)
    info.update(hist.summary())
    info["n_transitions"] = data.n_traj * data.n_steps
    return model, info
