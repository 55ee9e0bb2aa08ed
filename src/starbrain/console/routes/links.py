"""GET /api/links (one shell's +Grid inter-satellite links at one time), /api/route (the shortest
city -> satellites -> city path over them) and /api/cities (the cities a route may join).

The stored catalogue carries no constellation structure, only element sets; the structure comes
from them: :func:`starbrain.planners.routing_networks.walker_layout` recognises a Walker-delta
shell in one of the catalogue's shells and orders its satellites as
:func:`starbrain.sources.generators.constellation.generate` lays them out, so that
:func:`starbrain.planners.routing.plus_grid` gives their +Grid links,
:func:`starbrain.planners.routing.isl_up` which of them are usable and
:func:`starbrain.planners.routing.shortest_paths` the route. This module only maps requests to
those planners. Positions are ITRF (km), the
globe's Earth-fixed frame; link lengths and path lengths do not depend on the frame.
"""

from __future__ import annotations

import math
from typing import Annotated

import numpy as np
import numpy.typing as npt
import pyarrow as pa
from fastapi import APIRouter, Query, Request

from starbrain.console.deps import (
    ERROR_RESPONSES,
    ApiError,
    FleetDep,
    SettingsDep,
    TimeParam,
    compute,
    instant,
)
from starbrain.console.fleet import Fleet, nullable
from starbrain.console.schemas import (
    CitiesResponse,
    City,
    IslLinks,
    RouteNode,
    RouteResponse,
)
from starbrain.console.settings import MAX_LINK_SATELLITES
from starbrain.core import timeconv
from starbrain.core.timeconv import iso
from starbrain.planners.cities import CITIES, city
from starbrain.planners.routing import (
    C_KM_S,
    FIBRE_GROUP_INDEX,
    HYPATIA_STARLINK_MIN_ELEVATION_DEG,
    great_circle_km,
    isl_up,
    shortest_paths,
)
from starbrain.planners.routing_networks import NotWalkerError, WalkerLayout
from starbrain.planners.routing_networks import walker_layout as recognise_walker

__all__ = ["WalkerLayout", "router", "walker_layout"]

router = APIRouter(tags=["links"], responses=ERROR_RESPONSES)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def _not_walker(shell_id: int, why: str) -> ApiError:
    return ApiError(
        422,
        f"shell {shell_id} is not a complete Walker-delta constellation shell ({why}), so it "
        "has no +Grid inter-satellite links",
    )


def walker_layout(fleet: Fleet, shell_id: int) -> WalkerLayout:
    """The Walker-delta shell among the fleet's objects of shell ``shell_id``
    (:func:`starbrain.planners.routing_networks.walker_layout`), ``index`` as fleet rows.
    Raises ``ApiError`` (404: no such shell; 422: not a complete Walker shell, or too large).
    """
    named = {s.id for s in fleet.shells if s.label != "other"}
    if shell_id not in named:
        raise ApiError(
            404,
            f"no shell {shell_id} in the catalogue; shells are "
            f"{', '.join(map(str, sorted(named))) or 'none (the catalogue is empty)'}",
        )
    idx = np.flatnonzero(fleet.shell == shell_id).astype(np.int64)
    n = int(idx.size)
    if n > MAX_LINK_SATELLITES:
        raise ApiError(
            422, f"shell {shell_id} has {n} satellites; links cover at most {MAX_LINK_SATELLITES}"
        )
    try:
        found = recognise_walker(fleet.table.take(pa.array(idx)), f"shell {shell_id}")
    except NotWalkerError as exc:
        raise _not_walker(shell_id, str(exc)) from None
    return WalkerLayout(found.shell, idx[found.index])


def itrf_positions(
    fleet: Fleet, index: IntArray, t: np.datetime64, device: str | None
) -> FloatArray:
    """ITRF positions (n, 3) km of the fleet rows ``index`` at UTC ``t`` (SGP4 -> TEME -> ITRF);
    NaN where SGP4 fails (decayed states, code 6, are kept as the globe keeps them)."""
    from starbrain.physics.frames import teme_to_itrf
    from starbrain.physics.sgp4 import propagate

    jd, fr = timeconv.datetime64_to_jd(np.atleast_1d(t))
    r, _, err = propagate(fleet.table.take(pa.array(index)), jd, fr, device=device)
    r_itrf, _ = teme_to_itrf(r, None, jd, fr)
    out = np.asarray(r_itrf, dtype=np.float64)[:, 0, :].copy()
    out[(err[:, 0] != 0) & (err[:, 0] != 6)] = np.nan
    return out


def links_at(
    fleet: Fleet, shell_id: int, t: np.datetime64, device: str | None
) -> dict[str, object]:
    """The fields of :class:`IslLinks` for shell ``shell_id`` at ``t``."""
    layout = walker_layout(fleet, shell_id)
    r = itrf_positions(fleet, layout.index, t, device)
    isl = layout.isl
    a, b = isl[:, 0], isl[:, 1]
    length = np.linalg.norm(r[a] - r[b], axis=1)
    up = isl_up(r[a], r[b])
    return {
        "time": iso(t) or "",
        "shell": shell_id,
        "planes": layout.shell.planes,
        "per_plane": layout.shell.per_plane,
        "phasing": layout.shell.phasing,
        "count": int(layout.index.size),
        "norad_id": fleet.norad_id[layout.index].tolist(),
        "x_km": nullable(r[:, 0], 4),
        "y_km": nullable(r[:, 1], 4),
        "z_km": nullable(r[:, 2], 4),
        "link_a": a.tolist(),
        "link_b": b.tolist(),
        "length_km": nullable(length, 4),
        "up": up.tolist(),
        "links_total": len(isl),
        "links_up": int(up.sum()),
    }


def _node(kind: str, name: str | None, norad: int | None, r: FloatArray) -> RouteNode:
    from starbrain.physics.earth import itrf_to_geodetic

    lat, lon, alt = itrf_to_geodetic(r)
    x, y, z = (round(float(c), 4) for c in r)
    return RouteNode(
        kind=kind,  # type: ignore[arg-type]
        name=name,
        norad_id=norad,
        x_km=x,
        y_km=y,
        z_km=z,
        lat_deg=round(math.degrees(float(lat)), 5),
        lon_deg=round(math.degrees(float(lon)), 5),
        alt_km=round(float(alt), 4),
    )


def route_at(
    fleet: Fleet,
    shell_id: int,
    source: str,
    destination: str,
    t: np.datetime64,
    min_elevation_deg: float,
    device: str | None,
) -> RouteResponse:
    """The shortest GSL - ISLs - GSL path between two cities over shell ``shell_id`` at ``t``."""
    from starbrain.physics.earth import geodetic_to_itrf

    try:
        ends = [city(source), city(destination)]
    except ValueError as exc:
        raise ApiError(422, str(exc)) from None
    layout = walker_layout(fleet, shell_id)
    r = itrf_positions(fleet, layout.index, t, device)
    # a satellite SGP4 cannot place sits at the Earth's centre: no GSL sees it, no ISL clears
    r_route = np.nan_to_num(r, nan=0.0)
    ground, up = [], []
    for g in ends:
        lat, lon = math.radians(g.lat_deg), math.radians(g.lon_deg)
        ground.append(np.asarray(geodetic_to_itrf(lat, lon, g.alt_km), dtype=np.float64))
        up.append(
            np.array([math.cos(lat) * math.cos(lon), math.cos(lat) * math.sin(lon), math.sin(lat)])
        )
    length, paths = shortest_paths(
        r_route[None],
        layout.isl,
        ground[0][None],
        up[0][None],
        ground[1][None],
        up[1][None],
        min_elevation_deg=min_elevation_deg,
    )
    path = paths[0]
    connected = bool(np.isfinite(length[0])) and len(path) > 0
    nodes = [_node("city", ends[0].name, None, ground[0])]
    if connected:
        norad = fleet.norad_id[layout.index[path]]
        names = [fleet.names[int(i)] for i in layout.index[path]]
        nodes += [
            _node("satellite", nm, int(k), r[int(p)])
            for nm, k, p in zip(names, norad, path, strict=True)
        ]
    nodes.append(_node("city", ends[1].name, None, ground[1]))
    gc = great_circle_km(ends[0], ends[1])
    return RouteResponse(
        time=iso(t) or "",
        shell=shell_id,
        source=ends[0].name,
        destination=ends[1].name,
        min_elevation_deg=min_elevation_deg,
        connected=connected,
        rtt_ms=round(2.0 * float(length[0]) / C_KM_S * 1e3, 6) if connected else None,
        length_km=round(float(length[0]), 4) if connected else None,
        hops=len(path) + 1 if connected else 0,
        nodes=nodes,
        great_circle_km=round(gc, 3),
        fibre_rtt_ms=round(2.0 * gc * FIBRE_GROUP_INDEX / C_KM_S * 1e3, 6),
    )


ShellParam = Annotated[
    int, Query(ge=0, le=64, description="Shell id, as listed in the catalogue summary.")
]
_CITY_HELP = 'A city (see /api/cities, any case) or "NAME:LAT,LON[,ALT_M]".'
SourceParam = Annotated[
    str, Query(alias="from", min_length=1, max_length=100, description=_CITY_HELP)
]
DestinationParam = Annotated[
    str, Query(alias="to", min_length=1, max_length=100, description=_CITY_HELP)
]


@router.get("/api/links", response_model=IslLinks, summary="One shell's inter-satellite links")
async def links(
    request: Request,
    fleet: FleetDep,
    settings: SettingsDep,
    shell: ShellParam = 0,
    time: TimeParam = None,
) -> IslLinks:
    """The +Grid inter-satellite links of one shell at one time: every satellite links to its
    two neighbours in its plane and to the nearest-in-phase satellite of each neighbouring
    plane (4 links each, each link listed once). A link is ``up`` while its line of sight
    clears 80 km altitude. The shell must be a complete Walker-delta shell (at most
    5,000 satellites); positions are ITRF, km."""
    t = instant(time, "time")
    body = await compute(request, links_at, fleet, shell, t, settings.device)
    return IslLinks.model_validate(body)


@router.get("/api/route", response_model=RouteResponse, summary="City-to-city route over ISLs")
async def route(
    request: Request,
    fleet: FleetDep,
    settings: SettingsDep,
    source: SourceParam,
    destination: DestinationParam,
    shell: ShellParam = 0,
    time: TimeParam = None,
    min_elevation: Annotated[
        float, Query(ge=0.0, lt=90.0, description="Ground-satellite link elevation mask, deg.")
    ] = HYPATIA_STARLINK_MIN_ELEVATION_DEG,
) -> RouteResponse:
    """The shortest path at one time from a city up to a satellite at least ``min_elevation``
    above it, along one shell's +Grid laser links, down to the other city; its round-trip
    propagation time (2 x length / c) and hops, with the great-circle fibre RTT to compare."""
    t = instant(time, "time")
    return await compute(
        request, route_at, fleet, shell, source, destination, t, min_elevation, settings.device
    )


@router.get("/api/cities", response_model=CitiesResponse, summary="Cities a route can join")
async def cities() -> CitiesResponse:
    """The built-in cities (WGS-84 degrees) that /api/route accepts by name."""
    return CitiesResponse(
        cities=[City(name=c.name, lat_deg=c.lat_deg, lon_deg=c.lon_deg) for c in CITIES.values()]
    )
