"""Time-dependent inputs of the force models: Sun and Moon positions, Earth orientation and
(for the MSIS density models) observed space weather.

Everything is tabulated once per propagation over the time span it needs and then interpolated
per row, because the batched integrator asks for these at a different time for every satellite
and evaluating Skyfield's nutation series at every stage would dominate the run time.

* Time variable: SI seconds of Terrestrial Time elapsed since the UTC epoch of the propagation.
  A UTC epoch and UTC output times are converted with Skyfield's bundled leap-second table, so a
  leap second inside the span is handled.
* Inertial frame: GCRS (ICRS axes, geocentric). Sun and Moon are geometric geocentric positions
  from JPL DE421 as shipped by ``skyfield-data`` (offline), read with Skyfield at TDB, tabulated
  at ``step_s`` with their velocities and interpolated by cubic Hermite polynomials (a 1 h step
  keeps the Moon within about a centimetre of the direct evaluation).
* Earth orientation: ``R(t) = R3(GAST) @ NPB`` where ``NPB`` is Skyfield's IAU 2000A/2006
  precession-nutation-bias matrix and GAST is its Greenwich apparent sidereal time (UT1 from
  Skyfield's built-in IERS table). Polar motion (a few 1e-6 rad) is neglected: ``R`` maps GCRS to
  a terrestrial frame whose z axis is the Celestial Intermediate Pole, which differs from ITRF by
  polar motion only. ``NPB`` is interpolated linearly (its entries change by < 1e-12 between
  hourly nodes beyond linear), ``GAST - omega * t`` likewise.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from starbrain.core import timeconv
from starbrain.physics.space_weather import SpaceWeatherTable

__all__ = [
    "SIDEREAL_RATE_RADPS",
    "EnvironmentSample",
    "ForceEnvironment",
    "elapsed_tt_seconds",
    "epoch_tt",
]

#: Rate of Greenwich sidereal time per UT1 second, 2*pi*1.00273781191135448/86400 (IERS 2010).
SIDEREAL_RATE_RADPS = 2.0 * math.pi * 1.00273781191135448 / 86400.0


@lru_cache(maxsize=1)
def _timescale() -> Any:
    from skyfield.api import load

    return load.timescale(builtin=True)


def _ephemeris(name: str) -> Any:
    """The planetary ephemeris: DE421 as skyfield-data ships it (the only one it ships), opened
    once per process by ``frames.ephemeris``."""
    if name != "de421":
        raise ValueError(f"ephemeris {name!r} is not shipped by skyfield-data; use 'de421'")
    from starbrain.physics.frames import ephemeris

    return ephemeris()


def _utc_to_skyfield(t: Any) -> Any:
    """UTC datetime64 (array) -> Skyfield Time, leap seconds from Skyfield's bundled table."""
    t64 = np.atleast_1d(np.asarray(timeconv.to_datetime64(t))).astype("datetime64[ns]")
    day = t64.astype("datetime64[D]")
    sec = (t64 - day).astype(np.int64) / 1e9
    year = t64.astype("datetime64[Y]").astype(np.int64) + 1970
    month = t64.astype("datetime64[M]").astype(np.int64) % 12 + 1
    dom = (day - t64.astype("datetime64[M]").astype("datetime64[D]")).astype(np.int64) + 1
    return _timescale().utc(year, month, dom, 0, 0, sec)


def epoch_tt(epoch: Any) -> tuple[float, float]:
    """UTC epoch -> TT Julian date as (whole, fraction).

    ``epoch`` is a split UTC Julian date ``(jd, fr)`` or anything :func:`timeconv.to_datetime64`
    reads (datetime64, datetime, ISO string).
    """
    t64: Any
    if isinstance(epoch, tuple) and len(epoch) == 2:
        t64 = timeconv.jd_to_datetime64(epoch[0], epoch[1])
    else:
        t64 = timeconv.to_datetime64(epoch)
    ts = _utc_to_skyfield(t64)
    return float(ts.whole[0]), float(ts.tt_fraction[0])


def _tai_minus_utc_s(t64: np.ndarray) -> np.ndarray:
    """TAI - UTC in whole seconds at UTC times (Skyfield's bundled leap-second table)."""
    jd, fr = timeconv.datetime64_to_jd(t64)
    ts = _utc_to_skyfield(t64)
    return np.rint(((ts.whole - jd) + (ts.tai_fraction - fr)) * 86400.0)


def elapsed_tt_seconds(epoch: Any, times: Any) -> npt.NDArray[np.float64]:
    """SI seconds from a UTC epoch to UTC times (datetime64 etc.), leap seconds included.

    Exact to the nanosecond of the inputs: the UTC difference is taken in integer nanoseconds
    and the change of TAI - UTC (whole leap seconds) is added.
    """
    if isinstance(epoch, tuple) and len(epoch) == 2:
        e64 = np.atleast_1d(timeconv.jd_to_datetime64(epoch[0], epoch[1]))
    else:
        e64 = np.atleast_1d(np.asarray(timeconv.to_datetime64(epoch)))
    t64 = np.atleast_1d(np.asarray(timeconv.to_datetime64(times))).astype("datetime64[ns]")
    e64 = e64.astype("datetime64[ns]")
    dt_ns = (t64 - e64[0]).astype(np.int64)
    leap = _tai_minus_utc_s(t64) - _tai_minus_utc_s(e64)[0]
    return dt_ns / 1e9 + leap


class EnvironmentSample(NamedTuple):
    """Per-row environment at k times: pole (k, 3) unit CIP in GCRS; sun, moon (k, 3) km
    geocentric GCRS; rotation (k, 3, 3) GCRS -> terrestrial. Absent parts are None."""

    pole: np.ndarray | None
    sun: np.ndarray | None
    moon: np.ndarray | None
    rotation: np.ndarray | None


class ForceEnvironment:
    """Sun/Moon geocentric GCRS positions (km) and Earth orientation over ``[t_lo_s, t_hi_s]``.

    epoch_tt: TT Julian date (whole, fraction) of ``t = 0``. Times are TT seconds from it.
    All query methods take ``t`` of shape (k,) and return per-row results.
    """

    def __init__(
        self,
        epoch_tt: tuple[float, float],
        t_lo_s: float,
        t_hi_s: float,
        *,
        step_s: float = 3600.0,
        sun: bool = True,
        moon: bool = True,
        rotation: bool = True,
        ephemeris: str = "de421",
        epoch_utc_mjd: float | None = None,
        space_weather: str | None = None,
    ) -> None:
        if not step_s > 0:
            raise ValueError(f"the table step must be positive, got {step_s!r} s")
        self.epoch_tt = (float(epoch_tt[0]), float(epoch_tt[1]))
        self.step_s = float(step_s)
        # One node of margin on each side: dense-output stages never leave the span, but a
        # caller may probe slightly outside it.
        lo = math.floor(t_lo_s / step_s) - 1
        hi = math.ceil(t_hi_s / step_s) + 1
        self.t0_s = lo * step_s
        self.n_nodes = hi - lo + 1
        nodes = self.t0_s + step_s * np.arange(self.n_nodes)
        ts = _timescale()
        t_nodes = ts.tt_jd(self.epoch_tt[0], self.epoch_tt[1] + nodes / 86400.0)
        self._sun = self._moon = None
        self._bodies: tuple[np.ndarray, np.ndarray] | None = None
        if sun or moon:
            eph = _ephemeris(ephemeris)
            earth = eph["earth"]
            if sun:
                self._sun = self._body_table(eph["sun"] - earth, t_nodes)
            if moon:
                self._moon = self._body_table(eph["moon"] - earth, t_nodes)
            tabs = [tab for tab in (self._sun, self._moon) if tab is not None]
            self._bodies = (
                np.concatenate([tab[0] for tab in tabs], axis=1),
                np.concatenate([tab[1] for tab in tabs], axis=1),
            )
        self.epoch_utc_mjd = epoch_utc_mjd
        self.space_weather: SpaceWeatherTable | None = None
        if space_weather is not None:
            if epoch_utc_mjd is None:
                raise ValueError("space weather needs the UTC epoch (epoch_utc_mjd)")
            self.space_weather = SpaceWeatherTable(
                epoch_utc_mjd + self.t0_s / 86400.0,
                epoch_utc_mjd + (self.t0_s + step_s * (self.n_nodes - 1)) / 86400.0,
                space_weather,
            )
        self._npb = self._theta_res = None
        if rotation:
            npb = np.moveaxis(np.asarray(t_nodes.M), -1, 0)  # (nodes, 3, 3) GCRS -> true of date
            gast = np.asarray(t_nodes.gast) * (2.0 * math.pi / 24.0)
            res = np.unwrap(gast - SIDEREAL_RATE_RADPS * nodes)
            self._npb = npb.reshape(-1, 9)
            self._theta_res = res

    @staticmethod
    def _body_table(vector: Any, t_nodes: Any) -> tuple[np.ndarray, np.ndarray]:
        pos = vector.at(t_nodes)
        return (
            np.ascontiguousarray(np.asarray(pos.position.km).T),
            np.ascontiguousarray(np.asarray(pos.velocity.km_per_s).T),
        )

    def _locate(self, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        u = (np.asarray(t, dtype=np.float64) - self.t0_s) / self.step_s
        k = np.clip(np.floor(u).astype(np.int64), 0, self.n_nodes - 2)
        return k, u - k

    def _hermite(self, table: tuple[np.ndarray, np.ndarray] | None, t: np.ndarray) -> np.ndarray:
        if table is None:
            raise ValueError("this environment was built without that body; enable it first")
        k, x = self._locate(t)
        return self._hermite_at(table, k, x)

    def _hermite_at(
        self, table: tuple[np.ndarray, np.ndarray], k: np.ndarray, x: np.ndarray
    ) -> np.ndarray:
        p, v = table
        x = x[:, None]
        x2 = x * x
        x3 = x2 * x
        h00 = 2.0 * x3 - 3.0 * x2 + 1.0
        h10 = (x3 - 2.0 * x2 + x) * self.step_s
        h01 = 3.0 * x2 - 2.0 * x3
        h11 = (x3 - x2) * self.step_s
        return h00 * p[k] + h10 * v[k] + h01 * p[k + 1] + h11 * v[k + 1]

    def sample(self, t: npt.ArrayLike, rotation: bool = False) -> EnvironmentSample:
        """Everything the force models need at times t (k,), with one table lookup.

        ``rotation`` adds the full GCRS-to-terrestrial matrices (needed by tesseral terms only).
        """
        t = np.atleast_1d(np.asarray(t, dtype=np.float64))
        k, x = self._locate(t)
        sun = moon = pole = rot = None
        if self._bodies is not None:
            both = self._hermite_at(self._bodies, k, x)
            col = 0
            if self._sun is not None:
                sun, col = both[:, 0:3], 3
            if self._moon is not None:
                moon = both[:, col : col + 3]
        if self._npb is not None:
            xc = x[:, None]
            if rotation:
                rot = self._rotation_at(t, k, x)
                pole = rot[:, 2, :]
            else:
                p = (1.0 - xc) * self._npb[k, 6:9] + xc * self._npb[k + 1, 6:9]
                pole = p / np.sqrt(np.sum(p * p, axis=1))[:, None]
        return EnvironmentSample(pole, sun, moon, rot)

    def utc_mjd(self, t: npt.ArrayLike) -> np.ndarray:
        """UTC modified Julian dates (k,) of TT seconds t (k,) from the epoch. A leap second
        inside the span shifts this by at most 1 s, which the density models do not notice."""
        if self.epoch_utc_mjd is None:
            raise ValueError("this environment was built without its UTC epoch")
        return self.epoch_utc_mjd + np.asarray(t, dtype=np.float64) / 86400.0

    def sun_km(self, t: npt.ArrayLike) -> np.ndarray:
        """Geocentric GCRS position of the Sun, (k, 3) km."""
        return self._hermite(self._sun, np.atleast_1d(t))

    def moon_km(self, t: npt.ArrayLike) -> np.ndarray:
        """Geocentric GCRS position of the Moon, (k, 3) km."""
        return self._hermite(self._moon, np.atleast_1d(t))

    def _rotation_at(self, t: np.ndarray, k: np.ndarray, x: np.ndarray) -> np.ndarray:
        if self._npb is None or self._theta_res is None:
            raise ValueError("this environment was built without Earth orientation")
        xc = x[:, None]
        npb = ((1.0 - xc) * self._npb[k] + xc * self._npb[k + 1]).reshape(-1, 3, 3)
        theta = (1.0 - x) * self._theta_res[k] + x * self._theta_res[k + 1]
        theta = theta + SIDEREAL_RATE_RADPS * t
        c, s = np.cos(theta)[:, None], np.sin(theta)[:, None]
        out = np.empty_like(npb)
        # R3(theta) @ NPB, with R3 the passive rotation about z.
        out[:, 0] = c * npb[:, 0] + s * npb[:, 1]
        out[:, 1] = -s * npb[:, 0] + c * npb[:, 1]
        out[:, 2] = npb[:, 2]
        return out

    def pole(self, t: npt.ArrayLike) -> np.ndarray:
        """Unit vector of the Earth's rotation axis (CIP) in GCRS, (k, 3)."""
        if self._npb is None:
            raise ValueError("this environment was built without Earth orientation")
        return self.sample(t).pole  # type: ignore[return-value]

    def gcrs_to_terrestrial(self, t: npt.ArrayLike) -> np.ndarray:
        """Rotation matrices (k, 3, 3) from GCRS to Earth-fixed axes (ITRF less polar motion)."""
        t = np.atleast_1d(np.asarray(t, dtype=np.float64))
        k, x = self._locate(t)
        return self._rotation_at(t, k, x)
