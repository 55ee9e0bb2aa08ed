"""Steps 5 and 6 of the screening (see :mod:`starbrain.planners.conjunctions`): the TCA
refinement of brackets with the propagator, and the position covariances for the Pc."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from starbrain.physics import earth
from starbrain.planners.collision_probability import (
    DEFAULT_COVARIANCE,
)
from starbrain.planners.conjunctions.common import (
    _FD_STEP_S,
    _TCA_TOL_S,
    FloatArray,
    IntArray,
    _Population,
)
from starbrain.planners.propagator import Propagator


@dataclass(slots=True)
class _Refined:
    t_s: FloatArray  # seconds after start
    r1: FloatArray
    v1: FloatArray
    r2: FloatArray
    v2: FloatArray
    ok: npt.NDArray[np.bool_]


def _refine(
    pop: _Population,
    prop: Propagator,
    state: Any,
    i: IntArray,
    j: IntArray,
    t0_ns: int,
    guess_s: FloatArray,
    lo_s: FloatArray,
    hi_s: FloatArray,
    max_iter: int = 60,
) -> _Refined:
    """Zero of the range-rate of propagated positions for pairs (i, j) (rows of ``pop``; ``state``
    is ``prop.init`` of the whole population), starting at ``guess_s`` and kept inside
    ``[lo_s, hi_s]`` (seconds after ``t0``), by safeguarded Newton iteration."""
    m = len(i)
    if m == 0:
        z = np.zeros((0, 3))
        return _Refined(np.zeros(0), z, z, z, z, np.zeros(0, bool))
    rows = np.concatenate([i, j])
    base = pop.tsince_min(rows, t0_ns, np.zeros(1))[:, 0]  # minutes at t0
    h = _FD_STEP_S

    def states(
        t_s: FloatArray, sel: IntArray, offsets: Sequence[float]
    ) -> tuple[tuple[FloatArray, FloatArray], tuple[FloatArray, FloatArray], Any]:
        """r, v of objects i[sel] and j[sel] at ``t_s + offset`` for each offset."""
        both = np.concatenate([sel, sel + m])
        tt = np.concatenate([t_s, t_s])[:, None] + np.asarray(offsets)
        sub = prop.select(state, rows[both])
        r, v, ok = prop.propagate(sub, base[both][:, None] + tt / 60.0, False)
        k = len(sel)
        return (r[:k], r[k:]), (v[:k], v[k:]), ok[:k].all(axis=1) & ok[k:].all(axis=1)

    x = guess_s.copy()
    lo, hi = lo_s.copy(), hi_s.copy()
    ok_all = np.ones(m, bool)
    act = np.arange(m)
    for _ in range(max_iter):
        if not len(act):
            break
        (ra, rb), _, ok = states(x[act], act, (-h, h))
        dr_m = 0.5 * ((rb[:, 0] - ra[:, 0]) + (rb[:, 1] - ra[:, 1]))
        dv_fd = ((rb[:, 1] - ra[:, 1]) - (rb[:, 0] - ra[:, 0])) / (2.0 * h)
        g = np.einsum("ij,ij->i", dr_m, dv_fd)
        mid_a = 0.5 * (ra[:, 0] + ra[:, 1])
        mid_b = 0.5 * (rb[:, 0] + rb[:, 1])
        da = earth.j2_acceleration(mid_b) - earth.j2_acceleration(mid_a)
        dg = np.einsum("ij,ij->i", dv_fd, dv_fd) + np.einsum("ij,ij->i", dr_m, da)
        xa = x[act]
        neg = g < 0.0
        lo[act] = np.where(neg, xa, lo[act])
        hi[act] = np.where(neg, hi[act], xa)
        with np.errstate(divide="ignore", invalid="ignore"):
            step = -g / dg
            # the range-rate of slow encounters is known only to the noise of the positions
            # (~1e-10 km over the 10 ms difference): stop at the time resolution that allows
            tol = np.maximum(_TCA_TOL_S, 1e-8 * (np.linalg.norm(dr_m, axis=1) + 0.1) / dg)
        nx = xa + step
        bad = ~np.isfinite(nx) | (dg <= 0.0) | (nx <= lo[act]) | (nx >= hi[act])
        nx = np.where(bad, 0.5 * (lo[act] + hi[act]), nx)
        done = (~bad & (np.abs(step) < tol)) | ((hi[act] - lo[act]) < _TCA_TOL_S) | ~ok
        ok_all[act[~ok]] = False
        x[act] = nx
        act = act[~done]
    (ra, rb), (va, vb), ok = states(x, np.arange(m), (0.0,))
    return _Refined(x, ra[:, 0], va[:, 0], rb[:, 0], vb[:, 0], ok & ok_all)


CovarianceInput = Callable[..., Any] | npt.ArrayLike | None


def _call_model(model: Callable[..., Any], age_days: FloatArray, rows: IntArray) -> FloatArray:
    """``model(age_days, rows)``, or ``model(age_days)`` for models that take only the ages."""
    import inspect

    try:
        n_args = len(inspect.signature(model).parameters)
    except (TypeError, ValueError):  # pragma: no cover - builtins without a signature
        n_args = 2
    out = model(age_days, rows) if n_args >= 2 else model(age_days)
    return np.asarray(out, dtype=np.float64)


def _covariances(
    covariance: CovarianceInput, idx: IntArray, age_days: FloatArray
) -> tuple[FloatArray, str]:
    if covariance is None:
        return DEFAULT_COVARIANCE(age_days), DEFAULT_COVARIANCE.name
    if callable(covariance):
        name = getattr(covariance, "name", None) or "user model"
        return _call_model(covariance, age_days, idx), str(name)
    cov = np.asarray(covariance, dtype=np.float64)
    if cov.ndim == 2:  # one RTN covariance for every object
        return np.broadcast_to(cov, (len(idx), 3, 3)).copy(), "given"
    return cov[idx], "given"
