"""Dependencies injected into the routes (settings, store, cached fleet), shared query
parameters, the compute limiter and the error type routes raise."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Annotated, Any, TypeVar

import anyio
import numpy as np
from fastapi import Depends, HTTPException, Query, Request

from starbrain.console.fleet import Fleet, FleetCache, StoreProvider, utc_ns
from starbrain.console.schemas import ErrorResponse
from starbrain.console.settings import (
    EARLIEST_TIME,
    LATEST_TIME,
    MAX_NORAD_PER_REQUEST,
    ConsoleSettings,
)
from starbrain.core import timeconv
from starbrain.store.database import Store

__all__ = [
    "ERROR_RESPONSES",
    "ApiError",
    "FleetDep",
    "NoradList",
    "SettingsDep",
    "StoreDep",
    "TimeParam",
    "compute",
    "instant",
]

T = TypeVar("T")

ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse, "description": "Missing or wrong bearer token."},
    404: {"model": ErrorResponse, "description": "Not found."},
    422: {"model": ErrorResponse, "description": "Invalid or too large a request."},
    503: {
        "model": ErrorResponse,
        "description": "The store is busy (another process is writing to it); retry after the "
        "seconds in the Retry-After header.",
    },
}


class ApiError(HTTPException):
    """An error for the client: status and one sentence (rendered as ``ErrorResponse``)."""

    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(status_code=status_code, detail=message)


def get_settings(request: Request) -> ConsoleSettings:
    return request.app.state.settings


def get_store(request: Request) -> Iterator[Store]:
    """The store for one request; raises ``StoreBusyError`` (answered 503 with Retry-After)
    when another process holds its write lock for longer than the store's short retry."""
    stores: StoreProvider = request.app.state.stores
    with stores.open() as store:
        yield store


def get_fleet(request: Request) -> Fleet:
    cache: FleetCache = request.app.state.fleet_cache
    return cache.get()


SettingsDep = Annotated[ConsoleSettings, Depends(get_settings)]
StoreDep = Annotated[Store, Depends(get_store)]
FleetDep = Annotated[Fleet, Depends(get_fleet)]
NoradList = Annotated[
    list[Annotated[int, Query(ge=1, le=339_999)]] | None,
    Query(
        max_length=MAX_NORAD_PER_REQUEST,
        description=f"Catalogue numbers (repeat the parameter; at most {MAX_NORAD_PER_REQUEST}).",
    ),
]


async def compute(request: Request, fn: Callable[..., T], *args: Any) -> T:
    """Run a blocking computation in a worker thread, at most ``compute_slots`` at a time."""
    limiter: anyio.CapacityLimiter = request.app.state.compute_limiter
    return await anyio.to_thread.run_sync(fn, *args, limiter=limiter)


TimeParam = Annotated[
    str | None,
    Query(
        max_length=64,
        description="UTC time, ISO 8601 (e.g. 2026-11-25T06:00:00Z; without an offset: UTC), "
        f"from {EARLIEST_TIME} to {LATEST_TIME}. Default: now.",
        examples=["2026-11-25T06:00:00Z"],
        json_schema_extra={"format": "date-time"},
    ),
]


def instant(
    value: str | dt.datetime | None, what: str, kind: str = "query parameter"
) -> np.datetime64:
    """A request time (ISO 8601; no offset: UTC; None: now) -> UTC datetime64[ns], within
    bounds; else an ``ApiError`` naming the ``kind`` and name (``what``) of the input."""
    if value is None:
        return utc_ns(timeconv.utc_now())
    try:
        t = utc_ns(value)
        if np.isnat(t):
            raise ValueError(f"cannot read {value!r} as a UTC time (expected ISO 8601)")
    except (ValueError, OverflowError, TypeError) as exc:
        raise ApiError(422, f"{kind} {what!r}: {exc}") from None
    if not np.datetime64(EARLIEST_TIME) <= t < np.datetime64(LATEST_TIME):
        raise ApiError(
            422, f"{kind} {what!r}: must be between {EARLIEST_TIME} and {LATEST_TIME} (UTC)"
        )
    return t


def require_ids(fleet: Fleet, norad: list[int]) -> np.ndarray:
    """Row indices of ``norad`` in the fleet (order kept, duplicates dropped); 404 if missing."""
    unique = list(dict.fromkeys(norad))
    index, missing = fleet.index_of(unique)
    if missing:
        shown = ", ".join(map(str, missing[:10])) + (" ..." if len(missing) > 10 else "")
        raise ApiError(404, f"no element set stored for NORAD {shown}")
    return index
