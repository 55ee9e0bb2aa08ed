"""Heliocentric positions and velocities of the planets from JPL's DE421, offline.

The kernel is the ``de421.bsp`` shipped by the ``skyfield-data`` package (coverage 1899-07-29 to
2053-10-08), read through Skyfield's SPK reader (jplephem); nothing is downloaded. Times come in
as UTC (``datetime64`` or split Julian dates, see :mod:`starbrain.timeconv`) and are converted to
TDB with the leap-second table built into Skyfield.

Outputs are heliocentric (body minus the Sun's centre, not the solar-system barycentre), in km
and km/s, in one of two frames:

* ``"icrf"``: the ICRF (equatorial; DE421's native frame, the same axes as SPICE ``J2000`` to
  within the 20 mas frame bias DE421 does not distinguish);
* ``"ecliptic"``: mean ecliptic and equinox of J2000, i.e. SPICE ``ECLIPJ2000``: the ICRF rotated
  about +x by the IAU 1976 obliquity of J2000, 84381.448 arcsec. Prograde heliocentric orbits
  have angular momentum along +z in this frame, which is what Lambert's ``prograde`` expects.

Bodies: ``"mercury" ... "pluto"`` by name; Mercury, Venus, Earth and Mars are the planets'
centres (DE421 segments 199, 299, 399, 499), Jupiter and beyond the systems' barycentres (DE421
has no planet-centre segments for them). ``"earth barycenter"``, ``"moon"`` and ``"<name>
barycenter"`` are also accepted.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt

from starbrain.core import timeconv
from starbrain.core.constants import AU_KM, MU_SUN_KM3_S2, WGS84_MU_KM3_S2

__all__ = [
    "AU_KM",
    "BODIES",
    "ECLIPTIC_OBLIQUITY_RAD",
    "GM_KM3_S2",
    "MU_SUN_KM3_S2",
    "de421_coverage",
    "ecliptic_to_icrf",
    "heliocentric_state",
    "heliocentric_state_at",
    "icrf_to_ecliptic",
]

# AU_KM and MU_SUN_KM3_S2 (DE421's GM of the Sun) come from core.constants.
# Planetary GM (km^3/s^2) of the planet itself (not the system), from the JPL planetary constants
# used with DE421/DE430; for hyperbolic departure/arrival computations.
GM_KM3_S2: dict[str, float] = {
    "mercury": 22_031.78,
    "venus": 324_858.59,
    "earth": WGS84_MU_KM3_S2,
    "moon": 4_902.80,
    "mars": 42_828.37,
    "jupiter": 126_712_764.8,
    "saturn": 37_940_585.2,
    "uranus": 5_794_548.6,
    "neptune": 6_836_527.1,
    "pluto": 870.3,
}
ECLIPTIC_OBLIQUITY_RAD = math.radians(84381.448 / 3600.0)

# Each body: the chain of DE421 segments (center, target) whose sum gives its SSB position.
BODIES: dict[str, tuple[tuple[int, int], ...]] = {
    "mercury": ((0, 1), (1, 199)),
    "venus": ((0, 2), (2, 299)),
    "earth": ((0, 3), (3, 399)),
    "moon": ((0, 3), (3, 301)),
    "mars": ((0, 4), (4, 499)),
    "jupiter": ((0, 5),),
    "saturn": ((0, 6),),
    "uranus": ((0, 7),),
    "neptune": ((0, 8),),
    "pluto": ((0, 9),),
    "sun": ((0, 10),),
    "mercury barycenter": ((0, 1),),
    "venus barycenter": ((0, 2),),
    "earth barycenter": ((0, 3),),
    "mars barycenter": ((0, 4),),
    "jupiter barycenter": ((0, 5),),
    "saturn barycenter": ((0, 6),),
    "uranus barycenter": ((0, 7),),
    "neptune barycenter": ((0, 8),),
    "pluto barycenter": ((0, 9),),
}

_SECONDS_PER_DAY = 86_400.0


def _kernel() -> Any:
    """The DE421 kernel from skyfield-data, opened once per process by ``frames.ephemeris``."""
    from starbrain.physics.frames import ephemeris

    return ephemeris()


def _timescale() -> Any:
    """UTC -> TT/TDB here depends on leap seconds only; the project's one timescale serves."""
    from starbrain.physics.frames import timescale

    return timescale()


def de421_coverage() -> tuple[np.datetime64, np.datetime64]:
    """First and last UTC instants (``datetime64[ns]``) that DE421 covers for every body."""
    segs = _kernel().spk.segments
    start = max(s.start_jd for s in segs)
    end = min(s.end_jd for s in segs)
    # Segment bounds are TDB; pull them 70 s inwards so the UTC bounds are safe on both ends.
    margin = 70.0 / _SECONDS_PER_DAY
    first = timeconv.jd_to_datetime64(start + margin).astype("datetime64[s]")
    last = timeconv.jd_to_datetime64(end - margin).astype("datetime64[s]")
    return first.astype("datetime64[ns]"), last.astype("datetime64[ns]")  # type: ignore[return-value]


def _tdb(jd: npt.NDArray[np.float64], fr: npt.NDArray[np.float64]) -> tuple[Any, Any]:
    """UTC split Julian date -> TDB split Julian date (whole, fraction) via Skyfield."""
    days = np.floor(jd - 0.5) - (timeconv.JD_UNIX_EPOCH - 0.5)
    frac = (jd - 0.5 - np.floor(jd - 0.5)) + fr
    t = _timescale().utc(1970, 1, 1 + days.astype(np.int64), 0, 0, frac * _SECONDS_PER_DAY)
    return t.whole, t.tdb_fraction


def _rotation(frame: str) -> npt.NDArray[np.float64] | None:
    if frame == "icrf":
        return None
    if frame == "ecliptic":
        return _ICRF_TO_ECLIPTIC
    raise ValueError(f"frame must be 'icrf' or 'ecliptic', not {frame!r}")


_c, _s = math.cos(ECLIPTIC_OBLIQUITY_RAD), math.sin(ECLIPTIC_OBLIQUITY_RAD)
_ICRF_TO_ECLIPTIC = np.array([[1.0, 0.0, 0.0], [0.0, _c, _s], [0.0, -_s, _c]])


def icrf_to_ecliptic(v: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Rotate vectors ``(..., 3)`` from the ICRF to the J2000 ecliptic frame (ECLIPJ2000)."""
    return np.asarray(v, dtype=np.float64) @ _ICRF_TO_ECLIPTIC.T


def ecliptic_to_icrf(v: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Rotate vectors ``(..., 3)`` from the J2000 ecliptic frame (ECLIPJ2000) to the ICRF."""
    return np.asarray(v, dtype=np.float64) @ _ICRF_TO_ECLIPTIC


def _body_key(body: str) -> str:
    key = body.strip().lower().replace("barycentre", "barycenter").replace("_", " ")
    if key not in BODIES or key == "sun":
        names = ", ".join(sorted(k for k in BODIES if k != "sun"))
        raise ValueError(f"unknown body {body!r}; known bodies: {names}")
    return key


def _ssb_state(key: str, whole: Any, frac: Any) -> tuple[Any, Any]:
    spk = _kernel().spk
    pos = 0.0
    vel = 0.0
    for center, target in BODIES[key]:
        p, v = spk[center, target].compute_and_differentiate(whole, frac)
        pos = pos + p
        vel = vel + v
    return pos, vel


def heliocentric_state(
    body: str,
    jd: npt.ArrayLike,
    fr: npt.ArrayLike = 0.0,
    *,
    frame: str = "ecliptic",
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Heliocentric position (km) and velocity (km/s) of ``body`` at UTC split Julian dates.

    ``jd`` and ``fr`` broadcast to a time shape ``T``; the result is two arrays of shape
    ``(*T, 3)``. ``frame`` is ``"ecliptic"`` (ECLIPJ2000, default) or ``"icrf"``. Raises
    ``ValueError`` for an unknown body or for times outside DE421 (1899-07-29 to 2053-10-08).
    """
    key = _body_key(body)
    rot = _rotation(frame)
    jd_a, fr_a = np.broadcast_arrays(
        np.asarray(jd, dtype=np.float64), np.asarray(fr, dtype=np.float64)
    )
    shape = jd_a.shape
    jd_f = jd_a.ravel()
    fr_f = fr_a.ravel()
    if jd_f.size == 0:
        empty = np.zeros((*shape, 3))
        return empty, empty.copy()
    whole, frac = _tdb(jd_f, fr_f)
    tdb = whole + frac
    segs = _kernel().spk.segments
    lo = max(s.start_jd for s in segs)
    hi = min(s.end_jd for s in segs)
    if np.any(~np.isfinite(tdb)) or tdb.min() < lo or tdb.max() > hi:
        first, last = de421_coverage()
        raise ValueError(
            f"times must lie within DE421's coverage, {first} to {last} UTC; got "
            f"{timeconv.jd_to_datetime64(jd_f.min(), fr_f[np.argmin(jd_f)])} to "
            f"{timeconv.jd_to_datetime64(jd_f.max(), fr_f[np.argmax(jd_f)])}"
        )
    p_b, v_b = _ssb_state(key, whole, frac)
    p_s, v_s = _ssb_state("sun", whole, frac)
    pos = np.asarray(p_b - p_s).T
    vel = np.asarray(v_b - v_s).T / _SECONDS_PER_DAY
    if rot is not None:
        pos = pos @ rot.T
        vel = vel @ rot.T
    return pos.reshape(*shape, 3), vel.reshape(*shape, 3)


def heliocentric_state_at(
    body: str, times: Any, *, frame: str = "ecliptic"
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """:func:`heliocentric_state` at UTC times: ``datetime64``, ISO strings or datetimes.

    ``times`` of shape ``T`` gives position (km) and velocity (km/s) of shape ``(*T, 3)``.
    """
    if isinstance(times, np.ndarray) and not np.issubdtype(times.dtype, np.datetime64):
        times = times.tolist()
    t = np.asarray(timeconv.to_datetime64(times))
    jd, fr = timeconv.datetime64_to_jd(t)
    return heliocentric_state(body, jd, fr, frame=frame)
