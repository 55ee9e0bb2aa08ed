"""GET /api/vehicles (the stored driving logs and vehicle models), /api/vehicles/track (a
vehicle's driven x/y track), /api/vehicles/model-error (open-loop position error vs horizon of
its registered world models) and /api/vehicles/lane-change (the newest stored ISO 3888-2 double
lane change: cones, path, entry speed).

Positions are metres in a log's local east/north plane (``x_m``/``y_m``, the ``vehicle``
stream's frame); lane-change paths are in the track frame (x along the track from section 1's
entry, y left of section 1's right cone line). Times are ISO 8601 UTC.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from starbrain.console.deps import ERROR_RESPONSES, ApiError, StoreDep, compute
from starbrain.console.fleet import nullable
from starbrain.core.errors import StarbrainError
from starbrain.core.timeconv import iso_ns
from starbrain.store import queries
from starbrain.store.database import Store

router = APIRouter(tags=["vehicles"], responses=ERROR_RESPONSES)

MAX_POINTS = 5000
VEHICLE_ID = Annotated[str, Query(min_length=1, max_length=100, description="Vehicle id.")]
HOW_TO_TRAIN = "starbrain vehicle train --vehicle-id {v} --kind residual"
HOW_TO_DRIVE = "starbrain vehicle drive --vehicle-id {v} --speeds 12 --record"


class VehicleLog(BaseModel):
    vehicle_id: str
    log_id: str
    samples: int
    first: str = Field(description="First sample, UTC.")
    last: str = Field(description="Last sample, UTC.")
    friction: float | None = Field(None, description="Road friction (simulation truth).")
    driver: str | None = None
    x_extent_m: float | None = None
    y_extent_m: float | None = None


class VehiclesResponse(BaseModel):
    logs: list[VehicleLog]
    models: list[str] = Field(description="Registered vehicle world models (names).")


class TrackLog(BaseModel):
    log_id: str
    time: list[str] = Field(description="UTC sample times.")
    x_m: list[float | None] = Field(description="East of the log's first pose, m.")
    y_m: list[float | None] = Field(description="North of the log's first pose, m.")
    speed_mps: list[float | None] = Field(description="Longitudinal speed, m/s.")


class VehicleTrack(BaseModel):
    vehicle_id: str
    total: int = Field(description="Samples stored.")
    stride: int = Field(description="Every stride-th sample is returned.")
    logs: list[TrackLog]


class ModelErrorRow(BaseModel):
    model: str
    stratum: str = Field(description="Friction stratum (mu=...) or 'all'.")
    horizon_s: float
    n_windows: int
    position_rmse_m: float | None = Field(description="Open-loop planar position RMSE, m.")


class VehicleModelError(BaseModel):
    vehicle_id: str
    available: bool = Field(description="False when no vehicle model is registered.")
    hint: str | None = Field(None, description="How to register one, when none is.")
    rows: list[ModelErrorRow]


class LaneChangeRun(BaseModel):
    ran_at: str
    vehicle_id: str
    model: str
    friction: float
    speed_mps: float = Field(description="Entry speed, m/s.")
    passed: bool
    spun: bool
    max_sideslip_deg: float | None
    cones_struck: list[str]
    width_m: float
    length_m: float
    sections: list[list[float]] = Field(
        description="Coned lanes [x_start_m, x_end_m, y_right_m, y_left_m] (ISO 3888-2)."
    )
    x_m: list[float] = Field(description="Path of the centre of mass along the track, m.")
    y_m: list[float] = Field(description="Path, left of section 1's right cone line, m.")


class LaneChangeResponse(BaseModel):
    available: bool
    hint: str | None = None
    run: LaneChangeRun | None = None


def registered_models(store: Store, prefix: str) -> list[str]:
    """Names of the registered world models that start with ``prefix``, sorted."""
    names = [str(r["name"]) for r in queries.models(store, 200).to_pylist()]
    return sorted({n for n in names if n.startswith(prefix)})


def _vehicle_models(store: Store) -> list[str]:
    return registered_models(store, "vehicle-")


def _overview(store: Store) -> VehiclesResponse:
    logs = [
        VehicleLog(
            vehicle_id=r["vehicle_id"],
            log_id=r["log_id"],
            samples=r["n"],
            first=iso_ns(r["first_ns"]) or "",
            last=iso_ns(r["last_ns"]) or "",
            friction=r["friction"],
            driver=r["driver"],
            x_extent_m=r["x_extent_m"],
            y_extent_m=r["y_extent_m"],
        )
        for r in queries.vehicle_logs(store).to_pylist()
    ]
    return VehiclesResponse(logs=logs, models=_vehicle_models(store))


@router.get("/api/vehicles", response_model=VehiclesResponse, summary="Driving logs")
async def vehicles(request: Request, store: StoreDep) -> VehiclesResponse:
    """Every stored driving log (vehicle, log, samples, time span, friction, driver) and the
    registered vehicle world models."""
    return await compute(request, _overview, store)


def times_iso(t_ns: Any) -> list[str]:
    """Integer ns since 1970 UTC -> ISO 8601 strings to the millisecond (``...Z``)."""
    t = np.asarray(t_ns, dtype=np.int64).astype("datetime64[ns]").astype("datetime64[ms]")
    return [f"{s}Z" for s in np.datetime_as_string(t, unit="ms").tolist()]


def _track(store: Store, vehicle_id: str, max_points: int) -> VehicleTrack | None:
    total, stride, t = queries.vehicle_track(store, vehicle_id, max_points=max_points)
    if total == 0:
        return None
    logs = []
    ids = np.asarray(t.column("log_id").to_pylist(), dtype=object)
    for log_id in dict.fromkeys(ids.tolist()):
        sub = t.filter(ids == log_id)
        logs.append(
            TrackLog(
                log_id=log_id,
                time=times_iso(sub.column("t_ns").to_numpy()),
                x_m=nullable(sub.column("x_m").to_numpy(), 3),
                y_m=nullable(sub.column("y_m").to_numpy(), 3),
                speed_mps=nullable(sub.column("speed_mps").to_numpy(), 3),
            )
        )
    return VehicleTrack(vehicle_id=vehicle_id, total=total, stride=stride, logs=logs)


@router.get("/api/vehicles/track", response_model=VehicleTrack, summary="A vehicle's tracks")
async def track(
    request: Request,
    store: StoreDep,
    vehicle_id: VEHICLE_ID,
    max_points: Annotated[int, Query(ge=10, le=MAX_POINTS)] = 2000,
) -> VehicleTrack:
    """The driven x/y track (m) and speed (m/s) of each stored log of one vehicle, every
    ``stride``-th sample so that at most ``max_points`` come back."""
    found = await compute(request, _track, store, vehicle_id, max_points)
    if found is None:
        raise ApiError(404, f"no driving log stored for vehicle {vehicle_id!r}")
    return found


def _model_error(store: Store, vehicle_id: str, horizons_s: list[float]) -> VehicleModelError:
    names = [n for n in _vehicle_models(store) if n.startswith(f"vehicle-{vehicle_id}-")]
    table = store.read("vehicle", where="vehicle_id = ?", params=[vehicle_id])
    if table.num_rows == 0:
        raise ApiError(404, f"no driving log stored for vehicle {vehicle_id!r}")
    from starbrain.models.dynamics import load_world_model
    from starbrain.models.vehicle_kinds import position_rmse

    if not names:
        hint = (
            f"no world model registered for {vehicle_id}; run {HOW_TO_TRAIN.format(v=vehicle_id)}"
        )
        return VehicleModelError(vehicle_id=vehicle_id, available=False, hint=hint, rows=[])
    models = {n: load_world_model(store, n)[0] for n in names}
    try:
        found = position_rmse(models, table, horizons_s)
    except StarbrainError as exc:
        raise ApiError(422, f"cannot evaluate on the stored logs of {vehicle_id}: {exc}") from None
    rows = [
        ModelErrorRow(
            model=r["model"],
            stratum=str(r["stratum"]),
            horizon_s=round(float(r["horizon_s"]), 6),
            n_windows=int(r["n_windows"]),
            position_rmse_m=nullable([r["position_rmse_m"]], 4)[0],
        )
        for r in found
    ]
    return VehicleModelError(vehicle_id=vehicle_id, available=True, hint=None, rows=rows)


@router.get(
    "/api/vehicles/model-error",
    response_model=VehicleModelError,
    summary="Vehicle model error vs horizon",
)
async def model_error(
    request: Request,
    store: StoreDep,
    vehicle_id: VEHICLE_ID,
    horizon_s: Annotated[
        list[Annotated[float, Query(gt=0.0, le=5.0)]] | None,
        Query(max_length=6, description="Horizons, s (repeat; default 0.5, 1 and 2)."),
    ] = None,
) -> VehicleModelError:
    """Open-loop position RMSE (m) at each horizon of every registered world model of the
    vehicle (``vehicle-ID-KIND``), computed here on its stored logs, by friction stratum and
    over all. ``available`` is false (with a ``hint``) when none is registered."""
    horizons = sorted(set(horizon_s or [0.5, 1.0, 2.0]))
    return await compute(request, _model_error, store, vehicle_id, horizons)


def _lane_change(store: Store, vehicle_id: str | None) -> LaneChangeResponse:
    from starbrain.planners.lane_change import DLCTrack

    shown = vehicle_id or "bmw-320i"
    hint = f"no lane change stored; run {HOW_TO_DRIVE.format(v=shown)}"
    if not queries.has_table(store, queries.LANE_CHANGES_TABLE):
        return LaneChangeResponse(available=False, hint=hint)
    rows = queries.lane_changes(store, vehicle_id, limit=1).to_pylist()
    if not rows:
        return LaneChangeResponse(available=False, hint=hint)
    r = rows[0]
    path = json.loads(r["path_json"])
    run = LaneChangeRun(
        ran_at=iso_ns(r["ran_at_ns"]) or "",
        vehicle_id=r["vehicle_id"],
        model=r["model"],
        friction=r["friction"],
        speed_mps=r["speed_mps"],
        passed=r["passed"],
        spun=r["spun"],
        max_sideslip_deg=r["max_sideslip_deg"],
        cones_struck=json.loads(r["cones_struck"]),
        width_m=r["width_m"],
        length_m=r["length_m"],
        sections=[list(s) for s in DLCTrack(float(r["width_m"])).sections],
        x_m=path["x_m"],
        y_m=path["y_m"],
    )
    return LaneChangeResponse(available=True, run=run)


@router.get(
    "/api/vehicles/lane-change", response_model=LaneChangeResponse, summary="Double lane change"
)
async def lane_change(
    request: Request,
    store: StoreDep,
    vehicle_id: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
) -> LaneChangeResponse:
    """The newest stored ISO 3888-2 double-lane-change run (of ``vehicle_id``, or of any
    vehicle): the cone lanes, the path of the car's centre (m, track frame), entry speed (m/s),
    whether it passed and which cone lines it struck. ``available`` is false (with a ``hint``)
    when none is stored."""
    return await compute(request, _lane_change, store, vehicle_id)
