"""The console's settings and the bounds every request is held to.

The bounds are module constants because the OpenAPI schema is generated from them (a query
parameter's ``le=`` is part of the published contract); the per-server knobs (store, token,
live-update cadence, the passes work budget) live in :class:`ConsoleSettings`.

Environment: ``STARBRAIN_TOKEN`` (the bearer token, when none is passed), ``STARBRAIN_DB`` and
``STARBRAIN_DATA`` (the store, via :func:`starbrain.config.settings`).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from pathlib import Path

from starbrain.config import settings as global_settings
from starbrain.core.errors import StarbrainError

__all__ = [
    "MAX_GROUNDTRACK_POINTS",
    "MAX_LINK_SATELLITES",
    "MAX_NORAD_PER_REQUEST",
    "MAX_OBJECTS",
    "MAX_PAGE",
    "MAX_PASS_ROWS",
    "MAX_SPAN_DAYS",
    "MAX_STATIONS",
    "MIN_TOKEN_LENGTH",
    "ConsoleSettings",
    "check_bind",
    "is_loopback",
]

MAX_SPAN_DAYS = 14.0  # any time span a request asks for (passes, ground tracks)
MAX_NORAD_PER_REQUEST = 1000  # catalogue numbers listed explicitly in one request
MAX_OBJECTS = 30_000  # objects propagated by one positions request or live frame
MAX_GROUNDTRACK_POINTS = 5000
MAX_STATIONS = 8
MAX_LINK_SATELLITES = 5000  # satellites of the one shell a links or route request covers
MAX_PASS_ROWS = 5000
MAX_PAGE = 1000  # catalogue rows per page
MIN_TOKEN_LENGTH = 16
# Request times: from Sputnik to the end of DE421 (which /api/passes needs for the Sun; it
# covers 1899-07-29 .. 2053-10-09) less the longest span a request may ask for.
EARLIEST_TIME = "1957-10-04"
LATEST_TIME = "2053-09-01"
MARS_FIRST_YEAR, MARS_LAST_YEAR = 1901, 2050  # DE421 (1899-07-29 .. 2053-10-09) less margins
MARS_MAX_YEARS = 30


@dataclass(frozen=True, slots=True)
class ConsoleSettings:
    """Per-server settings. ``token`` None means no authentication (loopback only)."""

    store_path: Path = field(default_factory=lambda: global_settings().db_path)
    token: str | None = field(default_factory=lambda: global_settings().token)
    live_interval_s: float = 2.0  # default wall-clock period of /ws/live frames
    live_max_connections: int = 16
    # Passes cost ~ satellites x stations x hours (about 7 us each on one core); this caps one
    # request at roughly 7 s of work.
    max_pass_work: float = 1_000_000.0
    compute_slots: int = 2  # expensive computations run side by side at most
    fleet_refresh_s: float = 5.0  # how often the cached catalogue checks the store for changes
    mars_max_years: int = MARS_MAX_YEARS  # opportunities searched by one windows request
    device: str | None = field(default_factory=lambda: global_settings().device)

    def __post_init__(self) -> None:
        if not 1 <= self.mars_max_years <= MARS_MAX_YEARS:
            raise StarbrainError(f"mars_max_years must be in 1..{MARS_MAX_YEARS}")
        if self.token is not None and len(self.token) < MIN_TOKEN_LENGTH:
            raise StarbrainError(
                f"the console token must be at least {MIN_TOKEN_LENGTH} characters; make one "
                "with: python -c 'import secrets; print(secrets.token_urlsafe(32))'"
            )


def is_loopback(host: str) -> bool:
    """True for addresses only this machine can reach (127.0.0.0/8, ::1, "localhost")."""
    host = host.strip().strip("[]")
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


def check_bind(host: str, token: str | None) -> None:
    """Refuse to serve a non-loopback address without a token (raises ``StarbrainError``)."""
    if not is_loopback(host) and not token:
        raise StarbrainError(
            f"refusing to serve on {host}, which other machines can reach, without a token: "
            "pass --token or set STARBRAIN_TOKEN (clients then send 'Authorization: Bearer "
            "TOKEN'), or bind 127.0.0.1"
        )
