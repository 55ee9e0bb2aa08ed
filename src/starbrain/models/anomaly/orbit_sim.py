"""Simulated catalogue histories with labelled orbit faults (issue #19): element sets in the
store's ``elements`` schema, as a catalogue would publish them, and the fault table.

Truth. Each object flies SGP4 (the WGS-72 model of :mod:`starbrain.physics.sgp4`) from its
starting element set, re-initialised every ``step_h`` hours from its own TEME state
(:func:`~starbrain.models.fitting.elements_from_state`, exact at the step's epoch), so its drag
can change between steps and burns can be applied: the drag term B* of step ``k`` is the
object's B* times a daily multiplier of the atmosphere common to all objects (log-normal,
``density_sigma``: the day-to-day density change no prior forecasts) times the fault's factor.
Natural decay is therefore in the truth, and in every published element set.

Published sets. At each step an object publishes with probability ``sets_per_day * step_h /
24`` (about ``sets_per_day`` a day): its true state as mean elements, with the B* the drag of
the step just flown had times a log-normal fit error (``bstar_sigma``), and Gaussian fit errors
in the mean elements (``noise_km``): radial through the eccentricity vector, along-track
through the argument of latitude, cross-track through the inclination and node, and the
semi-major axis through the mean motion (independent errors of the state would give a
semi-major axis error twice the radial one, far worse than an orbit fit's). A set published
at a burn's step is the state before the burn.

Faults (:class:`OrbitFault`; ``start_day`` from the first epoch, on the step grid):

* ``burn_along_track``: an impulsive along-track burn, ``magnitude`` m/s (signed);
* ``burn_cross_track``: an impulsive out-of-plane burn, ``magnitude`` m/s (signed);
* ``ep_raise``: continuous electric propulsion, ``magnitude`` m/s per day along-track for
  ``duration_day`` days, applied as one small burn per step;
* ``drag_storm``: the object's drag x ``magnitude`` for ``duration_day`` days (a storm);
* ``ballistic_change``: the object's drag x ``magnitude`` from then on (attitude or area change).

The label (FAULT_SCHEMA, stream ``orbit``, object = NORAD id) runs from the fault's start to
``label_days`` after its end: the element sets in which the catalogue can first show it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import torch

from starbrain.core import timeconv
from starbrain.core.errors import StarbrainError
from starbrain.models.fitting import elements_from_state, elements_to_table
from starbrain.models.orbit_model import rtn_basis
from starbrain.physics.sgp4 import Sgp4Elements, sgp4_propagate
from starbrain.physics.sgp4_init import MU_KM3_S2
from starbrain.sources.faults import fault_table

__all__ = ["FAULT_KINDS", "CatalogConfig", "OrbitFault", "simulate_catalog"]

FloatArray = npt.NDArray[np.float64]
FAULT_KINDS = ("burn_along_track", "burn_cross_track", "ep_raise", "drag_storm",
               "ballistic_change")  # fmt: skip
_DRAG_KINDS = ("drag_storm", "ballistic_change")
_BURN_KINDS = ("burn_along_track", "burn_cross_track", "ep_raise")


@dataclass(frozen=True)
class OrbitFault:
    """One injected orbit fault (see the module docstring for the kinds and units)."""

    kind: str
    start_day: float
    magnitude: float
    duration_day: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise StarbrainError(f"unknown orbit fault {self.kind!r}: use {', '.join(FAULT_KINDS)}")

    @property
    def end_day(self) -> float:
        return math.inf if self.kind == "ballistic_change" else self.start_day + self.duration_day


@dataclass(frozen=True)
class CatalogConfig:
    """Simulation settings (see the module docstring)."""

    days: float = 20.0
    step_h: float = 6.0
    sets_per_day: float = 2.0
    #: 1-sigma fit errors [km] of a published set: radial (e-vector), along-track (argument of
    #: latitude), cross-track (inclination, node) and semi-major axis (mean motion)
    noise_km: tuple[float, float, float, float] = (0.05, 0.3, 0.05, 0.015)
    density_sigma: float = 0.15  # log-normal, per day, common to all objects
    bstar_sigma: float = 0.1  # log-normal fit error of each published B*
    label_days: float = 1.5
    seed: int = 0


def _drag_factor(faults: Mapping[int, OrbitFault], n: int, day: float) -> FloatArray:
    f = np.ones(n)
    for i, flt in faults.items():
        if flt.kind in _DRAG_KINDS and flt.start_day <= day < flt.end_day:
            f[i] = flt.magnitude
    return f


def _burns(faults: Mapping[int, OrbitFault], n: int, day: float, step_day: float) -> FloatArray:
    """``(n, 3)`` RIC delta-v [km/s] applied at ``day``."""
    dv = np.zeros((n, 3))
    for i, f in faults.items():
        if f.kind == "ep_raise" and f.start_day <= day < f.end_day - 1e-9:
            dv[i, 1] = f.magnitude * step_day
        elif f.kind in _BURN_KINDS[:2] and abs(day - f.start_day) < 1e-9:
            dv[i, 1 if f.kind == "burn_along_track" else 2] = f.magnitude
    return dv / 1e3


def _noisy(el: Sgp4Elements, cfg: CatalogConfig, rng: np.random.Generator) -> Sgp4Elements:
    """``el`` with the catalogue's fit errors (see :class:`CatalogConfig`) in its mean elements."""
    n = len(el)
    a_km = (MU_KM3_S2 / (el.no_kozai.numpy() / 60.0) ** 2) ** (1.0 / 3.0)
    s_r, s_a, s_c, s_sma = cfg.noise_km
    z = rng.normal(size=(6, n))
    no = el.no_kozai.numpy() * (1.0 - 1.5 * s_sma * z[0] / a_km)  # dn/n = -3/2 da/a
    ecc, argp = el.ecco.numpy(), el.argpo.numpy()
    k, h = ecc * np.cos(argp) + s_r / a_km * z[1], ecc * np.sin(argp) + s_r / a_km * z[2]
    argp_new, inc = np.arctan2(h, k), el.inclo.numpy()
    sin_i = np.maximum(np.abs(np.sin(inc)), 1e-3)
    d_node = s_c / a_km * z[5] / sin_i
    # argument of latitude (along-track), less the node's along-track share (cos i d_node)
    lat = el.mo.numpy() + argp + s_a / a_km * z[3] - np.cos(inc) * d_node
    return Sgp4Elements.from_arrays(
        bstar=el.bstar, ndot=el.ndot, nddot=el.nddot, ecco=np.hypot(k, h), argpo=argp_new,
        inclo=inc + s_c / a_km * z[4], mo=lat - argp_new, no_kozai=no,
        nodeo=el.nodeo.numpy() + d_node, jdsatepoch=el.jdsatepoch,
        jdsatepochF=el.jdsatepochF, device="cpu",
    )  # fmt: skip


def _check(faults: Mapping[int, OrbitFault], n: int, cfg: CatalogConfig) -> None:
    bad = [i for i in faults if not 0 <= i < n]
    if bad:
        raise StarbrainError(f"faults name rows {bad} of a {n}-object catalogue")
    late = [i for i, f in faults.items() if f.start_day >= cfg.days]
    if late:
        raise StarbrainError(f"faults on rows {late} start after the {cfg.days}-day history")


def simulate_catalog(
    elements: pa.Table,
    faults: Mapping[int, OrbitFault] | None = None,
    config: CatalogConfig | None = None,
) -> tuple[pa.Table, pa.Table]:
    """Element-set history (ELEMENTS_SCHEMA, several sets per object, source
    ``generated:orbit-faults``) and fault labels (FAULT_SCHEMA) of the objects of ``elements``
    (one row each, one common epoch) with ``faults`` keyed by row index."""
    cfg, faults = config or CatalogConfig(), dict(faults or {})
    el = Sgp4Elements.from_table(elements, device="cpu")
    n = len(el)
    _check(faults, n, cfg)
    rng = np.random.default_rng(cfg.seed)
    b0, step_day = el.bstar.numpy().copy(), cfg.step_h / 24.0
    n_steps = round(cfg.days / step_day)
    density = np.exp(cfg.density_sigma * rng.normal(size=math.ceil(cfg.days) + 1))
    p_pub = min(1.0, cfg.sets_per_day * step_day)
    jd0, fr0 = el.jdsatepoch.numpy().copy(), el.jdsatepochF.numpy().copy()
    published, bstar_flown = [], b0 * density[0]
    el = elements_from_state(*_state(el, 0.0), jd0, fr0, bstar_flown)
    for k in range(n_steps + 1):
        day = k * step_day
        r, v = _state(el, step_day * 1440.0 if k else 0.0)
        pub = rng.random(n) < (1.0 if k == 0 else p_pub)
        if pub.any():
            b_pub = bstar_flown[pub] * np.exp(cfg.bstar_sigma * rng.normal(size=int(pub.sum())))
            true = elements_from_state(r[pub], v[pub], jd0[pub], fr0[pub] + day, b_pub)
            published.append((np.flatnonzero(pub), _noisy(true, cfg, rng)))
        bstar_flown = b0 * density[int(day)] * _drag_factor(faults, n, day)
        v = v + torch.einsum("nk,nkj->nj", torch.as_tensor(_burns(faults, n, day, step_day)),
                             rtn_basis(r, v))  # fmt: skip
        el = elements_from_state(r, v, jd0, fr0 + day, bstar_flown)
    return _history(elements, published), _labels(elements, faults, cfg, jd0[0], fr0[0])


def _state(el: Sgp4Elements, t_min: float) -> tuple[torch.Tensor, torch.Tensor]:
    r, v, _ = sgp4_propagate(el, torch.tensor([t_min], dtype=torch.float64))
    return r[:, 0], v[:, 0]


def _history(elements: pa.Table, published: list[tuple[np.ndarray, Sgp4Elements]]) -> pa.Table:
    norad = elements["norad_id"].to_numpy()
    parts = [elements_to_table(e, norad[idx], source="generated:orbit-faults")
             for idx, e in published]  # fmt: skip
    t = pa.concat_tables(parts)
    finite = np.isfinite(t["mean_motion_rev_per_day"].to_numpy())
    return t.filter(pa.array(finite)).sort_by([("norad_id", "ascending"), ("epoch", "ascending")])


def _labels(elements: pa.Table, faults: Mapping[int, OrbitFault], cfg: CatalogConfig,
            jd0: float, fr0: float) -> pa.Table:  # fmt: skip
    t0 = int(np.ravel(timeconv.to_ns(timeconv.jd_to_datetime64(jd0, fr0)))[0])
    norad = elements["norad_id"].to_pylist()
    rows = []
    for i, f in sorted(faults.items()):
        end_day = min(cfg.days, f.end_day if math.isfinite(f.end_day) else f.start_day)
        rows.append({"stream": "orbit", "object_id": str(norad[i]), "run_id": None,
                     "kind": f.kind, "start": t0 + round(f.start_day * 86400e9),
                     "end": t0 + round(min(cfg.days, end_day + cfg.label_days) * 86400e9),
                     "magnitude": float(f.magnitude), "channel": None,
                     "source": f"orbit_sim(seed={cfg.seed})"})  # fmt: skip
    return fault_table(rows)
