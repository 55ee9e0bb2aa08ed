"""GET /api/positions (many objects at one time) and /api/groundtrack/{norad} (one object over
time): batched SGP4 -> TEME -> ITRF -> WGS-84 geodetic."""

from __future__ import annotations

from typing import Annotated

import numpy as np
from fastapi import APIRouter, Path, Query, Request

from starbrain.console.deps import (
    ERROR_RESPONSES,
    ApiError,
    FleetDep,
    NoradList,
    SettingsDep,
    TimeParam,
    compute,
    instant,
    require_ids,
)
from starbrain.console.fleet import Fleet, geodetic, nullable
from starbrain.console.schemas import GroundTrack, Positions
from starbrain.console.settings import MAX_GROUNDTRACK_POINTS, MAX_OBJECTS, MAX_SPAN_DAYS
from starbrain.core.timeconv import iso, iso_list

router = APIRouter(tags=["positions"], responses=ERROR_RESPONSES)


def positions_at(
    fleet: Fleet, index: np.ndarray | None, t: np.datetime64, device: str | None
) -> dict[str, object]:
    """The fields of :class:`Positions` for the fleet's objects ``index`` (None: all) at ``t``."""
    lat, lon, alt, err = geodetic(fleet, index, t, device)
    ids = fleet.norad_id if index is None else fleet.norad_id[index]
    shell = fleet.shell if index is None else fleet.shell[index]
    return {
        "time": iso(t) or "",
        "count": int(ids.size),
        "norad_id": ids.tolist(),
        "lat_deg": nullable(lat[:, 0], 3),
        "lon_deg": nullable(lon[:, 0], 3),
        "alt_km": nullable(alt[:, 0], 1),
        "shell": shell.astype(int).tolist(),
        "sgp4_error": err[:, 0].astype(int).tolist(),
    }


@router.get("/api/positions", response_model=Positions, summary="Positions at one time")
async def positions(
    request: Request,
    fleet: FleetDep,
    settings: SettingsDep,
    norad: NoradList = None,
    time: TimeParam = None,
    offset: Annotated[
        int, Query(ge=0, le=10_000_000, description="Without norad: objects to skip.")
    ] = 0,
    limit: Annotated[
        int, Query(ge=1, le=MAX_OBJECTS, description="Without norad: objects to return.")
    ] = MAX_OBJECTS,
) -> Positions:
    """Geodetic latitude, longitude (degrees) and altitude (km, WGS-84) of every stored object,
    or of the listed ones, at one time: SGP4 from each newest element set, TEME -> ITRF with
    the bundled Earth-orientation data. ``null`` where SGP4 fails (see ``sgp4_error``)."""
    t = instant(time, "time")
    if norad:
        index: np.ndarray | None = require_ids(fleet, norad)
    elif offset == 0 and limit >= len(fleet):
        index = None  # the cached, initialised state of the whole fleet
    else:
        index = np.arange(offset, min(offset + limit, len(fleet)), dtype=np.int64)
    body = await compute(request, positions_at, fleet, index, t, settings.device)
    return Positions.model_validate(body)


@router.get(
    "/api/groundtrack/{norad}", response_model=GroundTrack, summary="One object's ground track"
)
async def groundtrack(
    request: Request,
    norad: Annotated[int, Path(ge=1, le=339_999, description="NORAD catalogue number.")],
    fleet: FleetDep,
    settings: SettingsDep,
    minutes: Annotated[
        float,
        Query(gt=0, le=MAX_SPAN_DAYS * 1440, description="Track length in minutes (<= 14 days)."),
    ] = 100.0,
    step_s: Annotated[float, Query(ge=1.0, le=3600.0, description="Sample spacing, s.")] = 30.0,
    start: TimeParam = None,
) -> GroundTrack:
    """Sub-satellite points (geodetic latitude, longitude, altitude) from ``start`` for
    ``minutes``, every ``step_s`` seconds."""
    t0 = instant(start, "start")
    n = int(minutes * 60.0 // step_s) + 1
    if n > MAX_GROUNDTRACK_POINTS:
        raise ApiError(
            422,
            f"{n} points requested; at most {MAX_GROUNDTRACK_POINTS}: raise step_s or shorten "
            "minutes",
        )
    index = require_ids(fleet, [norad])
    times = t0 + (np.arange(n) * step_s * 1e9).astype("timedelta64[ns]")
    lat, lon, alt, _ = await compute(request, geodetic, fleet, index, times, settings.device)
    return GroundTrack(
        norad_id=norad,
        name=fleet.names[int(index[0])],
        start=iso(t0) or "",
        step_s=step_s,
        time=[s or "" for s in iso_list(times)],
        lat_deg=nullable(lat[0], 4),
        lon_deg=nullable(lon[0], 4),
        alt_km=nullable(alt[0], 2),
    )
