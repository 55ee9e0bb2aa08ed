"""GET /api/arm (the stored arm episodes and arm models), /api/arm/series (joint tracking:
commanded and measured torque per joint, joint angles and the end-effector path over time) and
/api/arm/model-error (open-loop joint-angle error vs horizon of the nominal physics and of the
registered arm world models).

Units: rad, N m, m (the arm's base frame: x/y horizontal, origin at joint 1); times ISO 8601 UTC.
"""

from __future__ import annotations

from typing import Annotated

import numpy as np
from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from starbrain.console.deps import ERROR_RESPONSES, ApiError, StoreDep, compute
from starbrain.console.fleet import nullable
from starbrain.console.routes.vehicles import registered_models, times_iso
from starbrain.core.errors import StarbrainError
from starbrain.core.timeconv import iso_ns
from starbrain.store import queries
from starbrain.store.database import Store

router = APIRouter(tags=["arm"], responses=ERROR_RESPONSES)

MAX_POINTS = 5000
ARM_ID = Annotated[str, Query(min_length=1, max_length=100, description="Arm id.")]


class ArmEpisode(BaseModel):
    arm_id: str
    episode: int
    rows: int
    first: str
    last: str
    task: str | None = None
    payload_kg: float | None = Field(None, description="Payload carried (simulation truth).")


class ArmOverview(BaseModel):
    episodes: list[ArmEpisode]
    models: list[str] = Field(description="Registered arm world models (names).")


class ArmSeries(BaseModel):
    arm_id: str
    episode: int | None
    total: int = Field(description="Rows stored.")
    stride: int = Field(description="Every stride-th row is returned.")
    time: list[str]
    q1_rad: list[float | None]
    q2_rad: list[float | None]
    tau_cmd_1_nm: list[float | None] = Field(description="Joint 1 torque commanded, N m.")
    tau_cmd_2_nm: list[float | None]
    tau_meas_1_nm: list[float | None] = Field(description="Joint 1 torque measured, N m.")
    tau_meas_2_nm: list[float | None]
    ee_x_m: list[float | None] = Field(description="End-effector x, base frame, m.")
    ee_y_m: list[float | None]
    link_m: list[float] | None = Field(
        None,
        description="Link lengths (m) fitted to the end-effector and joint angles by least "
        "squares, for drawing the arm; null when the rows have no end-effector pose.",
    )


class ArmErrorRow(BaseModel):
    model: str
    horizon_s: float
    n_windows: int
    q_rmse_rad: float | None = Field(description="RMS joint-angle error (both joints), rad.")
    qd_rmse_radps: float | None = Field(description="RMS joint-rate error, rad/s.")


class ArmModelError(BaseModel):
    arm_id: str
    rows: list[ArmErrorRow]
    note: str


def _arm_models(store: Store) -> list[str]:
    return registered_models(store, "arm-")


def _overview(store: Store) -> ArmOverview:
    eps = [
        ArmEpisode(
            arm_id=r["arm_id"],
            episode=r["episode"],
            rows=r["n"],
            first=iso_ns(r["first_ns"]) or "",
            last=iso_ns(r["last_ns"]) or "",
            task=r["task"],
            payload_kg=r["payload_kg"],
        )
        for r in queries.arm_episodes(store).to_pylist()
    ]
    return ArmOverview(episodes=eps, models=_arm_models(store))


@router.get("/api/arm", response_model=ArmOverview, summary="Robot-arm episodes")
async def arm(request: Request, store: StoreDep) -> ArmOverview:
    """Every stored arm episode (rows, time span, task, payload) and the registered arm
    world models."""
    return await compute(request, _overview, store)


def link_lengths(q1: np.ndarray, q2: np.ndarray, x: np.ndarray, y: np.ndarray) -> list[float]:
    """Link lengths ``[l1, l2]`` (m) of a planar two-link arm from joint angles (rad) and the
    end-effector position (m): least squares on ``x + iy = l1 e^{i q1} + l2 e^{i (q1 + q2)}``."""
    a = np.concatenate([np.c_[np.cos(q1), np.cos(q1 + q2)], np.c_[np.sin(q1), np.sin(q1 + q2)]])
    sol, *_ = np.linalg.lstsq(a, np.r_[x, y], rcond=None)
    return [round(float(v), 4) for v in sol]


def _series(store: Store, arm_id: str, episode: int | None, max_points: int) -> ArmSeries | None:
    total, stride, t = queries.arm_series(store, arm_id, episode, max_points)
    if total == 0:
        return None
    col = {n: t.column(n).to_numpy(zero_copy_only=False).astype(np.float64) for n in (
        "q1_rad", "q2_rad", "tau_cmd_1_nm", "tau_cmd_2_nm", "tau_meas_1_nm", "tau_meas_2_nm",
        "ee_x_m", "ee_y_m")}  # fmt: skip
    ok = np.isfinite(col["ee_x_m"]) & np.isfinite(col["ee_y_m"])
    links = (
        link_lengths(col["q1_rad"][ok], col["q2_rad"][ok], col["ee_x_m"][ok], col["ee_y_m"][ok])
        if ok.sum() >= 2
        else None
    )
    return ArmSeries(
        arm_id=arm_id,
        episode=episode,
        total=total,
        stride=stride,
        time=times_iso(t.column("t_ns").to_numpy()),
        link_m=links,
        **{k: nullable(v, 4) for k, v in col.items()},
    )


@router.get("/api/arm/series", response_model=ArmSeries, summary="Arm joint tracking")
async def series(
    request: Request,
    store: StoreDep,
    arm_id: ARM_ID = "arm-1",
    episode: Annotated[int | None, Query(ge=0, description="Only this episode.")] = None,
    max_points: Annotated[int, Query(ge=10, le=MAX_POINTS)] = 2000,
) -> ArmSeries:
    """Commanded and measured torque per joint (N m), joint angles (rad) and the end-effector
    path (m) over time, every ``stride``-th row so that at most ``max_points`` come back, and
    the link lengths for drawing the arm."""
    found = await compute(request, _series, store, arm_id, episode, max_points)
    if found is None:
        raise ApiError(404, f"no telemetry stored for arm {arm_id!r}")
    return found


def _model_error(store: Store, arm_id: str, horizons_s: list[float]) -> ArmModelError:
    from starbrain.models.arm import arm_trajectories, fit_arm_model
    from starbrain.models.dynamics import evaluate, load_world_model

    table = store.read("arm", where="arm_id = ?", params=[arm_id])
    if table.num_rows == 0:
        raise ApiError(404, f"no telemetry stored for arm {arm_id!r}")
    models = {"nominal physics": fit_arm_model("nominal", table)[0]}
    for n in _arm_models(store):
        models[n] = load_world_model(store, n)[0]
    try:
        data = arm_trajectories(table, stratum="all")
    except StarbrainError as exc:
        raise ApiError(422, f"cannot evaluate on the stored rows of {arm_id}: {exc}") from None
    steps = sorted({max(1, min(data.n_steps, round(h / data.dt))) for h in horizons_s})
    rows = []
    for name, model in models.items():
        for r in evaluate(model, data, horizons=steps):
            if r["stratum"] != "all":
                continue
            e = np.asarray(r["rmse_by_state"], dtype=np.float64)
            rows.append(
                ArmErrorRow(
                    model=name,
                    horizon_s=round(float(r["horizon_s"]), 6),
                    n_windows=int(r["n_windows"]),
                    q_rmse_rad=nullable([np.sqrt(np.mean(e[:2] ** 2))], 6)[0],
                    qd_rmse_radps=nullable([np.sqrt(np.mean(e[2:4] ** 2))], 6)[0],
                )
            )
    note = "open-loop rollouts from the stored rows; nominal physics is the datasheet prior" + (
        "" if len(models) > 1 else "; run starbrain robot train to register a learned model"
    )
    return ArmModelError(arm_id=arm_id, rows=rows, note=note)


@router.get("/api/arm/model-error", response_model=ArmModelError, summary="Arm model error")
async def model_error(
    request: Request,
    store: StoreDep,
    arm_id: ARM_ID = "arm-1",
    horizon_s: Annotated[
        list[Annotated[float, Query(gt=0.0, le=10.0)]] | None,
        Query(max_length=6, description="Horizons, s (repeat; default 0.1, 0.5 and 1)."),
    ] = None,
) -> ArmModelError:
    """Open-loop RMS joint-angle (rad) and joint-rate (rad/s) error at each horizon, computed
    here on the arm's stored rows, for the nominal physics prior and every registered arm
    world model (``arm-*``). A horizon longer than the stored episodes is cut to their length."""
    horizons = sorted(set(horizon_s or [0.1, 0.5, 1.0]))
    return await compute(request, _model_error, store, arm_id, horizons)
