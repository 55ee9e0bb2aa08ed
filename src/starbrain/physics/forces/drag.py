"""Atmospheric drag: Vallado's exponential atmosphere [V Table 8-4], NRLMSISE-00 / NRLMSIS 2.1
through pymsis, WGS84 geodetic height, and drag in a co-rotating atmosphere [MG eq. 3.97].
"""

from __future__ import annotations

from typing import Any

import numpy as np

from starbrain.core.constants import (
    EARTH_ROTATION_RADPS,
    WGS84_A_KM,
    WGS84_F,
)
from starbrain.physics.forces.arrays import _like, _xp
from starbrain.physics.vec import cross as _cross
from starbrain.physics.vec import dot as _dot

WGS84_RADIUS_KM = WGS84_A_KM
WGS84_FLATTENING = WGS84_F

#: Vallado (2013) Table 8-4: base altitude h0 [km], nominal density rho0 [kg/m^3], scale height
#: H [km]; rho(h) = rho0 * exp(-(h - h0) / H) for h0 <= h < next h0 (the last row extends up).
VALLADO_EXPONENTIAL_TABLE = np.array(
    [
        [0.0, 1.225, 7.249],
        [25.0, 3.899e-2, 6.349],
        [30.0, 1.774e-2, 6.682],
        [40.0, 3.972e-3, 7.554],
        [50.0, 1.057e-3, 8.382],
        [60.0, 3.206e-4, 7.714],
        [70.0, 8.770e-5, 6.549],
        [80.0, 1.905e-5, 5.799],
        [90.0, 3.396e-6, 5.382],
        [100.0, 5.297e-7, 5.877],
        [110.0, 9.661e-8, 7.263],
        [120.0, 2.438e-8, 9.473],
        [130.0, 8.484e-9, 12.636],
        [140.0, 3.845e-9, 16.149],
        [150.0, 2.070e-9, 22.523],
        [180.0, 5.464e-10, 29.740],
        [200.0, 2.789e-10, 37.105],
        [250.0, 7.248e-11, 45.546],
        [300.0, 2.418e-11, 53.628],
        [350.0, 9.518e-12, 53.298],
        [400.0, 3.725e-12, 58.515],
        [450.0, 1.585e-12, 60.828],
        [500.0, 6.967e-13, 63.822],
        [600.0, 1.454e-13, 71.835],
        [700.0, 3.614e-14, 88.667],
        [800.0, 1.170e-14, 124.64],
        [900.0, 5.245e-15, 181.05],
        [1000.0, 3.019e-15, 268.00],
    ]
)

#: ``ForceModel.density_model`` values: Vallado's static exponential atmosphere, NRLMSISE-00
#: (Picone et al. 2002) and NRLMSIS 2.1 (Emmert et al. 2022) through ``pymsis`` with observed
#: space weather (:mod:`starbrain.physics.space_weather`).
DENSITY_MODELS = ("vallado_exponential", "nrlmsise00", "nrlmsis21")
_DENSITY_MODELS = DENSITY_MODELS
_MSIS_VERSION = {"nrlmsise00": 0, "nrlmsis21": 2.1}
_AP_MODES = ("storm", "daily")


def density_exponential_kgm3(h_km: Any) -> Any:
    """Vallado's piecewise exponential atmosphere [V, Table 8-4] (array-agnostic), kg/m^3.

    Static (no solar or geomagnetic activity, no diurnal bulge); below 0 km it extrapolates the
    first layer, above 1000 km the last.
    """
    xp = _xp(h_km)
    tab = _like(xp, VALLADO_EXPONENTIAL_TABLE, h_km)
    h0 = _like(xp, VALLADO_EXPONENTIAL_TABLE[:, 0].copy(), h_km)
    i = xp.searchsorted(h0, h_km.contiguous() if xp is not np else h_km, side="right") - 1
    i = xp.clip(i, 0, tab.shape[0] - 1)
    return tab[i, 1] * xp.exp(-(h_km - h0[i]) / tab[i, 2])


_MJD_EPOCH = np.datetime64("1858-11-17T00:00:00", "ns")


def density_msis_kgm3(
    mjd_utc: np.ndarray,
    lon_deg: np.ndarray,
    lat_deg: np.ndarray,
    alt_km: np.ndarray,
    f107: np.ndarray,
    f107a: np.ndarray,
    ap: np.ndarray,
    model: str = "nrlmsise00",
    ap_mode: str = "storm",
) -> np.ndarray:
    """Total mass density [kg/m^3] of NRLMSISE-00 (``model="nrlmsise00"``) or NRLMSIS 2.1
    (``"nrlmsis21"``) through ``pymsis`` (NumPy), point by point (fly-through mode).

    mjd_utc, lon_deg, lat_deg (geodetic, WGS84), alt_km (geodetic height): (k,). f107 (k,)
    previous-day observed F10.7 [sfu], f107a (k,) its 81-day centred mean, ap (k, 7) the
    storm-time ap vector (daily Ap, 3-hour ap now, -3 h, -6 h, -9 h, mean 12-33 h, mean
    36-57 h; see :class:`~starbrain.physics.space_weather.SpaceWeatherTable`). ``ap_mode``
    'storm' uses that whole vector (MSIS switch 9 = -1), 'daily' the daily Ap only (switch
    9 = 1, what brahe's NRLMSISE-00 does). The indices are
    always passed, so pymsis never looks for (or downloads) its own space-weather file.
    NRLMSIS 2.1's code is NRL's, free for non-commercial use only (see pymsis' MSIS2 licence);
    NRLMSISE-00 has no such restriction.
    """
    try:
        import pymsis
    except ImportError as exc:
        raise ValueError(
            f"density model {model!r} needs the pymsis package (pip install 'starbrain[truth]')"
        ) from exc
    if model not in _MSIS_VERSION:
        raise ValueError(f"unknown MSIS model {model!r}; choose one of {sorted(_MSIS_VERSION)}")
    if ap_mode not in _AP_MODES:
        raise ValueError(f"unknown ap_mode {ap_mode!r}; choose one of {_AP_MODES}")
    mjd = np.atleast_1d(np.asarray(mjd_utc, dtype=np.float64))
    dates = _MJD_EPOCH + np.rint(mjd * 86400e9).astype(np.int64).astype("timedelta64[ns]")
    out = pymsis.calculate(
        dates, lon_deg, lat_deg, alt_km, f107, f107a, ap,
        version=_MSIS_VERSION[model], geomagnetic_activity=-1 if ap_mode == "storm" else 1,
    )  # fmt: skip
    return np.asarray(out[..., 0], dtype=np.float64).reshape(mjd.shape)


def geodetic_latitude_height(
    r_body: np.ndarray, radius_km: float = WGS84_RADIUS_KM, flattening: float = WGS84_FLATTENING
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(longitude [rad], geodetic latitude [rad], height [km]) of Earth-fixed positions (k, 3)
    km on the ellipsoid (Bowring's one-step formula, as :func:`geodetic_height_km`; NumPy)."""
    x, y, z = r_body[:, 0], r_body[:, 1], r_body[:, 2]
    p = np.hypot(x, y)
    e2 = flattening * (2.0 - flattening)
    b = radius_km * (1.0 - flattening)
    ep2 = e2 / (1.0 - e2)
    theta = np.arctan2(z * radius_km, p * b)
    st, ct = np.sin(theta), np.cos(theta)
    phi = np.arctan2(z + ep2 * b * st**3, p - e2 * radius_km * ct**3)
    sp, cp = np.sin(phi), np.cos(phi)
    h = p * cp + z * sp - radius_km * np.sqrt(1.0 - e2 * sp * sp)
    return np.arctan2(y, x), phi, h


def accel_drag(
    r: Any,
    v: Any,
    pole: Any,
    ballistic_m2kg: Any,
    *,
    omega_radps: float = EARTH_ROTATION_RADPS,
    radius_km: float = WGS84_RADIUS_KM,
    flattening: float = WGS84_FLATTENING,
    density_kgm3: Any = None,
) -> Any:
    """Drag in a co-rotating atmosphere [MG eq. 3.97] (array-agnostic).

    r, v: (k, 3) GCRS km, km/s; pole: (3,) or (k, 3) rotation axis; ballistic_m2kg: (k,) or
    scalar Cd*A/m in m^2/kg. ``a = -1/2 rho (Cd A/m) |v_rel| v_rel`` with
    ``v_rel = v - omega pole x r``; rho from :func:`density_exponential_kgm3` at the geodetic
    height above the ellipsoid (:func:`geodetic_height_km`), or ``density_kgm3`` (k,) when given
    (e.g. from :func:`density_msis_kgm3`).
    """
    xp = _xp(r)
    if xp is np:
        pole = np.asarray(pole, dtype=np.float64)
    pole_b = pole + xp.zeros_like(r)
    if density_kgm3 is None:
        z = _dot(r, pole_b)
        rho_axis = xp.sqrt(xp.clip(_dot(r, r) - z * z, 0.0, None))
        h = geodetic_height_km(rho_axis, z, radius_km, flattening)
        rho = density_exponential_kgm3(h)
    else:
        rho = density_kgm3
    v_rel = v - omega_radps * _cross(xp, pole_b, r)
    speed = xp.sqrt(_dot(v_rel, v_rel))
    # rho [kg/m^3] * B [m^2/kg] * v^2 [km^2/s^2] = 1e3 km/s^2 per unit
    return (-0.5e3 * rho * ballistic_m2kg * speed)[..., None] * v_rel


def geodetic_height_km(
    p_km: Any, z_km: Any, radius_km: float = WGS84_RADIUS_KM, flattening: float = WGS84_FLATTENING
) -> Any:
    """Height above the ellipsoid from the distance to the rotation axis ``p`` and the height
    ``z`` along it (array-agnostic), by Bowring's (1976) one-step formula followed by
    ``h = p cos(phi) + z sin(phi) - a sqrt(1 - e^2 sin^2(phi))``; error well below 1 mm for
    heights up to several thousand km."""
    xp = _xp(p_km)
    e2 = flattening * (2.0 - flattening)
    b = radius_km * (1.0 - flattening)
    ep2 = e2 / (1.0 - e2)
    theta = xp.arctan2(z_km * radius_km, p_km * b)
    st, ct = xp.sin(theta), xp.cos(theta)
    phi = xp.arctan2(z_km + ep2 * b * st * st * st, p_km - e2 * radius_km * ct * ct * ct)
    sp, cp = xp.sin(phi), xp.cos(phi)
    return p_km * cp + z_km * sp - radius_km * xp.sqrt(1.0 - e2 * sp * sp)
