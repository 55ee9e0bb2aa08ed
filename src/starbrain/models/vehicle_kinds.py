"""The four vehicle world models the issue compares, built one way from ``vehicle``-stream logs:

- ``kinematic``: the kinematic single-track prior alone (no tyre slip);
- ``single-track``: the dynamic single-track prior alone (linear tyres), with per-vehicle
  parameters estimated from the logs;
- ``saturating``: the same prior with tyres that saturate at the road's grip, estimated from
  the logs' peak lateral acceleration (:func:`~starbrain.models.vehicle_model.
  estimate_road_friction`; the linear prior where the logs never reach 0.25 g);
- ``pets``: a pure probabilistic ensemble (Chua et al. 2018's PETS delta model) on the body
  states, the pose integrated from them by :class:`RigidBodyPrior` (geometry only: no vehicle
  parameter, no tyre model; a delta model on absolute pose cannot generalise across headings);
- ``residual``: the ``saturating`` prior with the estimated parameters plus the residual
  ensemble on the body states (:func:`starbrain.models.vehicle_model.fit_vehicle_model`).

Each is a :class:`~starbrain.models.dynamics.WorldModel` for one vehicle (``theta`` set to
that vehicle's parameters), so MPC and the registry treat them alike. :func:`position_rmse`
gives the open-loop position error at chosen horizons by friction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any, cast

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import torch
from torch import Tensor

from starbrain.core.errors import StarbrainError
from starbrain.models.dynamics import (
    FitConfig,
    Trajectories,
    estimate_theta,
    evaluate,
    fit_world_model,
)
from starbrain.models.dynamics.prior import PhysicsPrior
from starbrain.models.dynamics.world_model import WorldModel, WorldModelConfig
from starbrain.models.vehicle_model import (
    BODY,
    estimate_road_friction,
    estimate_vehicle_parameters,
    fit_vehicle_model,
    track_prior,
    vehicle_trajectories,
)
from starbrain.physics.vehicles.single_track import (
    THETA_NAMES,
    KinematicSingleTrack,
    VehicleParams,
)

__all__ = ["MODEL_KINDS", "RigidBodyPrior", "build_vehicle_model", "position_rmse"]

MODEL_KINDS = ("kinematic", "single-track", "saturating", "pets", "residual")
DEFAULT_FIT = FitConfig(epochs=150, patience=20, state_features=BODY, residual_dims=BODY)


class RigidBodyPrior:
    """``x, y += (vx cos yaw - vy sin yaw, vx sin yaw + vy cos yaw) dt``, ``yaw += r dt``, body
    velocities held: the pose integration of the body states, nothing about the vehicle. With a
    residual ensemble on (speed, lateral velocity, yaw rate) this is the pure-network model."""

    state_dim, input_dim, theta_names = 6, 2, ()

    def theta_default(self) -> Tensor:
        return torch.zeros(0, dtype=torch.float64)

    def step(self, x: Tensor, u: Tensor, theta: Tensor, dt: float) -> Tensor:
        yaw, vx, vy, r = x[..., 2:3], x[..., 3:4], x[..., 4:5], x[..., 5:6]
        mid = yaw + 0.5 * r * dt  # midpoint heading over the step
        c, s = torch.cos(mid), torch.sin(mid)
        return torch.cat(
            [
                x[..., 0:1] + (vx * c - vy * s) * dt,
                x[..., 1:2] + (vx * s + vy * c) * dt,
                yaw + r * dt,
                vx,
                vy,
                r,
            ],
            -1,
        )

    def config(self) -> dict[str, Any]:
        return {}


def _one_vehicle(table: pa.Table, vehicle_id: str | None) -> tuple[pa.Table, str]:
    ids = sorted(set(table["vehicle_id"].to_pylist()))
    if not ids:
        raise StarbrainError("the table holds no vehicle rows")
    if vehicle_id is None:
        if len(ids) > 1:
            raise StarbrainError(f"the logs hold {len(ids)} vehicles ({', '.join(ids)}); pick one")
        vehicle_id = ids[0]
    if vehicle_id not in ids:
        raise StarbrainError(f"no logs of vehicle {vehicle_id!r}; the logs hold {', '.join(ids)}")
    return table.filter(pc.equal(table["vehicle_id"], vehicle_id)), vehicle_id


def build_vehicle_model(
    kind: str,
    table: pa.Table,
    vehicle_id: str | None = None,
    nominal: VehicleParams | None = None,
    config: FitConfig | None = None,
    window_steps: int = 40,
    params: dict[str, float] | None = None,
) -> tuple[WorldModel, dict[str, Any]]:
    """A world model of ``kind`` (one of :data:`MODEL_KINDS`) for one vehicle of ``table``.

    ``nominal``: the vehicle's specification (axle positions are never estimated); ``params``:
    parameters to use instead of estimating them. Returns the model (``theta`` = the vehicle's
    parameters) and a JSON-ready summary: kind, vehicle, parameters, fit history, sizes.
    """
    if kind not in MODEL_KINDS:
        raise StarbrainError(f"unknown vehicle model kind {kind!r}: use one of {MODEL_KINDS}")
    rows, vid = _one_vehicle(table, vehicle_id)
    data = vehicle_trajectories(rows, window_steps=window_steps)
    info: dict[str, Any] = {
        "kind": kind,
        "vehicle_id": vid,
        "n_transitions": data.trajectories.n_traj * data.trajectories.n_steps,
    }
    if kind == "pets":
        cfg = config or DEFAULT_FIT
        cfg = replace(cfg, state_features=BODY, residual_dims=BODY)
        model, hist = fit_world_model(RigidBodyPrior(), data.trajectories, cfg, device="cpu")
        info.update(hist.summary())
        return model, info
    if params is None:
        nom = nominal or VehicleParams()
        if rows["lateral_velocity_mps"].null_count == rows.num_rows:
            params = _kinematic_ratio(data.trajectories, nom)  # a real car: no lateral velocity
            info["estimated"] = ["steering_ratio"]
        else:
            params = estimate_vehicle_parameters(data, {vid: nom})[vid]
    theta = torch.tensor([params[n] for n in THETA_NAMES], dtype=torch.float64)
    info["params"] = dict(params)
    grip = estimate_road_friction(rows) if kind in ("saturating", "residual") else None
    info["road_friction"] = grip
    if kind != "residual":
        prior = _prior(kind, grip)
        model = WorldModel(prior, WorldModelConfig(6, 2, data.trajectories.dt, n_members=1), theta)
        return model, info
    model, hist = fit_vehicle_model(
        data, {vid: params}, config or DEFAULT_FIT, device="cpu", road_friction=grip
    )
    model.theta.copy_(theta)
    info.update(hist.summary())
    return model, info


def _prior(kind: str, road_friction: float | None) -> PhysicsPrior:
    """The physics-only model of ``kind``: kinematic, linear or saturating single-track."""
    if kind == "kinematic":
        return cast(PhysicsPrior, KinematicSingleTrack())
    return cast(PhysicsPrior, track_prior(road_friction if kind == "saturating" else None))


def _kinematic_ratio(data: Trajectories, nominal: VehicleParams) -> dict[str, float]:
    """The steering ratio from the one-step yaw-rate error of the kinematic prior (the only
    parameter a log without lateral velocity pins down; the rest stay nominal)."""
    prior = cast(PhysicsPrior, KinematicSingleTrack(substep_s=data.dt))
    i = THETA_NAMES.index("steering_ratio")
    est = estimate_theta(prior, data, nominal.theta(), method="lsq", free=[i], dims=(5,))
    out = {n: getattr(nominal, n) for n in THETA_NAMES}
    out["steering_ratio"] = float(est.theta[i])
    return out


def _by_friction(data: Trajectories) -> Trajectories:
    """The same windows with strata ``mu<friction>`` (the friction part of ``vehicle/mu..``)."""
    strata = tuple(s.rsplit("/", 1)[-1] if "/mu" in s else "mu?" for s in data.strata or ())
    return Trajectories(data.x, data.u, data.dt, strata or None, data.theta)


def position_rmse(
    models: dict[str, WorldModel],
    table: pa.Table,
    horizons_s: Sequence[float] = (1.0, 2.0),
    dt: float = 0.05,
) -> list[dict[str, Any]]:
    """Open-loop position RMSE (m, the planar distance) of each model on ``table``'s logs at each
    horizon, per friction stratum and over all: rows ``model, stratum, horizon_s, n_windows,
    position_rmse_m, ood_fraction``. Windows start every half of the longest horizon."""
    steps = [round(h / dt) for h in horizons_s]
    data = _by_friction(vehicle_trajectories(table, window_steps=max(steps), dt=dt).trajectories)
    out = []
    for name, model in models.items():
        for r in evaluate(model, data, horizons=steps, stride=max(1, max(steps) // 2)):
            ex, ey = r["rmse_by_state"][0], r["rmse_by_state"][1]
            out.append(
                {
                    "model": name,
                    "stratum": r["stratum"],
                    "horizon_s": r["horizon_s"],
                    "n_windows": r["n_windows"],
                    "position_rmse_m": float(np.hypot(ex, ey)),
                    "ood_fraction": r["ood_fraction"],
                }
            )
    return out
