"""MCP tools over the new fleets' streams: each unit's latest stored state (vehicles, arms,
data-centre GPUs), in the stream's own units (see ``starbrain.core.schemas``)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import numpy as np
import pyarrow as pa
from mcp.server.mcpserver import MCPServer
from pydantic import Field

from starbrain.agents.tools._common import MAX_ROWS, open_store, rows, user_errors

TOOLS = ("fleet_state",)
UNIT_COLUMN = {"vehicle": "vehicle_id", "arm": "arm_id", "compute": "gpu_id"}


def register(server: MCPServer, allow_writes: bool) -> None:
    """Add the fleet tools to ``server`` (all read-only)."""

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
