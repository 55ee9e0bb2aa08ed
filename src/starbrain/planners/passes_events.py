"""The event search of :mod:`starbrain.planners.passes` (steps 1 to 3 of its method): the
sampling grid and the station geometry on it, quintic Hermite brackets of the TEME state, the
two sign functions (threshold ``f`` and elevation rate ``h``) and their vectorised refinement,
and the rises, sets and culminations of one chunk of satellites (:func:`_chunk`).

Positions are km, velocities km/s, times s after the window start unless stated.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from starbrain.core import timeconv
from starbrain.physics import earth, frames

if TYPE_CHECKING:
    from starbrain.planners.passes import GroundStation

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


# --------------------------------------------------------------------------------------------
# The sampling grid and everything that depends only on time and stations


@dataclass(frozen=True, slots=True)
class _Grid:
    t_s: FloatArray  # (n_time,) seconds after start
    jd: FloatArray
    fr: FloatArray
    gmst: FloatArray  # (n_time,) rad
    dgmst: FloatArray  # (n_time - 1,) rad, increment over each interval
    omega: FloatArray  # (n_time,) rad/s
    site: FloatArray  # (n_time, n_sta, 3) station positions in PEF, km
    up: FloatArray  # (n_time, n_sta, 3) station up vectors in PEF
    site_up: FloatArray  # (n_time, n_sta) site . up
    site_sq: FloatArray  # (n_time, n_sta) |site|^2
    basis: FloatArray  # (n_time, 3, 2 n_sta): [up | site] for one matmul
    sun: FloatArray  # (n_time, 3) Sun in TEME, km


def _grid(
    start: np.datetime64, span_ns: int, step_s: float, stations: Sequence[GroundStation]
) -> _Grid:
    step_ns = round(step_s * 1e9)
    n_steps = max(1, math.ceil(span_ns / step_ns))
    t_ns = np.minimum(np.arange(n_steps + 1, dtype=np.int64) * step_ns, span_ns)
    jd, fr = timeconv.datetime64_to_jd(start + t_ns.astype("timedelta64[ns]"))
    eo = frames.earth_orientation(jd, fr)
    lat = np.radians([s.lat_deg for s in stations])
    lon = np.radians([s.lon_deg for s in stations])
    alt = np.array([s.alt_km for s in stations], dtype=np.float64)
    site_itrf = earth.geodetic_to_itrf(lat, lon, alt)  # (n_sta, 3)
    up_itrf = earth.enu_matrix(lat, lon)[:, 2, :]
    # Stations are fixed in ITRF; carry them into PEF (W^T) so satellites need only one z turn.
    site = np.einsum("tji,sj->tsi", eo.polar_motion, site_itrf)
    up = np.einsum("tji,sj->tsi", eo.polar_motion, up_itrf)
    return _Grid(
        t_s=t_ns / 1e9,
        jd=jd,
        fr=fr,
        gmst=eo.gmst,
        dgmst=np.mod(np.diff(eo.gmst), 2.0 * np.pi),
        omega=eo.omega,
        site=site,
        up=up,
        site_up=(site * up).sum(-1),
        site_sq=(site * site).sum(-1),
        basis=np.concatenate([up, site], axis=1).transpose(0, 2, 1).copy(),
        sun=frames.sun_teme_km(jd, fr),
    )


# Bound on a satellite's acceleration in the Earth-fixed frame, km/s^2: gravity at the surface
# plus centrifugal and Coriolis terms for speeds up to 11 km/s.
_ACCEL_BOUND_KMS2 = 0.0098 + 0.0001 + 0.0017

# --------------------------------------------------------------------------------------------
# Geometry on brackets: state interpolation and the two sign functions


@dataclass(frozen=True, slots=True)
class _Brackets:
    """Per-bracket constants: one satellite, one station, one grid interval."""

    coef: FloatArray  # (n, 6, 3) quintic in s = (t - t_k) / h, TEME km
    h: FloatArray  # (n,) interval length, s
    gmst0: FloatArray
    dgmst: FloatArray
    omega: FloatArray
    site: FloatArray  # (n, 3) PEF
    up: FloatArray  # (n, 3) PEF


def _brackets(
    g: _Grid, r: FloatArray, v: FloatArray, k: IntArray, c: IntArray, s: IntArray
) -> _Brackets:
    """Quintic Hermite coefficients of satellite ``c`` over interval ``k``.

    ``r``, ``v`` are the chunk's TEME states, time-major (n_time, n_c, 3).
    """
    h = g.t_s[k + 1] - g.t_s[k]
    hh = h[:, None]
    r0, r1 = r[k, c], r[k + 1, c]
    d0, d1 = v[k, c] * hh, v[k + 1, c] * hh
    a0 = earth.j2_acceleration(r0) * hh * hh
    a1 = earth.j2_acceleration(r1) * hh * hh
    big_a = r1 - r0 - d0 - 0.5 * a0
    big_b = d1 - d0 - a0
    big_c = a1 - a0
    coef = np.stack(
        [
            r0,
            d0,
            0.5 * a0,
            10.0 * big_a - 4.0 * big_b + 0.5 * big_c,
            -15.0 * big_a + 7.0 * big_b - big_c,
            6.0 * big_a - 3.0 * big_b + 0.5 * big_c,
        ],
        axis=1,
    )
    return _Brackets(coef, h, g.gmst[k], g.dgmst[k], g.omega[k], g.site[k, s], g.up[k, s])


def _evaluate(b: _Brackets, x: FloatArray, sin_min: float) -> tuple[FloatArray, ...]:
    """At fractions ``x`` of each bracket's interval: f, h (as on the grid), sin(el), r_teme."""
    cf = b.coef
    xx = x[:, None]
    r = cf[:, 5]
    dr = 5.0 * cf[:, 5]
    for m in (4, 3, 2, 1):
        r = r * xx + cf[:, m]
        dr = dr * xx + m * cf[:, m]
    r = r * xx + cf[:, 0]
    vel = dr / b.h[:, None]
    th = b.gmst0 + b.dgmst * x
    co, si = np.cos(th), np.sin(th)
    px = co * r[:, 0] + si * r[:, 1]
    py = -si * r[:, 0] + co * r[:, 1]
    pz = r[:, 2]
    vx = co * vel[:, 0] + si * vel[:, 1] + b.omega * py
    vy = -si * vel[:, 0] + co * vel[:, 1] - b.omega * px
    vz = vel[:, 2]
    dx, dy, dz = px - b.site[:, 0], py - b.site[:, 1], pz - b.site[:, 2]
    ux, uy, uz = b.up[:, 0], b.up[:, 1], b.up[:, 2]
    rho2 = dx * dx + dy * dy + dz * dz
    rho = np.sqrt(rho2)
    du = dx * ux + dy * uy + dz * uz
    dv = dx * vx + dy * vy + dz * vz
    vu = vx * ux + vy * uy + vz * uz
    return du - sin_min * rho, vu * rho2 - du * dv, du / rho, r


def _refine(
    b: _Brackets,
    lo: FloatArray,
    hi: FloatArray,
    use_h: npt.NDArray[np.bool_],
    sign: FloatArray,
    sin_min: float,
    tol: FloatArray,
    glo: FloatArray,
    ghi: FloatArray,
) -> FloatArray:
    """Root of ``g = sign * (h if use_h else f)`` in ``[lo, hi]`` (interval fractions), to ``tol``.

    ``g > 0`` on the ``lo`` side and ``g <= 0`` on the ``hi`` side (for f with sign +1, the
    grid's test ``f >= 0``); NaN (failed propagation) counts as the ``hi`` side. Illinois
    (modified regula falsi) keeps the bracket and converges superlinearly; a secant point that
    is not finite or not inside the bracket falls back to bisection. Iterates only on the
    brackets still wider than ``tol`` and returns their midpoints. ``glo``, ``ghi`` are the
    values of g at the ends, known from the grid or from stage 1.
    """

    def g(idx: IntArray, x: FloatArray) -> FloatArray:
        f, h, _, _ = _evaluate(_take(b, idx), x, sin_min)
        return np.where(use_h[idx], h, f) * sign[idx]

    lo, hi, glo, ghi = lo.copy(), hi.copy(), glo.copy(), ghi.copy()
    side = np.zeros(len(lo), np.int8)  # which end moved last: +1 lo, -1 hi
    act = np.nonzero((hi - lo) > tol)[0]
    for _ in range(200):  # bisection alone would need log2(1 / tol) < 60
        if not len(act):
            break
        a, z, ga, gz = lo[act], hi[act], glo[act], ghi[act]
        x = z - gz * (z - a) / (gz - ga)
        bad = ~np.isfinite(x) | (x <= a) | (x >= z)
        x = np.where(bad, 0.5 * (a + z), x)
        gx = g(act, x)
        pos = gx > 0.0
        last = side[act]
        # Illinois: when the same end moves twice running, halve the value kept at the other.
        glo[act] = np.where(pos, gx, np.where(last == -1, 0.5 * ga, ga))
        ghi[act] = np.where(pos, np.where(last == 1, 0.5 * gz, gz), gx)
        lo[act] = np.where(pos, x, a)
        hi[act] = np.where(pos, z, x)
        side[act] = np.where(pos, 1, -1)
        act = act[(hi[act] - lo[act]) > tol[act]]
    return 0.5 * (lo + hi)


def _take(b: _Brackets, i: IntArray) -> _Brackets:
    return _Brackets(b.coef[i], b.h[i], b.gmst0[i], b.dgmst[i], b.omega[i], b.site[i], b.up[i])


# --------------------------------------------------------------------------------------------
# One chunk of satellites


@dataclass(frozen=True, slots=True)
class _ChunkEvents:
    cross_pair: IntArray  # local pair = c * n_sta + s
    cross_t: FloatArray  # seconds after start
    cross_rise: npt.NDArray[np.bool_]
    culm_pair: IntArray
    culm_t: FloatArray
    culm_sin: FloatArray
    culm_r: FloatArray  # (n, 3) TEME
    up_first: npt.NDArray[np.bool_]  # (n_pair,)
    up_last: npt.NDArray[np.bool_]
    sin_first: FloatArray
    sin_last: FloatArray
    r_first: FloatArray  # (n_pair, 3) TEME
    r_last: FloatArray


def _to_numpy(x: Any) -> FloatArray:
    if type(x).__module__.startswith("torch"):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=np.float64)


def _pef(g: _Grid, r: FloatArray, v: FloatArray) -> tuple[FloatArray, FloatArray]:
    """TEME states ``(n_time, n_c, 3)`` (km, km/s) rotated to the pseudo-Earth-fixed frame:
    position and Earth-relative velocity."""
    co = np.cos(g.gmst)[:, None]
    si = np.sin(g.gmst)[:, None]
    om = g.omega[:, None]
    x = np.empty_like(r)
    w = np.empty_like(v)
    x[..., 0] = co * r[..., 0] + si * r[..., 1]
    x[..., 1] = co * r[..., 1] - si * r[..., 0]
    x[..., 2] = r[..., 2]
    w[..., 0] = co * v[..., 0] + si * v[..., 1] + om * x[..., 1]
    w[..., 1] = co * v[..., 1] - si * v[..., 0] - om * x[..., 0]
    w[..., 2] = v[..., 2]
    return x, w


@dataclass(frozen=True, slots=True)
class _Extrema:
    """Stage 1 of a chunk: the refined elevation maxima (``sign`` +1) and minima (-1), one per
    (interval ``k``, satellite ``c``, station ``s``), at fractions ``x`` of their brackets ``b``
    with ``f``, sin(el) and the TEME position there."""

    k: IntArray
    c: IntArray
    s: IntArray
    sign: FloatArray
    b: _Brackets
    x: FloatArray
    f: FloatArray
    sin: FloatArray
    r: FloatArray


def _extrema(
    g: _Grid,
    x: FloatArray,
    w: FloatArray,
    r: FloatArray,
    v: FloatArray,
    hdot: FloatArray,
    is_max: npt.NDArray[np.bool_],
    ext_min: npt.NDArray[np.bool_],
    sin_min: float,
    tol_s: float,
) -> _Extrema:
    """Refine the maxima that may reach the threshold and the minima that matter.

    A maximum is refined only if the satellite can reach the threshold in its interval: it
    stays within v_max h / 2 of the chord midpoint m (|r(t) - m| is at most half the sum of the
    distances travelled from both ends), so its elevation is at most
    el(m) + asin(R / |m - site|)."""
    km, cm, sm_ = np.nonzero(is_max)
    hk = g.t_s[km + 1] - g.t_s[km]
    mid = 0.5 * (x[km, cm] + x[km + 1, cm])
    speed = np.maximum(np.linalg.norm(w[km, cm], axis=-1), np.linalg.norm(w[km + 1, cm], axis=-1))
    radius = 0.5 * hk * (speed + _ACCEL_BOUND_KMS2 * 0.5 * hk)
    d = mid - g.site[km, sm_]
    dist = np.linalg.norm(d, axis=-1)
    el_mid = np.arcsin(np.clip((d * g.up[km, sm_]).sum(-1) / dist, -1.0, 1.0))
    reach = el_mid + np.arcsin(np.clip(radius / dist, 0.0, 1.0))
    keep = (dist <= radius) | (reach >= math.asin(sin_min)) | ~np.isfinite(reach)
    km, cm, sm_ = km[keep], cm[keep], sm_[keep]
    kn, cn, sn = np.nonzero(ext_min)
    ke = np.concatenate([km, kn])
    ce = np.concatenate([cm, cn])
    se = np.concatenate([sm_, sn])
    ne = len(ke)
    sign_e = np.concatenate([np.ones(len(km)), -np.ones(len(kn))])
    be = _brackets(g, r, v, ke, ce, se)
    xe = _refine(
        be,
        np.zeros(ne),
        np.ones(ne),
        np.ones(ne, bool),
        sign_e,
        sin_min,
        tol_s / be.h,
        hdot[ke, ce, se] * sign_e,
        hdot[ke + 1, ce, se] * sign_e,
    )
    fe, _, sin_e, r_e = _evaluate(be, xe, sin_min)
    return _Extrema(ke, ce, se, sign_e, be, xe, fe, sin_e, r_e)


def _crossings(
    g: _Grid,
    r: FloatArray,
    v: FloatArray,
    f: FloatArray,
    up: npt.NDArray[np.bool_],
    plain_rise: npt.NDArray[np.bool_],
    plain_set: npt.NDArray[np.bool_],
    e: _Extrema,
    sin_min: float,
    tol_s: float,
) -> tuple[IntArray, IntArray, IntArray, FloatArray, npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """Stage 2 of a chunk: rises and sets, each in a bracket around an extremum of ``e`` or in
    a plain grid interval, refined to ``tol_s``. Returns interval, satellite and station of
    each crossing, its time (s after start), and whether it is a rise."""
    ke, ce, se, xe, fe = e.k, e.c, e.s, e.x, e.f
    up_e = fe >= 0.0
    up_k = up[ke, ce, se]
    up_k1 = up[ke + 1, ce, se]
    is_mx = e.sign > 0
    # (a) around extrema
    rise_before = is_mx & ~up_k & up_e  # [0, x*]
    set_after = is_mx & up_e & ~up_k1  # [x*, 1]
    set_before = ~is_mx & up_k & ~up_e  # [0, x*]
    rise_after = ~is_mx & ~up_e & up_k1  # [x*, 1]
    j_before = np.nonzero(rise_before | set_before)[0]
    j_after = np.nonzero(set_after | rise_after)[0]
    # (b) plain intervals
    kp, cp, sp = np.nonzero(plain_rise | plain_set)
    bp = _brackets(g, r, v, kp, cp, sp)
    rise_p = plain_rise[kp, cp, sp]

    bx = _concat_brackets([_take(e.b, j_before), _take(e.b, j_after), bp])
    lo = np.concatenate([np.zeros(len(j_before)), xe[j_after], np.zeros(len(kp))])
    hi = np.concatenate([xe[j_before], np.ones(len(j_after)), np.ones(len(kp))])
    is_rise = np.concatenate([rise_before[j_before], rise_after[j_after], rise_p])
    # predicate at lo: "below" for a rise (f < 0), "up" for a set (f >= 0)
    sign_x = np.where(is_rise, -1.0, 1.0)
    nx = len(lo)
    f_lo = np.concatenate([f[ke[j_before], ce[j_before], se[j_before]], fe[j_after], f[kp, cp, sp]])
    f_hi = np.concatenate(
        [fe[j_before], f[ke[j_after] + 1, ce[j_after], se[j_after]], f[kp + 1, cp, sp]]
    )
    xx = _refine(
        bx, lo, hi, np.zeros(nx, bool), sign_x, sin_min, tol_s / bx.h, f_lo * sign_x, f_hi * sign_x
    )
    kx = np.concatenate([ke[j_before], ke[j_after], kp])
    cx = np.concatenate([ce[j_before], ce[j_after], cp])
    sx = np.concatenate([se[j_before], se[j_after], sp])
    return kx, cx, sx, g.t_s[kx] + xx * bx.h, up_e, is_rise


def _chunk(g: _Grid, r_c: Any, v_c: Any, sin_min: float, tol_s: float) -> _ChunkEvents:
    """Every rise, set and culmination of a chunk of satellites (TEME states ``r_c``, ``v_c``
    ``(n_c, n_time, 3)`` on the grid) over every station: sample the sign functions on the grid
    (module docstring, step 1), refine the extrema (:func:`_extrema`), then the threshold
    crossings (:func:`_crossings`)."""
    n_sta = g.site.shape[1]
    # time-major (n_time, n_c, 3)
    r = np.ascontiguousarray(_to_numpy(r_c).transpose(1, 0, 2))
    v = np.ascontiguousarray(_to_numpy(v_c).transpose(1, 0, 2))
    x, w = _pef(g, r, v)
    xb = np.matmul(x, g.basis)  # (n_time, n_c, 2 n_sta): [x.up | x.site]
    wb = np.matmul(w, g.basis)
    du = xb[..., :n_sta] - g.site_up[:, None, :]
    rho2 = (x * x).sum(-1)[..., None] - 2.0 * xb[..., n_sta:] + g.site_sq[:, None, :]
    dv = (x * w).sum(-1)[..., None] - wb[..., n_sta:]
    rho = np.sqrt(rho2)
    f = du - sin_min * rho
    hdot = wb[..., :n_sta] * rho2 - du * dv
    del xb, wb, dv
    up = f >= 0.0  # NaN (failed propagation) counts as below
    rising = hdot > 0.0
    falling = hdot < 0.0
    is_max = rising[:-1] & (hdot[1:] <= 0.0)
    is_min = falling[:-1] & (hdot[1:] >= 0.0)
    del rising, falling
    # a minimum matters only when it may dip below the threshold between two "up" samples
    ext_min = is_min & (up[:-1] | up[1:])
    plain = ~(is_max | is_min)
    plain_rise = plain & ~up[:-1] & up[1:]
    plain_set = plain & up[:-1] & ~up[1:]
    e = _extrema(g, x, w, r, v, hdot, is_max, ext_min, sin_min, tol_s)
    _, cx, sx, cross_t, up_e, is_rise = _crossings(
        g, r, v, f, up, plain_rise, plain_set, e, sin_min, tol_s
    )
    culm = (e.sign > 0) & up_e
    return _ChunkEvents(
        cross_pair=cx * n_sta + sx,
        cross_t=cross_t,
        cross_rise=is_rise,
        culm_pair=e.c[culm] * n_sta + e.s[culm],
        culm_t=g.t_s[e.k[culm]] + e.x[culm] * e.b.h[culm],
        culm_sin=e.sin[culm],
        culm_r=e.r[culm],
        up_first=up[0].reshape(-1),
        up_last=up[-1].reshape(-1),
        sin_first=(du[0] / rho[0]).reshape(-1),
        sin_last=(du[-1] / rho[-1]).reshape(-1),
        r_first=np.repeat(r[0], n_sta, axis=0),
        r_last=np.repeat(r[-1], n_sta, axis=0),
    )


def _concat_brackets(parts: Sequence[_Brackets]) -> _Brackets:
    return _Brackets(
        *(np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(_Brackets))
    )
