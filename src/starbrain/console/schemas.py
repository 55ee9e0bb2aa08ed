"""Pydantic models: the console API's response bodies and live-update messages.

Degrees, kilometres and ISO 8601 UTC strings (``...Z``) at this edge. Bulk position data are
columnar (one array per quantity, aligned by index) to keep frames of thousands of objects
small; ``null`` marks a value SGP4 could not produce (error code, see ``sgp4_error``).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

__all__ = [
    "AnomaliesResponse",
    "AnomalyRow",
    "CatalogObject",
    "CatalogObjectDetail",
    "CatalogPage",
    "CatalogSummary",
    "CitiesResponse",
    "City",
    "ConjunctionDetail",
    "ConjunctionObject",
    "ConjunctionRow",
    "ConjunctionsResponse",
    "ErrorDetail",
    "ErrorResponse",
    "GroundTrack",
    "Health",
    "IslLinks",
    "LiveControl",
    "LiveFrame",
    "LiveHello",
    "LoadRecord",
    "LoopEvent",
    "LoopStatus",
    "LoopTask",
    "MarsWindow",
    "MarsWindows",
    "ModelEntry",
    "ModelHorizon",
    "ModelsResponse",
    "PassRow",
    "PassesResponse",
    "Porkchop",
    "Positions",
    "RouteNode",
    "RouteResponse",
    "ShellSummary",
    "Station",
    "Stations",
    "TelemetryParameter",
    "TelemetryParameters",
    "TelemetrySeries",
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
    altitude_km: float | None = Field(
        description="Mean altitude: SGP4's mean semi-major axis less the WGS-72 radius (km)."
    )
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
    propagator: str = Field(
        description="What propagated the satellites: 'sgp4', or the registered world model "
        "(name and registration time)."
    )
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


class ConjunctionRow(BaseModel):
    """One close approach found by a screening (the newest screening of each pair and TCA)."""

    norad_id_1: int
    norad_id_2: int
    name_1: str | None
    name_2: str | None
    tca: str
    tca_ns: int = Field(description="TCA as integer nanoseconds since 1970 (UTC).")
    id: str = Field(
        description="NORAD_ID_1/NORAD_ID_2/TCA_NS: the details are at /api/conjunctions/{id} "
        "(a string, since JavaScript numbers cannot hold tca_ns exactly)."
    )
    miss_distance_km: float
    relative_speed_kmps: float
    collision_probability: float
    screened_at: str


class ConjunctionsResponse(BaseModel):
    total: int = Field(description="Conjunctions stored that match the filters.")
    sort: str
    conjunctions: list[ConjunctionRow]


class ConjunctionObject(BaseModel):
    norad_id: int
    name: str | None
    epoch: str | None = Field(description="Epoch of the element set screened.")
    position_km: list[float] = Field(description="TEME position at TCA.")
    velocity_kmps: list[float] = Field(description="TEME velocity at TCA.")
    covariance_rtn_km2: list[float] = Field(
        description="Position covariance in the object's RTN frame: RR, TR, TT, NR, NT, NN."
    )


class ConjunctionDetail(BaseModel):
    """Everything stored about one conjunction (as a CCSDS CDM would carry it)."""

    tca: str
    tca_ns: int
    miss_distance_km: float
    relative_speed_kmps: float
    miss_rtn_km: list[float] = Field(
        description="Object 2 relative to object 1 in object 1's RTN (radial, in-track, "
        "cross-track) frame at TCA."
    )
    relative_velocity_rtn_kmps: list[float]
    collision_probability: float
    pc_method: str | None
    hard_body_radius_m: float
    covariance_source: str | None
    screening_threshold_km: float
    screen_start: str | None
    screen_stop: str | None
    screened_at: str
    object_1: ConjunctionObject
    object_2: ConjunctionObject


class TelemetryParameter(BaseModel):
    apid: int
    parameter: str
    samples: int
    first: str
    last: str


class TelemetryParameters(BaseModel):
    parameters: list[TelemetryParameter]
    anomalies_available: bool = Field(description="Whether the store has an anomalies stream.")


class AnomalyRow(BaseModel):
    source: str
    parameter: str
    start: str
    end: str | None
    score: float | None
    method: str | None
    detected_at: str | None
    label: str | None


class AnomaliesResponse(BaseModel):
    available: bool = Field(description="False: no anomaly detector has written to this store.")
    total: int
    anomalies: list[AnomalyRow]


class TelemetrySeries(BaseModel):
    """One parameter's values over a window, thinned to at most ``max_points`` samples."""

    apid: int | None
    parameter: str
    start: str | None
    stop: str | None
    total: int = Field(description="Samples in the window before thinning.")
    stride: int = Field(description="Every stride-th sample is returned.")
    time: list[str]
    value: list[float | None]
    anomalies: list[AnomalyRow] = Field(description="Anomalies of this parameter in the window.")


class ModelHorizon(BaseModel):
    horizon_min: float
    n_sat: int | None = None
    sgp4_median_km: float | None = None
    sgp4_p95_km: float | None = None
    model_median_km: float | None = None
    model_p95_km: float | None = None
    median_ratio: float | None = Field(default=None, description="Model / SGP4 median error.")


class ModelEntry(BaseModel):
    name: str
    created: str
    kind: str | None
    device: str | None
    data_fingerprint: str | None
    horizons: list[ModelHorizon] = Field(description="Position error against truth per horizon.")
    metrics: Any = Field(description="The metrics as registered (JSON).")


class ModelsResponse(BaseModel):
    models: list[ModelEntry]


class LoopTask(BaseModel):
    name: str
    done_until: str
    runs: int
    interval_s: float | None = None
    seconds: float | None = None
    errors: int | None = None


class LoopEvent(BaseModel):
    subject: str
    sim_time: str | None
    message: Any


class LoopStatus(BaseModel):
    """The live loop: running in this process or not, its checkpoint and recent messages."""

    running: bool
    sim_time: str | None
    speed: float | None
    publisher: str | None
    tasks: list[LoopTask]
    events: list[LoopEvent]


class IslLinks(BaseModel):
    """+Grid inter-satellite links of one shell at one time. Satellites (nodes) in ITRF, km
    (the globe's Earth-fixed frame), links as pairs of indices into the node arrays."""

    time: str
    shell: int = Field(description="Shell id, as in the catalogue summary.")
    planes: int = Field(description="Orbital planes found in the shell.")
    per_plane: int = Field(description="Satellites per plane.")
    phasing: int = Field(description="Walker phasing factor F found in the shell.")
    count: int = Field(description="Satellites in the shell.")
    norad_id: list[int]
    x_km: list[float | None]
    y_km: list[float | None]
    z_km: list[float | None]
    link_a: list[int] = Field(description="First satellite of each link (index into norad_id).")
    link_b: list[int] = Field(description="Second satellite of each link.")
    length_km: list[float | None]
    up: list[bool] = Field(description="Line of sight clears 80 km altitude (link usable).")
    links_total: int
    links_up: int


class RouteNode(BaseModel):
    kind: Literal["city", "satellite"]
    name: str | None
    norad_id: int | None
    x_km: float
    y_km: float
    z_km: float
    lat_deg: float
    lon_deg: float
    alt_km: float


class RouteResponse(BaseModel):
    """The shortest path city -> satellites -> city at one time over one shell's +Grid ISLs
    (ground-satellite links above the elevation mask). Positions in ITRF, km."""

    time: str
    shell: int
    source: str
    destination: str
    min_elevation_deg: float
    connected: bool
    rtt_ms: float | None = Field(description="Twice the path length over c (propagation only).")
    length_km: float | None
    hops: int = Field(description="Links on the path (GSL up + ISLs + GSL down); 0: no path.")
    nodes: list[RouteNode] = Field(description="City, satellites in order, city.")
    great_circle_km: float
    fibre_rtt_ms: float = Field(description="RTT over great-circle fibre at c / 1.4682.")


class City(BaseModel):
    name: str
    lat_deg: float
    lon_deg: float


class CitiesResponse(BaseModel):
    cities: list[City]
