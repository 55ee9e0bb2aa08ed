"""Solar radiation pressure (cannonball, [MG eq. 3.75]) and the Earth's shadow: cylindrical,
conical (umbra and penumbra, [MG eqs. 3.85-3.87]) and the switching functions the integrator
cuts its steps at.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from starbrain.core.constants import (
    AU_KM,
    EGM2008_RADIUS_KM,
    SOLAR_PRESSURE_NPM2,
    SUN_RADIUS_KM,
)
from starbrain.physics.forces.arrays import _xp
from starbrain.physics.vec import dot as _dot

_SHADOWS = ("conical", "cylindrical", "none")


def shadow_cylindrical(r: Any, r_sun: Any, radius_km: float = EGM2008_RADIUS_KM) -> Any:
    """Sunlit fraction 0 or 1 behind a cylinder of the Earth's radius along the Sun line
    [MG Sect. 3.4.2] (array-agnostic)."""
    xp = _xp(r)
    s_hat = r_sun / xp.sqrt(_dot(r_sun, r_sun))[..., None]
    along = _dot(r, s_hat)
    perp = r - along[..., None] * s_hat
    dark = (along < 0.0) & (_dot(perp, perp) < radius_km * radius_km)
    return xp.where(dark, 0.0 * along, 0.0 * along + 1.0)


def shadow_conical(
    r: Any,
    r_sun: Any,
    radius_km: float = EGM2008_RADIUS_KM,
    sun_radius_km: float = SUN_RADIUS_KM,
) -> Any:
    """Sunlit fraction in [0, 1] of the solar disc seen past a spherical Earth [MG eqs. 3.85-3.87]
    (array-agnostic): umbra 0, penumbra by the overlap area of two discs, annular if the Earth
    disc is smaller than the Sun's."""
    xp = _xp(r)
    d = r_sun - r
    dn = xp.sqrt(_dot(d, d))
    rn = xp.sqrt(_dot(r, r))
    a = xp.arcsin(xp.clip(sun_radius_km / dn, 0.0, 1.0))
    b = xp.arcsin(xp.clip(radius_km / rn, 0.0, 1.0))
    c = xp.arccos(xp.clip(-_dot(r, d) / (rn * dn), -1.0, 1.0))
    if xp is np:
        # Most rows are in full sunlight: evaluate the overlap formula on the others only.
        nu = np.ones_like(c)
        sub = np.flatnonzero(c < a + b)
        if sub.size:
            nu[sub] = _conical_overlap(np, a[sub], b[sub], c[sub])
        return nu
    return _conical_overlap(xp, a, b, c)


def _conical_overlap(xp: Any, a: Any, b: Any, c: Any) -> Any:
    cs = xp.clip(c, 1e-12, None)  # c -> 0 lies in the umbra or annular branch
    x = (c * c + a * a - b * b) / (2.0 * cs)
    yy = xp.sqrt(xp.clip(a * a - x * x, 0.0, None))
    area = (
        a * a * xp.arccos(xp.clip(x / a, -1.0, 1.0))
        + b * b * xp.arccos(xp.clip((c - x) / b, -1.0, 1.0))
        - c * yy
    )
    partial = 1.0 - area / (math.pi * a * a)
    nu = xp.where(c >= a + b, 1.0 + 0.0 * c, partial)
    nu = xp.where(c <= b - a, 0.0 * c, nu)
    nu = xp.where(c <= a - b, 1.0 - (b * b) / (a * a), nu)
    return xp.clip(nu, 0.0, 1.0)


def shadow_switches(
    r: np.ndarray,
    r_sun: np.ndarray,
    shadow: str = "conical",
    radius_km: float = EGM2008_RADIUS_KM,
    sun_radius_km: float = SUN_RADIUS_KM,
) -> np.ndarray:
    """Switching functions (k, n) whose sign changes mark shadow boundaries (NumPy).

    Conical: ``c - (a + b)`` (penumbra edge) and ``c - |b - a|`` (umbra or annular edge), with
    the angles of :func:`shadow_conical`. Cylindrical: the distance to the shadow cylinder's
    wall behind the Earth. The integrator cuts its steps at their roots.
    """
    if shadow == "none":
        return np.zeros((r.shape[0], 0))
    if shadow == "cylindrical":
        s_hat = r_sun / np.sqrt(_dot(r_sun, r_sun))[:, None]
        along = _dot(r, s_hat)
        perp = r - along[:, None] * s_hat
        g = np.where(along < 0.0, np.sqrt(_dot(perp, perp)) - radius_km, radius_km)
        return g[:, None]
    d = r_sun - r
    dn = np.sqrt(_dot(d, d))
    rn = np.sqrt(_dot(r, r))
    a = np.arcsin(np.minimum(sun_radius_km / dn, 1.0))
    b = np.arcsin(np.minimum(radius_km / rn, 1.0))
    c = np.arccos(np.clip(-_dot(r, d) / (rn * dn), -1.0, 1.0))
    return np.stack([c - (a + b), c - np.abs(b - a)], axis=1)


def accel_srp(
    r: Any,
    r_sun: Any,
    cr_area_mass_m2kg: Any,
    *,
    pressure_npm2: float = SOLAR_PRESSURE_NPM2,
    shadow: str = "conical",
    radius_km: float = EGM2008_RADIUS_KM,
    sun_radius_km: float = SUN_RADIUS_KM,
) -> Any:
    """Cannonball solar radiation pressure [MG eq. 3.75] with Earth shadow (array-agnostic).

    ``a = -nu P (AU/|d|)^2 Cr A/m d_hat`` with d the satellite-to-Sun vector and nu the sunlit
    fraction from ``shadow`` ('conical', 'cylindrical' or 'none').
    """
    xp = _xp(r)
    d = r_sun - r
    d2 = _dot(d, d)
    dn = xp.sqrt(d2)
    # N/m^2 * m^2/kg = m/s^2 -> 1e-3 km/s^2
    mag = 1e-3 * pressure_npm2 * cr_area_mass_m2kg * (AU_KM * AU_KM) / d2
    if shadow == "conical":
        mag = mag * shadow_conical(r, r_sun, radius_km, sun_radius_km)
    elif shadow == "cylindrical":
        mag = mag * shadow_cylindrical(r, r_sun, radius_km)
    elif shadow != "none":
        raise ValueError(f"unknown shadow model {shadow!r}; choose one of {_SHADOWS}")
    return (-mag / dn)[..., None] * d
