"""Element sets after an impulsive burn (for :mod:`starbrain.planners.avoidance`): point-mass +
J2 propagation of the burn's effect, and SGP4 mean elements fitted to the manoeuvred trajectory
(steps 1 and 3 of the method in :mod:`starbrain.planners.avoidance`).

Positions are km and velocities km/s in TEME; times are s after the burn unless stated.

The trajectories without the burn (the state at the burn, the no-burn trajectory the fit starts
from) come from a :class:`~starbrain.planners.propagator.Propagator` when one is given (a world
model's corrected orbit), from SGP4 otherwise (``propagator=None``: :func:`starbrain.physics.
sgp4.propagate`, bit for bit what this module computed before it took a propagator). The fitted
element set is always an SGP4 mean-element set: fitted to the propagator's trajectory plus the
burn, it is a fresh element set of the best-known orbit, which the same propagator then carries
on from its new epoch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import torch

from starbrain.core import timeconv
from starbrain.core.schemas.elements import ELEMENTS_SCHEMA
from starbrain.physics import earth
from starbrain.physics.sgp4 import Sgp4Elements, propagate, sgp4_init, sgp4_propagate

if TYPE_CHECKING:
    from starbrain.planners.propagator import Propagator

__all__ = ["Nominal", "j2_propagate", "manoeuvred_elements", "nominal_fit", "state_at"]

FloatArray = npt.NDArray[np.float64]
_TS = pa.timestamp("ns", tz="UTC")
_TWOPI = 2.0 * math.pi
_XPDOTP = 1440.0 / _TWOPI  # rev/day per rad/min


# --------------------------------------------------------------------------------------------
# Point-mass + J2 propagation


def j2_propagate(r0: FloatArray, v0: FloatArray, t_s: FloatArray) -> tuple[FloatArray, FloatArray]:
    """States ``(k, m, 3)`` of ``k`` trajectories from ``(r0, v0)`` ``(k, 3)`` at ``t_s`` (m,)
    seconds (ascending, >= 0), under point-mass + J2 gravity, by the batched DOP853 of
    :func:`starbrain.physics.integrators.dop853_batch` (rtol 1e-12, atol 1e-10)."""
    from starbrain.physics.integrators import STATUS_OK, dop853_batch

    y0 = np.concatenate([np.asarray(r0, np.float64), np.asarray(v0, np.float64)], axis=1)
    t_s = np.asarray(t_s, dtype=np.float64)

    def rhs(_: FloatArray, y: FloatArray, idx: Any) -> FloatArray:
        return np.concatenate([y[:, 3:], earth.j2_acceleration(y[:, :3])], axis=1)

    res = dop853_batch(rhs, y0, t_s, rtol=1e-12, atol=1e-10)
    if np.any(res.status != STATUS_OK):
        raise RuntimeError(f"J2 propagation failed (status {res.status})")  # pragma: no cover
    return res.y[..., :3], res.y[..., 3:]


# --------------------------------------------------------------------------------------------
# Element sets: SGP4 mean elements fitted to a trajectory


def _trajectory(
    row: pa.Table, jd: FloatArray, fr: FloatArray, propagator: Propagator | None
) -> tuple[FloatArray, FloatArray, npt.NDArray[np.int64]]:
    """TEME r (km), v (km/s) ``(1, m, 3)`` of the element set ``row`` at the UTC split Julian
    dates ``(jd, fr)`` ``(m,)``, and an error code per sample ``(1, m)`` (0: valid): SGP4's own
    codes without a propagator, 1 where ``propagator`` gives no finite state."""
    if propagator is None:
        r, v, err = propagate(row, jd, fr, device="cpu")
        return r, v, np.asarray(err, dtype=np.int64)
    from starbrain.planners.propagator import utc_propagate

    r, v = utc_propagate(propagator, row, device="cpu")(jd, fr)
    ok = np.isfinite(r).all(-1) & np.isfinite(v).all(-1)
    return r, v, np.where(ok, 0, 1).astype(np.int64)


def state_at(
    row: pa.Table, t: np.datetime64, propagator: Propagator | None = None
) -> tuple[FloatArray, FloatArray]:
    """Position (km) and velocity (km/s), TEME, of the element set ``row`` at ``t``, by
    ``propagator`` (default SGP4)."""
    jd, fr = timeconv.datetime64_to_jd(np.array([t], "datetime64[ns]"))
    r, v, err = _trajectory(row, jd, fr, propagator)
    if err[0, 0] != 0:
        who = "SGP4" if propagator is None else propagator.name
        raise ValueError(f"{who} cannot propagate {row['norad_id'][0]} to {t} (error {err[0, 0]})")
    return r[0, 0], v[0, 0]


def _params_to_elements(q: FloatArray, bstar: float, jd: float, fr: float) -> Sgp4Elements:
    """(n, ex, ey, i, node, lambda) rows -> SGP4 elements (rad, rad/min) at epoch (jd, fr)."""
    n, ex, ey, inc, node, lam = q.T
    ecc = np.hypot(ex, ey)
    argp = np.arctan2(ey, ex)
    return Sgp4Elements.from_arrays(
        bstar=bstar,
        ecco=ecc,
        argpo=np.mod(argp, _TWOPI),
        inclo=inc,
        mo=np.mod(lam - argp, _TWOPI),
        no_kozai=n,
        nodeo=np.mod(node, _TWOPI),
        jdsatepoch=jd,
        jdsatepochF=fr,
        device="cpu",
    )


def _guess_at(row: pa.Table, t: np.datetime64) -> FloatArray:
    """Old elements carried to ``t`` with SGP4's own secular rates (drag ignored)."""
    el = Sgp4Elements.from_table(row, device="cpu")
    state = sgp4_init(el)
    coeffs = state.near if state.near is not None else state.deep
    assert coeffs is not None
    dt_min = float(timeconv.minutes_since(t, np.asarray(row["epoch"].to_numpy())[0]))
    e, w = float(el.ecco[0]), float(el.argpo[0] + coeffs.argpdot[0] * dt_min)
    node = float(el.nodeo[0] + coeffs.nodedot[0] * dt_min)
    mean = float(el.mo[0] + coeffs.mdot[0] * dt_min)
    return np.array(
        [
            float(el.no_kozai[0]),
            e * math.cos(w),
            e * math.sin(w),
            float(el.inclo[0]),
            node,
            w + mean,
        ]
    )


def _fit(
    q0: FloatArray, bstar: float, jd: float, fr: float, t_min: FloatArray, target: FloatArray
) -> tuple[FloatArray, float]:
    """Levenberg-Marquardt fit of the 6 parameters to target positions (m, 3) at ``t_min``,
    with a finite-difference Jacobian from one SGP4 batch of 13 element sets.

    :func:`starbrain.models.fitting.fit_elements` (``fit_bstar=False``) finds the same
    elements (measured: Pc after the burn equal to 1e-9 relative, miss to 1e-7 m), but its
    autograd Jacobian costs about 10 s per fit of one object against some 0.3 s here, and a
    plan fits once per attempted burn; so this small fitter stays."""
    steps = np.array([1e-9, 1e-7, 1e-7, 1e-7, 1e-7, 1e-7])
    tt = torch.as_tensor(t_min[None, :], dtype=torch.float64)

    def positions(qs: FloatArray) -> FloatArray:
        with torch.no_grad():
            r, _, err = sgp4_propagate(sgp4_init(_params_to_elements(qs, bstar, jd, fr)), tt)
        out = r.numpy()
        out[(err.numpy() != 0)] = np.nan
        return out

    q = q0.copy()
    lam = 1e-3
    res = (positions(q[None])[0] - target).reshape(-1)
    cost = float(res @ res)
    for _ in range(40):
        qs = np.concatenate([q[None], q + np.diag(steps), q - np.diag(steps)])
        pos = positions(qs)
        jac = ((pos[1:7] - pos[7:]) / (2.0 * steps[:, None, None])).reshape(6, -1).T
        res = (pos[0] - target).reshape(-1)
        if not np.all(np.isfinite(jac)) or not np.all(np.isfinite(res)):
            raise ValueError("SGP4 failed while fitting the manoeuvred element set")
        jtj = jac.T @ jac
        g = jac.T @ res
        improved = False
        for _ in range(10):
            dq = np.linalg.solve(jtj + lam * np.diag(np.diag(jtj)), -g)
            r_new = (positions((q + dq)[None])[0] - target).reshape(-1)
            c_new = float(r_new @ r_new)
            if np.isfinite(c_new) and c_new < cost:
                q, cost, lam = q + dq, c_new, max(lam / 10.0, 1e-9)
                improved = True
                break
            lam *= 10.0
        if not improved or np.all(np.abs(dq) < 1e-3 * steps):
            break
    return q, math.sqrt(cost / len(t_min))


@dataclass(slots=True)
class Nominal:
    """The manoeuvring object without the burn over the fit window, computed once per plan:
    SGP4 positions ``r_old`` (m, 3) at ``t_s`` (m,) seconds after the burn time, the state at
    the burn, and SGP4 parameters ``q`` fitted to ``r_old`` at epoch ``(jd, fr)``."""

    t_b: np.datetime64
    t_s: FloatArray
    r_old: FloatArray
    r_b: FloatArray
    v_b: FloatArray
    q: FloatArray
    bstar: float
    jd: float
    fr: float


def nominal_fit(
    row: pa.Table,
    t_b: np.datetime64,
    fit_span_s: float,
    step_s: float,
    propagator: Propagator | None = None,
) -> Nominal:
    """The no-burn trajectory of ``row`` by ``propagator`` (default SGP4) from ``t_b`` over
    ``fit_span_s`` seconds, sampled every ``step_s``, and the SGP4 elements fitted to it
    (:class:`Nominal`)."""
    t_s = np.arange(0.0, fit_span_s + step_s / 2, step_s)
    jd_b, fr_b = timeconv.datetime64_to_jd(np.array([t_b]))
    jd_s, fr_s = timeconv.datetime64_to_jd(t_b + (t_s * 1e9).astype("timedelta64[ns]"))
    r_old, _, err = _trajectory(row, jd_s, fr_s, propagator)
    if np.any(err != 0):
        who = "SGP4" if propagator is None else propagator.name
        raise ValueError(f"{who} fails over the fit window of the manoeuvred element set")
    bstar = float(np.asarray(row["bstar_per_earth_radius"].to_numpy())[0])
    jd, fr = float(jd_b[0]), float(fr_b[0])
    q_nom, _ = _fit(_guess_at(row, t_b), bstar, jd, fr, t_s / 60.0, r_old[0])
    v_b = state_at(row, t_b, propagator)[1]
    return Nominal(t_b, t_s, r_old[0], r_old[0, 0], v_b, q_nom, bstar, jd, fr)


def manoeuvred_elements(
    row: pa.Table,
    burn_time: Any,
    dv_kmps: npt.ArrayLike,
    fit_span_s: float,
    *,
    step_s: float = 60.0,
    nominal: Nominal | None = None,
    propagator: Propagator | None = None,
) -> tuple[pa.Table, float]:
    """An element set (one ``ELEMENTS_SCHEMA`` row, epoch ``burn_time``) for the object of
    ``row`` after an impulsive ``dv_kmps`` (inertial TEME, km/s) at ``burn_time``.

    The trajectory fitted over ``[burn_time, burn_time + fit_span_s]`` is the old SGP4
    trajectory plus the point-mass + J2 difference the burn makes (see the module docstring).
    ``nominal``: the no-burn trajectory and fit of the same row, burn time, span and step when
    already computed (a planner trying several burns computes it once); ``propagator``: how the
    object moves without the burn when ``nominal`` is not given (default SGP4; see the module
    docstring). Returns the row and the fit's position RMS in km.
    """
    t_b = np.datetime64(timeconv.to_datetime64(burn_time), "ns")
    dv = np.asarray(dv_kmps, dtype=np.float64).reshape(3)
    nom = nominal if nominal is not None else nominal_fit(row, t_b, fit_span_s, step_s, propagator)
    r_b, v_b = nom.r_b, nom.v_b
    r_j2, _ = j2_propagate(np.stack([r_b, r_b]), np.stack([v_b, v_b + dv]), nom.t_s)
    target = nom.r_old + (r_j2[1] - r_j2[0])
    q, rms = _fit(nom.q, nom.bstar, nom.jd, nom.fr, nom.t_s / 60.0, target)
    n, ex, ey, inc, node, lam = q
    argp = math.atan2(ey, ex)
    out = {name: row[name] for name in ELEMENTS_SCHEMA.names}
    out.update(
        epoch=pa.array([t_b], pa.timestamp("ns")).cast(_TS),
        mean_motion_rev_per_day=[n * _XPDOTP],
        eccentricity=[math.hypot(ex, ey)],
        inclination_deg=[math.degrees(inc)],
        ra_of_asc_node_deg=[math.degrees(node) % 360.0],
        arg_of_pericenter_deg=[math.degrees(argp) % 360.0],
        mean_anomaly_deg=[math.degrees(lam - argp) % 360.0],
        mean_motion_dot_rev_per_day2=[0.0],
        mean_motion_ddot_rev_per_day3=[0.0],
        tle_line1=pa.nulls(1, pa.string()),
        tle_line2=pa.nulls(1, pa.string()),
        source=[f"manoeuvre:{dv[0] * 1e3:.5f},{dv[1] * 1e3:.5f},{dv[2] * 1e3:.5f}m/s"],
    )
    return pa.table(out, schema=ELEMENTS_SCHEMA), rms
