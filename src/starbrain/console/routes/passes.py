"""GET /api/passes (ground passes over stations) and /api/stations (the named stations)."""

from __future__ import annotations

from typing import Annotated

import numpy as np
import pyarrow as pa
from fastapi import APIRouter, Query, Request

from starbrain.console.deps import (
    ERROR_RESPONSES,
    ApiError,
    FleetDep,
    NoradList,
    SettingsDep,
    StoreDep,
    compute,
    instant,
    require_ids,
)
from starbrain.console.fleet import Fleet
from starbrain.console.schemas import PassesResponse, PassRow, Station, Stations
from starbrain.console.settings import (
    MAX_PASS_ROWS,
    MAX_SPAN_DAYS,
    MAX_STATIONS,
    ConsoleSettings,
)
from starbrain.core.errors import StarbrainError
from starbrain.core.timeconv import iso, iso_list
from starbrain.planners.passes import (
    KNOWN_STATIONS,
    GroundStation,
    Passes,
    find_passes,
)
from starbrain.planners.passes import (
    parse_station as parse_station_spec,
)
from starbrain.planners.propagator import Propagator, resolve_propagator, utc_propagate
from starbrain.store.database import Store

router = APIRouter(tags=["passes"], responses=ERROR_RESPONSES)


def _station_model(s: GroundStation) -> Station:
    return Station(name=s.name, lat_deg=s.lat_deg, lon_deg=s.lon_deg, alt_m=s.alt_km * 1000.0)


def parse_station(spec: str) -> GroundStation:
    """A known station's name, or ``NAME:LAT,LON[,ALT_M]`` (degrees, metres)."""
    try:
        return parse_station_spec(spec, KNOWN_STATIONS)
    except ValueError as exc:
        raise ApiError(422, str(exc)) from None


@router.get("/api/stations", response_model=Stations, summary="Named ground stations")
def stations() -> Stations:
    """Stations that /api/passes accepts by name."""
    return Stations(stations=[_station_model(s) for s in KNOWN_STATIONS.values()])


def _find(
    fleet: Fleet,
    index: np.ndarray | None,
    stations: list[GroundStation],
    t0: np.datetime64,
    t1: np.datetime64,
    min_elevation: float,
    device: str | None,
    propagator: Propagator,
) -> tuple[Passes, np.ndarray]:
    table = fleet.table if index is None else fleet.table.take(pa.array(index))
    ids = table.column("norad_id").to_numpy()
    found = find_passes(
        utc_propagate(propagator, table, device=device), ids, stations, t0, t1,
        min_elevation_deg=min_elevation,
    )  # fmt: skip
    order = np.argsort(np.where(np.isnat(found.rise), found.culminate, found.rise), kind="stable")
    return found, order


_StationsQuery = Annotated[
    list[Annotated[str, Query(min_length=1, max_length=100)]] | None,
    Query(
        max_length=MAX_STATIONS,
        description='A known station name or "NAME:LAT,LON[,ALT_M]"; repeatable '
        f"(at most {MAX_STATIONS}). Default: the known stations.",
    ),
]
_HoursQuery = Annotated[
    float,
    Query(ge=0.01, le=MAX_SPAN_DAYS * 24, description="Window length, hours (0.01-336)."),
]
_ElevationQuery = Annotated[float, Query(ge=-5.0, lt=90.0, description="Elevation mask, degrees.")]
_FromQuery = Annotated[
    str | None,
    Query(
        alias="from",
        max_length=64,
        description="Window start, ISO 8601 UTC (no offset: UTC); default now.",
        examples=["2026-11-25T06:00:00Z"],
        json_schema_extra={"format": "date-time"},
    ),
]
_LimitQuery = Annotated[
    int, Query(ge=1, le=MAX_PASS_ROWS, description="Passes returned (earliest first).")
]
_ModelQuery = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=100,
        description="Propagator: a registered world model's name, 'latest', or 'sgp4' "
        "(default: the latest registered world model, else SGP4), as the CLI's --model.",
    ),
]


def _propagator(store: Store, model: str | None) -> Propagator:
    """The propagator ``model`` names (404 for an unknown model name, 422 otherwise)."""
    try:
        return resolve_propagator(store, model)
    except StarbrainError as exc:
        raise ApiError(404 if model and "no model named" in str(exc) else 422, str(exc)) from None


def _check_work(settings: ConsoleSettings, n_sat: int, n_stations: int, hours: float) -> None:
    """Refuse (422) a request over ``settings.max_pass_work`` satellite-station-hours."""
    if n_sat * n_stations * hours > settings.max_pass_work:
        raise ApiError(
            422,
            f"{n_sat} satellites x {n_stations} stations x {hours:g} h is too much work for one "
            f"request (limit {settings.max_pass_work:g} satellite-station-hours): list fewer "
            "satellites with norad=, fewer stations or fewer hours",
        )


def _rows(fleet: Fleet, found: Passes, order: np.ndarray, limit: int) -> list[PassRow]:
    """The first ``limit`` passes in ``order`` as response rows (times ISO UTC, elevation to
    0.01 degree)."""
    top = order[:limit]
    rise, culm, set_ = (iso_list(getattr(found, k)[top]) for k in ("rise", "culminate", "set"))
    ids = found.norad_id[top]
    pos, _ = fleet.index_of(ids)
    return [
        PassRow(
            norad_id=int(ids[k]),
            name=fleet.names[int(pos[k])],
            station=str(found.station[top[k]]),
            rise=rise[k],
            culminate=culm[k],
            set=set_[k],
            max_elevation_deg=round(float(found.max_elevation_deg[top[k]]), 2),
            sunlit=bool(found.sunlit[top[k]]),
        )
        for k in range(len(top))
    ]


@router.get("/api/passes", response_model=PassesResponse, summary="Ground passes")
async def passes(
    request: Request,
    fleet: FleetDep,
    settings: SettingsDep,
    store: StoreDep,
    station: _StationsQuery = None,
    hours: _HoursQuery = 12.0,
    min_elevation: _ElevationQuery = 10.0,
    start: _FromQuery = None,
    norad: NoradList = None,
    limit: _LimitQuery = 200,
    model: _ModelQuery = None,
) -> PassesResponse:
    """Passes of every stored object (or the listed ones) over the stations: rise, culmination,
    set (UTC) and maximum elevation above the mask, with whether the satellite is sunlit at
    culmination. The work (satellites x stations x hours) is bounded; narrow the request with
    ``norad``, fewer stations or fewer hours when it is refused."""
    sites = [parse_station(s) for s in station] if station else list(KNOWN_STATIONS.values())
    if len({s.name for s in sites}) != len(sites):
        raise ApiError(422, "station names must be distinct")
    t0 = instant(start, "from")
    t1 = t0 + np.timedelta64(round(hours * 3600e9), "ns")
    propagator = _propagator(store, model)
    index = require_ids(fleet, norad) if norad else None
    n_sat = len(fleet) if index is None else int(index.size)
    _check_work(settings, n_sat, len(sites), hours)
    if n_sat == 0:
        rows: list[PassRow] = []
        total = 0
    else:
        try:
            found, order = await compute(
                request, _find, fleet, index, sites, t0, t1, min_elevation, settings.device,
                propagator,
            )  # fmt: skip
        except ValueError as exc:  # the planner's own checks, written for the user
            raise ApiError(422, str(exc)) from None
        total = len(found)
        rows = _rows(fleet, found, order, limit)
    return PassesResponse(
        start=iso(t0) or "",
        stop=iso(t1) or "",
        min_elevation_deg=min_elevation,
        stations=[_station_model(s) for s in sites],
        satellites=n_sat,
        total=total,
        truncated=total > len(rows),
        propagator=propagator.name,
        passes=rows,
    )
