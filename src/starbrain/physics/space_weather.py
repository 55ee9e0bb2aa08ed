"""Observed space weather (F10.7, Ap) for the thermosphere models of the numerical propagator.

The indices come from a CelesTrak/CSSI space-weather file (``SW-All.txt`` layout: daily
observed and 81-day centred F10.7, eight 3-hourly ap and the daily Ap). By default the file is
the one ``brahe`` (MIT, on PyPI) ships inside its wheel, read through brahe's
``FileSpaceWeatherProvider`` with no network access; observed values run from 1957 to the
package's build date, after which brahe holds the last value (its ``Hold`` extrapolation) and
:attr:`SpaceWeatherTable.observed_until_mjd` says where observation stopped. A path to any
newer CSSI file may be given instead. pymsis, which can download its own file, is always
handed these values explicitly, so it never goes to the network.

The table is built once per propagation on 3-hour UTC nodes (the ap cadence) and looked up per
row: NRLMSISE-00's inputs at UTC time t are

* ``f107``: observed F10.7 [sfu] of the day before t's UTC day,
* ``f107a``: observed F10.7 averaged over 81 days centred on t's day,
* ``ap``: (7,) daily Ap of t's day, 3-hour ap of the interval holding t and of the 3, 6 and
  9 hours before it, and the means of the eight 3-hour values 12-33 h and 36-57 h before it
  (the storm-time vector of NRLMSISE-00, ``switch 9 = -1``).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np

__all__ = ["DEFAULT_SPACE_WEATHER", "SpaceWeatherTable", "space_weather_provider"]

#: ``ForceModel.space_weather`` value naming the CSSI file shipped inside brahe's wheel.
DEFAULT_SPACE_WEATHER = "brahe:cssi"

_NODE_DAYS = 0.125  # 3 hours


@lru_cache(maxsize=4)
def space_weather_provider(source: str = DEFAULT_SPACE_WEATHER) -> Any:
    """brahe ``FileSpaceWeatherProvider`` for ``source``: ``"brahe:cssi"`` (the packaged file)
    or a path to a CSSI-format file. Raises ValueError with the fix if brahe is missing."""
    try:
        import brahe
    except ImportError as exc:
        raise ValueError(
            "observed space weather needs the brahe package (pip install 'starbrain[truth]'), "
            "which ships the CelesTrak CSSI space-weather file"
        ) from exc
    if source == DEFAULT_SPACE_WEATHER:
        return brahe.FileSpaceWeatherProvider.from_default_file()
    return brahe.FileSpaceWeatherProvider.from_file(str(source), "Hold")


class SpaceWeatherTable:
    """F10.7 and ap on 3-hour UTC nodes covering ``[mjd_lo, mjd_hi]`` (UTC modified Julian
    dates), from :func:`space_weather_provider`. :meth:`at` returns NRLMSISE-00's inputs."""

    def __init__(self, mjd_lo: float, mjd_hi: float, source: str = DEFAULT_SPACE_WEATHER):
        sw = space_weather_provider(source)
        self.source = source
        self.observed_until_mjd = float(sw.mjd_last_observed())
        lo = np.floor(mjd_lo / _NODE_DAYS) - 1
        hi = np.ceil(mjd_hi / _NODE_DAYS) + 1
        self.mjd0 = float(lo * _NODE_DAYS)
        nodes = self.mjd0 + _NODE_DAYS * np.arange(int(hi - lo) + 1)
        n = nodes.size
        self.f107 = np.empty(n)
        self.f107a = np.empty(n)
        self.ap = np.empty((n, 7))
        days: dict[float, tuple[float, float, float]] = {}
        for i, mjd in enumerate(nodes):
            day = float(np.floor(mjd))
            if day not in days:
                days[day] = (
                    float(sw.get_f107_observed(day - 1.0)),
                    float(sw.get_f107_obs_avg81(day)),
                    float(sw.get_ap_daily(day)),
                )
            f, fa, ap_daily = days[day]
            # get_last_ap: the last n 3-hour values up to the interval holding mjd, oldest first.
            last = np.asarray(sw.get_last_ap(float(mjd) + 1e-6, 20), dtype=np.float64)[::-1]
            self.f107[i], self.f107a[i] = f, fa
            self.ap[i] = [
                ap_daily, last[0], last[1], last[2], last[3], last[4:12].mean(), last[12:20].mean(),
            ]  # fmt: skip

    def at(self, mjd_utc: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(f107 (k,), f107a (k,), ap (k, 7)) at UTC MJDs (k,): the values of the 3-hour
        interval holding each time (step-wise, as the indices are defined)."""
        i = np.floor((np.asarray(mjd_utc, dtype=np.float64) - self.mjd0) / _NODE_DAYS)
        i = np.clip(i.astype(np.int64), 0, self.f107.size - 1)
        return self.f107[i], self.f107a[i], self.ap[i]
