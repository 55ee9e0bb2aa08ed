"""Batched adaptive Runge-Kutta integration: Dormand-Prince 8(5,3) with a step size per trajectory.

The method is DOP853 of Hairer, Nørsett & Wanner, *Solving Ordinary Differential Equations I*
(2nd ed., Springer 1993), Sect. II.10: the 12-stage 8th-order formula of Prince & Dormand (1981)
with the combined 5th/3rd-order error estimate and the 7th-order continuous extension (3 extra
stages). The coefficient table below is the published one (as in Hairer's ``dop853.f``); the test
suite checks it against SciPy's independent transcription and against the order conditions.

Why a step size per trajectory (a vector ``h`` of shape ``(n,)``) and not one common step:

* each trajectory's error is controlled exactly as if it were integrated alone, so a satellite's
  result does not depend on which other satellites share the batch (reproducible truth data);
* a batch mixing LEO, MEO and GEO, or circular and eccentric orbits, does not force every member
  down to the smallest step any member needs;
* the price is that trajectories sit at different times, so the right-hand side receives a time
  per row (``t`` of shape ``(n,)``) and time-dependent inputs (ephemerides, Earth rotation) are
  evaluated per row. Finished trajectories leave the working set, so a batch costs about the sum
  of its members' steps, evaluated in vectorised sweeps.

Output is produced at requested times by the dense output, never by shortening steps, except
that the last step of each trajectory ends exactly on the last requested time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from starbrain.physics.dop853_tableau import (
    _N_EXT,
    _N_STAGES,
    DOP853_A,
    DOP853_B,
    DOP853_C,
    DOP853_D,
    DOP853_E3,
    DOP853_E5,
)

__all__ = [
    "DOP853_A",
    "DOP853_B",
    "DOP853_C",
    "DOP853_D",
    "DOP853_E3",
    "DOP853_E5",
    "STATUS_MAX_STEPS",
    "STATUS_NONFINITE",
    "STATUS_OK",
    "STATUS_STEP_TOO_SMALL",
    "STATUS_STOPPED",
    "BatchResult",
    "IntegratorOptions",
    "dop853_batch",
]

# Per-trajectory status codes (the batch never raises for one bad member).
STATUS_OK = 0
STATUS_STOPPED = 1  # the stop callback asked to end this trajectory (e.g. re-entry)
STATUS_MAX_STEPS = 2  # more than max_steps accepted + rejected steps
STATUS_STEP_TOO_SMALL = 3  # the step fell below the resolution of the time variable
STATUS_NONFINITE = 4  # the right-hand side or the state became NaN/inf


def _combine(weights: np.ndarray, kk: np.ndarray) -> np.ndarray:
    """``sum_j weights[j] * kk[j]`` accumulated row by row in a fixed order.

    Deliberately not ``tensordot``: BLAS may sum in a different order for different batch sizes,
    and then a trajectory's last bits would depend on the batch it was run in.
    """
    nz = np.flatnonzero(weights)
    acc = weights[nz[0]] * kk[nz[0]]
    for j in nz[1:]:
        acc += weights[j] * kk[j]
    return acc


# Step-size controller constants of dop853.f (safety factor, bounds on the step ratio).
_SAFE = 0.9
_FAC_MIN = 1.0 / 3.0
_FAC_MAX = 6.0

Rhs = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]
"""``f(t (k,), y (k, d), idx (k,) int) -> dy/dt (k, d)``; ``idx`` names the trajectories."""

StopFn = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]
"""``stop(t (k,), y (k, d), idx (k,)) -> (k,) bool``: end these trajectories after this step."""

SwitchFn = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]
"""``switch(t (k,), y (k, d), idx (k,)) -> (k, n_sw)``: functions whose roots are kinks of f."""

# Roots of switching functions closer than this to a step's ends are not cut at (seconds).
_EVENT_EPS_S = 1e-3
_EVENT_TOL_S = 1e-4


@dataclass(frozen=True)
class IntegratorOptions:
    """Error tolerances and limits of the batched DOP853 integrator (JSON-serialisable).

    Each trajectory's local error estimate, scaled component-wise by
    ``atol + rtol * max(|y_old|, |y_new|)``, is kept below one (RMS over the components).
    :func:`~starbrain.physics.numerical.propagate_numerical` applies ``atol_km`` to positions and
    ``atol_kmps`` to velocities.
    """

    rtol: float = 1e-12
    atol_km: float = 1e-9
    atol_kmps: float = 1e-12
    max_steps: int = 1_000_000
    h_max_s: float = float("inf")
    h0_s: float | None = None

    def to_dict(self) -> dict[str, float | int | None]:
        d = asdict(self)
        if d["h_max_s"] == float("inf"):
            d["h_max_s"] = None
        return d

    @classmethod
    def from_dict(cls, d: dict) -> IntegratorOptions:
        d = dict(d)
        if d.get("h_max_s") is None:
            d["h_max_s"] = float("inf")
        return cls(**d)


class BatchResult(NamedTuple):
    """Output of :func:`dop853_batch`.

    y: (n, n_out, d) states at the requested times (NaN after a trajectory stopped or failed).
    status: (n,) int, ``STATUS_*`` codes. n_accepted, n_rejected: (n,) step counts.
    n_fev: total right-hand-side row evaluations (sum over rows of all calls).
    """

    y: np.ndarray
    status: np.ndarray
    n_accepted: np.ndarray
    n_rejected: np.ndarray
    n_fev: int


def _initial_step(
    fun: Rhs,
    t0: np.ndarray,
    y0: np.ndarray,
    f0: np.ndarray,
    idx: np.ndarray,
    direction: float,
    rtol: float,
    atol: np.ndarray,
    h_max: float,
) -> np.ndarray:
    """Hairer's starting-step heuristic (HNW I, Sect. II.4), one value per trajectory."""
    d = y0.shape[1]
    sk = atol + rtol * np.abs(y0)
    dnf = np.sum((f0 / sk) ** 2, axis=1) / d
    dny = np.sum((y0 / sk) ** 2, axis=1) / d
    with np.errstate(divide="ignore", invalid="ignore"):
        h = np.where((dnf > 1e-10) & (dny > 1e-10), 0.01 * np.sqrt(dny / dnf), 1e-6)
    h = np.minimum(h, h_max)
    f1 = fun(t0 + direction * h, y0 + direction * h[:, None] * f0, idx)
    der2 = np.sqrt(np.sum(((f1 - f0) / sk) ** 2, axis=1) / d) / h
    der12 = np.maximum(np.abs(der2), np.sqrt(dnf))
    with np.errstate(divide="ignore"):
        h1 = np.where(der12 > 1e-15, (0.01 / der12) ** (1.0 / 8.0), np.maximum(1e-6, h * 1e-3))
    return np.minimum(np.minimum(100.0 * h, h1), h_max)


def dop853_batch(
    fun: Rhs,
    y0: npt.ArrayLike,
    t_out: npt.ArrayLike,
    *,
    rtol: float = 1e-12,
    atol: npt.ArrayLike = 1e-12,
    h0: float | npt.ArrayLike | None = None,
    h_max: float = float("inf"),
    max_steps: int = 1_000_000,
    stop: StopFn | None = None,
    switch: SwitchFn | None = None,
) -> BatchResult:
    """Integrate ``dy/dt = fun(t, y)`` for a batch of ``n`` trajectories from ``t = 0``.

    y0: (n, d) initial states at t = 0. t_out: (n_out,) output times, all on one side of 0 and
    monotonic away from it (0 itself allowed); integration runs towards ``t_out[-1]``.
    Every trajectory has its own adaptive step; see the module docstring for why.

    ``stop(t, y, idx)`` is called after each accepted step and ends the trajectories it flags.
    ``switch(t, y, idx) -> (k, n_sw)`` gives switching functions whose sign changes mark where
    the right-hand side changes abruptly (entering or leaving the Earth's shadow): a step over a
    sign change is cut to end at the root (found on the dense output by the Illinois method to
    0.1 ms, ample since the conical shadow function is C1 there), so no step integrates across
    it and the error control sees a smooth problem.
    Returns a :class:`BatchResult`; a trajectory that fails gets a status code and NaN outputs
    from the failure on, the others carry on.
    """
    y0 = np.array(y0, dtype=np.float64, ndmin=2)
    t_out = np.atleast_1d(np.asarray(t_out, dtype=np.float64))
    n, d = y0.shape
    res = _Tally.empty(n, t_out.size, d)
    if n == 0 or t_out.size == 0:
        return res.result()
    direction, s_out = _forward_times(t_out)
    atol_arr = np.broadcast_to(np.asarray(atol, dtype=np.float64), (d,)).copy()
    # Outputs at t = 0.
    next_i = np.searchsorted(s_out, 0.0, side="right") * np.ones(n, dtype=np.int64)
    res.out[:, : next_i[0], :] = y0[:, None, :]
    if s_out[-1] == 0.0:
        return res.result()
    prob = _Problem(fun, direction, s_out, rtol, atol_arr, h_max, stop, switch)
    work = _start(prob, y0, next_i, h0, res)
    k = np.empty((_N_EXT, n, d))
    while work.idx.size:
        if _retire_stalled(work, res, s_out[-1], max_steps):
            continue
        _step(prob, work, k[:, : work.idx.size], res)
    return res.result()


@dataclass(frozen=True, slots=True)
class _Problem:
    """What stays fixed during one :func:`dop853_batch` call. ``s_out``: the output times as
    distances ``direction * t_out`` (s) from t = 0; ``atol``: (d,) absolute tolerances."""

    fun: Rhs
    direction: float
    s_out: np.ndarray
    rtol: float
    atol: np.ndarray
    h_max: float
    stop: StopFn | None
    switch: SwitchFn | None


@dataclass(slots=True)
class _Tally:
    """The outputs being filled, per trajectory of the whole batch, and the evaluation count:
    out (n, n_out, d), status / n_acc / n_rej (n,)."""

    out: np.ndarray
    status: np.ndarray
    n_acc: np.ndarray
    n_rej: np.ndarray
    n_fev: int = 0

    @classmethod
    def empty(cls, n: int, m: int, d: int) -> _Tally:
        zeros = np.zeros(n, dtype=np.int64)
        return cls(np.full((n, m, d), np.nan), zeros, zeros.copy(), zeros.copy())

    def result(self) -> BatchResult:
        return BatchResult(self.out, self.status, self.n_acc, self.n_rej, self.n_fev)


class _Work:
    """The working set: one row per trajectory still integrating (rows leave as they end).

    idx: (k,) trajectory numbers; s: (k,) elapsed |t| (s); y, f: (k, d) state and dy/dt at s;
    h: (k,) next step (s); next_i: (k,) next output to fill; last_rejected: (k,) the last step
    was rejected; h_resume: (k,) step to resume with after a step cut at a switch root (NaN:
    none); g_old: (k, n_sw) switching functions at s, or None without ``switch``.
    """

    __slots__ = ("f", "g_old", "h", "h_resume", "idx", "last_rejected", "next_i", "s", "y")

    def __init__(
        self,
        idx: np.ndarray,
        y: np.ndarray,
        s: np.ndarray,
        f: np.ndarray,
        h: np.ndarray,
        next_i: np.ndarray,
        g_old: np.ndarray | None,
    ) -> None:
        self.idx, self.y, self.s, self.f, self.h, self.next_i = idx, y, s, f, h, next_i
        self.last_rejected = np.zeros(idx.size, dtype=bool)
        self.h_resume = np.full(idx.size, np.nan)
        self.g_old = g_old

    def drop(self, keep: np.ndarray) -> None:
        """Keep only the rows ``keep`` (a boolean mask)."""
        self.idx, self.y, self.s, self.f, self.h = (
            self.idx[keep], self.y[keep], self.s[keep], self.f[keep], self.h[keep],
        )  # fmt: skip
        self.next_i, self.last_rejected = self.next_i[keep], self.last_rejected[keep]
        self.h_resume = self.h_resume[keep]
        if self.g_old is not None:
            self.g_old = self.g_old[keep]


def _forward_times(t_out: np.ndarray) -> tuple[float, np.ndarray]:
    """The direction of integration (+1 or -1) and the output times as forward distances."""
    t_end = float(t_out[-1])
    direction = 1.0 if t_end >= 0.0 else -1.0
    s_out = direction * t_out  # work with a forward "distance" in time
    if np.any(s_out < 0.0) or np.any(np.diff(s_out) < 0.0):
        raise ValueError(
            "t_out must lie on one side of 0 and run monotonically away from it; "
            "split forward and backward requests into two calls"
        )
    return direction, s_out


def _start(
    prob: _Problem,
    y0: np.ndarray,
    next_i: np.ndarray,
    h0: float | npt.ArrayLike | None,
    res: _Tally,
) -> _Work:
    """The working set at t = 0: dy/dt, the first steps (``h0`` or Hairer's heuristic) and the
    switching functions; trajectories non-finite from the start are marked and left out."""
    n = y0.shape[0]
    idx = np.arange(n)
    y = y0.copy()
    s = np.zeros(n)  # elapsed |t|
    f = prob.fun(prob.direction * s, y, idx)
    res.n_fev += n
    bad = ~np.all(np.isfinite(f), axis=1) | ~np.all(np.isfinite(y), axis=1)
    if h0 is None:
        h = _initial_step(prob.fun, s, y, f, idx, prob.direction, prob.rtol, prob.atol, prob.h_max)
        res.n_fev += n
    else:
        h = np.broadcast_to(np.abs(np.asarray(h0, dtype=np.float64)), (n,)).copy()
    g_old = None
    if prob.switch is not None:
        g_old = np.asarray(prob.switch(prob.direction * s, y, idx), np.float64)
    work = _Work(idx, y, s, f, h, next_i, g_old)
    if bad.any():
        res.status[idx[bad]] = STATUS_NONFINITE
        work.drop(~bad)
    return work


def _retire_stalled(work: _Work, res: _Tally, s_end: float, max_steps: int) -> bool:
    """Clip the steps to end at ``s_end``; retire the rows whose step can no longer change the
    time variable or that used up ``max_steps``. True when any row was retired."""
    work.h = np.minimum(work.h, s_end - work.s)
    # Steps too small to change the time variable cannot make progress.
    tiny = work.h <= 4.0 * np.spacing(np.maximum(work.s, 1.0))
    over = (res.n_acc[work.idx] + res.n_rej[work.idx]) >= max_steps
    if not (tiny.any() or over.any()):
        return False
    res.status[work.idx[tiny]] = STATUS_STEP_TOO_SMALL
    res.status[work.idx[over & ~tiny]] = STATUS_MAX_STEPS
    work.drop(~(tiny | over))
    return True


def _step(prob: _Problem, work: _Work, kk: np.ndarray, res: _Tally) -> None:
    """One attempted step of every row in the working set: stages, error, new step sizes;
    accepted steps are landed (cut at switch roots), counted, written out and may end rows.
    ``kk``: (_N_EXT, k, d) stage storage."""
    nk = work.idx.size
    kk[0] = work.f
    y_new = _rk_step(prob, kk, work.s, work.y, work.h, work.idx)
    res.n_fev += (_N_STAGES - 1) * nk
    err = _error_norm(kk, work.y, y_new, work.h, prob.atol, prob.rtol)
    finite = np.isfinite(err) & np.all(np.isfinite(y_new), axis=1)
    accept = finite & (err <= 1.0)
    h_new = _next_step(err, finite, accept & work.last_rejected, work.h, prob.h_max)

    acc = np.flatnonzero(accept)
    if acc.size:
        acc, s_new, f_new = _land(prob, work, kk, y_new, accept, h_new, acc, res)
    res.n_acc[work.idx[accept]] += 1
    res.n_rej[work.idx[~accept & finite & (err > 1.0)]] += 1
    res.n_rej[work.idx[~finite]] += 1
    work.last_rejected = ~accept & ~(err <= 1.0)

    done = _advance(prob, work, kk, y_new, acc, s_new, f_new, res) if acc.size else None
    work.h = h_new
    if done is not None and done.any():
        work.drop(~done)


def _rk_step(
    prob: _Problem, kk: np.ndarray, s: np.ndarray, y: np.ndarray, h: np.ndarray, idx: np.ndarray
) -> np.ndarray:
    """Stages 2..12 of DOP853 into ``kk`` (stage 1, f(s, y), already in ``kk[0]``) and the
    8th-order solution (k, d) at the end of the steps ``h``."""
    direction = prob.direction
    hd = (direction * h)[:, None]
    for st in range(1, _N_STAGES):
        incr = _combine(DOP853_A[st, :st], kk)
        kk[st] = prob.fun(direction * (s + DOP853_C[st] * h), y + hd * incr, idx)
    kb = _combine(DOP853_B, kk)
    return y + hd * kb


def _error_norm(
    kk: np.ndarray, y: np.ndarray, y_new: np.ndarray, h: np.ndarray, atol: np.ndarray, rtol: float
) -> np.ndarray:
    """Scaled local error (k,) of the steps, accepted when <= 1: the error estimate of
    dop853.f, the 5th-order estimate damped by the 3rd-order one."""
    d = y.shape[1]
    sc = atol + rtol * np.maximum(np.abs(y), np.abs(y_new))
    e5 = _combine(DOP853_E5, kk) / sc
    e3 = _combine(DOP853_E3, kk) / sc
    err5 = np.sum(e5 * e5, axis=1)
    err3 = np.sum(e3 * e3, axis=1)
    deno = err5 + 0.01 * err3
    deno = np.where(deno > 0.0, deno, 1.0)
    return h * err5 / np.sqrt(deno * d)


def _next_step(
    err: np.ndarray, finite: np.ndarray, after_reject: np.ndarray, h: np.ndarray, h_max: float
) -> np.ndarray:
    """dop853.f's step-size update from the scaled errors: ``safe * err**(-1/8)`` bounded to
    [1/3, 6], not growing on an accepted step right after a rejected one (``after_reject``),
    1/3 after a non-finite step; at most ``h_max``."""
    with np.errstate(divide="ignore"):
        fac = np.clip(_SAFE * err ** (-1.0 / 8.0), _FAC_MIN, _FAC_MAX)
    fac = np.where(after_reject, np.minimum(fac, 1.0), fac)
    fac = np.where(finite, fac, _FAC_MIN)
    return np.minimum(h * fac, h_max)


def _land(
    prob: _Problem,
    work: _Work,
    kk: np.ndarray,
    y_new: np.ndarray,
    accept: np.ndarray,
    h_new: np.ndarray,
    acc: np.ndarray,
    res: _Tally,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """End times and dy/dt of the accepted steps ``acc``; steps over a switch root are cut
    (un-accepted in ``accept``, retried shorter via ``h_new``). Returns the accepted rows left,
    their end distances and dy/dt there."""
    s, h, s_end = work.s, work.h, prob.s_out[-1]
    s_new = s[acc] + h[acc]
    # Land exactly on the last output time (avoids a trailing sliver of a step).
    s_new = np.where(h[acc] >= s_end - s[acc], s_end, s_new)
    f_new = prob.fun(prob.direction * s_new, y_new[acc], work.idx[acc])
    res.n_fev += acc.size
    if work.g_old is not None and prob.switch is not None:
        acc, s_new, f_new = _cut_steps(prob, work, kk, y_new, accept, h_new, acc, s_new, f_new, res)
    resume = acc[np.isfinite(work.h_resume[acc])]
    h_new[resume] = work.h_resume[resume]
    work.h_resume[resume] = np.nan
    return acc, s_new, f_new


def _cut_steps(
    prob: _Problem,
    work: _Work,
    kk: np.ndarray,
    y_new: np.ndarray,
    accept: np.ndarray,
    h_new: np.ndarray,
    acc: np.ndarray,
    s_new: np.ndarray,
    f_new: np.ndarray,
    res: _Tally,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cut the accepted steps over which a switching function changes sign to end just before
    the root (their planned next step is kept in ``h_resume``); update the switching functions
    of the steps that stay accepted. Returns those steps' rows, end distances and dy/dt."""
    assert prob.switch is not None and work.g_old is not None
    g_new = np.asarray(prob.switch(prob.direction * s_new, y_new[acc], work.idx[acc]), np.float64)
    cut, h_cut, extra = _cut_at_switch(
        prob.switch, acc, work.s, work.h, work.y, y_new, f_new, kk, prob.direction, work.idx,
        work.g_old, g_new, prob.fun,
    )  # fmt: skip
    res.n_fev += extra
    if cut.any():
        rows = acc[cut]
        accept[rows] = False
        work.h_resume[rows] = h_new[rows]
        h_new[rows] = h_cut
        keep = ~cut
        acc, s_new, f_new, g_new = acc[keep], s_new[keep], f_new[keep], g_new[keep]
    work.g_old[acc] = g_new
    return acc, s_new, f_new


def _advance(
    prob: _Problem,
    work: _Work,
    kk: np.ndarray,
    y_new: np.ndarray,
    acc: np.ndarray,
    s_new: np.ndarray,
    f_new: np.ndarray,
    res: _Tally,
) -> np.ndarray:
    """Fill the outputs inside the accepted steps ``acc``, move those rows to the step ends and
    mark the ones stopped or gone non-finite. Returns the mask (k,) of rows now done."""
    nk = work.idx.size
    self_bad = ~np.all(np.isfinite(f_new), axis=1)
    res.n_fev += _write_outputs(
        prob.fun, acc, work.s, s_new, work.h, work.y, y_new, f_new, kk, prob.direction,
        work.idx, work.next_i, prob.s_out, res.out,
    )  # fmt: skip
    work.s[acc] = s_new
    work.y[acc] = y_new[acc]
    work.f[acc] = f_new
    stopped = np.zeros(nk, dtype=bool)
    if prob.stop is not None:
        stopped[acc] = np.asarray(
            prob.stop(prob.direction * s_new, y_new[acc], work.idx[acc]), bool
        )
    nonfinite = np.zeros(nk, dtype=bool)
    nonfinite[acc] = self_bad
    res.status[work.idx[stopped]] = STATUS_STOPPED
    res.status[work.idx[nonfinite & ~stopped]] = STATUS_NONFINITE
    return (work.next_i >= prob.s_out.size) | stopped | nonfinite


def _write_outputs(
    fun: Rhs,
    acc: np.ndarray,
    s: np.ndarray,
    s_new: np.ndarray,
    h: np.ndarray,
    y: np.ndarray,
    y_new: np.ndarray,
    f_new: np.ndarray,
    kk: np.ndarray,
    direction: float,
    idx: np.ndarray,
    next_i: np.ndarray,
    s_out: np.ndarray,
    out: np.ndarray,
) -> int:
    """Fill the outputs that fall in the accepted steps ``acc``; returns the extra evaluations.

    Outputs strictly inside a step use the 7th-order continuous extension of DOP853 (three more
    stages, computed only for the steps that need them); an output on the step end is y_new.
    """
    m = s_out.size
    ni = next_i[acc]
    pending = (ni < m) & (s_out[np.minimum(ni, m - 1)] <= s_new)
    if not pending.any():
        return 0
    rows = acc[pending]  # rows of the working arrays
    s_new_p = s_new[pending]
    ynew_p = y_new[rows]
    fnew_p = f_new[pending]
    inner = s_out[next_i[rows]] < s_new_p
    n_fev = 0
    coef = None
    if inner.any():
        r_in = rows[inner]
        coef, n_fev = _dense_coef(
            fun, r_in, s, h, y, ynew_p[inner], fnew_p[inner], kk, direction, idx
        )
    pos_in = np.cumsum(inner) - 1  # row position inside coef for the inner rows
    while True:
        ni = next_i[rows]
        live = (ni < m) & (s_out[np.minimum(ni, m - 1)] <= s_new_p)
        if not live.any():
            break
        lv = np.flatnonzero(live)
        so = s_out[ni[lv]]
        vals = ynew_p[lv].copy()
        interp = (so < s_new_p[lv]) & inner[lv]
        if interp.any():
            assert coef is not None  # interpolated rows are inner rows
            q = lv[interp]
            r = rows[q]
            vals[interp] = _interpolate(coef[:, pos_in[q]], y[r], (so[interp] - s[r]) / h[r])
        out[idx[rows[lv]], ni[lv]] = vals
        next_i[rows[lv]] += 1
    return n_fev


def _dense_coef(
    fun: Rhs,
    rows: np.ndarray,
    s: np.ndarray,
    h: np.ndarray,
    y: np.ndarray,
    y_new_rows: np.ndarray,
    f_new_rows: np.ndarray,
    kk: np.ndarray,
    direction: float,
    idx: np.ndarray,
) -> tuple[np.ndarray, int]:
    """Coefficients (7, k, d) of DOP853's 7th-order continuous extension for the steps ``rows``
    (three extra stages each); returns them and the number of evaluations spent."""
    kx = kk[:, rows].copy()
    kx[_N_STAGES] = f_new_rows
    h_r = h[rows]
    hd = (direction * h_r)[:, None]
    y_r = y[rows]
    for st in range(_N_STAGES + 1, _N_EXT):
        incr = _combine(DOP853_A[st, :st], kx)
        kx[st] = fun(direction * (s[rows] + DOP853_C[st] * h_r), y_r + hd * incr, idx[rows])
    dy = y_new_rows - y_r
    hf_old = hd * kx[0]
    coef = np.empty((7, rows.size, y.shape[1]))
    coef[0] = dy
    coef[1] = hf_old - dy
    coef[2] = 2.0 * dy - hf_old - hd * kx[_N_STAGES]
    for q in range(4):
        coef[3 + q] = hd * _combine(DOP853_D[q], kx)
    return coef, (_N_EXT - _N_STAGES - 1) * rows.size


def _interpolate(coef: np.ndarray, y_start: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Dense output at fractions ``x`` (k,) of the steps: Hairer's contd8 nesting
    ``y + x(F0 + (1-x)(F1 + x(F2 + (1-x)(F3 + x(F4 + (1-x)(F5 + x F6))))))``."""
    xc = x[:, None]
    acc = coef[6]
    for q in range(5, -1, -1):
        acc = coef[q] + (xc if q % 2 == 1 else 1.0 - xc) * acc
    return y_start + xc * acc


def _cut_at_switch(
    switch: SwitchFn,
    acc: np.ndarray,
    s: np.ndarray,
    h: np.ndarray,
    y: np.ndarray,
    y_new: np.ndarray,
    f_new: np.ndarray,
    kk: np.ndarray,
    direction: float,
    idx: np.ndarray,
    g_old: np.ndarray,
    g_new: np.ndarray,
    fun: Rhs,
) -> tuple[np.ndarray, np.ndarray, int]:
    """Find the accepted steps ``acc`` over which a switching function changes sign at a root
    inside the step; return a mask over ``acc`` of the steps to cut, their new lengths (ending
    just before the root) and the evaluations spent."""
    cross = (g_new > 0.0) != (g_old[acc] > 0.0)
    crossing = np.any(cross, axis=1)
    cut = np.zeros(acc.size, dtype=bool)
    if not crossing.any():
        return cut, np.empty(0), 0
    pos = np.flatnonzero(crossing)
    rows = acc[pos]
    coef, n_fev = _dense_coef(fun, rows, s, h, y, y_new[rows], f_new[pos], kk, direction, idx)
    # One root search per (step, function) pair that changes sign; keep each step's earliest
    # root that lies inside it.
    pi, j = np.nonzero(cross[pos])
    r_p = rows[pi]
    ga = g_old[r_p, j]
    gb = g_new[pos[pi], j]
    xa = np.zeros(pi.size)
    xb = np.ones(pi.size)
    side = np.zeros(pi.size)  # Illinois: which end moved last time
    h_p = h[r_p]
    for _ in range(60):
        # Done when bracketed to the tolerance, or surely within the ignored end zones.
        live = ((xb - xa) * h_p > _EVENT_TOL_S) & (xb * h_p > _EVENT_EPS_S)
        live &= xa * h_p < h_p - _EVENT_EPS_S
        if not live.any():
            break
        with np.errstate(divide="ignore", invalid="ignore"):
            xm = (xa * gb - xb * ga) / (gb - ga)
        bad = ~np.isfinite(xm) | (xm <= xa) | (xm >= xb)
        xm = np.where(bad, 0.5 * (xa + xb), xm)
        ym = _interpolate(coef[:, pi], y[r_p], xm)
        gm = np.asarray(switch(direction * (s[r_p] + xm * h_p), ym, idx[r_p]), np.float64)
        gm = gm[np.arange(pi.size), j]
        exact = live & (gm == 0.0)
        xa = np.where(exact, xm, xa)
        xb = np.where(exact, xm, xb)
        live &= ~exact
        same_a = (gm > 0.0) == (ga > 0.0)
        # Root in [xm, xb]: move a, else move b; halve the stale end's value (Illinois).
        gb = np.where(live & same_a & (side == 1), 0.5 * gb, gb)
        ga = np.where(live & ~same_a & (side == -1), 0.5 * ga, ga)
        xa = np.where(live & same_a, xm, xa)
        ga = np.where(live & same_a, gm, ga)
        xb = np.where(live & ~same_a, xm, xb)
        gb = np.where(live & ~same_a, gm, gb)
        side = np.where(live, np.where(same_a, 1, -1), side)
    tau = xa * h_p
    inside = (tau > _EVENT_EPS_S) & (tau < h_p - _EVENT_EPS_S)
    if not inside.any():
        return cut, np.empty(0), n_fev
    first = np.full(pos.size, np.inf)
    np.minimum.at(first, pi[inside], tau[inside])
    has = np.isfinite(first)
    cut[pos[has]] = True
    return cut, first[has], n_fev
