"""Reference-frame conversions: TEME (SGP4) to ITRF and GCRS, geodetic and topocentric coordinates.

Conventions (DESIGN.md): positions in km, velocities in km/s, angles in radians, times as UTC
split Julian dates ``(jd, fr)`` of shape ``(n_time,)``. Vectors are batched with time on the
second-to-last axis, ``(..., n_time, 3)``, typically ``(n_sat, n_time, 3)``. Positions and
velocities may be NumPy arrays or PyTorch tensors; the rotation matrices are computed with NumPy
(through Skyfield) and applied with ``einsum`` in the vectors' own library, dtype and device.

Earth orientation comes from the files bundled with ``skyfield-data`` and nothing else (no
download, ever): UT1-UTC and polar motion from ``finals2000A.all``, leap seconds from the same
table, the Sun from ``de421.bsp``. Skyfield computes the time scales and the
precession-nutation matrices, vectorised over times; this module applies them to batches.

Frames, as Vallado et al. (AIAA 2006-6753) define them and Skyfield implements them:

* TEME -> PEF is a rotation about z by GMST (IAU 1982 formula, in UT1);
* PEF -> ITRF is the polar-motion matrix W (x_p, y_p and the TIO locator s');
* TEME -> GCRS goes through the true equator and equinox of date (equation of the equinoxes)
  and Skyfield's bias-precession-nutation matrix (IAU 2000A nutation).

Beyond the end of the bundled Earth-orientation table (its predictions run about a year past
the file's release) UT1-UTC follows Skyfield's extrapolation of Delta T and polar motion stays at
its last tabulated value; :func:`eop_table_end` says where that starts.
"""

from __future__ import annotations

import functools
import os
import warnings
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np
import numpy.typing as npt

from starbrain.core.timeconv import JD_UNIX_EPOCH, jd_to_datetime64
from starbrain.physics.earth import enu_matrix, geodetic_to_itrf

__all__ = [
    "EarthOrientation",
    "Topocentric",
    "earth_orientation",
    "eop_table_end",
    "ephemeris",
    "itrf_to_teme",
    "skyfield_time",
    "sun_teme_km",
    "teme_to_gcrs",
    "teme_to_gcrs_matrix",
    "teme_to_itrf",
    "teme_to_itrf_matrix",
    "timescale",
    "topocentric",
]

DAY_S = 86400.0
_TAU = 2.0 * np.pi

FloatArray = npt.NDArray[np.float64]


# --------------------------------------------------------------------------------------------
# Data: Skyfield objects built only from skyfield-data's files


def _data_file(name: str) -> str:
    """Path of one of skyfield-data's bundled files.

    skyfield-data warns when its finals file is past its nominal expiry; that date concerns the
    predictions at the end of the table, which this module documents, so the warning is muted.
    """
    import skyfield_data

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        path = os.path.join(skyfield_data.get_skyfield_data_path(), name)
    if not os.path.exists(path):
        raise FileNotFoundError(f"skyfield-data does not ship {name!r} (looked in {path})")
    return path


@functools.cache
def _finals() -> np.ndarray:
    from skyfield.data import iers

    with open(_data_file("finals2000A.all"), "rb") as f:
        return iers.parse_x_y_dut1_from_finals_all(f)


@functools.cache
def timescale() -> Any:
    """Skyfield ``Timescale`` from skyfield-data's ``finals2000A.all``, with polar motion installed.

    Built as Skyfield's ``Loader.timescale(builtin=False)`` builds it (leap seconds and UT1-UTC
    from the IERS table) followed by ``iers.install_polar_motion_table``, but reading the bundled
    file directly so that no code path can reach the network.
    """
    from skyfield.data import iers
    from skyfield.timelib import Timescale

    finals = _finals()
    daily_tt, daily_delta_t, leap_dates, leap_offsets = iers.build_timescale_arrays(
        finals["utc_mjd"], finals["dut1"]
    )
    ts = Timescale((daily_tt, daily_delta_t), leap_dates, leap_offsets)
    iers.install_polar_motion_table(ts, finals)
    return ts


def eop_table_end() -> np.datetime64:
    """UTC time of the last entry of the bundled Earth-orientation table (UT1-UTC, polar motion)."""
    mjd = float(_finals()["utc_mjd"][-1])
    return jd_to_datetime64(mjd + 2400000.5)  # type: ignore[return-value]


@functools.cache
def ephemeris() -> Any:
    """Skyfield ``SpiceKernel`` for JPL DE421 as bundled by skyfield-data (1900-2050)."""
    from skyfield.api import load_file

    return load_file(_data_file("de421.bsp"))


def skyfield_time(jd: npt.ArrayLike, fr: npt.ArrayLike) -> Any:
    """Skyfield ``Time`` (on :func:`timescale`) for UTC split Julian dates ``(jd, fr)``, (n_time,).

    Goes through ``Timescale.utc`` with whole days and seconds of day so that leap seconds are
    applied as Skyfield applies them and sub-microsecond resolution is kept.
    """
    jd = np.asarray(jd, dtype=np.float64)
    fr = np.asarray(fr, dtype=np.float64)
    jd0 = np.floor(jd - 0.5) + 0.5
    frac = (jd - jd0) + fr
    carry = np.floor(frac)
    days = jd0 - JD_UNIX_EPOCH + carry
    seconds = (frac - carry) * DAY_S
    return timescale().utc(1970, 1, 1.0 + days, 0, 0, seconds)


# --------------------------------------------------------------------------------------------
# Rotation matrices


@dataclass(frozen=True, slots=True)
class EarthOrientation:
    """Earth orientation at UTC times ``(n_time,)``: what TEME <-> ITRF needs.

    ``gmst`` is the IAU 1982 Greenwich mean sidereal angle (rad, in [0, 2 pi)) at UT1,
    ``omega`` its rate in rad/s (the Earth's rotation rate used for velocities),
    ``polar_motion`` the (n_time, 3, 3) matrix W taking PEF to ITRF, ``dut1_s`` UT1-UTC in s.
    """

    gmst: FloatArray
    omega: FloatArray
    polar_motion: FloatArray
    dut1_s: FloatArray


def earth_orientation(jd: npt.ArrayLike, fr: npt.ArrayLike) -> EarthOrientation:
    """UT1, GMST (IAU 1982) and polar motion at UTC ``(jd, fr)``, with leading axis (n_time,)."""
    from skyfield.sgp4lib import theta_GMST1982

    jd = np.atleast_1d(np.asarray(jd, dtype=np.float64))
    fr = np.atleast_1d(np.asarray(fr, dtype=np.float64))
    jd, fr = np.broadcast_arrays(jd, fr)
    t = skyfield_time(jd, fr)
    dut1 = np.asarray(t.dut1, dtype=np.float64)
    theta, theta_dot = theta_GMST1982(jd, fr + dut1 / DAY_S)
    w = np.moveaxis(np.asarray(t.polar_motion_matrix(), dtype=np.float64), -1, 0)
    return EarthOrientation(
        gmst=np.asarray(theta, dtype=np.float64),
        omega=np.broadcast_to(np.asarray(theta_dot / DAY_S, dtype=np.float64), jd.shape).copy(),
        polar_motion=w.reshape((*jd.shape, 3, 3)),
        dut1_s=dut1,
    )


def _rot_z_batch(theta: FloatArray) -> FloatArray:
    """(n, 3, 3) matrices rotating vectors into axes turned by ``theta`` about z (R3(theta))."""
    c, s = np.cos(theta), np.sin(theta)
    m = np.zeros((*theta.shape, 3, 3))
    m[..., 0, 0] = c
    m[..., 0, 1] = s
    m[..., 1, 0] = -s
    m[..., 1, 1] = c
    m[..., 2, 2] = 1.0
    return m


def teme_to_itrf_matrix(jd: npt.ArrayLike, fr: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Rotation TEME -> ITRF, (n_time, 3, 3), and the Earth rotation rate (n_time,) in rad/s."""
    eo = earth_orientation(jd, fr)
    return eo.polar_motion @ _rot_z_batch(eo.gmst), eo.omega


def teme_to_gcrs_matrix(jd: npt.ArrayLike, fr: npt.ArrayLike) -> FloatArray:
    """Rotation TEME -> GCRS, (n_time, 3, 3), as Skyfield's ``EarthSatellite`` applies it."""
    from skyfield.sgp4lib import TEME

    t = skyfield_time(np.atleast_1d(jd), np.atleast_1d(fr))
    gcrs_to_teme = np.asarray(TEME.rotation_at(t), dtype=np.float64)  # (3, 3, n_time)
    return np.moveaxis(gcrs_to_teme, -1, 0).swapaxes(-1, -2)


# --------------------------------------------------------------------------------------------
# Applying rotations to batches


def _ns(x: Any) -> ModuleType:
    if type(x).__module__.startswith("torch"):
        import torch

        return torch
    return np


def _as_vectors(x: Any) -> Any:
    return x if _ns(x) is not np else np.asarray(x, dtype=np.float64)


def _like(m: FloatArray, x: Any) -> Any:
    """``m`` as an array of the same library, dtype and device as ``x``."""
    xp = _ns(x)
    if xp is np:
        return m
    return xp.as_tensor(m, dtype=x.dtype, device=x.device)


def _rotate(m: FloatArray, r: Any, transpose: bool = False) -> Any:
    """Apply matrices ``m`` (n_time, 3, 3), or their transposes, to ``r`` (..., n_time, 3)."""
    mm = _like(m, r)
    if transpose:
        mm = mm.swapaxes(-1, -2)
    return _ns(r).einsum("tij,...tj->...ti", mm, r)


def _earth_rotation_term(omega: FloatArray, r_pef: Any) -> Any:
    """omega x r for omega along +z: (-omega y, omega x, 0), batched (..., n_time, 3)."""
    xp = _ns(r_pef)
    w = _like(omega, r_pef)
    return xp.stack([-w * r_pef[..., 1], w * r_pef[..., 0], xp.zeros_like(r_pef[..., 2])], -1)


def teme_to_itrf(
    r_teme: Any, v_teme: Any | None, jd: npt.ArrayLike, fr: npt.ArrayLike
) -> tuple[Any, Any | None]:
    """TEME position (..., n_time, 3) km and velocity (km/s, or None) -> ITRF at UTC (jd, fr).

    ``r_itrf = W R3(GMST) r_teme``; the velocity gets the Earth-rotation term
    ``v_itrf = W (R3(GMST) v_teme - omega x r_pef)``, as in Skyfield's ``TEME_to_ITRF``.
    """
    eo = earth_orientation(jd, fr)
    r_teme = _as_vectors(r_teme)
    r3 = _rot_z_batch(eo.gmst)
    r_pef = _rotate(r3, r_teme)
    r_itrf = _rotate(eo.polar_motion, r_pef)
    if v_teme is None:
        return r_itrf, None
    v_pef = _rotate(r3, _as_vectors(v_teme)) - _earth_rotation_term(eo.omega, r_pef)
    return r_itrf, _rotate(eo.polar_motion, v_pef)


def itrf_to_teme(
    r_itrf: Any, v_itrf: Any | None, jd: npt.ArrayLike, fr: npt.ArrayLike
) -> tuple[Any, Any | None]:
    """Inverse of :func:`teme_to_itrf`: ITRF (..., n_time, 3) km [km/s] -> TEME."""
    eo = earth_orientation(jd, fr)
    r_itrf = _as_vectors(r_itrf)
    r3 = _rot_z_batch(eo.gmst)
    r_pef = _rotate(eo.polar_motion, r_itrf, transpose=True)
    r_teme = _rotate(r3, r_pef, transpose=True)
    if v_itrf is None:
        return r_teme, None
    v_pef = _rotate(eo.polar_motion, _as_vectors(v_itrf), transpose=True)
    v_pef = v_pef + _earth_rotation_term(eo.omega, r_pef)
    return r_teme, _rotate(r3, v_pef, transpose=True)


def teme_to_gcrs(
    r_teme: Any, v_teme: Any | None, jd: npt.ArrayLike, fr: npt.ArrayLike
) -> tuple[Any, Any | None]:
    """TEME position (..., n_time, 3) km and velocity (km/s, or None) -> GCRS at UTC (jd, fr).

    Both are rotated by the same matrix; like Skyfield, the rate of change of the
    precession-nutation rotation (about 1e-11 rad/s) is neglected for velocities.
    """
    m = teme_to_gcrs_matrix(jd, fr)
    r = _rotate(m, _as_vectors(r_teme))
    return r, None if v_teme is None else _rotate(m, _as_vectors(v_teme))


def sun_teme_km(jd: npt.ArrayLike, fr: npt.ArrayLike) -> FloatArray:
    """Geometric geocentric position of the Sun (DE421) in TEME, (n_time, 3) km, at UTC (jd, fr).

    The same vector Skyfield's ``is_sunlit`` uses (no light-time or aberration), rotated into
    TEME so it can be compared with SGP4 output directly.
    """
    eph = ephemeris()
    t = skyfield_time(np.atleast_1d(jd), np.atleast_1d(fr))
    sun_gcrs = np.asarray((eph["sun"] - eph["earth"]).at(t).position.km, dtype=np.float64).T
    return _rotate(teme_to_gcrs_matrix(jd, fr), sun_gcrs[:, None, :], transpose=True)[:, 0, :]


# --------------------------------------------------------------------------------------------
# Topocentric coordinates


@dataclass(frozen=True, slots=True)
class Topocentric:
    """Look angles from ground stations, each (..., n_station, n_time).

    ``azimuth`` (rad, from north through east, in [0, 2 pi)), ``elevation`` (rad, above the
    ellipsoid's tangent plane, no refraction), ``range_km``, ``range_rate_kms`` (positive when
    receding; None when no velocity was given).
    """

    azimuth: Any
    elevation: Any
    range_km: Any
    range_rate_kms: Any | None


def topocentric(
    r_itrf: Any,
    lat: npt.ArrayLike,
    lon: npt.ArrayLike,
    alt_km: npt.ArrayLike,
    v_itrf: Any | None = None,
) -> Topocentric:
    """Azimuth, elevation, range (and range rate) of ITRF positions (..., n_time, 3) km from
    stations at WGS-84 geodetic ``lat``, ``lon`` (rad), ``alt_km``, each (n_station,).

    Results have shape (..., n_station, n_time). ``v_itrf`` (km/s, Earth-fixed) gives the range
    rate, which is the same in every frame.
    """
    r_itrf = _as_vectors(r_itrf)
    xp = _ns(r_itrf)
    lat = np.atleast_1d(np.asarray(lat, dtype=np.float64))
    lon = np.atleast_1d(np.asarray(lon, dtype=np.float64))
    alt = np.atleast_1d(np.asarray(alt_km, dtype=np.float64))
    site = _like(geodetic_to_itrf(lat, lon, alt), r_itrf)  # (n_station, 3)
    enu = _like(enu_matrix(*np.broadcast_arrays(lat, lon)), r_itrf)  # (n_station, 3, 3)
    d = r_itrf[..., None, :, :] - site[:, None, :]  # (..., n_station, n_time, 3)
    local = xp.einsum("sij,...stj->...sti", enu, d)
    e, n, u = local[..., 0], local[..., 1], local[..., 2]
    horiz = xp.sqrt(e * e + n * n)
    if xp is np:
        az = np.arctan2(e, n) % _TAU
        el = np.arctan2(u, horiz)
    else:
        az = xp.remainder(xp.atan2(e, n), _TAU)
        el = xp.atan2(u, horiz)
    rng = xp.sqrt(horiz * horiz + u * u)
    rate = None
    if v_itrf is not None:
        v = _as_vectors(v_itrf)[..., None, :, :]
        rate = (d * v).sum(-1) / rng
    return Topocentric(azimuth=az, elevation=el, range_km=rng, range_rate_kms=rate)
