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

**Propagator.** ``propagator`` (:class:`~starbrain.planners.propagator.Propagator`, default
SGP4, as for the other planners) decides how the objects move: the manoeuvring object's state at
the burn and its no-burn trajectory (steps 1 and 3), and every screening of step 4. The element
set fitted in step 3 is an SGP4 mean-element set in every case (the world models correct element
sets; see :mod:`starbrain.planners.avoidance_elements`). ``propagator=None`` computes exactly
what the planner computed before it took a propagator.

Steps 1 and 3 (J2 propagation, element fit) live in :mod:`starbrain.planners.avoidance_elements`,
step 2 (the burn search) in :mod:`starbrain.planners.avoidance_burns`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from starbrain.core import timeconv
from starbrain.core.schemas.decisions import CONJUNCTIONS_SCHEMA, MANOEUVRES_KEY, MANOEUVRES_SCHEMA
from starbrain.core.schemas.elements import ELEMENTS_SCHEMA
from starbrain.planners.avoidance_burns import Geometry as _Geometry
from starbrain.planners.avoidance_burns import burn_candidates as _burn_candidates
from starbrain.planners.avoidance_burns import geometry as _geometry
from starbrain.planners.avoidance_burns import pc_of as _pc_of
from starbrain.planners.avoidance_elements import Nominal as _Nominal
from starbrain.planners.avoidance_elements import j2_propagate as _j2_propagate
from starbrain.planners.avoidance_elements import manoeuvred_elements
from starbrain.planners.avoidance_elements import nominal_fit as _nominal
from starbrain.planners.avoidance_elements import state_at as _state_at
from starbrain.planners.collision_probability import (
    DEFAULT_COVARIANCE,
    rtn_basis,
)
from starbrain.planners.conjunctions import _call_model, screen_conjunctions

if TYPE_CHECKING:
    from starbrain.planners.propagator import Propagator

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
    them). ``propagator``: the name of the propagator that planned and verified it.
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
    propagator: str = "sgp4"
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
            + ("" if self.propagator == "sgp4" else f" (propagated with {self.propagator})")
        )


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
    propagator: Propagator | None = None,
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
        propagator: how the objects move (:mod:`starbrain.planners.propagator`; default SGP4):
            the state at the burn, the trajectory fitted and every verification screening.
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
    t_b, lead = _burn_time(tca, c.get("screen_start"), period_s, lead_time_s, lead_orbits)
    rtn, sens = _sensitivity(own, t_b, lead, propagator)
    geo = _geometry(c, k)
    cands = _burn_candidates(geo, sens, margin * pc_max, min_miss_km, max_dv_mps / 1e3, three_d)
    if not cands:
        raise ValueError(
            f"no burn up to {max_dv_mps} m/s brings Pc under {margin * pc_max:.1e} "
            f"{lead:.0f} s before TCA; allow a larger burn or another lead time"
        )
    stop = verify_until if verify_until is not None else c.get("screen_stop")
    if stop is None:
        stop = tca + np.timedelta64(86400, "s")
    problem = _Problem(
        elements, c, k, own, t_b, lead, lead + period_s,
        np.datetime64(timeconv.to_datetime64(stop), "ns"), rtn, sens, geo, propagator,
    )  # fmt: skip
    return _try_burns(
        problem,
        _first_attempts(cands, max_dv_mps, three_d),
        pc_max=pc_max,
        pc_goal=margin * pc_max,
        min_miss_km=min_miss_km,
        max_dv_mps=max_dv_mps,
        verify=verify,
        covariance=covariance,
        max_attempts=max_attempts,
    )


@dataclass(slots=True)
class _Problem:
    """One avoidance problem: conjunction ``c`` (a row of the conjunctions table) seen from
    object ``k`` (1 or 2) whose element set is ``own``; the burn at ``t_b``, ``lead`` s before
    TCA; the element fit over ``fit_span_s`` from the burn; verification until ``stop``; the
    burn's RTN axes ``rtn`` (rows), the sensitivity ``sens`` (3, 3) of the TCA position to a
    burn (km per km/s), the encounter geometry and the propagator (None: SGP4)."""

    elements: pa.Table
    c: dict[str, Any]
    k: int
    own: pa.Table
    t_b: np.datetime64
    lead: float
    fit_span_s: float
    stop: np.datetime64
    rtn: FloatArray
    sens: FloatArray
    geo: _Geometry
    propagator: Propagator | None = None


def _try_burns(
    p: _Problem,
    queue: list[tuple[str, FloatArray | None, int]],
    *,
    pc_max: float,
    pc_goal: float,
    min_miss_km: float | None,
    max_dv_mps: float,
    verify: bool,
    covariance: Any,
    max_attempts: int,
) -> AvoidancePlan:
    """Fit and verify the burns of ``queue`` in turn (see :func:`_first_attempts`) until one
    passes, at most ``max_attempts``: one that leaves the target above ``pc_max`` is retried
    x1.3 (three times at most); the 3-D placeholder expands into the best 3-D burns for
    ``pc_goal``. Returns the first verified plan, else the last one tried. The no-burn fit and
    the baseline screening are computed once, at the first attempt that needs them."""
    plan: AvoidancePlan | None = None
    nominal: _Nominal | None = None  # the no-burn fit and screening: once for all attempts
    baseline: pa.Table | None = None
    attempts: list[str] = []
    while queue and len(attempts) < max_attempts:
        name, dv_next, scaled = queue.pop(0)
        if dv_next is None:
            found = _burn_candidates(p.geo, p.sens, pc_goal, min_miss_km, max_dv_mps / 1e3, True)
            queue[:0] = [(n_, dv, 3) for n_, dv in found if n_ == "3-d"]
            continue
        dv_rtn = dv_next
        p_pred, m_pred = _pc_of(p.geo, p.sens, dv_rtn)
        if nominal is None:
            nominal = _nominal(p.own, p.t_b, p.fit_span_s, 60.0, p.propagator)
        row, rms = manoeuvred_elements(
            p.own, p.t_b, p.rtn.T @ dv_rtn, p.fit_span_s, nominal=nominal
        )
        plan = AvoidancePlan(
            norad_id=int(p.c[f"norad_id_{p.k}"]),
            target_norad_id=int(p.c[f"norad_id_{3 - p.k}"]),
            tca=p.c["tca"],
            burn_time=p.t_b,
            lead_time_s=p.lead,
            direction=name,
            dv_rtn_mps=dv_rtn * 1e3,
            pc_before=float(p.c["collision_probability"]),
            miss_before_km=float(p.c["miss_distance_km"]),
            pc_predicted=float(p_pred),
            miss_predicted_km=float(m_pred),
            elements=row,
            fit_rms_km=rms,
            attempts=attempts,
            propagator="sgp4" if p.propagator is None else p.propagator.name,
        )
        if not verify:
            plan.verified = bool(p_pred <= pc_max)
            attempts.append(f"{name} {plan.dv_mps * 1e3:.2f} mm/s: not verified (verify=False)")
            return plan
        if baseline is None:
            baseline = _baseline(p, covariance)
        _verify(plan, p, pc_max, min_miss_km, covariance, baseline)
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


def _burn_time(
    tca: np.datetime64,
    not_before: np.datetime64 | None,
    period_s: float,
    lead_time_s: float | None,
    lead_orbits: float,
) -> tuple[np.datetime64, float]:
    """The burn time and its lead before ``tca`` (s): ``lead_time_s`` if given, else
    ``lead_orbits`` revolutions of ``period_s`` shortened by whole revolutions (not below one)
    until the burn lies after ``not_before`` (the screening start). Raises ValueError when the
    burn would still be before the screening start."""
    lead = lead_time_s if lead_time_s is not None else lead_orbits * period_s
    if not_before is not None and lead_time_s is None:
        while tca - np.timedelta64(round(lead * 1e9), "ns") < not_before and lead > period_s:
            lead -= period_s  # the burn must lie inside the screened window
    t_b = tca - np.timedelta64(round(lead * 1e9), "ns")
    if not_before is not None and t_b < not_before:
        raise ValueError(
            f"a burn {lead:.0f} s before TCA ({t_b}) is before the screening start ({not_before})"
        )
    return t_b, lead


def _sensitivity(
    own: pa.Table, t_b: np.datetime64, lead: float, propagator: Propagator | None = None
) -> tuple[FloatArray, FloatArray]:
    """The burn's RTN axes (rows R, T, N; unit, TEME) at ``t_b`` and the sensitivity
    ``d r(TCA) / d dv_rtn`` (3, 3) (km per km/s) of the position ``lead`` seconds later, by
    central differences of +-1 cm/s burns under point-mass + J2 gravity, from the state at the
    burn by ``propagator`` (None: SGP4)."""
    r_b, v_b = _state_at(own, t_b, propagator)
    rtn = rtn_basis(r_b, v_b)  # rows R, T, N
    dvs = np.concatenate([np.zeros((1, 3)), _SENS_DV_KMPS * rtn, -_SENS_DV_KMPS * rtn])
    r_j2, _ = _j2_propagate(np.repeat(r_b[None], 7, 0), v_b + dvs, np.array([lead]))
    sens = ((r_j2[1:4, 0] - r_j2[4:7, 0]) / (2.0 * _SENS_DV_KMPS)).T  # (3, 3): d r / d dv_rtn
    return rtn, sens


def _first_attempts(
    cands: list[tuple[str, FloatArray]], max_dv_mps: float, three_d: bool
) -> list[tuple[str, FloatArray | None, int]]:
    """The burns to try in order, as ``(direction, dv_rtn km/s or None, times scaled)``: the
    candidates, then the along-track ones x1.5, x2, x3 (those within ``max_dv_mps``), then (unless
    ``three_d`` already searched all directions) a placeholder for the 3-D search."""
    queue: list[tuple[str, FloatArray | None, int]] = [(name, dv, 0) for name, dv in cands]
    along = [(name, dv) for name, dv in cands if name == "along-track"]
    queue += [(name, dv * f, 3) for f in (1.5, 2.0, 3.0) for name, dv in along]
    limit = max_dv_mps / 1e3 * (1 + 1e-9)
    queue = [q for q in queue if q[1] is not None and np.linalg.norm(q[1]) <= limit]
    if not three_d:
        queue.append(("3-d", None, 3))  # searched only if reached
    return queue


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


def _baseline(p: _Problem, covariance: Any) -> pa.Table:
    """The manoeuvring object's conjunctions without the burn, from the burn to ``p.stop``."""
    return screen_conjunctions(
        p.elements,
        p.t_b,
        p.stop,
        threshold_km=float(p.c["screening_threshold_km"]),
        primaries=[int(p.c[f"norad_id_{p.k}"])],
        object_radius_km=0.5 * p.c["hard_body_radius_km"],
        covariance=_covariance_with_age(covariance, np.zeros(p.elements.num_rows)),
        propagator=p.propagator,
    ).to_arrow()


def _verify(
    plan: AvoidancePlan,
    p: _Problem,
    pc_max: float,
    min_miss_km: float | None,
    covariance: Any,
    before: pa.Table,
) -> None:
    """Screen the manoeuvred element set after the burn and compare with ``before``
    (:func:`_baseline`: the old element set's conjunctions over the same window)."""
    elements, own, c, k, t_b = p.elements, p.own, p.c, p.k, p.t_b
    new = plan.elements.set_column(
        0, ELEMENTS_SCHEMA.field("norad_id"), pa.array([_TEMP_NORAD], pa.int32())
    )
    population = pa.concat_tables([elements, new])
    n = population.num_rows
    old_epoch = np.asarray(own["epoch"].to_numpy()).astype("datetime64[ns]")[0]
    extra = np.zeros(n)
    extra[n - 1] = (t_b - old_epoch).astype(np.int64) / 86400e9
    radius = 0.5 * c["hard_body_radius_km"]
    thr = float(c["screening_threshold_km"])
    target_other = int(c[f"norad_id_{3 - k}"])
    _screen_target(plan, p, new, extra[n - 1], radius, thr, covariance)
    # everything after the burn: the new element set against the population (the old one,
    # still in it, excluded)
    result = screen_conjunctions(
        population,
        t_b,
        p.stop,
        threshold_km=thr,
        primaries=[_TEMP_NORAD],
        object_radius_km=radius,
        covariance=_covariance_with_age(covariance, extra),
        propagator=p.propagator,
    ).to_arrow()
    own_id = int(c[f"norad_id_{k}"])
    ids1, ids2 = result["norad_id_1"], result["norad_id_2"]
    after = result.filter(pc.invert(pc.or_(pc.equal(ids1, own_id), pc.equal(ids2, own_id))))
    new_pc, worsened = _changes(after, before, own_id, target_other, plan.tca, pc_max)
    pc_after = np.asarray(after["collision_probability"].to_numpy())
    plan.after = _renumbered(after, own_id)
    plan.n_new_conjunctions = len(new_pc)
    plan.max_pc_new = max(new_pc, default=0.0)
    plan.n_worsened = worsened
    plan.max_pc_after_burn = float(pc_after.max()) if len(pc_after) else 0.0
    ok_target = plan.pc_after <= pc_max and (
        min_miss_km is None or plan.miss_after_km >= min_miss_km
    )
    plan.verified = bool(ok_target and plan.max_pc_new <= pc_max and worsened == 0)


def _screen_target(
    plan: AvoidancePlan,
    p: _Problem,
    new: pa.Table,
    extra_days: float,
    radius_km: float,
    threshold_km: float,
    covariance: Any,
) -> None:
    """The targeted pair alone after the burn: the manoeuvred element set ``new`` (its
    covariance aged ``extra_days`` more) against the other object within an hour of the planned
    TCA, with a threshold wide enough (10x, at least 50 km) to always see the closest approach.
    Sets ``plan.pc_after``, ``miss_after_km`` and ``tca_after`` (0 and inf when none is found)."""
    elements, target_other = p.elements, int(p.c[f"norad_id_{3 - p.k}"])
    o_rows = np.nonzero(np.asarray(elements["norad_id"].to_numpy()) == target_other)[0]
    pair = pa.concat_tables([elements.slice(int(o_rows[-1]), 1), new])
    pair_extra = np.array([0.0, extra_days])
    half = np.timedelta64(3600, "s")
    target = screen_conjunctions(
        pair,
        max(p.t_b, plan.tca - half),
        plan.tca + half,
        threshold_km=max(50.0, 10.0 * threshold_km),
        step_s=30.0,
        object_radius_km=radius_km,
        covariance=_covariance_with_age(covariance, pair_extra),
        workers=1,
        propagator=p.propagator,
    )
    if len(target):
        best = int(np.argmin(np.abs((target.tca - plan.tca).astype(np.int64))))
        plan.pc_after = float(target.pc[best])
        plan.miss_after_km = float(target.miss_km[best])
        plan.tca_after = target.tca[best]
    else:
        plan.pc_after, plan.miss_after_km = 0.0, float("inf")


def _others(t: pa.Table, me: int) -> tuple[np.ndarray, np.ndarray]:
    """The other object of each conjunction row of ``me``, and the row's TCA (ns since 1970)."""
    a = np.asarray(t["norad_id_1"].to_numpy())
    b = np.asarray(t["norad_id_2"].to_numpy())
    return np.where(a == me, b, a), np.asarray(t["tca"].to_numpy()).astype(np.int64)


def _changes(
    after: pa.Table,
    before: pa.Table,
    own_id: int,
    target_other: int,
    target_tca: np.datetime64,
    pc_max: float,
) -> tuple[list[float], int]:
    """Compare the conjunctions after the burn (the manoeuvred set as ``_TEMP_NORAD``) with
    those before (as ``own_id``), matched by other object and TCA within 2 min, the targeted one
    left out: the Pc of each new conjunction, and how many were pushed over ``pc_max``."""
    o_after, t_after = _others(after, _TEMP_NORAD)
    o_before, t_before = _others(before, own_id)
    pc_after = np.asarray(after["collision_probability"].to_numpy())
    pc_before = np.asarray(before["collision_probability"].to_numpy())
    target_ns = target_tca.astype(np.int64)
    new_pc: list[float] = []
    worsened = 0
    for oid, tt, p_a in zip(o_after, t_after, pc_after, strict=True):
        if oid == target_other and abs(tt - target_ns) < 120e9:
            continue  # the targeted conjunction: checked by _screen_target
        near = np.nonzero((o_before == oid) & (np.abs(t_before - tt) < 120e9))[0]
        if not len(near):
            new_pc.append(float(p_a))
        elif p_a > pc_max >= float(pc_before[near].max()):
            worsened += 1  # pushed over the threshold by the burn
    return new_pc, worsened


def _renumbered(after: pa.Table, own_id: int) -> pa.Table:
    """``after`` with the manoeuvred object under its own catalogue number
    (``CONJUNCTIONS_SCHEMA``)."""
    for col in ("norad_id_1", "norad_id_2"):
        fixed = pc.if_else(pc.equal(after[col], _TEMP_NORAD), own_id, after[col])
        after = after.set_column(after.schema.get_field_index(col), col, fixed.cast(pa.int32()))
    return pa.Table.from_arrays(after.columns, schema=CONJUNCTIONS_SCHEMA)


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
    propagator: Propagator | None = None,
) -> AvoidancePlan:
    """Plan an avoidance burn for ``norad_id`` (the object that burns) against the riskiest of
    its conjunctions in ``conjunctions`` (or the one with ``other`` nearest ``tca``), with
    ``propagator`` (default SGP4; see :func:`plan_avoidance`)."""
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
        propagator=propagator,
    )
