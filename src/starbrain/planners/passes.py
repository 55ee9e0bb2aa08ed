"""Ground-station passes: rise, culmination and set of N satellites over M stations in one sweep.

Method (vectorised over satellites x stations x times, no Python loop over satellites):

1. Propagate every satellite of a chunk on a coarse UTC grid (``step_s``, default 180 s) through
   the ``propagate`` callable (TEME km, km/s); rotate to the pseudo-Earth-fixed frame and compute,
   for every station, the sine of the elevation above ``min_elevation_deg`` (sign of
   ``f = sin(el) - sin(min_el)``) and the sign of the elevation rate (``h``).
2. Sign changes of ``h`` bracket the elevation's local maxima (culminations) and minima; sign
   changes of ``f``, on the grid augmented with the refined extrema, bracket rises and sets, so a
   grazing pass shorter than a grid step is still found.
3. Every bracket is refined by vectorised bisection to ``tol_s`` (default 1 ms). Between grid
   points the TEME state is a quintic Hermite interpolant of position, velocity and a
   point-mass + J2 acceleration (sub-metre for LEO at 180 s; the neglected forces are ~1e-3 of
   J2), so refinement needs no further propagation.

The grid step must be short enough that no elevation maximum and minimum fall within one step;
180 s is safe for orbits with periods above ~85 min (Skyfield's ``find_events`` samples at a
twentieth of an orbit, about 280 s in LEO).

Passes cut by the window (the behaviour of Skyfield's ``find_events``, which reports only the
events inside the window): a satellite already above the threshold at ``start`` has no rise
(``rise`` is NaT), one still above at ``stop`` has no set (``set`` is NaT). ``culminate`` is the
highest local maximum of elevation strictly inside the window; when the part of the pass inside
the window has none (the satellite only descends after ``start`` or only climbs before
``stop``), ``culminate`` is NaT and ``max_elevation_deg`` is the elevation at the window edge,
the highest inside the window. ``sunlit`` is evaluated at ``culminate`` (at that window edge when
``culminate`` is NaT): the satellite is in sunlight unless the line to the Sun (DE421) crosses
the Earth, a sphere, as Skyfield's ``is_sunlit``. When a pass has several culminations (possible
for high orbits), the highest is reported.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, replace
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from starbrain.core import timeconv
from starbrain.physics import earth, frames
from starbrain.planners.propagator import Sgp4Propagator, UtcPropagate, utc_propagate

__all__ = [
    "PASSES_SCHEMA",
    "GroundStation",
    "Passes",
    "Propagate",
    "find_passes",
    "satrec_propagator",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

PASSES_SCHEMA = pa.schema(
    [
        pa.field("norad_id", pa.int32(), nullable=False),
        pa.field("station", pa.string(), nullable=False),
        pa.field("rise", pa.timestamp("ns", tz="UTC")),  # null: already up at window start
        pa.field("culminate", pa.timestamp("ns", tz="UTC")),  # null: no maximum in the window
        pa.field("set", pa.timestamp("ns", tz="UTC")),  # null: still up at window end
        pa.field("max_elevation_deg", pa.float64(), nullable=False),
        pa.field("sunlit", pa.bool_(), nullable=False),
    ],
    metadata={"stream": "passes", "key": "norad_id,station,rise"},
)


#: The one UTC-grid propagation interface of the planners (NaN samples count as below the
#: horizon); any :class:`~starbrain.planners.propagator.Propagator` becomes one through
#: :func:`~starbrain.planners.propagator.utc_propagate`.
Propagate = UtcPropagate


def satrec_propagator(satrecs: Sequence[Any]) -> Propagate:
    """A :class:`Propagate` over python-sgp4 ``Satrec`` objects, through ``SatrecArray`` (C++)."""
    from sgp4.api import SatrecArray

    fleet = list(satrecs)

    def propagate(jd: FloatArray, fr: FloatArray, sats: slice = slice(None)) -> tuple[Any, Any]:
        err, r, v = SatrecArray(fleet[sats]).sgp4(np.asarray(jd), np.asarray(fr))
        bad = err != 0
        r[bad] = np.nan
        v[bad] = np.nan
        return r, v

    return propagate


def sgp4_propagator(
    elements: pa.Table, backend: str = "torch", device: str | None = None
) -> Propagate:
    """A :class:`Propagate` over an element-set table (``ELEMENTS_SCHEMA``) through SGP4:
    ``backend`` "torch" (:class:`~starbrain.planners.propagator.Sgp4Propagator`, initialised
    once) or "cpp" (python-sgp4's ``SatrecArray``)."""
    if backend == "torch":
        return utc_propagate(Sgp4Propagator(), elements, device=device)
    from starbrain.physics.sgp4 import propagate as sgp4_propagate

    def propagate(jd: FloatArray, fr: FloatArray, sats: slice = slice(None)) -> tuple[Any, Any]:
        start, stop, _ = sats.indices(elements.num_rows)
        part = elements.slice(start, stop - start)
        r, v, err = sgp4_propagate(part, jd, fr, backend=backend, device=device)  # type: ignore[arg-type]
        bad = err != 0
        r[bad] = np.nan
        v[bad] = np.nan
        return r, v

    return propagate


@dataclass(frozen=True, slots=True)
class GroundStation:
    """A ground station on the WGS-84 ellipsoid. Degrees: this is an edge type."""

    name: str
    lat_deg: float
    lon_deg: float
    alt_km: float = 0.0


# Named stations the demo and the console offer (WGS-84, altitude in km).
KNOWN_STATIONS: dict[str, GroundStation] = {
    s.name.lower(): s
    for s in (
        GroundStation("Tokyo", 35.68, 139.77, 0.04),
        GroundStation("Svalbard", 78.23, 15.39, 0.5),
        GroundStation("Cape Canaveral", 28.49, -80.58, 0.0),
    )
}


def parse_station(spec: str, known: Mapping[str, GroundStation] | None = None) -> GroundStation:
    """``NAME:LAT,LON[,ALT_M]`` (degrees, metres), or a name from ``known`` (matched without
    case). Longitudes 180-360 are wrapped to -180..180. Raises ``ValueError`` with a sentence
    for the user."""
    if known:
        found = known.get(spec.strip().lower())
        if found is not None:
            return found
    name, _, coords = spec.rpartition(":")
    try:
        parts = [float(x) for x in coords.split(",")]
        lat, lon = parts[0], parts[1]
        alt_m = parts[2] if len(parts) > 2 else 0.0
        ok = (
            len(parts) <= 3
            and all(math.isfinite(p) for p in parts)
            and -90 <= lat <= 90
            and -180 <= lon <= 360
            and -500 <= alt_m <= 10_000
        )
    except (ValueError, IndexError):
        ok = False
    if not ok or not name.strip():
        form = (
            "NAME:LAT,LON[,ALT_M] (degrees, metres; latitude -90..90, longitude -180..360, "
            'altitude -500..10000), e.g. "Tokyo:35.68,139.77,40"'
        )
        if known:
            names = ", ".join(s.name for s in known.values())
            raise ValueError(f"station {spec!r} is neither a known station ({names}) nor {form}")
        raise ValueError(f"station {spec!r} is not {form}")
    return GroundStation(name.strip(), lat, lon if lon <= 180 else lon - 360, alt_m / 1000.0)


@dataclass(frozen=True, slots=True)
class Passes:
    """Passes found by :func:`find_passes`, one row each, sorted by satellite, station, time.

    Arrays (n_pass,): ``norad_id`` int64, ``station`` (names, str), ``rise``, ``culminate``,
    ``set`` (UTC ``datetime64[ns]``, NaT where the window cut the pass, see the module doc),
    ``max_elevation_deg`` float64 and ``sunlit`` bool.
    """

    norad_id: IntArray
    station: npt.NDArray[np.str_]
    rise: npt.NDArray[np.datetime64]
    culminate: npt.NDArray[np.datetime64]
    set: npt.NDArray[np.datetime64]
    max_elevation_deg: FloatArray
    sunlit: npt.NDArray[np.bool_]

    def __len__(self) -> int:
        return len(self.norad_id)

    def to_arrow(self) -> pa.Table:
        """The passes as a table with schema ``PASSES_SCHEMA`` (NaT becomes null)."""

        def ts(a: npt.NDArray[np.datetime64]) -> pa.Array:
            return pa.array(a, pa.timestamp("ns"), mask=np.isnat(a)).cast(
                pa.timestamp("ns", tz="UTC")
            )

        return pa.table(
            {
                "norad_id": pa.array(self.norad_id, pa.int32()),
                "station": pa.array(self.station.tolist(), pa.string()),
                "rise": ts(self.rise),
                "culminate": ts(self.culminate),
                "set": ts(self.set),
                "max_elevation_deg": pa.array(self.max_elevation_deg, pa.float64()),
                "sunlit": pa.array(self.sunlit, pa.bool_()),
            },
            schema=PASSES_SCHEMA,
        )


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


def _chunk(g: _Grid, r_c: Any, v_c: Any, sin_min: float, tol_s: float) -> _ChunkEvents:
    n_sta = g.site.shape[1]
    # time-major (n_time, n_c, 3)
    r = np.ascontiguousarray(_to_numpy(r_c).transpose(1, 0, 2))
    v = np.ascontiguousarray(_to_numpy(v_c).transpose(1, 0, 2))
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

    # Stage 1: extrema. A maximum is refined only if the satellite can reach the threshold in
    # its interval: it stays within v_max h / 2 of the chord midpoint m (|r(t) - m| is at most
    # half the sum of the distances travelled from both ends), so its elevation is at most
    # el(m) + asin(R / |m - site|).
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
    up_e = fe >= 0.0
    up_k = up[ke, ce, se]
    up_k1 = up[ke + 1, ce, se]
    is_mx = sign_e > 0

    # Stage 2: rises and sets. Each candidate: bracket index into `be` or a plain interval.
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

    bx = _concat_brackets([_take(be, j_before), _take(be, j_after), bp])
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

    culm = is_mx & up_e
    return _ChunkEvents(
        cross_pair=cx * n_sta + sx,
        cross_t=g.t_s[kx] + xx * bx.h,
        cross_rise=is_rise,
        culm_pair=ce[culm] * n_sta + se[culm],
        culm_t=g.t_s[ke[culm]] + xe[culm] * be.h[culm],
        culm_sin=sin_e[culm],
        culm_r=r_e[culm],
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


# --------------------------------------------------------------------------------------------
# Assembling events into passes


def _sun_at(g: _Grid, t: FloatArray) -> FloatArray:
    k = np.clip(np.searchsorted(g.t_s, t, side="right") - 1, 0, len(g.t_s) - 2)
    x = ((t - g.t_s[k]) / (g.t_s[k + 1] - g.t_s[k]))[:, None]
    return g.sun[k] * (1.0 - x) + g.sun[k + 1] * x


@dataclass(frozen=True, slots=True)
class _PassRows:
    pair: IntArray
    rise_t: FloatArray  # NaN: cut by the window
    culm_t: FloatArray  # NaN: none inside the window
    set_t: FloatArray
    max_sin: FloatArray
    sunlit: npt.NDArray[np.bool_]


def _assemble(g: _Grid, ev: _ChunkEvents, sin_min: float) -> _PassRows:
    t_end = float(g.t_s[-1])
    n_pair = len(ev.up_first)
    pairs = np.arange(n_pair)
    # Virtual rise at the start for satellites already up, virtual set at the end likewise.
    cp = np.concatenate([ev.cross_pair, pairs[ev.up_first], pairs[ev.up_last]])
    ct = np.concatenate([ev.cross_t, np.zeros(ev.up_first.sum()), np.full(ev.up_last.sum(), t_end)])
    cr = np.concatenate(
        [ev.cross_rise, np.ones(ev.up_first.sum(), bool), np.zeros(ev.up_last.sum(), bool)]
    )
    virtual = np.concatenate(
        [np.zeros(len(ev.cross_pair), bool), np.ones(ev.up_first.sum() + ev.up_last.sum(), bool)]
    )
    # Within a pair, virtual rises sort first and virtual sets last (ties at the ends).
    order = np.lexsort((~cr, ct, cp))
    cp, ct, cr, virtual = cp[order], ct[order], cr[order], virtual[order]
    if not (np.all(cr[0::2]) and not np.any(cr[1::2]) and np.all(cp[0::2] == cp[1::2])):
        raise RuntimeError("internal error: rises and sets do not alternate")  # pragma: no cover
    pair = cp[0::2]
    start_t, stop_t = ct[0::2], ct[1::2]
    rise_t = np.where(virtual[0::2], np.nan, start_t)
    set_t = np.where(virtual[1::2], np.nan, stop_t)
    n_pass = len(pair)

    # Culminations: each lies inside exactly one pass of its pair; keep the highest.
    scale = t_end + 1.0
    pass_key = pair * scale + start_t
    culm_key = ev.culm_pair * scale + ev.culm_t
    which = np.searchsorted(pass_key, culm_key, side="right") - 1
    best = np.lexsort((ev.culm_sin, which))
    last = np.r_[which[best][1:] != which[best][:-1], True] if len(best) else np.zeros(0, bool)
    chosen = best[last]
    culm_t = np.full(n_pass, np.nan)
    max_sin = np.full(n_pass, -np.inf)
    r_at = np.full((n_pass, 3), np.nan)
    at_t = np.zeros(n_pass)
    culm_t[which[chosen]] = ev.culm_t[chosen]
    max_sin[which[chosen]] = ev.culm_sin[chosen]
    r_at[which[chosen]] = ev.culm_r[chosen]
    at_t[which[chosen]] = ev.culm_t[chosen]

    # Passes with no culmination inside the window: highest point is at a window edge.
    none = np.isnan(culm_t)
    s_start = np.where(np.isnan(rise_t), ev.sin_first[pair], sin_min)
    s_stop = np.where(np.isnan(set_t), ev.sin_last[pair], sin_min)
    use_start = none & (s_start >= s_stop)
    use_stop = none & ~use_start
    max_sin[use_start] = s_start[use_start]
    max_sin[use_stop] = s_stop[use_stop]
    r_at[use_start] = ev.r_first[pair[use_start]]
    r_at[use_stop] = ev.r_last[pair[use_stop]]
    at_t[use_start] = start_t[use_start]
    at_t[use_stop] = stop_t[use_stop]
    # a cut pass that both rose and set inside the window cannot lack a maximum; keep the
    # threshold crossing point then (only reachable if the grid step is too coarse)
    lit = earth.sunlit(r_at, _sun_at(g, at_t))
    return _PassRows(pair, rise_t, culm_t, set_t, max_sin, lit)


# --------------------------------------------------------------------------------------------
# Public entry point


def find_passes(
    propagate: Propagate,
    norad_ids: npt.ArrayLike,
    stations: Sequence[GroundStation],
    start: Any,
    stop: Any,
    *,
    min_elevation_deg: float = 0.0,
    step_s: float = 180.0,
    tol_s: float = 1e-3,
    chunk_size: int | None = None,
) -> Passes:
    """Passes of every satellite over every station between ``start`` and ``stop`` (UTC).

    ``propagate(jd, fr, sats)`` gives TEME states of the satellites ``sats`` (a slice of the
    ``len(norad_ids)`` satellites, in the same order) at UTC split Julian dates; see
    :class:`Propagate` and :func:`satrec_propagator`. A pass counts from the moment the
    geometric elevation (no refraction, above the WGS-84 tangent plane) reaches
    ``min_elevation_deg`` until it drops below it. Event times are refined to ``tol_s``;
    ``step_s`` is the coarse sampling step (see the module docstring for its limit);
    ``chunk_size`` satellites are processed at a time (default: about 2 million samples of
    satellite x station x time per chunk, some 100 MB of work arrays).

    Returns a :class:`Passes`, rows sorted by satellite (input order), station (input order)
    and time; passes cut by the window have NaT ``rise`` or ``set`` as described in the module
    docstring.
    """
    ids = np.asarray(norad_ids, dtype=np.int64).reshape(-1)
    if not stations:
        raise ValueError("no ground stations given")
    t0, t1 = timeconv.to_instant(start, "start"), timeconv.to_instant(stop, "stop")
    span_ns = int((t1 - t0).astype(np.int64))
    if span_ns <= 0:
        raise ValueError(f"your start time {t0} is not earlier than your stop time {t1}")
    if not step_s > 0 or not tol_s > 0:
        raise ValueError(f"step_s and tol_s must be positive (got {step_s}, {tol_s})")
    g = _grid(t0, span_ns, step_s, stations)
    n_sat, n_sta, n_time = len(ids), len(stations), len(g.t_s)
    if chunk_size is None:
        chunk_size = max(1, 2_000_000 // (n_sta * n_time))
    sin_min = math.sin(math.radians(min_elevation_deg))

    parts: list[_PassRows] = []
    for a in range(0, n_sat, chunk_size):
        b = min(n_sat, a + chunk_size)
        r, v = propagate(g.jd, g.fr, slice(a, b))
        if tuple(r.shape) != (b - a, n_time, 3) or tuple(v.shape) != tuple(r.shape):
            raise ValueError(
                f"propagate(jd, fr, slice({a}, {b})) returned shapes {tuple(r.shape)} and "
                f"{tuple(v.shape)}; expected ({b - a}, {n_time}, 3) for both"
            )
        rows = _assemble(g, _chunk(g, r, v, sin_min, tol_s), sin_min)
        parts.append(replace(rows, pair=rows.pair + a * n_sta))  # chunk-local -> global pair
    if not parts:
        empty_t = np.zeros(0, "datetime64[ns]")
        return Passes(
            ids, np.zeros(0, str), empty_t, empty_t, empty_t, np.zeros(0), np.zeros(0, bool)
        )

    def cat(name: str) -> Any:
        return np.concatenate([getattr(p, name) for p in parts])

    rise_t, culm_t, set_t = cat("rise_t"), cat("culm_t"), cat("set_t")
    sat, sta = np.divmod(cat("pair"), n_sta)
    order = np.lexsort((np.where(np.isnan(rise_t), 0.0, rise_t), sta, sat))
    names = np.array([s.name for s in stations], dtype=str)

    def stamp(t: FloatArray) -> npt.NDArray[np.datetime64]:
        cut = np.isnan(t)
        out = t0 + np.rint(np.where(cut, 0.0, t) * 1e9).astype(np.int64).astype("timedelta64[ns]")
        out[cut] = np.datetime64("NaT")
        return out

    return Passes(
        norad_id=ids[sat[order]],
        station=names[sta[order]],
        rise=stamp(rise_t[order]),
        culminate=stamp(culm_t[order]),
        set=stamp(set_t[order]),
        max_elevation_deg=np.degrees(np.arcsin(np.clip(cat("max_sin")[order], -1.0, 1.0))),
        sunlit=cat("sunlit")[order],
    )
