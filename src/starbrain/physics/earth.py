"""The Earth as a body: WGS-84 ellipsoid, geodetic coordinates, J2 gravity and its shadow.

Units: km, km/s, radians (see DESIGN.md). Every function is vectorised over leading axes and
accepts NumPy arrays or PyTorch tensors (the result has the input's type, dtype and device).
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np

from starbrain.core.constants import (
    EARTH_SHADOW_RADIUS_KM,
    WGS84_A_KM,
    WGS84_B_KM,
    WGS84_E2,
    WGS84_F,
    WGS84_MU_KM3_S2,
)

__all__ = [
    "EARTH_SHADOW_RADIUS_KM",
    "GM_KM3_S2",
    "J2",
    "WGS84_A_KM",
    "WGS84_B_KM",
    "WGS84_E2",
    "WGS84_F",
    "enu_matrix",
    "geodetic_to_itrf",
    "itrf_to_geodetic",
    "j2_acceleration",
    "sunlit",
]

GM_KM3_S2 = WGS84_MU_KM3_S2
J2 = 1.08262668e-3  # EGM96 unnormalised C20 with the sign flipped


def _ns(x: Any) -> ModuleType:
    """The array namespace of ``x``: ``torch`` for tensors, else ``numpy``."""
    if type(x).__module__.startswith("torch"):
        import torch

        return torch
    return np


def _atan2(xp: ModuleType, y: Any, x: Any) -> Any:
    return xp.atan2(y, x) if xp is not np else np.arctan2(y, x)


def geodetic_to_itrf(lat: Any, lon: Any, alt_km: Any) -> Any:
    """WGS-84 geodetic latitude, longitude (rad) and height (km) -> ITRF position (..., 3) in km.

    The three inputs broadcast against each other.
    """
    xp = _ns(lat) if _ns(lat) is not np else _ns(alt_km)
    if xp is np:
        lat, lon, alt_km = np.broadcast_arrays(
            np.asarray(lat, dtype=np.float64),
            np.asarray(lon, dtype=np.float64),
            np.asarray(alt_km, dtype=np.float64),
        )
    sin_lat = xp.sin(lat)
    cos_lat = xp.cos(lat)
    n = WGS84_A_KM / xp.sqrt(1.0 - WGS84_E2 * sin_lat * sin_lat)  # prime-vertical radius
    x = (n + alt_km) * cos_lat * xp.cos(lon)
    y = (n + alt_km) * cos_lat * xp.sin(lon)
    z = (n * (1.0 - WGS84_E2) + alt_km) * sin_lat
    return xp.stack([x, y, z], -1)


def itrf_to_geodetic(r_km: Any) -> tuple[Any, Any, Any]:
    """ITRF position (..., 3) km -> WGS-84 geodetic ``(lat, lon, alt_km)``, each (...,).

    Closed form of Vermeille (2004, J. Geodesy 78:94-95): no iteration, exact to rounding for
    every point outside the ellipsoid's evolute (that is, more than ~45 km from the Earth's
    centre), which covers every station and satellite. Longitude is in (-pi, pi].
    """
    xp = _ns(r_km)
    if xp is np:
        r_km = np.asarray(r_km, dtype=np.float64)
    x, y, z = r_km[..., 0], r_km[..., 1], r_km[..., 2]
    a2 = WGS84_A_KM * WGS84_A_KM
    e4 = WGS84_E2 * WGS84_E2
    w2 = x * x + y * y
    w = xp.sqrt(w2)
    p = w2 / a2
    q = (1.0 - WGS84_E2) / a2 * z * z
    r = (p + q - e4) / 6.0
    s = e4 * p * q / (4.0 * r * r * r)
    t = (1.0 + s + xp.sqrt(s * (2.0 + s))) ** (1.0 / 3.0)
    u = r * (1.0 + t + 1.0 / t)
    v = xp.sqrt(u * u + e4 * q)
    ww = WGS84_E2 * (u + v - q) / (2.0 * v)
    k = xp.sqrt(u + v + ww * ww) - ww
    d = k * w / (k + WGS84_E2)
    dz = xp.sqrt(d * d + z * z)
    lat = 2.0 * _atan2(xp, z, d + dz)
    alt = (k + WGS84_E2 - 1.0) / k * dz
    lon = _atan2(xp, y, x)
    return lat, lon, alt


def enu_matrix(lat: Any, lon: Any) -> Any:
    """Rotation ITRF -> local East-North-Up at geodetic ``lat``, ``lon`` (rad): shape (..., 3, 3).

    Rows are the east, north and up unit vectors (up is the ellipsoid normal), so
    ``enu = M @ (r_itrf - r_station)``.
    """
    xp = _ns(lat)
    if xp is np:
        lat, lon = np.broadcast_arrays(
            np.asarray(lat, dtype=np.float64), np.asarray(lon, dtype=np.float64)
        )
    sl, cl = xp.sin(lat), xp.cos(lat)
    so, co = xp.sin(lon), xp.cos(lon)
    zero = xp.zeros_like(sl)
    east = xp.stack([-so, co, zero], -1)
    north = xp.stack([-sl * co, -sl * so, cl], -1)
    up = xp.stack([cl * co, cl * so, sl], -1)
    return xp.stack([east, north, up], -2)


def j2_acceleration(r_km: Any) -> Any:
    """Point-mass plus J2 gravitational acceleration (km/s^2) at position (..., 3) km.

    The frame must have its z axis on the Earth's rotation axis (TEME, GCRS, ITRF); used to
    interpolate propagated trajectories, where the neglected terms are ~1e-3 of J2.
    """
    xp = _ns(r_km)
    x, y, z = r_km[..., 0], r_km[..., 1], r_km[..., 2]
    r2 = x * x + y * y + z * z
    r1 = xp.sqrt(r2)
    k = -GM_KM3_S2 / (r2 * r1)
    c = 1.5 * J2 * WGS84_A_KM * WGS84_A_KM / r2
    zz = 5.0 * z * z / r2
    kxy = k * (1.0 + c * (1.0 - zz))
    return xp.stack([kxy * x, kxy * y, k * (1.0 + c * (3.0 - zz)) * z], -1)


def sunlit(r_sat_km: Any, r_sun_km: Any) -> Any:
    """Whether a satellite at ``r_sat_km`` (..., 3) is in sunlight, the Sun being at ``r_sun_km``.

    Both vectors are geocentric in the same (any) frame. The Earth is a sphere of radius
    ``EARTH_SHADOW_RADIUS_KM`` and the Sun a point, exactly as Skyfield's ``is_sunlit``: the
    satellite is lit unless the segment from it toward the Sun crosses the sphere.
    """
    xp = _ns(r_sat_km)
    to_sun = r_sun_km - r_sat_km
    to_earth = -r_sat_km
    dist = xp.sqrt((to_sun * to_sun).sum(-1))
    minus_b = 2.0 * (to_sun * to_earth).sum(-1) / dist
    c = (to_earth * to_earth).sum(-1) - EARTH_SHADOW_RADIUS_KM**2
    disc = minus_b * minus_b - 4.0 * c
    # No intersection (disc < 0) or both intersections behind the satellite: lit.
    root = xp.sqrt(xp.clamp(disc, min=0.0)) if xp is not np else np.sqrt(np.maximum(disc, 0.0))
    return (disc < 0.0) | (minus_b + root <= 0.0)
