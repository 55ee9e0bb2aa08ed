"""Least-squares fitting of SGP4 mean elements (B* included) to position arcs, batched.

The fit runs through the differentiable SGP4 of :mod:`starbrain.physics.sgp4`: a Levenberg-Marquardt
iteration per satellite (all satellites in one batch) whose Jacobians come from autograd. Forward
derivatives are taken with the double-backward trick (a vector-Jacobian product differentiated
with respect to its cotangent), with the 7 parameter directions carried by 7 copies of the batch,
so one Jacobian costs two backward passes whatever the number of satellites or times.

Parameters (per satellite, non-singular for near-circular orbits): Kozai mean motion [rad/min],
``h = e sin(w)``, ``k = e cos(w)``, inclination, RAAN, mean argument of latitude ``M + w`` [rad]
and B* [1/ER]. Positions are compared in TEME, km.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import torch
from torch import Tensor

from starbrain.core import timeconv
from starbrain.core.schemas.elements import ELEMENTS_SCHEMA
from starbrain.physics.frames import itrf_to_teme, teme_to_gcrs_matrix
from starbrain.physics.sgp4 import sgp4_propagate
from starbrain.physics.sgp4_init import MU_KM3_S2, XPDOTP, Sgp4Elements
from starbrain.sources.catalogs.tle import format_tle
from starbrain.sources.ephemerides.oem import OemSegment, read_oem
from starbrain.sources.records import RecordError

__all__ = [
    "SUPPORTED_FRAMES",
    "FitResult",
    "OemFit",
    "elements_from_state",
    "elements_to_table",
    "fit_arcs",
    "fit_elements",
    "fit_oem",
    "propagate_elements",
    "states_teme",
]

_N_PARAM = 7
_TWOPI = 2.0 * math.pi


@dataclass
class FitResult:
    """Fitted elements and their position residuals against the arc.

    ``elements`` (n_sat,); ``rms_km``/``max_km`` (n_sat,) position residual norms over the arc;
    ``iterations`` LM iterations run; ``converged`` (n_sat,) bool.
    """

    elements: Sgp4Elements
    rms_km: Tensor
    max_km: Tensor
    iterations: int
    converged: Tensor


def _to_params(el: Sgp4Elements) -> Tensor:
    return torch.stack(
        [
            el.no_kozai,
            el.ecco * torch.sin(el.argpo),
            el.ecco * torch.cos(el.argpo),
            el.inclo,
            el.nodeo,
            el.mo + el.argpo,
            el.bstar,
        ],
        dim=-1,
    )


def _from_params(x: Tensor, template: Sgp4Elements) -> Sgp4Elements:
    """Elements from parameters ``x`` (n, 7); epochs and ndot/nddot from ``template`` (n,)."""
    h, k = x[:, 1], x[:, 2]
    ecco = torch.sqrt(h * h + k * k + 1e-30)
    argpo = torch.atan2(h, k)
    return replace(
        template,
        no_kozai=x[:, 0],
        ecco=ecco,
        argpo=torch.remainder(argpo, _TWOPI),
        inclo=x[:, 3],
        nodeo=torch.remainder(x[:, 4], _TWOPI),
        mo=torch.remainder(x[:, 5] - argpo, _TWOPI),
        bstar=x[:, 6],
    )


def _repeat(el: Sgp4Elements, times: int) -> Sgp4Elements:
    return Sgp4Elements(**{k: v.repeat(times) for k, v in el.__dict__.items()})


def propagate_elements(el: Sgp4Elements, t_min: Tensor) -> tuple[Tensor, Tensor]:
    """SGP4 TEME ``(r, v)`` (n_sat, n_time, 3) at ``t_min`` (n_time,) or (n_sat, n_time)."""
    r, v, _ = sgp4_propagate(el, t_min)
    return r, v


def elements_from_state(
    r_km: npt.ArrayLike | Tensor,
    v_kmps: npt.ArrayLike | Tensor,
    jd: npt.ArrayLike,
    fr: npt.ArrayLike,
    bstar: npt.ArrayLike | float = 0.0,
    refine: int = 6,
) -> Sgp4Elements:
    """SGP4 elements whose epoch state reproduces the TEME state ``(r, v)`` (n_sat, 3).

    Starts from the osculating Keplerian elements (WGS-72 mu), then corrects them ``refine``
    times by the difference between the osculating elements of the target and of the SGP4 state
    (a fixed-point iteration that removes most of the mean/osculating difference). A starting
    point for :func:`fit_elements`, not a fit.
    """
    r = (
        torch.as_tensor(np.asarray(r_km, dtype=np.float64))
        if not isinstance(r_km, Tensor)
        else r_km
    )
    v = (
        torch.as_tensor(np.asarray(v_kmps, dtype=np.float64))
        if not isinstance(v_kmps, Tensor)
        else v_kmps
    )
    r, v = r.reshape(-1, 3).double().cpu(), v.reshape(-1, 3).double().cpu()
    target = _osculating(r, v)
    n = r.shape[0]
    jd_t = torch.as_tensor(np.broadcast_to(np.asarray(jd, dtype=np.float64), (n,)).copy())
    fr_t = torch.as_tensor(np.broadcast_to(np.asarray(fr, dtype=np.float64), (n,)).copy())
    b = torch.as_tensor(np.broadcast_to(np.asarray(bstar, dtype=np.float64), (n,)).copy())
    x = target.clone()
    zero = torch.zeros(n, dtype=torch.float64)
    template = Sgp4Elements(
        bstar=b, ndot=zero, nddot=zero, ecco=zero, argpo=zero, inclo=zero, mo=zero,
        no_kozai=zero, nodeo=zero, jdsatepoch=jd_t, jdsatepochF=fr_t,
    )  # fmt: skip
    x[:, 6] = b
    with torch.no_grad():
        for _ in range(refine):
            el = _from_params(x, template)
            rs, vs = propagate_elements(el, torch.zeros(1, dtype=torch.float64))
            cur = _osculating(rs[:, 0], vs[:, 0])
            d = target - cur
            for j in (4, 5):  # angles: take the short way round
                d[:, j] = torch.remainder(d[:, j] + math.pi, _TWOPI) - math.pi
            d[:, 6] = 0.0
            x_new = x + d
            good = torch.isfinite(cur).all(dim=1)
            x = torch.where(good[:, None], x_new, x)
    return _from_params(x, template)


def _osculating(r: Tensor, v: Tensor) -> Tensor:
    """Osculating (n, h, k, i, raan, M + w, 0) from TEME states (n, 3), mean motion in rad/min."""
    mu = MU_KM3_S2
    rn = r.norm(dim=-1)
    vn2 = (v * v).sum(-1)
    a = 1.0 / (2.0 / rn - vn2 / mu)
    hvec = torch.linalg.cross(r, v)
    hn = hvec.norm(dim=-1)
    inc = torch.acos((hvec[:, 2] / hn).clamp(-1, 1))
    raan = torch.atan2(hvec[:, 0], -hvec[:, 1])
    evec = torch.linalg.cross(v, hvec) / mu - r / rn[:, None]
    e = evec.norm(dim=-1)
    nodevec = torch.stack([torch.cos(raan), torch.sin(raan), torch.zeros_like(raan)], -1)
    w_hat = torch.linalg.cross(hvec / hn[:, None], nodevec)  # in-plane, 90 deg from the node
    argp = torch.atan2((evec * w_hat).sum(-1), (evec * nodevec).sum(-1))
    u = torch.atan2((r * w_hat).sum(-1), (r * nodevec).sum(-1))  # argument of latitude
    nu = u - argp
    ea = 2.0 * torch.atan2(
        torch.sqrt(1 - e) * torch.sin(nu / 2), torch.sqrt(1 + e) * torch.cos(nu / 2)
    )
    m = ea - e * torch.sin(ea)
    n_radmin = torch.sqrt(mu / a**3) * 60.0
    return torch.stack(
        [n_radmin, e * torch.sin(argp), e * torch.cos(argp), inc, raan, m + argp,
         torch.zeros_like(e)], -1,
    )  # fmt: skip


def _residual(x: Tensor, template: Sgp4Elements, t: Tensor, target: Tensor, w: Tensor) -> Tensor:
    r, _ = propagate_elements(_from_params(x, template), t)
    return ((r - target) * w).reshape(x.shape[0], -1)


def _jacobian(
    x: Tensor, template: Sgp4Elements, t: Tensor, target: Tensor, w: Tensor
) -> tuple[Tensor, Tensor]:
    """Residual (n, m) and Jacobian (n, m, 7) by forward derivatives (double backward)."""
    n = x.shape[0]
    xr = x.detach().repeat(_N_PARAM, 1).requires_grad_(True)  # copy j carries direction j
    t_rep = t if t.shape[0] == 1 else t.repeat(_N_PARAM, 1)
    with torch.enable_grad():
        res = _residual(
            xr, _repeat(template, _N_PARAM), t_rep, target.repeat(_N_PARAM, 1, 1),
            w.repeat(_N_PARAM, 1, 1),
        )  # fmt: skip
        u = torch.zeros_like(res, requires_grad=True)
        (g,) = torch.autograd.grad(res, xr, grad_outputs=u, create_graph=True)
        tangent = torch.eye(_N_PARAM, dtype=x.dtype).repeat_interleave(n, dim=0)
        (jv,) = torch.autograd.grad(g, u, grad_outputs=tangent)
    jac = jv.reshape(_N_PARAM, n, -1).permute(1, 2, 0)
    return res.detach()[:n], torch.nan_to_num(jac, nan=0.0, posinf=0.0, neginf=0.0)


def _fit_arrays(
    t_min: npt.ArrayLike | Tensor, r_teme_km: npt.ArrayLike | Tensor
) -> tuple[Tensor, Tensor, Tensor]:
    """CPU float64 ``(t, target, w)`` of a fit: times (1 or n_sat, n_time) min, target positions
    (n_sat, n_time, 3) km with NaN samples zeroed, and their weights w (1 valid, 0 NaN)."""
    t = torch.as_tensor(np.asarray(t_min) if not isinstance(t_min, Tensor) else t_min)
    t = t.to(torch.float64).cpu()
    t = t[None, :] if t.ndim == 1 else t
    r = np.asarray(r_teme_km, dtype=np.float64) if not isinstance(r_teme_km, Tensor) else r_teme_km
    target = torch.as_tensor(r).double().cpu()
    w = torch.isfinite(target).all(-1, keepdim=True).double().expand_as(target).contiguous()
    return t, torch.nan_to_num(target), w


def _cost_of(res: Tensor) -> Tensor:
    """Sum of squared residuals per satellite, +inf where SGP4 failed (NaN)."""
    c = (res * res).sum(-1)
    return torch.where(torch.isfinite(c), c, torch.full_like(c, math.inf))


@dataclass
class _Lm:
    """One batch of Levenberg-Marquardt problems: parameters x (n, 7), cost (n,), damping lam
    (n,), the satellites that have converged (n,) bool, and the box every step is projected
    onto: lower and upper bounds (7,) per parameter (-inf/+inf where unbounded)."""

    x: Tensor
    cost: Tensor
    lam: Tensor
    converged: Tensor
    lo: Tensor
    hi: Tensor


def _damped_steps(
    lm: _Lm,
    jac: Tensor,
    res: Tensor,
    mask: Tensor,
    problem: tuple[Sgp4Elements, Tensor, Tensor, Tensor],
    tol: float,
) -> bool:
    """Try Marquardt-scaled steps (``mask`` (7,) or (n, 7): 0 for parameters held) from one
    Jacobian, each projected on the bounds of ``lm``, raising the damping of satellites whose
    step did not lower the cost (up to six tries); updates ``lm`` in place and says whether any
    satellite improved."""
    scale = jac.norm(dim=1).clamp_min(1e-300)  # (n, 7) column scaling (Marquardt)
    js = jac / scale[:, None, :]
    a = js.transpose(1, 2) @ js
    g = js.transpose(1, 2) @ res[..., None]
    eye = torch.eye(_N_PARAM, dtype=torch.float64)
    improved_any = False
    for _ in range(6):
        active = ~lm.converged
        if not active.any():
            break
        step = torch.linalg.solve(a + lm.lam[:, None, None] * eye, -g)[..., 0] / scale * mask
        x_try = torch.minimum(torch.maximum(lm.x + step, lm.lo), lm.hi)  # projected on the box
        with torch.no_grad():
            c_try = _cost_of(_residual(x_try, *problem))
        better = (c_try < lm.cost) & active
        rel = (lm.cost - c_try) / lm.cost.clamp_min(1e-300)
        lm.converged |= better & (rel < tol)
        lm.converged |= active & ~better & (lm.lam > 1e6)
        lm.x = torch.where(better[:, None], x_try, lm.x)
        lm.cost = torch.where(better, c_try, lm.cost)
        lm.lam = torch.where(better, lm.lam / 5.0, torch.where(active, lm.lam * 8.0, lm.lam))
        improved_any = improved_any or bool(better.any())
        if bool(better[active].all()):
            break
    return improved_any


def _fit_result(
    x: Tensor, template: Sgp4Elements, t: Tensor, target: Tensor, w: Tensor, it: int, lm: _Lm
) -> FitResult:
    """The fitted elements and their position residuals (km) over the arc."""
    el = _from_params(x, template)
    with torch.no_grad():
        r, _ = propagate_elements(el, t)
    d = ((r - target).norm(dim=-1)) * w[..., 0]
    cnt = w[..., 0].sum(-1).clamp_min(1)
    rms = torch.sqrt((d * d).sum(-1) / cnt)
    el = Sgp4Elements(**{k: v.detach() for k, v in el.__dict__.items()})
    return FitResult(el, rms, d.max(-1).values, it, lm.converged)


def fit_elements(
    t_min: npt.ArrayLike | Tensor,
    r_teme_km: npt.ArrayLike | Tensor,
    initial: Sgp4Elements,
    *,
    fit_bstar: bool = True,
    bstar_bounds: tuple[float, float] | None = None,
    max_iter: int = 40,
    tol: float = 1e-12,
) -> FitResult:
    """Fit SGP4 elements to TEME positions, one Levenberg-Marquardt problem per satellite.

    t_min: (n_time,) or (n_sat, n_time) minutes since each satellite's epoch (the epoch of
    ``initial``, which the fit keeps). r_teme_km: (n_sat, n_time, 3) km; NaN samples are ignored.
    initial: (n_sat,) starting elements, e.g. from :func:`elements_from_state` or a TLE.
    fit_bstar: fit B* too (else it stays at its initial value).
    bstar_bounds: ``(lo, hi)`` [1/earth radii]: the fitted B* stays in ``[lo, hi]`` (the initial
    value is clipped into it and every step is projected onto it); None: unbounded.
    Stops when no satellite's cost falls by more than ``tol`` (relative) or after ``max_iter``.
    """
    el0 = initial.to("cpu")
    n = len(el0)
    t, target, w = _fit_arrays(t_min, r_teme_km)
    template = replace(el0)
    problem = (template, t, target, w)
    lo = torch.full((_N_PARAM,), -math.inf, dtype=torch.float64)
    hi = torch.full((_N_PARAM,), math.inf, dtype=torch.float64)
    if bstar_bounds is not None:
        lo[6], hi[6] = _checked_bounds(bstar_bounds)
    x = torch.minimum(torch.maximum(_to_params(el0).detach().clone(), lo), hi)
    mask = torch.ones(_N_PARAM, dtype=torch.float64)
    if not fit_bstar:
        mask[6] = 0.0
    with torch.no_grad():
        cost = _cost_of(_residual(x, *problem))
    lm = _Lm(x, cost, torch.full((n,), 1e-3, dtype=torch.float64),
             torch.zeros(n, dtype=torch.bool), lo, hi)  # fmt: skip
    it = 0
    while it < max_iter:
        it += 1
        res, jac = _jacobian(lm.x, *problem)
        # active set: a parameter at a bound that the descent direction pushes out is frozen
        g = (jac * res[..., None]).sum(1)
        free = ~(((lm.x <= lm.lo) & (g > 0)) | ((lm.x >= lm.hi) & (g < 0)))
        m = mask * free
        improved_any = _damped_steps(lm, jac * m[:, None, :], res, m, problem, tol)
        if lm.converged.all() or not improved_any:
            break
    lm.lam.clamp_(min=1e-12)
    return _fit_result(lm.x, template, t, target, w, it, lm)


def _checked_bounds(bounds: tuple[float, float]) -> tuple[float, float]:
    """``(lo, hi)`` as floats; ValueError unless both are finite and lo <= hi."""
    lo, hi = float(bounds[0]), float(bounds[1])
    if not (math.isfinite(lo) and math.isfinite(hi) and lo <= hi):
        raise ValueError(f"B* bounds ({lo:g}, {hi:g}) must be finite with lo <= hi")
    return lo, hi


def _identity(object_id: str, object_name: str) -> tuple[int, str | None]:
    """(catalogue number, international designator or None) from OEM metadata."""
    oid, name = object_id.strip(), object_name.strip()
    for text in (oid, name):
        if text.isdigit() and int(text) <= 339_999:
            return int(text), (None if text == oid else oid or None)
    return 0, oid or None


def elements_to_table(
    el: Sgp4Elements,
    norad_ids: Any,
    names: Any | None = None,
    source: str = "fitted:sgp4",
) -> pa.Table:
    """An ELEMENTS_SCHEMA table (degrees, rev/day, UTC epochs) from SGP4 elements."""
    n = len(el)
    deg = 180.0 / math.pi

    def np_(x: Tensor) -> npt.NDArray[np.float64]:
        return x.detach().cpu().numpy().astype(np.float64)

    epoch = timeconv.jd_to_datetime64(np_(el.jdsatepoch), np_(el.jdsatepochF))
    return pa.table(
        {
            "norad_id": pa.array(np.asarray(norad_ids, dtype=np.int32), pa.int32()),
            "epoch": pa.array(np.asarray(epoch, "datetime64[ns]"), pa.timestamp("ns", tz="UTC")),
            "object_name": pa.array(list(names) if names is not None else [None] * n, pa.string()),
            "object_id": pa.nulls(n, pa.string()),
            "classification": pa.array(["U"] * n, pa.string()),
            "mean_motion_rev_per_day": np_(el.no_kozai) * XPDOTP,
            "eccentricity": np_(el.ecco),
            "inclination_deg": np_(el.inclo) * deg,
            "ra_of_asc_node_deg": np.mod(np_(el.nodeo) * deg, 360.0),
            "arg_of_pericenter_deg": np.mod(np_(el.argpo) * deg, 360.0),
            "mean_anomaly_deg": np.mod(np_(el.mo) * deg, 360.0),
            "ephemeris_type": pa.array(np.zeros(n), pa.int8()),
            "element_set_no": pa.array(np.full(n, 999), pa.int32()),
            "rev_at_epoch": pa.array(np.zeros(n), pa.int32()),
            "bstar_per_earth_radius": np_(el.bstar),
            "mean_motion_dot_rev_per_day2": np_(el.ndot) * XPDOTP * 1440.0,
            "mean_motion_ddot_rev_per_day3": np_(el.nddot) * XPDOTP * 1440.0 * 1440.0,
            "tle_line1": pa.nulls(n, pa.string()),
            "tle_line2": pa.nulls(n, pa.string()),
            "source": pa.array([source] * n, pa.string()),
        },
        schema=ELEMENTS_SCHEMA,
    )


@dataclass
class OemFit:
    """What :func:`fit_oem` returns: the fitted element sets (ELEMENTS_SCHEMA, one per good
    segment), their TLE lines, per-segment RMS position residuals [km] and every error."""

    table: pa.Table
    tle_lines: list[str]
    rms_km: list[float]
    errors: list[RecordError]


# OEM REF_FRAME values read as GCRS. EME2000 differs from GCRS by the frame bias (~20 mas, a few
# metres in LEO), well below what an SGP4 fit resolves.
_INERTIAL_FRAMES = {"GCRF", "ICRF", "EME2000", "J2000"}
# every ITRF realisation is stored as "ITRF" (sources.ephemerides.normalise_frame), SP3's IGS too
_ITRF_FRAMES = {"ITRF", "ITRF93", "ITRF2000", "ITRF2008", "ITRF2014", "ITRF2020"}
SUPPORTED_FRAMES = ("TEME", *sorted(_INERTIAL_FRAMES), *sorted(_ITRF_FRAMES))


def states_teme(
    frame: str,
    times: npt.NDArray[np.datetime64],
    r_km: npt.ArrayLike,
    v_kmps: npt.ArrayLike | None = None,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Geocentric states (n, 3) km, km/s at UTC ``times`` (n,) in ``frame`` -> TEME.

    ``frame`` is a normalised ephemeris-stream frame: TEME as is; GCRF/ICRF/EME2000/J2000 through
    :func:`~starbrain.physics.frames.teme_to_gcrs_matrix` (EME2000 read as GCRS, a few metres);
    ITRF (any realisation, SP3's IGS frames) through
    :func:`~starbrain.physics.frames.itrf_to_teme` (IERS polar motion and UT1). Velocities that
    are missing (None or NaN rows, e.g. an SP3 ``P``-only file) are the time derivative of the
    TEME positions (second-order finite differences, :func:`numpy.gradient`). Raises ValueError
    for any other frame.
    """
    r = np.asarray(r_km, dtype=np.float64).reshape(-1, 3)
    v = np.full_like(r, np.nan) if v_kmps is None else np.asarray(v_kmps, np.float64).reshape(-1, 3)
    jd, fr = timeconv.datetime64_to_jd(times)
    if frame in _INERTIAL_FRAMES:
        m = teme_to_gcrs_matrix(jd, fr)
        r, v = np.einsum("tji,tj->ti", m, r), np.einsum("tji,tj->ti", m, v)
    elif frame in _ITRF_FRAMES:
        r_t, v_t = itrf_to_teme(r, np.nan_to_num(v), jd, fr)
        r, v = np.asarray(r_t), np.where(np.isfinite(v), np.asarray(v_t), np.nan)
    elif frame != "TEME":
        supported = "TEME, GCRF/ICRF/EME2000/J2000 or ITRF (IGS)"
        raise ValueError(f"reference frame {frame!r} is not supported ({supported})")
    missing = ~np.isfinite(v).all(axis=1)
    if missing.any() and r.shape[0] >= 3:
        t_s = (times - times[0]) / np.timedelta64(1, "s")
        v[missing] = np.asarray(np.gradient(r, t_s, axis=0, edge_order=2))[missing]
    return r, v


def fit_arcs(
    times: list[npt.NDArray[np.datetime64]],
    r_teme_km: list[npt.NDArray[np.float64]],
    v_teme_kmps: list[npt.NDArray[np.float64]],
    *,
    bstar: float | None = None,
    bstar_bounds: tuple[float, float] | None = None,
    max_iter: int = 40,
) -> FitResult:
    """One batched SGP4 fit of several TEME position arcs (each (n_k, 3) km at UTC ``times``
    (n_k,), time-ordered, at least 4 states), epoch at each arc's first time.

    The start comes from each arc's first state (:func:`elements_from_state`, velocity km/s).
    ``bstar`` [1/earth radii]: hold B* at this value; else B* is fitted from 1e-4 (clipped into
    ``bstar_bounds``, which the fitted B* then stays in). Arcs are padded to one length with
    NaN samples (ignored by the fit), so all of them run in one Levenberg-Marquardt batch.
    """
    n_max = max(len(t) for t in times)
    t_min = np.zeros((len(times), n_max))
    target = np.full((len(times), n_max, 3), np.nan)
    for k, (t, r) in enumerate(zip(times, r_teme_km, strict=True)):
        t_min[k] = timeconv.minutes_since(t, t[0])[np.minimum(np.arange(n_max), len(t) - 1)]
        target[k, : len(t)] = r
    first = np.asarray([t[0] for t in times], dtype="datetime64[ns]")
    jd, fr = timeconv.datetime64_to_jd(first)
    b0 = 1e-4 if bstar is None else float(bstar)
    if bstar_bounds is not None and bstar is None:
        b0 = float(np.clip(b0, *_checked_bounds(bstar_bounds)))
    r0 = np.stack([r[0] for r in r_teme_km])
    v0 = np.stack([v[0] for v in v_teme_kmps])
    init = elements_from_state(r0, v0, jd, fr, bstar=b0)
    return fit_elements(t_min, target, init, fit_bstar=bstar is None, max_iter=max_iter,
                        bstar_bounds=None if bstar is not None else bstar_bounds)  # fmt: skip


def _usable_segments(
    segments: list[OemSegment], source: str, window_hours: float | None, errors: list[RecordError]
) -> list[tuple[OemSegment, npt.NDArray[np.float64], npt.NDArray[np.float64], int]]:
    """(segment, TEME r, TEME v, states in the fit window) of each segment a fit can use; an
    error (naming the segment's line and the field) for each other one."""
    out = []
    for seg in segments:
        if seg.center not in ("", "EARTH"):
            errors.append(RecordError(source, f"centre {seg.center} is not EARTH", line=seg.line,
                                      field="CENTER_NAME"))  # fmt: skip
            continue
        n_fit = seg.times.size
        if window_hours is not None:
            n_fit = int(
                (timeconv.minutes_since(seg.times, seg.times[0]) <= window_hours * 60 + 1e-9).sum()
            )
        if n_fit < 4:
            where = "" if window_hours is None else f" in the first {window_hours:g} h"
            errors.append(RecordError(source, f"a fit needs at least 4 states{where} (has {n_fit})",
                                      line=seg.line))  # fmt: skip
            continue
        try:
            r, v = states_teme(seg.frame, seg.times, seg.r_km, seg.v_kmps)
        except ValueError as exc:
            errors.append(RecordError(source, str(exc), line=seg.line, field="REF_FRAME"))
            continue
        out.append((seg, r, v, n_fit))
    return out


def fit_oem(
    text: str,
    source: str = "<oem>",
    max_iter: int = 40,
    *,
    window_hours: float | None = None,
    bstar: float | None = None,
    bstar_bounds: tuple[float, float] | None = None,
) -> OemFit:
    """Fit one SGP4 element set per OEM segment (epoch: the segment's first time), all segments
    in one batch.

    Segments must be Earth-centred; frames TEME, GCRF/ICRF/EME2000 or ITRF. ``window_hours``:
    fit only the states of the segment's first that many hours (default: all). ``bstar`` holds
    B* fixed at that value [1/earth radii]; ``bstar_bounds`` ``(lo, hi)`` keeps the fitted B* in
    that interval (see :func:`fit_elements`). The catalogue number is OBJECT_ID when that is an
    integer, else OBJECT_NAME when that is (as ``starbrain propagate`` writes for unnamed
    objects), else 0; an OBJECT_ID like "1998-067A" is kept as the international designator. Bad
    lines and unusable segments are reported in ``errors`` and never abort the file.
    """
    segments, errors = read_oem(text, source)
    usable = _usable_segments(segments, source, window_hours, errors)
    tables: list[pa.Table] = []
    rms: list[float] = []
    if usable:
        result = fit_arcs([s.times[:n] for s, _, _, n in usable], [r[:n] for _, r, _, n in usable],
                          [v[:n] for _, _, v, n in usable], bstar=bstar,
                          bstar_bounds=bstar_bounds, max_iter=max_iter)  # fmt: skip
    for k, (seg, _, _, _) in enumerate(usable):
        if not bool(torch.isfinite(result.rms_km[k])):
            errors.append(RecordError(source, "the fit did not converge", line=seg.line))
            continue
        el = Sgp4Elements(**{f: x[k : k + 1] for f, x in result.elements.__dict__.items()})
        tables.append(_segment_table(el, seg, source))
        rms.append(float(result.rms_km[k]))
    table = pa.concat_tables(tables) if tables else ELEMENTS_SCHEMA.empty_table()
    lines = format_tle(table, names=True, prefer_original=False) if tables else []
    return OemFit(table, lines, rms, errors)


def _segment_table(el: Sgp4Elements, seg: OemSegment, source: str) -> pa.Table:
    """The ELEMENTS_SCHEMA row of one fitted segment (identity from its metadata)."""
    norad, designator = _identity(seg.object_id, seg.object_name)
    table = elements_to_table(el, [norad], [seg.object_name], f"fitted:{source}")
    if designator is not None:
        table = table.set_column(
            table.schema.get_field_index("object_id"), "object_id",
            pa.array([designator], pa.string()),
        )  # fmt: skip
    return table
