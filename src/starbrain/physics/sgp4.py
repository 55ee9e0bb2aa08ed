"""Batched, differentiable SGP4/SDP4 propagation in PyTorch, and the public propagation API.

The model is the one of Vallado, Crawford, Hujsak & Kelso (2006), "Revisiting Spacetrack Report
#3", AIAA 2006-6753: WGS-72 constants, "improved" operation mode, deep-space (SDP4) lunar-solar
terms and resonances included. Outputs are positions [km] and velocities [km/s] in the TEME
frame, shaped ``(n_sat, n_time, 3)``, with a per-element error code shaped ``(n_sat, n_time)``
as python-sgp4's ``SatrecArray`` returns them:

==  =====================================================================
0   no error
1   mean eccentricity out of range (e >= 1 or e < -0.001)
2   mean motion below zero
3   perturbed eccentricity out of range (deep space)
4   semi-latus rectum below zero
6   orbit decayed (radius below one earth radius); the state is still returned
==  =====================================================================

States with error codes 1-5 are NaN. Everything runs in float64 on CPU or CUDA (CUDA when
available unless a device is given) and is differentiable with respect to the elements.

``propagate(..., backend="cpp")`` runs python-sgp4's ``SatrecArray`` (the verified C++ core)
on the same inputs, as a reference and an alternative backend.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import fields
from typing import Literal

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import torch
from torch import Tensor

from starbrain.physics import sgp4_deep
from starbrain.physics.sgp4_init import (
    J2,
    J3OJ2,
    RADIUS_EARTH_KM,
    XKE,
    Sgp4Coeffs,
    Sgp4Elements,
    Sgp4State,
    resolve_device,
    sgp4_init,
)

__all__ = [
    "SGP4_ERRORS",
    "Sgp4Elements",
    "Sgp4State",
    "propagate",
    "resolve_device",
    "satrecs_from_elements",
    "sgp4_init",
    "sgp4_propagate",
]

SGP4_ERRORS = {
    1: "mean eccentricity is outside the range 0.0 to 1.0",
    2: "mean motion is less than zero",
    3: "perturbed eccentricity is outside the range 0.0 to 1.0",
    4: "semi-latus rectum is less than zero",
    6: "orbit radius is below one earth radius: the satellite has decayed",
}

TWOPI = 2.0 * math.pi
X2O3 = 2.0 / 3.0
VKMPERSEC = RADIUS_EARTH_KM * XKE / 60.0  # earth radii per minute -> km/s
KEPLER_MAX_ITER = 10
KEPLER_TOL = 1.0e-12
# (satellite, time) pairs per chunk. On CPU every temporary of a chunk stays below glibc's
# default 128 KiB mmap threshold (so allocations are recycled instead of page-faulted in) and in
# cache; on CUDA a chunk is as large as memory comfortably allows.
_CPU_CHUNK_ELEMENTS = 15_000
_GPU_CHUNK_ELEMENTS = 1 << 22


def _column(c: Sgp4Coeffs) -> Sgp4Coeffs:
    return Sgp4Coeffs(**{f.name: getattr(c, f.name)[:, None] for f in fields(c)})


def _kernel(
    c: Sgp4Coeffs,
    t: Tensor,
    dc: sgp4_deep.DeepCoeffs | None,
    safe: bool,
    out: tuple[Tensor, Tensor, Tensor] | None = None,
    static: bool = False,
) -> tuple[Tensor, Tensor, Tensor]:
    """SGP4 (``dc is None``) or SDP4 for one group of satellites.

    ``c`` holds ``(n, 1)`` coefficients, ``dc`` the ``(n,)`` deep-space ones, ``t`` is
    ``(n, n_time)`` or ``(1, n_time)`` minutes since epoch. Returns ``r`` [km] and ``v`` [km/s]
    of shape ``(n, n_time, 3)`` in TEME and the error code ``(n, n_time)`` (uint8), written into
    ``out`` when given. ``safe`` keeps every intermediate finite where an error occurred, so
    that gradients stay finite (only needed under autograd). ``static`` avoids data-dependent
    control flow (Kepler always runs its 10 masked iterations), for ``torch.compile``.
    """
    # ---- secular gravity and atmospheric drag ----
    xmdf = c.mo + c.mdot * t
    argpdf = c.argpo + c.argpdot * t
    nodedf = c.nodeo + c.nodedot * t
    t2 = t * t
    nodem = nodedf + c.nodecf * t2
    tempa = 1.0 - c.cc1 * t
    tempe = c.bstar_cc4 * t
    templ = c.t2cof * t2
    if dc is not None:
        # Deep-space satellites use the simplified drag model.
        em, argpm, inclm, mm, nodem, nm = sgp4_deep.deep_secular(
            dc, t, c.ecco, argpdf, c.inclo, xmdf, nodem, c.no_unkozai
        )
        bad_nm = nm <= 0.0
        nm = torch.where(bad_nm, c.no_unkozai, nm)
        am = torch.pow(XKE / nm, X2O3) * tempa * tempa
    else:
        # The full drag model; on the simplified model these coefficients are zero.
        delomg = c.omgcof * t
        delmtemp = 1.0 + c.eta * torch.cos(xmdf)
        delm = c.xmcof * (delmtemp * delmtemp * delmtemp - c.delmo)
        temp = delomg + delm
        mm = xmdf + temp
        argpm = argpdf - temp
        t3 = t2 * t
        t4 = t3 * t
        tempa = tempa - c.d2 * t2 - c.d3 * t3 - c.d4 * t4
        tempe = tempe + c.bstar_cc5 * (torch.sin(mm) - c.sinmao)
        templ = templ + c.t3cof * t3 + t4 * (c.t4cof + t * c.t5cof)
        em, inclm, nm = c.ecco, c.inclo, c.no_unkozai
        bad_nm = nm <= 0.0
        am = c.a0 * tempa * tempa
    nm = XKE / (am * torch.sqrt(am))
    em = em - tempe

    bad_em = (em >= 1.0) | (em < -0.001)
    if safe:
        em = torch.where(bad_em, 0.5, em)
    em = torch.clamp(em, min=1.0e-6)
    mm = mm + c.no_unkozai * templ
    xlm = mm + argpm + nodem
    nodem = torch.fmod(nodem, TWOPI)
    argpm = torch.fmod(argpm, TWOPI)
    xlm = torch.fmod(xlm, TWOPI)
    mm = torch.fmod(xlm - argpm - nodem, TWOPI)

    # ---- lunar-solar periodics ----
    bad_ep = None
    if dc is not None:
        ep, xincp, nodep, argpp, mp = sgp4_deep.deep_periodics(dc, t, em, inclm, nodem, argpm, mm)
        flip = xincp < 0.0
        xincp = torch.where(flip, -xincp, xincp)
        nodep = torch.where(flip, nodep + math.pi, nodep)
        argpp = torch.where(flip, argpp - math.pi, argpp)
        bad_ep = (ep < 0.0) | (ep > 1.0)
        if safe:
            ep = torch.where(bad_ep, 0.5, ep)
        sinip = torch.sin(xincp)
        cosip = torch.cos(xincp)
        aycof = -0.5 * J3OJ2 * sinip
        den = torch.where(torch.abs(cosip + 1.0) > 1.5e-12, 1.0 + cosip, 1.5e-12)
        xlcof = -0.25 * J3OJ2 * sinip * (3.0 + 5.0 * cosip) / den
        cosisq = cosip * cosip
        con41 = 3.0 * cosisq - 1.0
        x1mth2 = 1.0 - cosisq
        x7thm1 = 7.0 * cosisq - 1.0
    else:
        ep, xincp, nodep, argpp, mp = em, inclm, nodem, argpm, mm
        sinip, cosip = c.sinio, c.cosio
        aycof, xlcof = c.aycof, c.xlcof
        con41, x1mth2, x7thm1 = c.con41, c.x1mth2, c.x7thm1

    # ---- long-period periodics ----
    axnl = ep * torch.cos(argpp)
    temp = 1.0 / (am * (1.0 - ep * ep))
    aynl = ep * torch.sin(argpp) + temp * aycof
    xl = mp + argpp + nodep + temp * xlcof * axnl

    # ---- Kepler's equation (Newton, steps capped at 0.95 rad, at most 10 iterations) ----
    # Each element stops once its step is below 1e-12, keeping the sine and cosine of the last
    # point evaluated, exactly as the reference loop does.
    u = torch.fmod(xl - nodep, TWOPI)
    eo1 = u
    sineo1 = coseo1 = active = u  # bound on the first pass
    for k in range(KEPLER_MAX_ITER):
        s = torch.sin(eo1)
        co = torch.cos(eo1)
        tem5 = (u - aynl * co + axnl * s - eo1) / (1.0 - co * axnl - s * aynl)
        tem5 = torch.clamp(tem5, -0.95, 0.95)
        if k == 0:
            sineo1, coseo1 = s, co
            eo1 = eo1 + tem5
            active = torch.abs(tem5) >= KEPLER_TOL
        else:
            sineo1 = torch.where(active, s, sineo1)
            coseo1 = torch.where(active, co, coseo1)
            eo1 = torch.where(active, eo1 + tem5, eo1)
            active = active & (torch.abs(tem5) >= KEPLER_TOL)
        if not static and k < KEPLER_MAX_ITER - 1 and not bool(active.any()):
            break

    # ---- short-period preliminary quantities ----
    ecose = axnl * coseo1 + aynl * sineo1
    esine = axnl * sineo1 - aynl * coseo1
    el2 = axnl * axnl + aynl * aynl
    pl = am * (1.0 - el2)
    bad_pl = pl < 0.0
    if safe:
        pl = torch.where(bad_pl, 1.0, pl)
        el2 = torch.where(bad_pl, 0.0, el2)
    rl = am * (1.0 - ecose)
    rdotl = torch.sqrt(am) * esine / rl
    rvdotl = torch.sqrt(pl) / rl
    betal = torch.sqrt(1.0 - el2)
    temp = esine / (1.0 + betal)
    am_rl = am / rl
    sinu = am_rl * (sineo1 - aynl - axnl * temp)
    cosu = am_rl * (coseo1 - axnl + aynl * temp)
    su = torch.atan2(sinu, cosu)
    sin2u = (cosu + cosu) * sinu
    cos2u = 1.0 - 2.0 * sinu * sinu
    temp = 1.0 / pl
    temp1 = 0.5 * J2 * temp
    temp2 = temp1 * temp

    # ---- short-period periodics ----
    mrt = rl * (1.0 - 1.5 * temp2 * betal * con41) + 0.5 * temp1 * x1mth2 * cos2u
    su = su - 0.25 * temp2 * x7thm1 * sin2u
    xnode = nodep + 1.5 * temp2 * cosip * sin2u
    xinc = xincp + 1.5 * temp2 * cosip * sinip * cos2u
    mvt = rdotl - nm * temp1 * x1mth2 * sin2u / XKE
    rvdot = rvdotl + nm * temp1 * (x1mth2 * cos2u + 1.5 * con41) / XKE

    # ---- orientation vectors ----
    sinsu = torch.sin(su)
    cossu = torch.cos(su)
    snod = torch.sin(xnode)
    cnod = torch.cos(xnode)
    sini = torch.sin(xinc)
    cosi = torch.cos(xinc)
    xmx = -snod * cosi
    xmy = cnod * cosi
    ux = xmx * sinsu + cnod * cossu
    uy = xmy * sinsu + snod * cossu
    uz = sini * sinsu
    vx = xmx * cossu - cnod * sinsu
    vy = xmy * cossu - snod * sinsu
    vz = sini * cossu

    # ---- error codes: the first failing check wins, as in the reference ----
    err = (mrt < 1.0).to(torch.uint8) * 6
    err.masked_fill_(bad_pl, 4)
    if bad_ep is not None:
        err.masked_fill_(bad_ep, 3)
    err.masked_fill_(bad_em, 1)
    err.masked_fill_(bad_nm.expand_as(err), 2)
    failed = (err - 1) < 5  # codes 1..5 (uint8 arithmetic wraps 0 to 255)
    any_failed = static or bool(failed.any())

    # ---- position [km] and velocity [km/s] ----
    mrt = mrt * RADIUS_EARTH_KM
    mvt = mvt * VKMPERSEC
    rvdot = rvdot * VKMPERSEC
    if out is None:
        r = torch.stack((mrt * ux, mrt * uy, mrt * uz), dim=-1)
        v = torch.stack((mvt * ux + rvdot * vx, mvt * uy + rvdot * vy, mvt * uz + rvdot * vz), -1)
        if any_failed:
            r = torch.where(failed[..., None], math.nan, r)
            v = torch.where(failed[..., None], math.nan, v)
        return r, v, err
    r, v, err_out = out
    for i, (uu, vv) in enumerate(((ux, vx), (uy, vy), (uz, vz))):
        torch.mul(mrt, uu, out=r[..., i])
        torch.add(mvt * uu, rvdot * vv, out=v[..., i])
    err_out.copy_(err)
    if any_failed:
        r.masked_fill_(failed[..., None], math.nan)
        v.masked_fill_(failed[..., None], math.nan)
    return r, v, err_out


_COMPILED: dict[bool, Callable[..., tuple[Tensor, Tensor, Tensor]]] = {}


def _near_kernel_static(c: Sgp4Coeffs, t: Tensor, safe: bool) -> tuple[Tensor, Tensor, Tensor]:
    return _kernel(c, t, None, safe, static=True)


def _compiled_near_kernel(safe: bool) -> Callable[..., tuple[Tensor, Tensor, Tensor]]:
    """The near-earth kernel fused by ``torch.compile`` (built on first use, then cached)."""
    if safe not in _COMPILED:
        _COMPILED[safe] = torch.compile(_near_kernel_static, dynamic=True)
    return _COMPILED[safe]


def _default_chunk(device: torch.device, compiled: bool) -> int:
    if device.type == "cuda":
        return _GPU_CHUNK_ELEMENTS
    # a fused kernel allocates only its outputs: larger chunks just save Python overhead
    return 4 * _CPU_CHUNK_ELEMENTS if compiled else _CPU_CHUNK_ELEMENTS


def sgp4_propagate(
    elements_or_state: Sgp4Elements | Sgp4State,
    tsince_min: Tensor | npt.ArrayLike,
    *,
    chunk_elements: int | None = None,
    workers: int | None = None,
    compile: bool = False,
) -> tuple[Tensor, Tensor, Tensor]:
    """Propagate satellites to times given in minutes since each satellite's epoch.

    Args:
        elements_or_state: the element sets, or a state from :func:`sgp4_init` (initialise once
            and reuse it when propagating the same satellites repeatedly).
        tsince_min: minutes since epoch, shape ``(n_time,)`` (the same offsets for every
            satellite) or ``(n_sat, n_time)``.
        chunk_elements: work on about this many (satellite, time) pairs at a time; the default
            suits the device (small on CPU, for cache locality; millions on CUDA).
        workers: CPU threads working on chunks side by side (default: ``torch.get_num_threads()``).
        compile: run the near-earth kernel through ``torch.compile`` (one fused loop instead of
            some 300 tensor operations; needs a C++ compiler on CPU, or Triton on CUDA). The
            first call compiles (tens of seconds, cached on disk for later processes).

    Returns:
        ``(r_km, v_kmps, err)``: TEME position ``(n_sat, n_time, 3)`` [km], velocity
        ``(n_sat, n_time, 3)`` [km/s] and error code ``(n_sat, n_time)`` (uint8; see
        :data:`SGP4_ERRORS`). States with errors 1-5 are NaN.
    """
    state = (
        elements_or_state
        if isinstance(elements_or_state, Sgp4State)
        else sgp4_init(elements_or_state)
    )
    device = state.device
    t = torch.as_tensor(tsince_min, dtype=torch.float64, device=device)
    if t.ndim == 0:
        t = t.reshape(1)
    if t.ndim == 1:
        t = t[None, :]
    if t.ndim != 2 or t.shape[0] not in (1, state.n_sat):
        raise ValueError(
            f"tsince_min must have shape (n_time,) or (n_sat, n_time) with n_sat={state.n_sat}, "
            f"got {tuple(t.shape)}"
        )
    n_sat, n_time = state.n_sat, t.shape[1]
    if n_sat == 0 or n_time == 0:
        empty = torch.empty((n_sat, n_time, 3), dtype=torch.float64, device=device)
        return empty, empty.clone(), torch.empty((n_sat, n_time), dtype=torch.uint8, device=device)
    chunk = max(1, chunk_elements or _default_chunk(device, compile))
    per_chunk = max(1, chunk // max(n_time, 1))  # satellites per chunk
    time_slices = [slice(a, min(a + chunk, n_time)) for a in range(0, n_time, chunk)]
    grad = torch.is_grad_enabled() and (
        t.requires_grad or any(x.requires_grad for x in (state.jdsatepoch, *_leaves(state)))
    )
    inference = torch.is_inference_mode_enabled()

    # One task per (satellite block, time block): where the rows go in the output, the time
    # columns, the coefficients and the times.
    Task = tuple[Tensor | slice, slice, Sgp4Coeffs, sgp4_deep.DeepCoeffs | None, Tensor]
    tasks: list[Task] = []
    groups = (
        (state.near_index, state.near, None),
        (state.deep_index, state.deep, state.deep_terms),
    )
    for index, coeffs, deep_terms in groups:
        if coeffs is None:
            continue
        whole = index.numel() == n_sat  # one group holding every satellite, in order
        for a in range(0, index.numel(), per_chunk):
            rows = slice(a, min(a + per_chunk, index.numel()))
            where = rows if whole else index[rows]
            c = _column(coeffs.select(rows))
            dc = deep_terms.select(rows) if deep_terms is not None else None
            t_rows = t if t.shape[0] == 1 else t[where]
            for cols in time_slices:
                tasks.append((where, cols, c, dc, t_rows[:, cols]))

    if grad:
        outs: list[tuple[Tensor, Tensor, Tensor] | None] = [None] * len(tasks)
    else:
        r = torch.empty((n_sat, n_time, 3), dtype=torch.float64, device=device)
        v = torch.empty((n_sat, n_time, 3), dtype=torch.float64, device=device)
        err = torch.empty((n_sat, n_time), dtype=torch.uint8, device=device)
        outs = [
            (r[w, cols], v[w, cols], err[w, cols]) if isinstance(w, slice) else None
            for w, cols, *_ in tasks
        ]

    fused = _compiled_near_kernel(grad) if compile else None

    def run(i: int) -> tuple[Tensor, Tensor, Tensor]:
        with torch.inference_mode(inference), torch.set_grad_enabled(grad):
            _, _, c, dc, tc = tasks[i]
            out = outs[i]
            if fused is not None and dc is None:
                res = fused(c, tc, grad)
                if out is None:
                    return res
                for o, x in zip(out, res, strict=True):
                    o.copy_(x)
                return out
            return _kernel(c, tc, dc, safe=grad, out=out)

    n_workers = workers if workers is not None else torch.get_num_threads()
    if device.type == "cpu" and n_workers > 1 and len(tasks) > 1:
        # the first task runs here, so that torch.compile compiles once, in this thread
        results = [run(0)]
        with ThreadPoolExecutor(max_workers=n_workers) as pool:
            results += pool.map(run, range(1, len(tasks)))
    else:
        results = [run(i) for i in range(len(tasks))]

    if not grad:
        for (w, cols, *_), res in zip(tasks, results, strict=True):
            if not isinstance(w, slice):
                r[w, cols], v[w, cols], err[w, cols] = res
        return r, v, err

    # Under autograd: concatenate the pieces (differentiably) and restore the input order.
    if len(tasks) == 1 and isinstance(tasks[0][0], slice) and tasks[0][0] == slice(0, n_sat):
        return results[0]
    blocks: list[tuple[Tensor | slice, tuple[list[Tensor], list[Tensor], list[Tensor]]]] = []
    for (w, cols, *_), res in zip(tasks, results, strict=True):
        if cols.start == 0:
            blocks.append((w, ([res[0]], [res[1]], [res[2]])))
        else:
            for acc, x in zip(blocks[-1][1], res, strict=True):
                acc.append(x)
    order = [w for w, _ in blocks]
    r, v, err = (torch.cat([torch.cat(b[1][j], dim=1) for b in blocks]) for j in range(3))
    if not all(isinstance(w, slice) for w in order):
        perm = torch.cat([
            torch.arange(w.start, w.stop, device=device) if isinstance(w, slice) else w
            for w in order
        ])  # fmt: skip
        inverse = torch.empty_like(perm)
        inverse[perm] = torch.arange(perm.numel(), device=device)
        r, v, err = r[inverse], v[inverse], err[inverse]
    return r, v, err


def _leaves(state: Sgp4State) -> list[Tensor]:
    parts = [state.near, state.deep, state.deep_terms]
    return [getattr(p, f.name) for p in parts if p is not None for f in fields(p)]


def satrecs_from_elements(elements: Sgp4Elements, satnums: Sequence[int] | None = None) -> list:
    """python-sgp4 ``Satrec`` objects (C++ core, WGS-72, opsmode 'i') for the same elements.

    ``satnums`` defaults to 0, 1, 2 ... The epoch split ``(jdsatepoch, jdsatepochF)`` is kept
    exactly, so both implementations see the same minutes since epoch.
    """
    from sgp4.api import WGS72, Satrec

    cols = {f.name: getattr(elements, f.name).detach().cpu().numpy() for f in fields(elements)}
    satrecs = []
    for i in range(len(elements)):
        jd, fr = float(cols["jdsatepoch"][i]), float(cols["jdsatepochF"][i])
        s = Satrec()
        s.sgp4init(
            WGS72,
            "i",
            int(satnums[i]) if satnums is not None else i % 100000,
            (jd - 2433281.5) + fr,
            float(cols["bstar"][i]),
            float(cols["ndot"][i]),
            float(cols["nddot"][i]),
            float(cols["ecco"][i]),
            float(cols["argpo"][i]),
            float(cols["inclo"][i]),
            float(cols["mo"][i]),
            float(cols["no_kozai"][i]),
            float(cols["nodeo"][i]),
        )
        # Keep the epoch exact for the time differences (sgp4init re-splits a single float).
        s.jdsatepoch, s.jdsatepochF = jd, fr
        satrecs.append(s)
    return satrecs


def propagate(
    source: pa.Table | Sgp4Elements | Sgp4State,
    jd: npt.ArrayLike,
    fr: npt.ArrayLike = 0.0,
    *,
    backend: Literal["torch", "cpp"] = "torch",
    device: str | torch.device | None = None,
    chunk_elements: int | None = None,
    compile: bool = False,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.uint8]]:
    """Propagate every satellite of ``source`` to the UTC split Julian dates ``(jd, fr)``.

    Args:
        source: an ``ELEMENTS_SCHEMA`` table, :class:`Sgp4Elements` or an initialised
            :class:`Sgp4State` (torch backend only).
        jd, fr: split Julian dates (UTC), scalars or arrays of shape ``(n_time,)``; see
            :mod:`starbrain.timeconv`.
        backend: ``"torch"`` (this module; CPU or CUDA) or ``"cpp"`` (python-sgp4's
            ``SatrecArray``, the verified C++ reference, CPU only).
        device: torch device; default CUDA when available, else CPU.
        chunk_elements, compile: see :func:`sgp4_propagate` (torch backend).

    Returns:
        NumPy ``(r_km, v_kmps, err)`` shaped ``(n_sat, n_time, 3)``, ``(n_sat, n_time, 3)`` and
        ``(n_sat, n_time)`` in TEME, exactly as ``SatrecArray.sgp4`` lays them out.
    """
    jd_arr = np.atleast_1d(np.asarray(jd, dtype=np.float64))
    fr_arr = np.atleast_1d(np.asarray(fr, dtype=np.float64))
    jd_arr, fr_arr = np.broadcast_arrays(jd_arr, fr_arr)
    if jd_arr.ndim != 1:
        raise ValueError(f"jd and fr must be scalars or 1-D arrays, got shape {jd_arr.shape}")

    if backend == "cpp":
        from sgp4.api import SatrecArray

        if isinstance(source, Sgp4State):
            raise ValueError("the cpp backend needs element sets (a table or Sgp4Elements)")
        satnums = None
        if isinstance(source, pa.Table):
            satnums = source.column("norad_id").to_pylist()
            source = Sgp4Elements.from_table(source, device="cpu")
        array = SatrecArray(satrecs_from_elements(source, satnums))
        err, r, v = array.sgp4(np.ascontiguousarray(jd_arr), np.ascontiguousarray(fr_arr))
        return r, v, err
    if backend != "torch":
        raise ValueError(f"unknown backend {backend!r}: expected 'torch' or 'cpp'")

    if isinstance(source, pa.Table):
        source = Sgp4Elements.from_table(source, device=device)
    elif isinstance(source, Sgp4Elements) and device is not None:
        source = source.to(resolve_device(device))
    with torch.no_grad():
        state = source if isinstance(source, Sgp4State) else sgp4_init(source)
        dev = state.device
        jd_t = torch.as_tensor(jd_arr, device=dev)[None, :]
        fr_t = torch.as_tensor(fr_arr, device=dev)[None, :]
        tsince = (jd_t - state.jdsatepoch[:, None]) * 1440.0 + (
            fr_t - state.jdsatepochF[:, None]
        ) * 1440.0
        r, v, err = sgp4_propagate(state, tsince, chunk_elements=chunk_elements, compile=compile)
    return r.cpu().numpy(), v.cpu().numpy(), err.cpu().numpy()
