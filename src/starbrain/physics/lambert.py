"""Lambert's problem by Izzo's algorithm, batched over NumPy arrays or PyTorch tensors.

Reference: D. Izzo, "Revisiting Lambert's problem", Celestial Mechanics and Dynamical Astronomy
121 (2015) 1-15, https://arxiv.org/abs/1403.2705. Written from the paper; the equation numbers
below are the paper's.

Given two position vectors ``r1``, ``r2`` and a time of flight, find the conic (with ``revs``
complete revolutions) that joins them, and return its velocity at both ends. Units are whatever
``mu`` implies (km, km/s and km^3/s^2 in starbrain). Every function is vectorised: inputs broadcast
against each other, position arrays carry a trailing axis of 3, and one batch may mix revolution
counts, branches and directions of motion.

* NumPy in, NumPy out; PyTorch in, PyTorch out (float64, on the device of the first tensor, CUDA
  when it is there). With tensors that require grad, the velocities are differentiable with
  respect to the positions, times of flight and ``mu``: the iterations run without a graph and one
  last Newton step is taken with it, which gives the implicit-function-theorem gradient.
* Nothing raises in the hot path: each element gets a ``converged`` flag, and an element without
  a solution (too few revolutions fit in the time of flight, a 0 or 180 degree transfer whose
  plane is undefined, bad input) is flagged ``False`` and has NaN velocities.

Multi-revolution problems (``revs >= 1``) have two solutions when they have any. Following the
paper, the *left* branch is the one whose Lancaster-Blanchard variable ``x`` lies left of the
minimum of ``T(x)`` (the longer-period, larger-semi-major-axis orbit) and the *right* branch the
other one (pykep stores them in that order; lamberthub's ``low_path=True`` is the right branch).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from starbrain.physics.vec import cross as _cross
from starbrain.physics.vec import norm as _norm

__all__ = [
    "LambertSolution",
    "max_revolutions",
    "solve_lambert",
    "solve_lambert_all",
]

_PI = math.pi
# Below this distance from x = 1 (parabola) the time of flight uses Battin's series (eq. 20):
# Lancaster's form divides by 1 - x^2 there.
_BATTIN_DIST = 0.01
_SERIES_TERMS = 14  # |S1| < 0.02 in the Battin region, so 14 terms are far below 1e-16


@dataclass(frozen=True)
class LambertSolution:
    """Velocities at both ends of the Lambert arcs, with per-element flags.

    ``v1`` and ``v2`` have shape ``(*batch, 3)``; ``converged``, ``iterations`` and ``x`` (the
    Lancaster-Blanchard variable of the solution) have shape ``batch``. Arrays are NumPy or torch,
    as the inputs were. Elements with ``converged == False`` hold NaN velocities.
    """

    v1: Any
    v2: Any
    converged: Any
    iterations: Any
    x: Any


# --------------------------------------------------------------------------- array plumbing


def _is_torch(*args: Any) -> bool:
    for a in args:
        mod = type(a).__module__
        if mod.startswith("torch"):
            return True
    return False


class _Backend:
    """The few operations that differ between NumPy and torch."""

    def __init__(self, torch_mod: Any = None, device: Any = None) -> None:
        self.torch = torch_mod
        self.device = device
        self.xp = np if torch_mod is None else torch_mod

    def asfloat(self, a: Any) -> Any:
        if self.torch is None:
            return np.asarray(a, dtype=np.float64)
        return self.torch.as_tensor(a, dtype=self.torch.float64, device=self.device)

    def asint(self, a: Any) -> Any:
        if self.torch is None:
            return np.asarray(a, dtype=np.int64)
        return self.torch.as_tensor(a, dtype=self.torch.int64, device=self.device)

    def asbool(self, a: Any) -> Any:
        if self.torch is None:
            return np.asarray(a, dtype=bool)
        return self.torch.as_tensor(a, dtype=self.torch.bool, device=self.device)

    def broadcast_shapes(self, *shapes: tuple[int, ...]) -> tuple[int, ...]:
        if self.torch is None:
            return tuple(np.broadcast_shapes(*shapes))
        return tuple(self.torch.broadcast_shapes(*shapes))

    def flat(self, a: Any, batch: tuple[int, ...], tail: tuple[int, ...] = ()) -> Any:
        out = self.xp.broadcast_to(a, batch + tail).reshape((-1, *tail))
        if self.torch is None:
            return np.ascontiguousarray(out)
        return out.contiguous()

    def nonzero(self, mask: Any) -> Any:
        if self.torch is None:
            return np.flatnonzero(mask)
        return self.torch.nonzero(mask).reshape(-1)

    def size(self, a: Any) -> int:
        return int(a.shape[0])

    def any(self, mask: Any) -> bool:
        return bool(mask.any())


# --------------------------------------------------------------------------- the T(x) function


def _tof(xp: Any, x: Any, lam: Any, m: Any) -> Any:
    """Non-dimensional time of flight T(x; lambda, M) (eqs. 18 and 20), elementwise."""
    battin = xp.abs(x - 1.0) < _BATTIN_DIST
    # Lancaster-Blanchard (eq. 18); psi from atan2 / asinh of the same pair, which keeps it
    # accurate where cos(psi) is near +-1. The substituted x keeps the unused lane finite, so
    # that gradients through `where` stay finite too.
    any_battin = bool(battin.any())
    xl = xp.where(battin, 0.0, x) if any_battin else x
    e = xl * xl - 1.0
    se = xp.sqrt(xp.abs(e))
    y = xp.sqrt(1.0 + lam * lam * e)
    u = se * (y - lam * xl)
    psi = xp.where(e < 0.0, xp.arctan2(u, xl * y - lam * e), xp.arcsinh(u))
    t = ((psi + m * _PI) / se - xl + lam * y) / (-e)
    if not any_battin:
        return t
    # Battin's hypergeometric series near the parabola (eq. 20), on those elements only.
    xb, lb, mb = x[battin], lam[battin], m[battin]
    eb = xb * xb - 1.0
    eta = xp.sqrt(1.0 + lb * lb * eb) - lb * xb
    s1 = 0.5 * (1.0 - lb - xb * eta)
    term = xp.ones_like(s1)
    hyp = xp.ones_like(s1)
    for k in range(_SERIES_TERMS):
        term = term * ((3.0 + k) / (2.5 + k)) * s1
        hyp = hyp + term
    revs_term = xp.where(mb > 0, mb * _PI / xp.abs(xp.where(eb != 0.0, eb, 1.0)) ** 1.5, 0.0)
    t_bat = 0.5 * (eta**3 * (4.0 / 3.0) * hyp + 4.0 * lb * eta) + revs_term
    t = t * 1.0  # a copy, so that the in-place update below is autograd-safe
    t[battin] = t_bat
    return t


def _dtof(xp: Any, x: Any, lam: Any, t: Any) -> tuple[Any, Any, Any]:
    """First three derivatives of T with respect to x (eq. 22)."""
    l2 = lam * lam
    l3 = l2 * lam
    y = xp.sqrt(1.0 - l2 + l2 * x * x)
    omx2 = 1.0 - x * x
    d1 = (3.0 * t * x - 2.0 + 2.0 * l3 * x / y) / omx2
    d2 = (3.0 * t + 5.0 * x * d1 + 2.0 * (1.0 - l2) * l3 / y**3) / omx2
    d3 = (7.0 * x * d2 + 8.0 * d1 - 6.0 * (1.0 - l2) * l3 * l2 * x / y**5) / omx2
    return d1, d2, d3


def _tof_min(be: _Backend, lam: Any, m: Any, t00: Any, max_iter: int = 30) -> tuple[Any, Any]:
    """Minimum T for M revolutions: Halley iterations on dT/dx = 0 from x = 0 (section 2.3)."""
    xp = be.xp
    x = xp.zeros_like(lam)
    t = t00
    for _ in range(max_iter):
        d1, d2, d3 = _dtof(xp, x, lam, t)
        den = 2.0 * d2 * d2 - d1 * d3
        step = xp.where(den != 0.0, 2.0 * d1 * d2 / den, 0.0)
        x = x - step
        x = xp.clip(x, -1.0 + 1e-12, 1.0 - 1e-12)
        t = _tof(xp, x, lam, m)
        if not be.any(xp.abs(step) > 1e-13):
            break
    return x, t


# --------------------------------------------------------------------------- solver core


def _geometry(xp: Any, r1: Any, r2: Any, tof: Any, mu: Any, prograde: Any) -> dict[str, Any]:
    """Per-geometry quantities (section 2.1): shapes (N,) and (N, 3)."""
    n1 = _norm(xp, r1)
    n2 = _norm(xp, r2)
    c = _norm(xp, r2 - r1)
    s = 0.5 * (n1 + n2 + c)
    ir1 = r1 / n1[:, None]
    ir2 = r2 / n2[:, None]
    h = _cross(xp, ir1, ir2)
    hn = _norm(xp, h)
    ih = h / xp.where(hn > 0.0, hn, 1.0)[:, None]
    lam = xp.sqrt(xp.clip(1.0 - c / s, 0.0, 1.0))
    # lambda < 0 for transfer angles beyond 180 degrees in the direction of motion (eq. 7 and
    # fig. 1); the transverse unit vectors follow the direction of motion.
    neg = xp.logical_xor(ih[:, 2] < 0.0, ~prograde)
    lam = xp.where(neg, -lam, lam)
    sgn = xp.where(neg, -1.0, 1.0)[:, None]
    it1 = sgn * _cross(xp, ih, ir1)
    it2 = sgn * _cross(xp, ih, ir2)
    t_nd = xp.sqrt(2.0 * mu / s**3) * tof
    valid = (
        (n1 > 0.0)
        & (n2 > 0.0)
        & (c > 0.0)
        & (hn > 1e-12)
        & (tof > 0.0)
        & (mu > 0.0)
        & xp.isfinite(t_nd)
        & xp.isfinite(lam)
    )
    return {
        "n1": n1, "n2": n2, "c": c, "s": s, "ir1": ir1, "ir2": ir2, "it1": it1, "it2": it2,
        "lam": lam, "t": t_nd, "valid": valid,
    }  # fmt: skip


def _solve_x(
    be: _Backend,
    lam: Any,
    t_nd: Any,
    valid: Any,
    mf: Any,
    right: Any,
    max_iter: int,
    xtol: float,
) -> tuple[Any, Any, Any]:
    """Root x of T(x) = T for flat arrays of lambda, T, M (float) and branch; x, ok, iters."""
    xp = be.xp
    valid = valid & (mf >= 0)
    safe_lam = xp.where(valid, lam, 0.5)
    safe_t = xp.where(valid, t_nd, 1.0)

    # Feasibility of M revolutions: T >= T_min(M). Only the top count floor(T / pi) can fail,
    # and only when T is below T(x = 0) = T00 (section 2.3).
    m_top = xp.floor(safe_t / _PI)
    t0 = xp.arccos(safe_lam) + safe_lam * xp.sqrt(1.0 - safe_lam**2)
    valid = valid & (mf <= m_top)
    need = valid & (mf > 0) & (mf == m_top) & (safe_t < t0 + mf * _PI)
    idx = be.nonzero(need)
    if be.size(idx):
        _, tmin = _tof_min(be, safe_lam[idx], mf[idx], (t0 + mf * _PI)[idx])
        valid[idx] = valid[idx] & (tmin <= safe_t[idx])

    # Initial guesses: eq. 30 for M = 0, eq. 31 for M > 0.
    multi = mf > 0
    x = xp.zeros_like(safe_t)
    i0 = be.nonzero(valid & ~multi)
    if be.size(i0):
        la, ta, t0a = safe_lam[i0], safe_t[i0], t0[i0]
        t1 = (2.0 / 3.0) * (1.0 - la**3)
        ratio = xp.log(ta / t0a) / xp.log(xp.where(t1 < t0a, t1 / t0a, 0.5))
        x_mid = xp.exp(math.log(2.0) * ratio) - 1.0
        x_long = (t0a / ta) ** (2.0 / 3.0) - 1.0
        x_short = 2.5 * t1 * (t1 - ta) / (ta * (1.0 - la**5)) + 1.0
        x[i0] = xp.where(ta >= t0a, x_long, xp.where(ta < t1, x_short, x_mid))
    im = be.nonzero(valid & multi)
    if be.size(im):
        ta, ma = safe_t[im], mf[im]
        a_l = ((ma * _PI + _PI) / (8.0 * ta)) ** (2.0 / 3.0)
        a_r = ((8.0 * ta) / (ma * _PI)) ** (2.0 / 3.0)
        x[im] = xp.where(right[im], (a_r - 1.0) / (a_r + 1.0), (a_l - 1.0) / (a_l + 1.0))
    # x = 1 exactly would put the derivatives on their 1 - x^2 pole.
    x = xp.where(x == 1.0, 1.0 - 1e-7, x)

    # Householder iterations (eq. 23), on the shrinking set of unconverged elements.
    conv = xp.zeros_like(valid)
    iters = be.asint(xp.zeros_like(safe_t))
    act = be.nonzero(valid)
    for _ in range(max_iter):
        if be.size(act) == 0:
            break
        xa = x[act]
        la = safe_lam[act]
        ta = safe_t[act]
        tx = _tof(xp, xa, la, mf[act])
        f = tx - ta
        d1, d2, d3 = _dtof(xp, xa, la, tx)
        num = f * (d1 * d1 - 0.5 * f * d2)
        den = d1 * (d1 * d1 - f * d2) + d3 * f * f / 6.0
        dx = num / den
        xn = xa - dx
        # Stay in the domain x > -1 (elliptic side) by halving towards -1 if a step overshoots.
        xn = xp.where(xn <= -1.0, 0.5 * (xa - 1.0), xn)
        at_floor = xp.abs(f) <= 4e-16 * ta
        xn = xp.where(at_floor, xa, xn)
        fin = xp.isfinite(xn)
        done = fin & (at_floor | (xp.abs(dx) <= xtol * (1.0 + xp.abs(xa))))
        x[act] = xp.where(fin, xn, xa)
        iters[act] = iters[act] + 1
        conv[act] = done
        act = act[fin & ~done]
    return x, conv & valid, iters


def _velocities(xp: Any, x: Any, lam: Any, g: dict[str, Any], mu: Any) -> tuple[Any, Any]:
    """Radial and transverse velocity components from x (section 2.4), as vectors.

    ``x`` has shape (N, K); ``lam`` (N, K) or (N, 1); the geometry ``g`` is per row (N,)."""
    n1 = g["n1"][:, None]
    n2 = g["n2"][:, None]
    s = g["s"][:, None]
    c = g["c"][:, None]
    mu = mu[:, None]
    y = xp.sqrt(1.0 - lam * lam + lam * lam * x * x)
    gamma = xp.sqrt(0.5 * mu * s)
    rho = (n1 - n2) / c
    sigma = xp.sqrt(xp.clip(1.0 - rho * rho, 0.0, None))
    a = lam * y - x
    b = lam * y + x
    vr1 = gamma * (a - rho * b) / n1
    vr2 = -gamma * (a + rho * b) / n2
    vt = gamma * sigma * (y + lam * x)
    v1 = vr1[..., None] * g["ir1"][:, None, :] + (vt / n1)[..., None] * g["it1"][:, None, :]
    v2 = vr2[..., None] * g["ir2"][:, None, :] + (vt / n2)[..., None] * g["it2"][:, None, :]
    return v1, v2


def _solve_flat(
    be: _Backend,
    r1: Any,
    r2: Any,
    tof: Any,
    mu: Any,
    prograde: Any,
    revs: Any,
    right: Any,
    max_iter: int,
    xtol: float,
) -> tuple[Any, Any, Any, Any, Any]:
    """Geometries (N, 3) / (N,), solution slots (N, K) of revs and branch; returns v1, v2
    (N, K, 3) and ok, iters, x (N, K). The geometry is computed once per row."""
    xp = be.xp
    n, k = revs.shape
    torch = be.torch
    grad = (
        torch is not None
        and torch.is_grad_enabled()
        and any(t.requires_grad for t in (r1, r2, tof, mu))
    )
    ctx = np.errstate(all="ignore") if torch is None else torch.no_grad()
    with ctx:
        g = _geometry(xp, r1, r2, tof, mu, prograde)
        mf = revs.to(tof.dtype) if torch is not None else revs.astype(np.float64)

        def rows(a: Any) -> Any:
            return xp.broadcast_to(a[:, None], (n, k)).reshape(-1)

        x, ok, iters = _solve_x(
            be,
            rows(g["lam"]),
            rows(g["t"]),
            rows(g["valid"]),
            mf.reshape(-1),
            right.reshape(-1),
            max_iter,
            xtol,
        )
        x = x.reshape(n, k)
        ok = ok.reshape(n, k)
        iters = iters.reshape(n, k)
        if not grad:
            v1, v2 = _velocities(xp, x, g["lam"][:, None], g, mu)
    if grad:
        # The iterations ran without a graph; one Newton step from the root with the graph on
        # keeps x and gives it the implicit-function gradient dx/dp = -(dT/dp) / (dT/dx).
        g = _geometry(xp, r1, r2, tof, mu, prograde)
        lam = g["lam"][:, None]
        t_nd = g["t"][:, None]
        xs = xp.where(ok, x, 0.0)
        lam_s = xp.where(ok, lam, 0.5)
        tx = _tof(xp, xs, lam_s, mf)
        d1, _, _ = _dtof(xp, xs, lam_s.detach(), tx.detach())
        x = xs - xp.where(ok, (tx - t_nd) / d1, 0.0)
        v1, v2 = _velocities(xp, x, lam, g, mu)
    nan = float("nan")
    v1 = xp.where(ok[..., None], v1, nan)
    v2 = xp.where(ok[..., None], v2, nan)
    return v1, v2, ok, iters, xp.where(ok, x, nan)


# --------------------------------------------------------------------------- public API


def _backend_for(*args: Any) -> _Backend:
    if _is_torch(*args):
        import torch

        device = next(a.device for a in args if isinstance(a, torch.Tensor))
        return _Backend(torch, device)
    return _Backend()


def _prepare(
    be: _Backend, r1: Any, r2: Any, tof: Any, mu: Any, prograde: Any, extra: tuple[Any, ...]
) -> tuple[tuple[int, ...], list[Any]]:
    """Broadcast the per-geometry inputs (and any ``extra`` per-element arrays) and flatten."""
    r1 = be.asfloat(r1)
    r2 = be.asfloat(r2)
    tof = be.asfloat(tof)
    mu = be.asfloat(mu)
    prograde = be.asbool(prograde)
    if r1.shape[-1:] != (3,) or r2.shape[-1:] != (3,):
        raise ValueError(
            f"r1 and r2 need a trailing axis of 3 (x, y, z); got shapes "
            f"{tuple(r1.shape)} and {tuple(r2.shape)}"
        )
    batch = be.broadcast_shapes(
        tuple(r1.shape[:-1]),
        tuple(r2.shape[:-1]),
        tuple(tof.shape),
        tuple(mu.shape),
        tuple(prograde.shape),
        *(tuple(a.shape) for a in extra),
    )
    flat = [
        be.flat(r1, batch, (3,)),
        be.flat(r2, batch, (3,)),
        be.flat(tof, batch),
        be.flat(mu, batch),
        be.flat(prograde, batch),
        *(be.flat(a, batch) for a in extra),
    ]
    return batch, flat


def _branch_mask(be: _Backend, branch: Any) -> Any:
    if isinstance(branch, str):
        if branch not in ("left", "right"):
            raise ValueError(f"branch must be 'left' or 'right', not {branch!r}")
        return be.asbool(branch == "right")
    return be.asbool(branch)


def solve_lambert(
    r1: Any,
    r2: Any,
    tof: Any,
    mu: Any,
    *,
    revs: Any = 0,
    branch: Any = "left",
    prograde: Any = True,
    max_iter: int = 35,
    xtol: float = 1e-13,
) -> LambertSolution:
    """Solve Lambert's problem for a batch of geometries (Izzo 2015).

    Parameters
    ----------
    r1, r2:
        Initial and final positions, shape ``(*batch, 3)`` (e.g. km), broadcast together.
    tof:
        Times of flight, shape ``batch`` (e.g. s), positive.
    mu:
        Gravitational parameter (e.g. km^3/s^2), scalar or ``batch``.
    revs:
        Number of complete revolutions ``M >= 0``, scalar or ``batch`` of ints.
    branch:
        For ``revs >= 1``: ``"left"`` (longer period) or ``"right"`` (shorter period), or a
        boolean array, ``True`` meaning right. Ignored where ``revs == 0``.
    prograde:
        ``True`` for motion with positive angular momentum along +z of the frame; scalar or
        ``batch``. The transfer angle is measured in that sense, so prograde transfers beyond
        180 degrees (type II) come out of the same call.
    max_iter, xtol:
        Householder iteration cap and step tolerance on ``x`` (relative to ``1 + |x|``); an
        element also stops once ``T(x)`` equals the target to rounding.

    Returns
    -------
    LambertSolution
        ``v1`` and ``v2`` ``(*batch, 3)`` in the units of ``sqrt(mu / r)``, and per-element
        ``converged``, ``iterations`` and ``x``. NumPy or torch as the inputs.
    """
    be = _backend_for(r1, r2, tof, mu)
    right = _branch_mask(be, branch)
    batch, (fr1, fr2, ftof, fmu, fpro, frevs, fright) = _prepare(
        be, r1, r2, tof, mu, prograde, (be.asint(revs), right)
    )
    v1, v2, ok, iters, x = _solve_flat(
        be, fr1, fr2, ftof, fmu, fpro, frevs[:, None], fright[:, None], max_iter, xtol
    )
    return LambertSolution(
        v1=v1.reshape(*batch, 3),
        v2=v2.reshape(*batch, 3),
        converged=ok.reshape(batch),
        iterations=iters.reshape(batch),
        x=x.reshape(batch),
    )


def solve_lambert_all(
    r1: Any,
    r2: Any,
    tof: Any,
    mu: Any,
    *,
    max_revs: int = 0,
    prograde: Any = True,
    max_iter: int = 35,
    xtol: float = 1e-13,
) -> LambertSolution:
    """Every solution with up to ``max_revs`` revolutions, stacked on a new axis.

    The solution axis has length ``2 * max_revs + 1`` and is ordered
    ``[M=0, (M=1, left), (M=1, right), (M=2, left), ...]`` (pykep's order); ``v1`` and ``v2``
    have shape ``(*batch, 2 * max_revs + 1, 3)``. Counts that do not fit in the time of flight
    are flagged ``converged == False``. The geometry is set up once per row for all slots.
    """
    if max_revs < 0:
        raise ValueError(f"max_revs must be >= 0, not {max_revs}")
    k = 2 * max_revs + 1
    be = _backend_for(r1, r2, tof, mu)
    batch, (fr1, fr2, ftof, fmu, fpro) = _prepare(be, r1, r2, tof, mu, prograde, ())
    n = int(ftof.shape[0])
    revs_k = be.asint([0] + [m for m in range(1, max_revs + 1) for _ in (0, 1)])
    right_k = be.asbool([False] + [b for _ in range(1, max_revs + 1) for b in (False, True)])
    v1, v2, ok, iters, x = _solve_flat(
        be,
        fr1,
        fr2,
        ftof,
        fmu,
        fpro,
        be.xp.broadcast_to(revs_k[None, :], (n, k)),
        be.xp.broadcast_to(right_k[None, :], (n, k)),
        max_iter,
        xtol,
    )
    return LambertSolution(
        v1=v1.reshape(*batch, k, 3),
        v2=v2.reshape(*batch, k, 3),
        converged=ok.reshape(*batch, k),
        iterations=iters.reshape(*batch, k),
        x=x.reshape(*batch, k),
    )


def max_revolutions(r1: Any, r2: Any, tof: Any, mu: Any, *, prograde: Any = True) -> Any:
    """Largest number of complete revolutions with a solution, per element (-1 if none).

    Same batch rules as :func:`solve_lambert`; NumPy or torch integer array of shape ``batch``.
    """
    be = _backend_for(r1, r2, tof, mu)
    batch, (fr1, fr2, ftof, fmu, fpro) = _prepare(be, r1, r2, tof, mu, prograde, ())
    xp = be.xp
    ctx = np.errstate(all="ignore") if be.torch is None else be.torch.no_grad()
    with ctx:
        g = _geometry(xp, fr1, fr2, ftof, fmu, fpro)
        ok = g["valid"]
        lam = xp.where(ok, g["lam"], 0.5)
        t = xp.where(ok, g["t"], 1.0)
        m = xp.floor(t / _PI)
        t00 = xp.arccos(lam) + lam * xp.sqrt(1.0 - lam**2) + m * _PI
        idx = be.nonzero((m > 0) & (t < t00))
        if be.size(idx):
            _, tmin = _tof_min(be, lam[idx], m[idx], t00[idx])
            m[idx] = xp.where(tmin > t[idx], m[idx] - 1.0, m[idx])
        m = xp.where(ok, m, -1.0)
    out = m.astype(np.int64) if be.torch is None else m.to(be.torch.int64)
    return out.reshape(batch)
