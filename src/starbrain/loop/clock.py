"""The loop's simulated clock and its scheduled tasks (see :mod:`starbrain.loop.service`)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from starbrain.core import timeconv
from starbrain.core.timeconv import NS_PER_S as NS

__all__ = ["ScheduledTask", "SimClock", "iso", "ns64", "td"]


def iso(t: np.datetime64) -> str:
    """UTC ISO 8601 with milliseconds and a Z (:func:`starbrain.core.timeconv.iso`)."""
    return timeconv.iso(t) or ""


def ns64(t: Any) -> np.datetime64:
    """One instant as a ``datetime64[ns]`` scalar."""
    value: Any = np.asarray(t, dtype="datetime64[ns]")[()]
    return value


def td(seconds: float) -> np.timedelta64:
    """A duration of ``seconds`` (s, rounded to the nanosecond) as ``timedelta64[ns]``."""
    return np.timedelta64(round(seconds * NS), "ns")


class SimClock:
    """Simulated UTC time: ``speed`` simulated seconds per wall second from an anchor; with
    ``speed == 0`` the clock stands still except when :meth:`sleep_until` moves it (run as
    fast as possible)."""

    def __init__(self, start: np.datetime64, speed: float = 1.0) -> None:
        self._sim = start.astype("datetime64[ns]")
        self._wall = time.monotonic()
        self.speed = speed

    def now(self) -> np.datetime64:
        if self.speed == 0:
            return self._sim
        return self._sim + td((time.monotonic() - self._wall) * self.speed)

    def set_speed(self, speed: float) -> None:
        self._sim, self._wall, self.speed = self.now(), time.monotonic(), speed

    async def sleep_until(self, t: np.datetime64, stop: asyncio.Event) -> bool:
        """Wait until simulated time ``t``; False when ``stop`` was set meanwhile."""
        if self.speed == 0:
            self._sim = max(self._sim, t.astype("datetime64[ns]"))
            await asyncio.sleep(0)
            return not stop.is_set()
        while not stop.is_set():
            wait = float((t - self.now()).astype(np.int64)) / NS / self.speed
            if wait <= 0:
                return True
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), min(wait, 1.0))  # speed may change
        return False


@dataclass
class ScheduledTask:
    """One task of the loop: ``handler(a, b)`` processes the window ``[a, b)``; ``done_until`` is
    its checkpoint, ``due`` the end of its next window."""

    name: str
    interval_s: float
    handler: Callable[[np.datetime64, np.datetime64], Awaitable[None]]
    done_until: np.datetime64
    runs: int = 0
    seconds: float = 0.0
    errors: int = 0

    @property
    def due(self) -> np.datetime64:
        return self.done_until + td(self.interval_s)
