"""GET /api/mars/windows (each opportunity's minimum-C3 transfers) and /api/mars/porkchop (a
launch x arrival grid for a client-side contour plot). Results are cached: they depend only on
the request and the bundled DE421 ephemeris."""

from __future__ import annotations

import functools
from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Query, Request

from starbrain.console.deps import ERROR_RESPONSES, ApiError, SettingsDep, compute
from starbrain.console.fleet import nullable
from starbrain.console.schemas import MarsWindow, MarsWindows, Porkchop, TransferOption
from starbrain.console.settings import MARS_FIRST_YEAR, MARS_LAST_YEAR
from starbrain.core.timeconv import iso_list
from starbrain.planners.transfers import porkchop_for_window, windows_table

router = APIRouter(tags=["mars"], responses=ERROR_RESPONSES)


def _utc(row: dict[str, Any]) -> dict[str, Any]:
    """ISO times from the planner (UTC, no offset) get their Z, as everywhere in this API."""
    return {**row, "launch": f"{row['launch']}Z", "arrival": f"{row['arrival']}Z"}


@functools.lru_cache(maxsize=32)
def _windows(start: int, end: int) -> MarsWindows:
    rows = windows_table(start, end)
    return MarsWindows(
        from_year=start, to_year=end, windows=[MarsWindow.model_validate(_utc(r)) for r in rows]
    )


@functools.lru_cache(maxsize=16)
def _porkchop(window: int, step_days: float) -> Porkchop:
    try:
        grid = porkchop_for_window(window, step_days=step_days)
    except ValueError as exc:
        raise ApiError(404, str(exc)) from None

    def best(kind: int) -> TransferOption | None:
        try:
            option = grid.best("c3", transfer_type=kind, ridge_margin_deg=5.0)
        except ValueError:
            return None
        return TransferOption.model_validate(_utc(option.as_row()))

    return Porkchop(
        window=window,
        step_days=step_days,
        departure=grid.departure,
        target=grid.target,
        launch=[s or "" for s in iso_list(grid.launch[:, 0])],
        arrival=[s or "" for s in iso_list(grid.arrival[0, :])],
        c3_km2_s2=nullable(np.where(grid.converged, grid.c3_km2_s2, np.nan), 3),
        vinf_arr_kms=nullable(np.where(grid.converged, grid.vinf_arr_kms, np.nan), 3),
        tof_days=nullable(np.where(grid.converged, grid.tof_days, np.nan), 1),
        dv_total_kms=nullable(np.where(grid.converged, grid.dv_total_kms, np.nan), 3),
        best_type1=best(1),
        best_type2=best(2),
    )


@router.get("/api/mars/windows", response_model=MarsWindows, summary="Earth-Mars windows")
async def mars_windows(
    request: Request,
    settings: SettingsDep,
    start: Annotated[int, Query(alias="from", ge=MARS_FIRST_YEAR, le=MARS_LAST_YEAR)] = 2026,
    end: Annotated[int, Query(alias="to", ge=MARS_FIRST_YEAR, le=MARS_LAST_YEAR)] = 2035,
) -> MarsWindows:
    """Each Earth-Mars opportunity launching in the years ``from``..``to`` (30 years at most):
    its minimum-C3 type I and type II ballistic transfers (DE421, Lambert), with arrival
    v-infinity, declination of the launch asymptote and a delta-v budget (200 km parking orbit,
    capture into a 300 km circular Mars orbit)."""
    if end < start:
        raise ApiError(422, f"'to' ({end}) is before 'from' ({start})")
    if end - start + 1 > settings.mars_max_years:
        raise ApiError(422, f"at most {settings.mars_max_years} years per request")
    return await compute(request, _windows, start, end)


@router.get("/api/mars/porkchop", response_model=Porkchop, summary="Porkchop grid")
async def mars_porkchop(
    request: Request,
    window: Annotated[
        int,
        Query(ge=MARS_FIRST_YEAR, le=MARS_LAST_YEAR, description="Opportunity (launch year)."),
    ] = 2028,
    step_days: Annotated[float, Query(ge=1.0, le=30.0, description="Grid step, days.")] = 2.0,
) -> Porkchop:
    """Launch C3, arrival v-infinity, time of flight and total delta-v on a launch x arrival
    grid around one opportunity's type I and II minima; ``null`` where no transfer converged."""
    return await compute(request, _porkchop, window, step_days)
