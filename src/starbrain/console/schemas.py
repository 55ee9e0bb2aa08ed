"""Pydantic models: the console API's response bodies and live-update messages.

Degrees, kilometres and ISO 8601 UTC strings (``...Z``) at this edge. Bulk position data are
columnar (one array per quantity, aligned by index) to keep frames of thousands of objects
small; ``null`` marks a value SGP4 could not produce (error code, see ``sgp4_error``).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

__all__ = [
    "CatalogObject",
    "CatalogObjectDetail",
    "CatalogPage",
    "CatalogSummary",
    "ErrorDetail",
    "ErrorResponse",
    "GroundTrack",
    "Health",
    "LiveControl",
    "LiveFrame",
    "LiveHello",
    "LoadRecord",
    "MarsWindow",
    "MarsWindows",
    "PassRow",
    "PassesResponse",
    "Porkchop",
    "Positions",
    "ShellSummary",
    "Station",
    "Stations",
    "TransferOption",
]


class ErrorDetail(BaseModel):
    location: str = Field(description="Where the problem is, e.g. 'query.hours'.")
    message: str


class ErrorResponse(BaseModel):
    """Every error: a machine-readable code and one sentence for people."""

    error: str = Field(description="Short code: invalid_request, not_found, unauthorized, ...")
    message: str
    details: list[ErrorDetail] = Field(default_factory=list)


class Health(BaseModel):
    status: Literal["ok"] = "ok"
    version: str
    time_utc: str
    store: str = Field(description="The store file the console reads.")
    objects: int = Field(description="Objects with a current element set.")
    element_sets: int
    auth: bool = Field(description="Whether requests must carry the bearer token.")


class ShellSummary(BaseModel):
    """A group of objects on similar orbits (same inclination to 1 deg, altitude to 10 km)."""

    id: int = Field(description="Index used by the 'shell' arrays; the last one may be 'other'.")
    label: str
    count: int
    altitude_km: float | None = Field(description="Mean altitude (semi-major axis less 6378 km).")
    inclination_deg: float | None


class LoadRecord(BaseModel):
    loaded_at: str
    stream: str
    source: str
    n_rows: int
    n_new: int
    n_errors: int


class CatalogSummary(BaseModel):
    objects: int
    element_sets: int
    oldest_epoch: str | None
    newest_epoch: str | None
    shells: list[ShellSummary]
    recent_loads: list[LoadRecord]


class CatalogObject(BaseModel):
    norad_id: int
    name: str | None
    object_id: str | None
    epoch: str
    inclination_deg: float
    eccentricity: float
    mean_motion_rev_per_day: float
    period_min: float | None
    perigee_km: float | None
    apogee_km: float | None
    bstar_per_earth_radius: float
    shell: int


class CatalogPage(BaseModel):
    """The catalogue summary and one page of objects (sorted by NORAD number)."""

    summary: CatalogSummary
    total: int = Field(description="Objects matching the filters.")
    offset: int
    limit: int
    objects: list[CatalogObject]


class CatalogObjectDetail(CatalogObject):
    tle_line1: str | None
    tle_line2: str | None
    source: str | None
    history_epochs: list[str] = Field(
        description="Every stored epoch of this object, oldest first."
    )


class Positions(BaseModel):
    """Geodetic (WGS-84) positions of many objects at one time (SGP4 -> TEME -> ITRF)."""

    time: str
    count: int
    norad_id: list[int]
    lat_deg: list[float | None]
    lon_deg: list[float | None]
    alt_km: list[float | None]
    shell: list[int]
    sgp4_error: list[int] = Field(description="SGP4 error code per object (0: none).")


class GroundTrack(BaseModel):
    norad_id: int
    name: str | None
    start: str
    step_s: float
    time: list[str]
    lat_deg: list[float | None]
    lon_deg: list[float | None]
    alt_km: list[float | None]


class Station(BaseModel):
    name: str
    lat_deg: float
    lon_deg: float
    alt_m: float


class Stations(BaseModel):
    stations: list[Station]


class PassRow(BaseModel):
    norad_id: int
    name: str | None
    station: str
    rise: str | None = Field(description="null: already above the mask at the window start.")
    culminate: str | None
    set: str | None = Field(description="null: still above the mask at the window end.")
    max_elevation_deg: float
    sunlit: bool


class PassesResponse(BaseModel):
    start: str
    stop: str
    min_elevation_deg: float
    stations: list[Station]
    satellites: int
    total: int = Field(description="Passes found; 'passes' holds the first 'limit' by time.")
    truncated: bool
    passes: list[PassRow]


class TransferOption(BaseModel):
    type: int = Field(description="1: transfer angle < 180 deg, 2: > 180 deg.")
    launch: str
    arrival: str
    tof_days: float
    c3_km2_s2: float
    vinf_arr_kms: float
    dla_deg: float
    rla_deg: float
    dv_total_kms: float


class MarsWindow(TransferOption):
    opportunity: str = Field(description="Reference date of the synodic opportunity.")
    on_boundary: bool = Field(description="Minimum on the edge of the searched region.")


class MarsWindows(BaseModel):
    from_year: int
    to_year: int
    windows: list[MarsWindow]


class Porkchop(BaseModel):
    """A launch x arrival grid: row i is launch[i], column j is arrival[j]; null: no transfer."""

    window: int
    step_days: float
    departure: str
    target: str
    launch: list[str]
    arrival: list[str]
    c3_km2_s2: list[list[float | None]]
    vinf_arr_kms: list[list[float | None]]
    tof_days: list[list[float | None]]
    dv_total_kms: list[list[float | None]]
    best_type1: TransferOption | None
    best_type2: TransferOption | None


class LiveHello(BaseModel):
    """The first message on /ws/live: what the frames will carry."""

    type: Literal["hello"] = "hello"
    interval_s: float
    speed: float
    count: int
    shells: list[ShellSummary]


class LiveFrame(Positions):
    """A /ws/live frame: positions at the simulated time ``time``."""

    type: Literal["positions"] = "positions"
    seq: int
    speed: float


class LiveControl(BaseModel):
    """A message a client may send on /ws/live to change the stream."""

    speed: float | None = Field(default=None, ge=0.0, le=3600.0)
    interval_s: float | None = Field(default=None, ge=0.5, le=60.0)
    time: str | None = Field(default=None, description="Jump the simulated clock (ISO 8601).")
