"""Propagators for the planners: SGP4, or SGP4 plus the learned correction of a world model.

The planners propagate catalogues through one small interface (:class:`Propagator`): ``init``
prepares a population once, ``select`` takes a subset of a prepared population without redoing
that work, and ``propagate`` returns TEME states ``(n_sat, n_time, 3)`` [km, km/s] and a
validity mask ``(n_sat, n_time)`` at times in minutes since each object's epoch, given per object
``(n_sat, n_time)`` or shared ``(1, n_time)``.

* :class:`Sgp4Propagator`: batched SGP4 (:mod:`starbrain.physics.sgp4`), the prior.
* :class:`WorldModelPropagator`: a registered :class:`~starbrain.models.orbit_model.
  OrbitWorldModel` (SGP4 prior plus learned residual) applied to the catalogue's element sets,
  with each object's own time since epoch.
* :class:`OdWorldModelPropagator`: a registered issue #14 OD world model (numerical OD prior
  plus learned residual, the prior alone out of domain), with per-object provenance in
  ``last_info`` (which prior, whether it fell back).

:func:`utc_propagate` turns any of them into the callable the planners on UTC grids use
(passes, contacts, routing): ``propagate(jd, fr, sats) -> (r, v)`` with NaN where a state is
invalid (:class:`UtcPropagate`), so every planner takes the same propagators.

:func:`resolve_propagator` implements the rule "the world model when one is registered, SGP4
otherwise" for a store. Both propagators are picklable, so screening shards can carry them to
Ray workers.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import numpy.typing as npt
import pyarrow as pa

if TYPE_CHECKING:  # torch is imported when a propagator is used, not when planners import this
    import torch

    from starbrain.physics.sgp4 import Sgp4Elements, Sgp4State

__all__ = [
    "OdPropagationInfo",
    "OdWorldModelPropagator",
    "Propagator",
    "Sgp4Propagator",
    "UtcPropagate",
    "WorldModelPropagator",
    "resolve_propagator",
    "utc_propagate",
]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


class Propagator(Protocol):
    """What the screening and refinement need from a propagator (see the module docstring)."""

    @property
    def name(self) -> str: ...

    def init(self, elements: Sgp4Elements) -> Any: ...

    def select(self, state: Any, index: npt.NDArray[np.int64]) -> Any: ...

    def propagate(
        self, state: Any, tsince_min: FloatArray, compile: bool = False
    ) -> tuple[FloatArray, FloatArray, BoolArray]: ...


class UtcPropagate(Protocol):
    """Propagate satellites ``sats`` (a slice of the fleet) to UTC split Julian dates ``(jd, fr)``
    ``(n_time,)``.

    Returns TEME position (km) and velocity (km/s), each ``(n_sel, n_time, 3)``, NumPy or
    PyTorch; NaN where propagation failed (planners treat those samples as unusable).
    """

    def __call__(self, jd: FloatArray, fr: FloatArray, sats: slice = ...) -> tuple[Any, Any]: ...


def utc_propagate(
    propagator: Propagator,
    elements: pa.Table | Sgp4Elements,
    device: str | torch.device | None = None,
) -> UtcPropagate:
    """The :class:`UtcPropagate` view of ``propagator`` over ``elements`` (an ``ELEMENTS_SCHEMA``
    table or :class:`Sgp4Elements`): the population is initialised once, each call selects its
    slice and propagates to each object's own minutes since epoch."""
    from starbrain.physics.sgp4 import Sgp4Elements

    el = (
        Sgp4Elements.from_table(elements, device=device)
        if isinstance(elements, pa.Table)
        else elements
    )
    state = propagator.init(el)
    epoch_jd = el.jdsatepoch.detach().cpu().numpy()
    epoch_fr = el.jdsatepochF.detach().cpu().numpy()
    n = len(el)

    def propagate(jd: FloatArray, fr: FloatArray, sats: slice = slice(None)) -> tuple[Any, Any]:
        jd_arr = np.atleast_1d(np.asarray(jd, dtype=np.float64))
        fr_arr = np.atleast_1d(np.asarray(fr, dtype=np.float64))
        jd_arr, fr_arr = np.broadcast_arrays(jd_arr, fr_arr)
        start, stop, step = sats.indices(n)
        index = np.arange(start, stop, step, dtype=np.int64)
        part = state if (start, stop, step) == (0, n, 1) else propagator.select(state, index)
        tsince = (jd_arr[None, :] - epoch_jd[index, None]) * 1440.0 + (
            fr_arr[None, :] - epoch_fr[index, None]
        ) * 1440.0
        r, v, ok = propagator.propagate(part, tsince)
        r = np.array(r, dtype=np.float64, copy=True)
        v = np.array(v, dtype=np.float64, copy=True)
        r[~ok] = np.nan
        v[~ok] = np.nan
        return r, v

    return propagate


def _time_tensor(tsince_min: FloatArray, device: torch.device) -> torch.Tensor:
    import torch

    t = torch.as_tensor(np.asarray(tsince_min, dtype=np.float64), device=device)
    if t.ndim == 1:
        t = t[None, :]
    if t.shape[0] > 1 and bool((t == t[:1]).all()):
        t = t[:1]  # one row of offsets serves every object (common epoch)
    return t


@dataclass(frozen=True, slots=True)
class Sgp4Propagator:
    """SGP4/SDP4 on the element sets as they are (the physics prior)."""

    @property
    def name(self) -> str:
        return "sgp4"

    def init(self, elements: Sgp4Elements) -> Sgp4State:
        from starbrain.physics.sgp4 import sgp4_init

        return sgp4_init(elements)

    def select(self, state: Sgp4State, index: npt.NDArray[np.int64]) -> Sgp4State:
        return state.select(index)

    def propagate(
        self, state: Sgp4State, tsince_min: FloatArray, compile: bool = False
    ) -> tuple[FloatArray, FloatArray, BoolArray]:
        """TEME r [km], v [km/s] ``(n, m, 3)`` and validity ``(n, m)`` (SGP4 error code 0)."""
        import torch

        from starbrain.physics.sgp4 import sgp4_propagate

        t = _time_tensor(tsince_min, state.device)
        with torch.no_grad():
            r, v, err = sgp4_propagate(state, t, compile=compile)
        return r.cpu().numpy(), v.cpu().numpy(), (err == 0).cpu().numpy()


@dataclass(slots=True)
class _ModelState:
    elements: Sgp4Elements
    sgp4: Sgp4State


@dataclass(slots=True)
class WorldModelPropagator:
    """SGP4 plus the learned residual of an :class:`~starbrain.models.orbit_model.
    OrbitWorldModel`, evaluated at each object's own time since epoch.

    Objects sharing their times (a common epoch) are evaluated by ``model(elements, t)`` with
    one row of times. Per-object times ``(n_sat, n_time)`` go to ``forward`` as they are when the
    model takes them (checked once, on a few objects, against shared times); otherwise objects
    are grouped by identical times and ``forward`` runs per group, which is exact but slow for
    catalogues with many epochs. Element corrections propagate a drifted element set per
    (object, time), an SGP4 initialisation per sample: several times the cost of SGP4, fine for
    screenings of hundreds to a few thousand objects.
    """

    model: Any  # OrbitWorldModel (typed loosely: models/ is imported lazily)
    label: str = "world model"
    vectorised: bool | None = None  # None until checked against forward

    @property
    def name(self) -> str:
        return self.label

    def init(self, elements: Sgp4Elements) -> _ModelState:
        from starbrain.physics.sgp4 import sgp4_init

        if self.vectorised is None:
            self.vectorised = _vectorised_matches(self.model, elements)
        return _ModelState(elements, sgp4_init(elements))

    def select(self, state: _ModelState, index: npt.NDArray[np.int64]) -> _ModelState:
        import torch

        from starbrain.physics.sgp4 import Sgp4Elements

        t = torch.as_tensor(np.asarray(index), dtype=torch.int64)
        el = Sgp4Elements(
            **{f.name: getattr(state.elements, f.name)[t] for f in fields(state.elements)}
        )
        return _ModelState(el, state.sgp4.select(index))

    def propagate(
        self, state: _ModelState, tsince_min: FloatArray, compile: bool = False
    ) -> tuple[FloatArray, FloatArray, BoolArray]:
        """TEME r [km], v [km/s] ``(n, m, 3)`` and validity ``(n, m)`` (finite states whose
        SGP4 prior has no error code)."""
        import torch

        from starbrain.physics.sgp4 import sgp4_propagate

        el = state.elements
        t = _time_tensor(tsince_min, torch.device("cpu"))
        with torch.no_grad():
            _, _, err = sgp4_propagate(state.sgp4, t, compile=compile)
            if t.shape[0] == 1:
                r, v = self.model(el, t[0])
            elif self.vectorised:
                r, v = self.model(el, t)
            else:
                r, v = _forward_grouped(self.model, el, t)
        r_np, v_np = r.cpu().numpy(), v.cpu().numpy()
        ok = (err == 0).cpu().numpy() & np.isfinite(r_np).all(-1) & np.isfinite(v_np).all(-1)
        return r_np, v_np, ok


def _vectorised_matches(model: Any, elements: Sgp4Elements) -> bool:
    """Whether ``model.forward`` takes one row of times per object ``(n_sat, n_time)`` and gives
    what it gives for shared times ``(n_time,)`` (1 um, 1 um/s), on up to 8 of ``elements`` at
    times from 0 to 7 days."""
    import torch

    from starbrain.physics.sgp4 import Sgp4Elements

    k = min(8, len(elements))
    if k == 0:
        return False
    el = Sgp4Elements(**{f.name: getattr(elements, f.name)[:k] for f in fields(elements)})
    t = torch.linspace(0.0, 7 * 1440.0, 5, dtype=torch.float64)
    try:
        with torch.no_grad():
            r0, v0 = model(el, t)
            r1, v1 = model(el, t.expand(k, -1).contiguous())
    except (AttributeError, TypeError, RuntimeError, ValueError, IndexError):
        return False
    if tuple(r1.shape) != tuple(r0.shape):
        return False
    dr = float((r1 - r0).abs().nan_to_num(0.0).max())
    dv = float((v1 - v0).abs().nan_to_num(0.0).max())
    return dr < 1e-9 and dv < 1e-9


def _forward_grouped(
    model: Any, el: Sgp4Elements, t: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """``model.forward`` per group of objects with identical time rows ``t`` (n_sat, n_time)."""
    import torch

    from starbrain.physics.sgp4 import Sgp4Elements

    rows, inverse = np.unique(t.cpu().numpy(), axis=0, return_inverse=True)
    inverse = np.asarray(inverse).reshape(-1)
    r = torch.empty((*t.shape, 3), dtype=torch.float64)
    v = torch.empty_like(r)
    for g in range(len(rows)):
        members = torch.as_tensor(np.nonzero(inverse == g)[0])
        sub = Sgp4Elements(**{f.name: getattr(el, f.name)[members] for f in fields(el)})
        rg, vg = model(sub, torch.as_tensor(rows[g]))
        r[members], v[members] = rg.cpu(), vg.cpu()
    return r, v


@dataclass
class OdPropagationInfo:
    """What produced the last :meth:`OdWorldModelPropagator.propagate` call, per object of
    the population it was given (n,): ``prior`` (the prior's name, e.g.
    ``numerical-od:egm2008-8x8+exponential``), ``fell_back`` (outside the model's domain:
    the prior alone), ``reason`` (why, or ''), ``fit_rms_km`` (the prior's fit to SGP4 over
    the fit window) and ``corrected`` (n, m), whether the learned residual was applied at each
    requested time (never inside the fit window, beyond the trained horizon or when fell back).
    """

    model: str
    prior: str
    fell_back: BoolArray
    reason: list[str]
    fit_rms_km: FloatArray
    corrected: BoolArray


@dataclass
class OdWorldModelPropagator:
    """A registered issue #14 OD world model (:class:`~starbrain.models.orbit_od_model.
    OdWorldModel`: numerical OD prior fitted to each object's SGP4 positions over the fit
    window, plus the learned residual, the prior alone out of domain) as a planner propagator.

    ``init`` fits every object's prior (seconds per epoch group); ``propagate`` integrates the
    prior over the requested span once and interpolates later calls inside it. After each
    ``propagate``, :attr:`last_info` (:class:`OdPropagationInfo`) says per object which prior
    was used and whether it fell back (for the objects of that call); after each ``init``,
    :attr:`population_info` says it for the whole population; :meth:`object_info` gives the
    same for any prepared state.
    """

    model: Any  # OdWorldModel (typed loosely: models/ is imported lazily)
    label: str = "OD world model"
    last_info: OdPropagationInfo | None = None
    population_info: OdPropagationInfo | None = None  # of the last population ``init`` fitted

    @property
    def name(self) -> str:
        return self.label

    def init(self, elements: Sgp4Elements) -> Any:
        """Fit each object's prior; :attr:`population_info` then says, per object of
        ``elements``, which prior it has and whether it falls back (planners that wrap the
        propagator, e.g. through :func:`utc_propagate`, leave it for the caller to report)."""
        state = self.model.init(elements)
        self.population_info = self.object_info(state)
        return state

    def select(self, state: Any, index: npt.NDArray[np.int64]) -> Any:
        return state.select(index)

    def object_info(self, state: Any, corrected: BoolArray | None = None) -> OdPropagationInfo:
        """Per-object provenance of a prepared ``state`` (``corrected`` (n, 0) when not given)."""
        i = state.info
        n = len(i.reason)
        c = np.zeros((n, 0), bool) if corrected is None else corrected
        return OdPropagationInfo(self.label, i.prior, i.fell_back.copy(), list(i.reason),
                                 i.fit_rms_km.copy(), c)  # fmt: skip

    def propagate(
        self, state: Any, tsince_min: FloatArray, compile: bool = False
    ) -> tuple[FloatArray, FloatArray, BoolArray]:
        """TEME r [km], v [km/s] ``(n, m, 3)`` (positions corrected, velocities the prior's)
        and validity ``(n, m)`` (finite states); sets :attr:`last_info`."""
        r, v, ok, corrected = self.model.propagate(state, np.asarray(tsince_min, np.float64))
        self.last_info = self.object_info(state, corrected)
        return r, v, ok


def _od_propagator(store: Any, name: str) -> OdWorldModelPropagator:
    from starbrain.models.orbit_od_model import OdWorldModel
    from starbrain.models.registry import load_od_model

    residual, row = load_od_model(store, name)
    created = str(row.get("created") or "")[:19]
    label = f"OD world model {name!r}" + (f" (registered {created} UTC)" if created else "")
    return OdWorldModelPropagator(OdWorldModel.from_registry_row(residual, row), label)


def resolve_propagator(store: Any, model: str | None = None) -> Propagator:
    """The propagator to plan with: ``model`` ``"sgp4"`` forces SGP4; a model name loads that
    registered world model (either kind: SGP4 + residual, or the OD world model); ``None`` or
    ``"latest"`` loads the newest registered orbit model of either kind, or SGP4 when none is
    registered."""
    from starbrain.core.errors import StarbrainError

    if model is not None and model.lower() == "sgp4":
        return Sgp4Propagator()
    from starbrain.models.registry import KIND_ORBIT, KIND_ORBIT_OD, list_models, load_model

    try:
        rows = [r for r in list_models(store) if r.get("kind") in (KIND_ORBIT, KIND_ORBIT_OD)]
    except Exception:  # a store without a models stream has no models
        rows = []
    if model is None or model.lower() == "latest":
        if not rows:
            if model is None:
                return Sgp4Propagator()
            raise StarbrainError("--model latest: no world model is registered in the store")
        name = str(max(rows, key=lambda r: r["created"])["name"])
    else:
        name = model
    named = [r for r in rows if r["name"] == name]
    if named and max(named, key=lambda r: r["created"])["kind"] == KIND_ORBIT_OD:
        return _od_propagator(store, name)
    loaded, row = load_model(store, name, device="cpu")
    created = str(row.get("created") or "")[:19]
    label = f"world model {name!r}" + (f" (registered {created} UTC)" if created else "")
    return WorldModelPropagator(loaded, label)
