"""Collision-avoidance manoeuvres: the smallest impulsive burn that brings a conjunction's Pc
under a threshold, turned into a new element set and checked against the whole population.

Method:

1. **Sensitivity.** The manoeuvring object's SGP4 state at the burn time ``t_b = TCA - lead`` is
   propagated with a point-mass + J2 model (``earth.j2_acceleration``, the batched DOP853 of
   ``physics.integrators.dop853_batch``) seven times:
   unperturbed and with +-1 cm/s along R, T and N. Central differences give the 3x3 matrix
   ``dr(TCA) / dv(t_b)`` in the burn's RTN axes.
2. **Burn.** In the encounter plane of the original geometry (perpendicular to the relative
   velocity, which a burn of cm/s hardly turns), the miss vector becomes ``m - P S dv``; the
   2-D Foster Pc of that miss with the conjunction's own covariance is scanned over along-track
   burns of both signs (log-spaced up to ``max_dv_mps``) and the smallest ``|dv|`` reaching
   ``Pc <= margin * pc_max`` (and ``miss >= min_miss_km`` if asked) is refined by bisection.
   With ``three_d=True`` (or when no along-track burn suffices) the same search runs over 2,000
   directions spread on the sphere. The default lead is 1.5 revolutions: an along-track burn
   moves the object radially by ``(2 dv / n)(1 - cos n t)``, largest after half-integer
   revolutions, which is what changes the miss of the (usual) crossing encounters.
3. **New element set.** The manoeuvred trajectory is the old SGP4 trajectory plus the
   difference between the J2 propagations with and without the burn (the model's errors cancel
   to first order). SGP4 mean elements at epoch ``t_b`` (mean motion, ``e cos w``, ``e sin w``,
   inclination, node, mean longitude; B* kept) are fitted to it by Levenberg-Marquardt over
   ``[t_b, TCA + 1 revolution]``, sampled every minute, with a finite-difference Jacobian
   evaluated in one SGP4 batch. The fit RMS is reported.
4. **Verification.** The new element set is added to the population and screened (as a primary)
   from ``t_b`` to the end of the original screening window; the old element set's screening
   over the same window is the baseline. Conjunctions after the burn are matched with the
   baseline's (same object, TCA within 2 min): the targeted one must end under ``pc_max``, no
   new one may exceed
   ``pc_max`` and no existing one may be pushed from under ``pc_max`` to over it. Covariances
   keep the age of the original element set (a burn adds no knowledge). A burn that misses the
   target is scaled by 1.3; one that fails the rest is followed by the other sign, then larger
   along-track burns (x1.5, x2, x3) and the best 3-D burn, up to ``max_attempts``. What does not
   depend on the burn (the no-burn trajectory and its element fit, the baseline screening) is
   computed once per plan.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import torch

from starbrain.core import timeconv
from starbrain.physics import earth
from starbrain.physics.sgp4 import Sgp4Elements, propagate, sgp4_init, sgp4_propagate
from starbrain.planners.collision_probability import (
    DEFAULT_COVARIANCE,
    pc_foster,
    rtn_basis,
    rtn_to_inertial,
)
from starbrain.planners.conjunctions import _call_model, screen_conjunctions
from starbrain.sources.records import ELEMENTS_SCHEMA
from starbrain.store.decision_schemas import CONJUNCTIONS_SCHEMA, MANOEUVRES_KEY, MANOEUVRES_SCHEMA

__all__ = [
    "MANOEUVRES_KEY",
    "MANOEUVRES_SCHEMA",
    "AvoidancePlan",
    "avoid",
    "manoeuvred_elements",
    "plan_avoidance",
]

FloatArray = npt.NDArray[np.float64]
_TS = pa.timestamp("ns", tz="UTC")
_TWOPI = 2.0 * math.pi
_XPDOTP = 1440.0 / _TWOPI  # rev/day per rad/min
_SENS_DV_KMPS = 1e-5  # 1 cm/s for the central differences
_TEMP_NORAD = -1  # catalogue number of the manoeuvred element set while it is verified


@dataclass(slots=True)
class AvoidancePlan:
    """An impulsive avoidance burn and what it achieves.

    ``dv_rtn_mps`` is in the manoeuvring object's RTN frame at the burn; ``pc_predicted`` and
    ``miss_predicted_km`` come from the linear model, ``pc_after`` and ``miss_after_km`` from
    re-propagating ``elements`` (the fitted element set, ``ELEMENTS_SCHEMA``, epoch at the burn)
    against the other object. ``after`` holds the conjunctions of the manoeuvred object from the
    burn to the end of the window (``CONJUNCTIONS_SCHEMA``), ``n_new_conjunctions`` those absent
    before the burn (``max_pc_new`` their highest Pc) and ``n_worsened`` the existing ones whose
    Pc the burn raised above both ``pc_max`` and its value before. ``verified``: the target ends
    under ``pc_max``, no new conjunction exceeds it and none is worsened. Conjunctions that were
    already above ``pc_max`` without the burn are other decisions (``max_pc_after_burn`` shows
    them).
    """

    norad_id: int
    target_norad_id: int
    tca: np.datetime64
    burn_time: np.datetime64
    lead_time_s: float
    direction: str  # "along-track" or "3-d"
    dv_rtn_mps: FloatArray
    pc_before: float
    miss_before_km: float
    pc_predicted: float
    miss_predicted_km: float
    elements: pa.Table
    fit_rms_km: float
    pc_after: float = float("nan")
    miss_after_km: float = float("nan")
    tca_after: np.datetime64 | None = None
    after: pa.Table | None = None
    n_new_conjunctions: int = 0
    max_pc_new: float = float("nan")
    n_worsened: int = 0
    max_pc_after_burn: float = float("nan")
    verified: bool = False
    attempts: list[str] = field(default_factory=list)
    planned_at: np.datetime64 = field(default_factory=timeconv.utc_now)

    @property
    def dv_mps(self) -> float:
        return float(np.linalg.norm(self.dv_rtn_mps))

    def to_arrow(self) -> pa.Table:
        """The plan as one row of ``MANOEUVRES_SCHEMA``."""

        def ts(t: Any) -> pa.Array:
            return pa.array([np.datetime64(t, "ns")], pa.timestamp("ns")).cast(_TS)

        return pa.table(
            {
                "norad_id": pa.array([self.norad_id], pa.int32()),
                "burn_time": ts(self.burn_time),
                "dv_r_mps": [float(self.dv_rtn_mps[0])],
                "dv_t_mps": [float(self.dv_rtn_mps[1])],
                "dv_n_mps": [float(self.dv_rtn_mps[2])],
                "dv_mps": [self.dv_mps],
                "lead_time_s": [self.lead_time_s],
                "target_norad_id": pa.array([self.target_norad_id], pa.int32()),
                "target_tca": ts(self.tca),
                "pc_before": [self.pc_before],
                "pc_predicted": [self.pc_predicted],
                "pc_after": [self.pc_after],
                "miss_before_km": [self.miss_before_km],
                "miss_after_km": [self.miss_after_km],
                "fit_rms_km": [self.fit_rms_km],
                "n_new_conjunctions": pa.array([self.n_new_conjunctions], pa.int32()),
                "max_pc_new": [self.max_pc_new],
                "n_worsened": pa.array([self.n_worsened], pa.int32()),
                "max_pc_after_burn": [self.max_pc_after_burn],
                "verified": [self.verified],
                "planned_at": ts(self.planned_at),
            },
            schema=MANOEUVRES_SCHEMA,
        )

    def summary(self) -> str:
        dv = ", ".join(f"{x * 1e3:.2f}" for x in self.dv_rtn_mps)
        ok = "verified" if self.verified else "NOT verified"
        return (
            f"{self.norad_id}: burn {self.dv_mps * 1e3:.2f} mm/s (RTN {dv} mm/s, "
            f"{self.direction}) at {str(self.burn_time)[:23]} ({self.lead_time_s / 60:.1f} min "
            f"before TCA); Pc {self.pc_before:.2e} -> {self.pc_after:.2e} (predicted "
            f"{self.pc_predicted:.2e}), miss {self.miss_before_km * 1e3:.0f} -> "
            f"{self.miss_after_km * 1e3:.0f} m; {self.n_new_conjunctions} new conjunctions "
            f"(max Pc {self.max_pc_new:.2e}), {self.n_worsened} worsened; fit RMS "
            f"{self.fit_rms_km * 1e3:.1f} m; {ok}"
        )


# --------------------------------------------------------------------------------------------
# Point-mass + J2 propagation


def _j2_propagate(r0: FloatArray, v0: FloatArray, t_s: FloatArray) -> tuple[FloatArray, FloatArray]:
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


def _state_at(row: pa.Table, t: np.datetime64) -> tuple[FloatArray, FloatArray]:
    jd, fr = timeconv.datetime64_to_jd(np.array([t], "datetime64[ns]"))
    r, v, err = propagate(row, jd, fr, device="cpu")
    if err[0, 0] != 0:
        raise ValueError(f"SGP4 cannot propagate {row['norad_id'][0]} to {t} (error {err[0, 0]})")
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
class _Nominal:
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


def _nominal(row: pa.Table, t_b: np.datetime64, fit_span_s: float, step_s: float) -> _Nominal:
    t_s = np.arange(0.0, fit_span_s + step_s / 2, step_s)
    jd_b, fr_b = timeconv.datetime64_to_jd(np.array([t_b]))
    jd_s, fr_s = timeconv.datetime64_to_jd(t_b + (t_s * 1e9).astype("timedelta64[ns]"))
    r_old, _, err = propagate(row, jd_s, fr_s, device="cpu")
    if np.any(err != 0):
        raise ValueError("SGP4 fails over the fit window of the manoeuvred element set")
    bstar = float(np.asarray(row["bstar_per_earth_radius"].to_numpy())[0])
    jd, fr = float(jd_b[0]), float(fr_b[0])
    q_nom, _ = _fit(_guess_at(row, t_b), bstar, jd, fr, t_s / 60.0, r_old[0])
    v_b = _state_at(row, t_b)[1]
    return _Nominal(t_b, t_s, r_old[0], r_old[0, 0], v_b, q_nom, bstar, jd, fr)


def manoeuvred_elements(
    row: pa.Table,
    burn_time: Any,
    dv_kmps: npt.ArrayLike,
    fit_span_s: float,
    *,
    step_s: float = 60.0,
    nominal: _Nominal | None = None,
) -> tuple[pa.Table, float]:
    """An element set (one ``ELEMENTS_SCHEMA`` row, epoch ``burn_time``) for the object of
    ``row`` after an impulsive ``dv_kmps`` (inertial TEME, km/s) at ``burn_time``.

    The trajectory fitted over ``[burn_time, burn_time + fit_span_s]`` is the old SGP4
    trajectory plus the point-mass + J2 difference the burn makes (see the module docstring).
    ``nominal``: the no-burn trajectory and fit of the same row, burn time, span and step when
    already computed (a planner trying several burns computes it once). Returns the row and the
    fit's position RMS in km.
    """
    t_b = np.datetime64(timeconv.to_datetime64(burn_time), "ns")
    dv = np.asarray(dv_kmps, dtype=np.float64).reshape(3)
    nom = nominal if nominal is not None else _nominal(row, t_b, fit_span_s, step_s)
    r_b, v_b = nom.r_b, nom.v_b
    r_j2, _ = _j2_propagate(np.stack([r_b, r_b]), np.stack([v_b, v_b + dv]), nom.t_s)
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


# --------------------------------------------------------------------------------------------
# The burn


@dataclass(slots=True)
class _Geometry:
    """A conjunction from the manoeuvring object's side."""

    dr: FloatArray  # other - manoeuvring, inertial, km
    dv: FloatArray
    plane: FloatArray  # (2, 3) encounter-plane axes
    cov2: FloatArray  # (2, 2) combined covariance in the plane
    hbr: float


def _geometry(c: dict[str, Any], k: int) -> _Geometry:
    r = {j: np.array([c[f"{a}{j}_km"] for a in "xyz"]) for j in (1, 2)}
    v = {j: np.array([c[f"v{a}{j}_kmps"] for a in "xyz"]) for j in (1, 2)}
    cov = {}
    for j in (1, 2):
        m = np.zeros((3, 3))
        for (a, b), name in zip(
            ((0, 0), (1, 0), (1, 1), (2, 0), (2, 1), (2, 2)),
            ("rr", "tr", "tt", "nr", "nt", "nn"),
            strict=True,
        ):
            m[a, b] = m[b, a] = c[f"cov{j}_{name}_km2"]
        cov[j] = rtn_to_inertial(m, r[j], v[j])
    o = 3 - k
    dr, dv = r[o] - r[k], v[o] - v[k]
    z = dv / np.linalg.norm(dv)
    x = dr - (dr @ z) * z
    if np.linalg.norm(x) < 1e-12:
        x = np.cross(z, [1.0, 0.0, 0.0] if abs(z[0]) < 0.9 else [0.0, 1.0, 0.0])
    x /= np.linalg.norm(x)
    plane = np.stack([x, np.cross(z, x)])
    return _Geometry(dr, dv, plane, plane @ (cov[1] + cov[2]) @ plane.T, c["hard_body_radius_km"])


def _pc_of(geo: _Geometry, sens: FloatArray, dv_rtn: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Linear-model Pc and miss (km) for burns ``dv_rtn`` (..., 3) km/s."""
    shift = np.einsum("ij,...j->...i", sens, dv_rtn)
    miss = np.einsum("ij,...j->...i", geo.plane, geo.dr - shift)
    p = pc_foster(miss, np.broadcast_to(geo.cov2, (*miss.shape[:-1], 2, 2)), geo.hbr)
    return p, np.linalg.norm(miss, axis=-1)


def _smallest_along(
    ok: Any, directions: FloatArray, max_dv: float
) -> tuple[FloatArray, FloatArray]:
    """For unit directions (d, 3), the smallest magnitude in (0, max_dv] with ok(dv) true
    (inf where none): a log-spaced scan, then bisection on the first bracket."""
    mags = np.geomspace(max_dv * 1e-5, max_dv, 160)
    dv = directions[:, None, :] * mags[None, :, None]
    good = ok(dv)  # (d, n_mag)
    first = np.where(good.any(axis=1), good.argmax(axis=1), -1)
    hi = np.where(first >= 0, mags[np.maximum(first, 0)], np.inf)
    lo = np.where(first > 0, mags[np.maximum(first - 1, 0)], 0.0)
    has = np.isfinite(hi)
    for _ in range(40):
        mid = 0.5 * (lo + hi)
        test = np.where(has, mid, 0.0)
        g = ok(directions[:, None, :] * test[:, None, None])[:, 0]
        hi = np.where(has & g, mid, hi)
        lo = np.where(has & ~g, mid, lo)
    return hi, has


def _fibonacci_sphere(n: int) -> FloatArray:
    k = np.arange(n) + 0.5
    z = 1.0 - 2.0 * k / n
    phi = math.pi * (1.0 + 5**0.5) * k
    s = np.sqrt(1.0 - z * z)
    return np.stack([s * np.cos(phi), s * np.sin(phi), z], axis=1)


def _burn_candidates(
    geo: _Geometry,
    sens: FloatArray,
    pc_goal: float,
    min_miss_km: float | None,
    max_dv: float,
    three_d: bool,
) -> list[tuple[str, FloatArray]]:
    """Burns (RTN, km/s) meeting the goal by the linear model, best first."""

    def ok(dv: FloatArray) -> Any:
        p, miss = _pc_of(geo, sens, dv)
        good = p <= pc_goal
        if min_miss_km is not None:
            good &= miss >= min_miss_km
        return good

    out: list[tuple[str, FloatArray]] = []
    along = np.array([[0.0, 1.0, 0.0], [0.0, -1.0, 0.0]])
    mag, has = _smallest_along(ok, along, max_dv)
    for idx in np.argsort(mag):
        if has[idx]:
            out.append(("along-track", along[idx] * mag[idx]))
    if three_d or not out:
        dirs = _fibonacci_sphere(2000)
        mag, has = _smallest_along(ok, dirs, max_dv)
        if has.any():
            best = int(np.argmin(mag))
            out.append(("3-d", dirs[best] * mag[best]))
            out.sort(key=lambda c: float(np.linalg.norm(c[1])))  # smallest burn first
    return out


def _conjunction_row(conjunctions: pa.Table, index: int) -> dict[str, Any]:
    one = conjunctions.slice(index, 1)
    stamps = [f.name for f in one.schema if pa.types.is_timestamp(f.type)]
    row = {k: v[0] for k, v in one.drop_columns(stamps).to_pydict().items()}
    for name in stamps:
        value = np.asarray(one.column(name).to_numpy(zero_copy_only=False))[0]
        row[name] = None if np.isnat(value) else np.datetime64(value, "ns")
    return row


def plan_avoidance(
    elements: pa.Table,
    conjunctions: pa.Table,
    index: int = 0,
    *,
    manoeuvring: int = 1,
    pc_max: float = 1e-4,
    min_miss_km: float | None = None,
    lead_time_s: float | None = None,
    lead_orbits: float = 1.5,
    max_dv_mps: float = 1.0,
    three_d: bool = False,
    margin: float = 0.5,
    verify: bool = True,
    verify_until: Any = None,
    covariance: Any = None,
    max_attempts: int = 8,
) -> AvoidancePlan:
    """Plan the smallest impulsive burn for conjunction ``index`` of ``conjunctions``.

    Args:
        elements: the screened population (``ELEMENTS_SCHEMA``), containing both objects.
        conjunctions: a ``CONJUNCTIONS_SCHEMA`` table (from :func:`screen_conjunctions`).
        manoeuvring: which object burns, 1 or 2.
        pc_max: the Pc to get under; ``min_miss_km`` optionally also a miss distance to exceed.
        lead_time_s: burn this long before TCA; default ``lead_orbits`` revolutions.
        max_dv_mps: largest burn considered.
        three_d: search all directions, not only along-track first.
        margin: aim the linear model at ``margin * pc_max`` to absorb linearisation and fit
            errors.
        verify: screen the manoeuvred object against the population (see the module docstring)
            until ``verify_until`` (default: the end of the original screening window).
        covariance: as in :func:`screen_conjunctions` (default model when None).
        max_attempts: burns fitted and verified at most.
    """
    if manoeuvring not in (1, 2):
        raise ValueError(f"manoeuvring must be 1 or 2, not {manoeuvring!r}")
    c = _conjunction_row(conjunctions, index)
    k, o = manoeuvring, 3 - manoeuvring
    ids = np.asarray(elements["norad_id"].to_numpy(), dtype=np.int64)
    own_rows = np.nonzero(ids == c[f"norad_id_{k}"])[0]
    other_rows = np.nonzero(ids == c[f"norad_id_{o}"])[0]
    if not len(own_rows) or not len(other_rows):
        raise ValueError("both objects of the conjunction must be in the element sets")
    own = elements.slice(int(own_rows[-1]), 1)
    tca = c["tca"]
    period_s = 86400.0 / float(own["mean_motion_rev_per_day"][0].as_py())
    lead = lead_time_s if lead_time_s is not None else lead_orbits * period_s
    not_before = c.get("screen_start")
    if not_before is not None and lead_time_s is None:
        while tca - np.timedelta64(round(lead * 1e9), "ns") < not_before and lead > period_s:
            lead -= period_s  # the burn must lie inside the screened window
    t_b = tca - np.timedelta64(round(lead * 1e9), "ns")
    if not_before is not None and t_b < not_before:
        raise ValueError(
            f"a burn {lead:.0f} s before TCA ({t_b}) is before the screening start ({not_before})"
        )

    # sensitivity of the position at TCA to a burn at t_b, in the burn's RTN axes
    r_b, v_b = _state_at(own, t_b)
    rtn = rtn_basis(r_b, v_b)  # rows R, T, N
    dvs = np.concatenate([np.zeros((1, 3)), _SENS_DV_KMPS * rtn, -_SENS_DV_KMPS * rtn])
    r_j2, _ = _j2_propagate(np.repeat(r_b[None], 7, 0), v_b + dvs, np.array([lead]))
    sens = ((r_j2[1:4, 0] - r_j2[4:7, 0]) / (2.0 * _SENS_DV_KMPS)).T  # (3, 3): d r / d dv_rtn

    geo = _geometry(c, k)
    pc_before = float(c["collision_probability"])
    miss_before = float(c["miss_distance_km"])
    cands = _burn_candidates(geo, sens, margin * pc_max, min_miss_km, max_dv_mps / 1e3, three_d)
    if not cands:
        raise ValueError(
            f"no burn up to {max_dv_mps} m/s brings Pc under {margin * pc_max:.1e} "
            f"{lead:.0f} s before TCA; allow a larger burn or another lead time"
        )
    fit_span = lead + period_s
    stop = verify_until if verify_until is not None else c.get("screen_stop")
    if stop is None:
        stop = tca + np.timedelta64(86400, "s")
    stop = np.datetime64(timeconv.to_datetime64(stop), "ns")

    plan: AvoidancePlan | None = None
    nominal: _Nominal | None = None  # the no-burn fit and screening: once for all attempts
    baseline: pa.Table | None = None
    attempts: list[str] = []
    queue: list[tuple[str, FloatArray | None, int]] = [(name, dv, 0) for name, dv in cands]
    along = [(name, dv) for name, dv in cands if name == "along-track"]
    queue += [(name, dv * f, 3) for f in (1.5, 2.0, 3.0) for name, dv in along]
    limit = max_dv_mps / 1e3 * (1 + 1e-9)
    queue = [q for q in queue if q[1] is not None and np.linalg.norm(q[1]) <= limit]
    if not three_d:
        queue.append(("3-d", None, 3))  # searched only if reached
    while queue and len(attempts) < max_attempts:
        name, dv_next, scaled = queue.pop(0)
        if dv_next is None:
            found = _burn_candidates(
                geo, sens, margin * pc_max, min_miss_km, max_dv_mps / 1e3, True
            )
            queue[:0] = [(n_, dv, 3) for n_, dv in found if n_ == "3-d"]
            continue
        dv_rtn = dv_next
        p_pred, m_pred = _pc_of(geo, sens, dv_rtn)
        if nominal is None:
            nominal = _nominal(own, t_b, fit_span, 60.0)
        row, rms = manoeuvred_elements(own, t_b, rtn.T @ dv_rtn, fit_span, nominal=nominal)
        plan = AvoidancePlan(
            norad_id=int(c[f"norad_id_{k}"]),
            target_norad_id=int(c[f"norad_id_{o}"]),
            tca=tca,
            burn_time=t_b,
            lead_time_s=lead,
            direction=name,
            dv_rtn_mps=dv_rtn * 1e3,
            pc_before=pc_before,
            miss_before_km=miss_before,
            pc_predicted=float(p_pred),
            miss_predicted_km=float(m_pred),
            elements=row,
            fit_rms_km=rms,
            attempts=attempts,
        )
        if not verify:
            plan.verified = bool(p_pred <= pc_max)
            attempts.append(f"{name} {plan.dv_mps * 1e3:.2f} mm/s: not verified (verify=False)")
            return plan
        if baseline is None:
            baseline = _baseline(elements, c, k, t_b, stop, covariance)
        _verify(plan, elements, own, c, k, t_b, stop, pc_max, min_miss_km, covariance, baseline)
        attempts.append(
            f"{name} {plan.dv_mps * 1e3:.2f} mm/s: target Pc {plan.pc_after:.2e}, "
            f"{plan.n_new_conjunctions} new (max Pc {plan.max_pc_new:.2e}), "
            f"{plan.n_worsened} worsened"
        )
        if plan.verified:
            return plan
        if plan.pc_after > pc_max and scaled < 3:
            queue.insert(0, (name, dv_rtn * 1.3, scaled + 1))
    assert plan is not None
    return plan


def _covariance_with_age(covariance: Any, extra_days: FloatArray) -> Any:
    """A covariance callable adding ``extra_days[row]`` to each row's element-set age."""
    base = DEFAULT_COVARIANCE if covariance is None else covariance

    def model(age_days: FloatArray, rows: Any) -> FloatArray:
        age = np.asarray(age_days) + extra_days[np.asarray(rows)]
        if callable(base):
            return _call_model(base, age, np.asarray(rows))
        cov = np.asarray(base, dtype=np.float64)
        return np.broadcast_to(cov, (len(age), 3, 3)).copy() if cov.ndim == 2 else cov[rows]

    model.name = getattr(base, "name", "given")  # type: ignore[attr-defined]
    return model


def _baseline(
    elements: pa.Table,
    c: dict[str, Any],
    k: int,
    t_b: np.datetime64,
    stop: np.datetime64,
    covariance: Any,
) -> pa.Table:
    """The manoeuvring object's conjunctions without the burn, from ``t_b`` to ``stop``."""
    return screen_conjunctions(
        elements,
        t_b,
        stop,
        threshold_km=float(c["screening_threshold_km"]),
        primaries=[int(c[f"norad_id_{k}"])],
        object_radius_km=0.5 * c["hard_body_radius_km"],
        covariance=_covariance_with_age(covariance, np.zeros(elements.num_rows)),
    ).to_arrow()


def _verify(
    plan: AvoidancePlan,
    elements: pa.Table,
    own: pa.Table,
    c: dict[str, Any],
    k: int,
    t_b: np.datetime64,
    stop: np.datetime64,
    pc_max: float,
    min_miss_km: float | None,
    covariance: Any,
    before: pa.Table,
) -> None:
    """Screen the manoeuvred element set after the burn and compare with ``before``
    (:func:`_baseline`: the old element set's conjunctions over the same window)."""
    new = plan.elements.set_column(
        0, ELEMENTS_SCHEMA.field("norad_id"), pa.array([_TEMP_NORAD], pa.int32())
    )
    population = pa.concat_tables([elements, new])
    n = population.num_rows
    old_epoch = np.asarray(own["epoch"].to_numpy()).astype("datetime64[ns]")[0]
    extra = np.zeros(n)
    extra[n - 1] = (t_b - old_epoch).astype(np.int64) / 86400e9
    cov = _covariance_with_age(covariance, extra)
    radius = 0.5 * c["hard_body_radius_km"]
    thr = float(c["screening_threshold_km"])
    # the targeted pair alone, with a threshold wide enough to always see its closest approach
    o_rows = np.nonzero(np.asarray(elements["norad_id"].to_numpy()) == c[f"norad_id_{3 - k}"])[0]
    pair = pa.concat_tables([elements.slice(int(o_rows[-1]), 1), new])
    pair_extra = np.array([0.0, extra[n - 1]])
    half = np.timedelta64(3600, "s")
    target = screen_conjunctions(
        pair,
        max(t_b, plan.tca - half),
        plan.tca + half,
        threshold_km=max(50.0, 10.0 * thr),
        step_s=30.0,
        object_radius_km=radius,
        covariance=_covariance_with_age(covariance, pair_extra),
        workers=1,
    )
    if len(target):
        best = int(np.argmin(np.abs((target.tca - plan.tca).astype(np.int64))))
        plan.pc_after = float(target.pc[best])
        plan.miss_after_km = float(target.miss_km[best])
        plan.tca_after = target.tca[best]
    else:
        plan.pc_after, plan.miss_after_km = 0.0, float("inf")
    # everything after the burn: the new element set against the population (the old one,
    # still in it, excluded)
    result = screen_conjunctions(
        population,
        t_b,
        stop,
        threshold_km=thr,
        primaries=[_TEMP_NORAD],
        object_radius_km=radius,
        covariance=cov,
    ).to_arrow()
    own_id = int(c[f"norad_id_{k}"])
    ids1, ids2 = result["norad_id_1"], result["norad_id_2"]
    after = result.filter(pc.invert(pc.or_(pc.equal(ids1, own_id), pc.equal(ids2, own_id))))

    # the other object of each row, and its TCA
    def others(t: pa.Table, me: int) -> tuple[np.ndarray, np.ndarray]:
        a = np.asarray(t["norad_id_1"].to_numpy())
        b = np.asarray(t["norad_id_2"].to_numpy())
        return np.where(a == me, b, a), np.asarray(t["tca"].to_numpy()).astype(np.int64)

    o_after, t_after = others(after, _TEMP_NORAD)
    o_before, t_before = others(before, own_id)
    pc_after = np.asarray(after["collision_probability"].to_numpy())
    pc_before = np.asarray(before["collision_probability"].to_numpy())
    target_other = int(c[f"norad_id_{3 - k}"])
    target_ns = plan.tca.astype(np.int64)
    new_pc: list[float] = []
    worsened = 0
    for oid, tt, p_a in zip(o_after, t_after, pc_after, strict=True):
        if oid == target_other and abs(tt - target_ns) < 120e9:
            continue  # the targeted conjunction: checked above
        near = np.nonzero((o_before == oid) & (np.abs(t_before - tt) < 120e9))[0]
        if not len(near):
            new_pc.append(float(p_a))
        elif p_a > pc_max >= float(pc_before[near].max()):
            worsened += 1  # pushed over the threshold by the burn
    # report the manoeuvred object under its own catalogue number
    for col in ("norad_id_1", "norad_id_2"):
        fixed = pc.if_else(pc.equal(after[col], _TEMP_NORAD), own_id, after[col])
        after = after.set_column(after.schema.get_field_index(col), col, fixed.cast(pa.int32()))
    after = pa.Table.from_arrays(after.columns, schema=CONJUNCTIONS_SCHEMA)
    plan.after = after
    plan.n_new_conjunctions = len(new_pc)
    plan.max_pc_new = max(new_pc, default=0.0)
    plan.n_worsened = worsened
    plan.max_pc_after_burn = float(pc_after.max()) if len(pc_after) else 0.0
    ok_target = plan.pc_after <= pc_max and (
        min_miss_km is None or plan.miss_after_km >= min_miss_km
    )
    plan.verified = bool(ok_target and plan.max_pc_new <= pc_max and worsened == 0)


def avoid(
    conjunctions: pa.Table,
    elements: pa.Table,
    *,
    norad_id: int | None = None,
    other: int | None = None,
    tca: Any = None,
    pc_max: float = 1e-4,
    min_miss_m: float | None = None,
    lead_orbits: float = 1.5,
    max_dv_mps: float = 1.0,
    three_d: bool = False,
    verify: bool = True,
) -> AvoidancePlan:
    """Plan an avoidance burn for ``norad_id`` (the object that burns) against the riskiest of
    its conjunctions in ``conjunctions`` (or the one with ``other`` nearest ``tca``)."""
    t = conjunctions
    ids1 = np.asarray(t["norad_id_1"].to_numpy())
    ids2 = np.asarray(t["norad_id_2"].to_numpy())
    rows = np.arange(t.num_rows)
    if norad_id is not None:
        rows = rows[(ids1[rows] == norad_id) | (ids2[rows] == norad_id)]
    if other is not None:
        rows = rows[(ids1[rows] == other) | (ids2[rows] == other)]
    if not len(rows):
        raise ValueError("no conjunction matches the objects asked for")
    if tca is not None:
        when = np.datetime64(timeconv.to_datetime64(tca), "ns").astype(np.int64)
        times = np.asarray(t["tca"].to_numpy()).astype("datetime64[ns]").astype(np.int64)
        index = int(rows[np.argmin(np.abs(times[rows] - when))])
    else:
        pcs = np.asarray(t["collision_probability"].to_numpy())
        index = int(rows[np.argmax(pcs[rows])])
    who = 1 if norad_id is None or ids1[index] == norad_id else 2
    return plan_avoidance(
        elements,
        conjunctions,
        index,
        manoeuvring=who,
        pc_max=pc_max,
        min_miss_km=None if min_miss_m is None else min_miss_m / 1e3,
        lead_orbits=lead_orbits,
        max_dv_mps=max_dv_mps,
        three_d=three_d,
        verify=verify,
    )
