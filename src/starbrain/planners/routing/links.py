"""Link geometry for :mod:`starbrain.planners.routing`: the physical constants, the great circle
and the fibre comparison, ground points on WGS-84 / WGS-72, the ISL line-of-sight rule and the
GSL rule (elevation mask and range), all km and km/s in TEME."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, overload

import numpy as np
import numpy.typing as npt

from starbrain.core.errors import StarbrainError
from starbrain.physics.earth import geodetic_to_itrf
from starbrain.planners.passes import GroundStation
from starbrain.sources.generators.constellation import RADIUS_WGS72_KM

if TYPE_CHECKING:
    pass


C_KM_S = 299_792.458  # speed of light in vacuum
FIBRE_GROUP_INDEX = 1.4682  # Corning SMF-28 Ultra, effective group index at 1550 nm
EARTH_MEAN_RADIUS_KM = 6371.0088  # IUGG mean radius R1
HYPATIA_STARLINK_MIN_ELEVATION_DEG = 25.0
WGS72_FLATTENING = 1.0 / 298.26  # WGS-72 (Hypatia reads its ground stations on it)
ISL_MIN_ALTITUDE_KM = 80.0  # a laser link must clear the atmosphere below this (Hypatia)
_RADIUS_FOR_ISL_KM = RADIUS_WGS72_KM  # the radius the constellation's altitudes are over

# Slack on search limits and pruning bounds, far above the interpolation errors (< 1 m), far
# below anything that changes how much of the graph is searched
_SLACK_KM = 0.1

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


def great_circle_km(
    a: GroundStation, b: GroundStation, radius_km: float = EARTH_MEAN_RADIUS_KM
) -> float:
    """Great-circle distance between two ground points on a sphere of ``radius_km`` (haversine)."""
    p1, p2 = math.radians(a.lat_deg), math.radians(b.lat_deg)
    dl = math.radians(b.lon_deg - a.lon_deg)
    h = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2.0 * radius_km * math.asin(min(1.0, math.sqrt(h)))


def _itrf_and_up(g: GroundStation, ellipsoid: str = "wgs84") -> tuple[FloatArray, FloatArray]:
    """ITRF position (km) and geodetic up unit vector of a ground point, each (3,), with its
    latitude and height read on the WGS-84 or the WGS-72 ellipsoid (``ellipsoid``)."""
    lat, lon = math.radians(g.lat_deg), math.radians(g.lon_deg)
    if ellipsoid == "wgs84":
        r = np.asarray(geodetic_to_itrf(lat, lon, g.alt_km), dtype=np.float64)
    elif ellipsoid == "wgs72":
        e2 = WGS72_FLATTENING * (2.0 - WGS72_FLATTENING)
        n = RADIUS_WGS72_KM / math.sqrt(1.0 - e2 * math.sin(lat) ** 2)
        r = np.array([
            (n + g.alt_km) * math.cos(lat) * math.cos(lon),
            (n + g.alt_km) * math.cos(lat) * math.sin(lon),
            (n * (1.0 - e2) + g.alt_km) * math.sin(lat),
        ])  # fmt: skip
    else:
        raise StarbrainError(f"the ellipsoid must be wgs84 or wgs72, not {ellipsoid!r}")
    up = np.array([math.cos(lat) * math.cos(lon), math.cos(lat) * math.sin(lon), math.sin(lat)])
    return r, up


def _max_isl_km(r_a: FloatArray, r_b: FloatArray) -> FloatArray:
    """Longest line of sight between two radii (km) that clears ISL_MIN_ALTITUDE_KM."""
    rho2 = (_RADIUS_FOR_ISL_KM + ISL_MIN_ALTITUDE_KM) ** 2
    return np.sqrt(np.maximum(r_a * r_a - rho2, 0.0)) + np.sqrt(np.maximum(r_b * r_b - rho2, 0.0))


def isl_up(r_a: FloatArray, r_b: FloatArray) -> npt.NDArray[np.bool_]:
    """Whether inter-satellite links between positions ``r_a`` and ``r_b`` (..., 3) km, in any
    Earth-centred frame, are usable: the routing rule, length at most the longest line of sight
    that clears ``ISL_MIN_ALTITUDE_KM`` above the WGS-72 radius. False where a position is NaN."""
    r_a, r_b = np.asarray(r_a, dtype=np.float64), np.asarray(r_b, dtype=np.float64)
    length = np.linalg.norm(r_a - r_b, axis=-1)
    limit = _max_isl_km(np.linalg.norm(r_a, axis=-1), np.linalg.norm(r_b, axis=-1))
    with np.errstate(invalid="ignore"):
        return np.asarray(length <= limit)


@overload
def _gsl_km(
    r_sat: FloatArray, r_gs: FloatArray, up_gs: FloatArray, sin_min: float, max_km: float = ...
) -> FloatArray: ...
@overload
def _gsl_km(
    r_sat: FloatArray,
    r_gs: FloatArray,
    up_gs: FloatArray,
    sin_min: float,
    max_km: float,
    exact: bool,
) -> tuple[FloatArray, FloatArray]: ...


def _gsl_km(
    r_sat: FloatArray,
    r_gs: FloatArray,
    up_gs: FloatArray,
    sin_min: float,
    max_km: float = math.inf,
    exact: bool = False,
) -> FloatArray | tuple[FloatArray, FloatArray]:
    """GSL lengths (K, n) in km from ground point (K, 3) to satellites (K, n, 3); +inf where the
    satellite is below the elevation mask, farther than ``max_km`` (or its position is NaN).
    With ``exact``, also the distances of every satellite, usable or not."""
    d = r_sat - r_gs[:, None, :]
    dist = np.sqrt(np.einsum("kni,kni->kn", d, d))
    sin_el = np.einsum("kni,ki->kn", d, up_gs) / dist
    with np.errstate(invalid="ignore"):
        ok = (sin_el >= sin_min) & (dist <= max_km)
    gsl = np.where(ok, dist, np.inf)
    return (gsl, dist) if exact else gsl
