"""GET /api/telemetry/parameters, /api/telemetry/series (one parameter over a window, thinned,
with its anomalies) and /api/anomalies (the ``anomalies`` stream; empty when no detector has
written one)."""

from __future__ import annotations

import math
from typing import Annotated

import numpy as np
from fastapi import APIRouter, Query, Request

from starbrain.console.deps import ERROR_RESPONSES, ApiError, StoreDep, compute, instant
from starbrain.console.schemas import (
    AnomaliesResponse,
    AnomalyRow,
    TelemetryParameter,
    TelemetryParameters,
    TelemetrySeries,
)
from starbrain.console.settings import MAX_PAGE, MAX_SPAN_DAYS
from starbrain.core.timeconv import iso, iso_ns
from starbrain.store import queries
from starbrain.store.database import Store

router = APIRouter(tags=["telemetry"], responses=ERROR_RESPONSES)

MAX_POINTS = 5000
MAX_PARAMETERS = 1000
ANOMALIES = "anomalies"


has_table = queries.has_table  # re-exported: routes.models imports it from here


def _parameters(store: Store) -> TelemetryParameters:
    t = queries.telemetry_parameters(store, MAX_PARAMETERS)
    return TelemetryParameters(
        parameters=[
            TelemetryParameter(
                apid=r["apid"],
                parameter=r["parameter"],
                samples=r["n"],
                first=iso_ns(r["first_ns"]) or "",
                last=iso_ns(r["last_ns"]) or "",
            )
            for r in t.to_pylist()
        ],
        anomalies_available=has_table(store, ANOMALIES),
    )


@router.get(
    "/api/telemetry/parameters", response_model=TelemetryParameters, summary="Telemetry channels"
)
async def parameters(request: Request, store: StoreDep) -> TelemetryParameters:
    """Every stored telemetry parameter (per APID): samples, first and last time."""
    return await compute(request, _parameters, store)


def _anomalies(
    store: Store,
    parameter: str | None,
    source: str | None,
    t0: np.datetime64 | None,
    t1: np.datetime64 | None,
    limit: int,
) -> tuple[bool, int, list[AnomalyRow]]:
    if not has_table(store, ANOMALIES):
        return False, 0, []
    total, t = queries.anomalies(
        store, parameter=parameter, source=source, start=t0, stop=t1, limit=limit
    )
    rows = t.to_pylist()
    return (
        True,
        total,
        [
            AnomalyRow(
                source=str(r["source"]),
                parameter=str(r["parameter"]),
                start=iso_ns(r["start_ns"]) or "",
                end=iso_ns(r["end_ns"]),
                score=None if r["score"] is None or not math.isfinite(r["score"]) else r["score"],
                method=r["method"],
                detected_at=iso_ns(r["detected_at_ns"]),
                label=r["label"],
            )
            for r in rows
        ],
    )


@router.get("/api/anomalies", response_model=AnomaliesResponse, summary="Telemetry anomalies")
async def anomalies(
    request: Request,
    store: StoreDep,
    parameter: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
    source: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
) -> AnomaliesResponse:
    """Detected anomalies, newest first: source, parameter, start and end (UTC), score (larger
    is more anomalous) and method. ``available`` is false when the store has no anomalies
    stream yet (no detector has run)."""
    ok, total, rows = await compute(
        request, _anomalies, store, parameter, source, None, None, limit
    )
    return AnomaliesResponse(available=ok, total=total, anomalies=rows)


def _series(
    store: Store,
    parameter: str,
    apid: int | None,
    start: np.datetime64 | None,
    stop: np.datetime64 | None,
    minutes: float,
    max_points: int,
) -> TelemetrySeries | None:
    span = np.timedelta64(round(minutes * 60e9), "ns")
    if start is None or stop is None:
        ends = queries.telemetry_span(store, parameter, apid)
        if ends is None:
            return None
        if stop is None:  # just past the last sample (the store keeps microseconds apart)
            stop = np.datetime64(ends[1] + 1000, "ns") if start is None else start + span
        if start is None:  # the span before it, or less when the data begin later
            start = max(stop - span, np.datetime64(ends[0], "ns"))
    n = queries.telemetry_count(store, parameter, apid, start, stop)
    stride = max(1, math.ceil(n / max_points))
    t = queries.telemetry_series(store, parameter, apid, start, stop, stride)
    times = t.column("t").to_numpy().astype("datetime64[ns]").astype("datetime64[ms]")
    text = np.datetime_as_string(times, unit="ms")
    values = t.column("value").to_numpy(zero_copy_only=False).astype(np.float64)
    _, _, found = _anomalies(store, parameter, None, start, stop, 500)
    return TelemetrySeries(
        apid=apid,
        parameter=parameter,
        start=iso(start),
        stop=iso(stop),
        total=n,
        stride=stride,
        time=[f"{s}Z" for s in text.tolist()],
        value=[v if math.isfinite(v) else None for v in values.tolist()],
        anomalies=found,
    )


@router.get(
    "/api/telemetry/series", response_model=TelemetrySeries, summary="One parameter over time"
)
async def series(
    request: Request,
    store: StoreDep,
    parameter: Annotated[str, Query(min_length=1, max_length=100, description="Its name.")],
    apid: Annotated[int | None, Query(ge=0, le=2047, description="Only this APID.")] = None,
    start: Annotated[
        str | None,
        Query(
            alias="from",
            max_length=64,
            description="Window start, ISO 8601 UTC (no offset: UTC).",
            json_schema_extra={"format": "date-time"},
        ),
    ] = None,
    stop: Annotated[
        str | None,
        Query(
            alias="to",
            max_length=64,
            description="Window end, ISO 8601 UTC (no offset: UTC).",
            json_schema_extra={"format": "date-time"},
        ),
    ] = None,
    minutes: Annotated[
        float,
        Query(gt=0.0, le=MAX_SPAN_DAYS * 1440, description="Window length without from/to."),
    ] = 60.0,
    max_points: Annotated[int, Query(ge=10, le=MAX_POINTS)] = 2000,
) -> TelemetrySeries:
    """Engineering values of one parameter from ``from`` to ``to`` (default: the last
    ``minutes`` of data, or all of it when there is less), every ``stride``-th sample so that
    at most ``max_points`` come back, and the anomalies detected on it in that window."""
    t0 = instant(start, "from") if start is not None else None
    t1 = instant(stop, "to") if stop is not None else None
    if t0 is not None and t1 is not None:
        if t1 <= t0:
            raise ApiError(422, "'to' must be later than 'from'")
        if t1 - t0 > np.timedelta64(round(MAX_SPAN_DAYS * 86400), "s"):
            raise ApiError(422, f"at most {MAX_SPAN_DAYS:g} days per request")
    found = await compute(request, _series, store, parameter, apid, t0, t1, minutes, max_points)
    if found is None:
        raise ApiError(404, f"no telemetry stored for parameter {parameter!r}")
    return found
