"""MCP tools over the new fleets: each unit's latest stored state (vehicles, arms, data-centre
GPUs, in the stream's own units, see ``starbrain.core.schemas``), an arm's payload and joint
parameters from its telemetry, and power-capped GPU job schedules."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import numpy as np
import pyarrow as pa
from mcp.server.mcpserver import MCPServer
from pydantic import Field

from starbrain.agents.tools._common import MAX_ROWS, json_value, open_store, rows, user_errors
from starbrain.core.errors import StarbrainError

TOOLS = ("fleet_state", "arm_estimate", "compute_schedule")
POLICIES = ("nocap", "uniform60", "zeus", "starbrain")
UNIT_COLUMN = {"vehicle": "vehicle_id", "arm": "arm_id", "compute": "gpu_id"}


def register(server: MCPServer, allow_writes: bool) -> None:
    """Add the fleet tools to ``server`` (all read-only)."""
    _register_state(server)
    _register_arm(server)
    _register_compute(server)


def _register_state(server: MCPServer) -> None:
    @server.tool(
        description="The latest stored state of each unit of a fleet: vehicle (per "
        "vehicle and log: pose m, speed m/s, ...), arm (per arm and episode: joint angles "
        "rad, torques N m, ...), compute (per GPU: power W, temperatures C, job). "
        "unit_id narrows to one vehicle_id / arm_id / gpu_id."
    )
    @user_errors
    def fleet_state(
        fleet: Literal["vehicle", "arm", "compute"],
        unit_id: Annotated[str | None, Field(description="One unit's id.")] = None,
        limit: Annotated[int, Field(ge=1, le=MAX_ROWS)] = 100,
    ) -> dict[str, Any]:
        column = UNIT_COLUMN[fleet]
        where, params = (f"{column} = ?", [unit_id]) if unit_id is not None else (None, None)
        with open_store() as store:
            t = store.read(fleet, where=where, params=params)
        latest = _latest(t, column)
        return {"fleet": fleet, "n": latest.num_rows, "units": rows(latest, limit)}


def _register_arm(server: MCPServer) -> None:
    @server.tool(
        description="Physical parameters of one arm estimated from its stored telemetry "
        "(actuator gains from the torque sensors, then payload kg, joint damping N m s and "
        "friction N m by least squares on the datasheet prior's one-step errors), with "
        "1-sigma where known and the scaled one-step RMS before and after."
    )
    @user_errors
    def arm_estimate(
        arm_id: Annotated[str, Field(min_length=1, description="The arm stream's arm_id.")],
        episodes: Annotated[list[int] | None, Field(description="Default: all.")] = None,
    ) -> dict[str, Any]:
        from starbrain.models.arm import THETA_NAMES, estimate_arm

        with open_store() as store:
            t = store.read("arm", where="arm_id = ?", params=[arm_id])
        if episodes is not None:
            keep = np.isin(t.column("episode").to_numpy(), episodes)
            t = t.filter(pa.array(keep))
        if t.num_rows == 0:
            raise StarbrainError(f"no arm telemetry stored for {arm_id!r} (those episodes)")
        est = estimate_arm(t.sort_by([("episode", "ascending"), ("time", "ascending")]))
        std = None if est.std is None else [float(x) for x in est.std]
        return {
            "arm_id": arm_id,
            "rows": t.num_rows,
            "payload_kg": est.payload_kg,
            "theta": est.as_dict(),
            "std": None if std is None else dict(zip(THETA_NAMES, std, strict=True)),
            "rms_before": est.rms_before,
            "rms_after": est.rms_after,
        }


def _register_compute(server: MCPServer) -> None:
    @server.tool(
        description="Power-capped schedule of random training jobs on a GPU site: energy "
        "MWh, makespan s, peak site MW, max ramp MW/min and deadline misses of no cap, a "
        "uniform 60% cap, per-job Zeus-style limits and starbrain's planner, under a site "
        "budget and ramp limit given as fractions of the uncapped draw."
    )
    @user_errors
    def compute_schedule(
        jobs: Annotated[int, Field(ge=1, le=5000, description="Random jobs.")] = 400,
        gpus: Annotated[int, Field(ge=8, le=1_000_000, description="GPUs.")] = 100_000,
        budget_frac: Annotated[float, Field(gt=0, le=1)] = 0.55,
        ramp_frac_per_min: Annotated[float, Field(gt=0, le=1)] = 0.05,
        seed: int = 0,
    ) -> dict[str, Any]:
        from starbrain.planners.power_schedule import Jobs, Site, evaluate_schedule, plan_schedule

        js = Jobs.random(jobs, gpus, seed=seed)
        full = float((js.n_gpus * (js.demand_w + 90.0)).sum())
        site = Site(budget_w=budget_frac * full, ramp_w_per_s=ramp_frac_per_min * full / 60.0)
        found = [evaluate_schedule(js, site, plan_schedule(js, site, p)) for p in POLICIES]
        return {
            "budget_mw": site.budget_w / 1e6,
            "ramp_limit_mw_per_min": site.ramp_w_per_s * 60.0 / 1e6,
            "policies": [{k: json_value(v) for k, v in r.items()} for r in found],
        }


def _latest(t: pa.Table, column: str) -> pa.Table:
    """The newest row (by ``time``) of each ``column`` value, sorted by it."""
    if t.num_rows == 0:
        return t
    t = t.append_column("_row", pa.array(np.arange(t.num_rows)))
    order = t.sort_by([(column, "ascending"), ("time", "descending"), ("_row", "descending")])
    units = order.column(column).to_numpy(zero_copy_only=False)
    first = np.ones(len(units), bool)
    first[1:] = units[1:] != units[:-1]
    return order.filter(pa.array(first)).drop_columns(["_row"])
