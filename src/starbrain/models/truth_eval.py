"""Orbit predictions evaluated on a user's own truth: precise ephemerides (OEM, SP3, or the
store's ``ephemeris`` stream), not truth this project generated.

For each object's arc the prior is SGP4 elements fitted (:func:`starbrain.models.fitting.
fit_arcs`, B* fitted, bounded or fixed) to the first ``fit_hours`` of the arc; the epoch is the
arc's first state. Predictions at each horizon (hours since that epoch, as in ``model train``'s
evaluation) are compared with the truth state nearest that time, at that state's own time (no
interpolation of the truth), when one lies within the arc's median sampling step of the horizon;
otherwise that object has no value at that horizon (e.g. the arc ends before it).

Frames: every truth state is converted to TEME before the fit (:func:`starbrain.models.fitting.
states_teme`: OEM ``REF_FRAME`` TEME as is; GCRF/ICRF/EME2000/J2000 through the TEME->GCRS
rotation; ITRF, and SP3 files, which are ITRF/IGS realisations, through ITRF->TEME with IERS
polar motion and UT1). The position error is the norm of the TEME difference, which is the
same in GCRS or ITRF (a rotation at one instant keeps distances).

With an OD world model (:class:`starbrain.models.orbit_od_model.OdWorldModel`, issue #14) the
model's prior is not SGP4: it is numerical orbit determination on the same fit window of the
truth (GCRS positions, from the arc's first state, drag starting from the SGP4 fit's B*), as in
the model's training; the learned residual corrects it after the window where the object is in
the model's domain, and the prior alone is kept (``fell_back``) where it is not, or when the
fit window is not the one the model was trained after. The prior alone is reported beside.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import torch

from starbrain.core import timeconv
from starbrain.core.errors import StarbrainError
from starbrain.models.fitting import fit_arcs, states_teme
from starbrain.physics.sgp4 import sgp4_propagate
from starbrain.sources.ephemerides.oem import load_ephemeris, segments_from_table
from starbrain.sources.records import RecordError

__all__ = [
    "DEFAULT_HORIZONS_H",
    "TruthArc",
    "TruthEvaluation",
    "evaluate_on_truth",
    "load_truth",
    "truth_arcs",
]

#: 1 h, 6 h, 1 d, 3 d, 7 d
DEFAULT_HORIZONS_H = (1.0, 6.0, 24.0, 72.0, 168.0)
_MIN_STATES = 4  # what a fit of 7 parameters to 3-vectors needs, with some redundancy


@dataclass
class TruthArc:
    """One object's truth: ``times`` (n,) UTC datetime64[ns], time-ordered; ``r_teme_km`` and
    ``v_teme_kmps`` (n, 3) in TEME (velocities finite-differenced where the file had none);
    ``frame`` the frame of the file (normalised, e.g. 'ITRF' for SP3) and its ``source``."""

    object_id: str
    source: str
    frame: str
    times: npt.NDArray[np.datetime64]
    r_teme_km: npt.NDArray[np.float64]
    v_teme_kmps: npt.NDArray[np.float64]


def truth_arcs(table: pa.Table) -> tuple[list[TruthArc], list[RecordError]]:
    """Ephemeris-stream rows (``EPHEMERIS_SCHEMA``) -> one TEME arc per (object, frame, source),
    and an error for each group that cannot be one (not Earth-centred, unsupported frame)."""
    import pyarrow.compute as pc

    arcs: list[TruthArc] = []
    errors: list[RecordError] = []
    for src in pc.unique(table.column("source")).to_pylist():
        arcs_src, errors_src = _source_arcs(table.filter(pc.equal(table.column("source"), src)))
        arcs += arcs_src
        errors += errors_src
    return arcs, errors


def _source_arcs(table: pa.Table) -> tuple[list[TruthArc], list[RecordError]]:
    """:func:`truth_arcs` for the rows of one source."""
    arcs: list[TruthArc] = []
    errors: list[RecordError] = []
    src = str(table.column("source")[0].as_py() or "<store>")
    for seg in segments_from_table(table):
        where = f"object {seg.object_id}"
        if seg.center not in ("", "EARTH"):
            errors.append(RecordError(src, f"{where}: centre {seg.center} is not EARTH",
                                      field="CENTER_NAME"))  # fmt: skip
            continue
        try:
            r, v = states_teme(seg.frame, seg.times, seg.r_km, seg.v_kmps)
        except ValueError as exc:
            errors.append(RecordError(src, f"{where}: {exc}", field="REF_FRAME"))
            continue
        arcs.append(TruthArc(seg.object_id, src, seg.frame, seg.times, r, v))
    return arcs, errors


def load_truth(paths: Sequence[str | Path]) -> tuple[list[TruthArc], list[RecordError]]:
    """Truth arcs from OEM (KVN, XML) and SP3 files (format sniffed, gzip read). A file that
    cannot be read at all is one error naming it; the other files still load."""
    arcs: list[TruthArc] = []
    errors: list[RecordError] = []
    for path in paths:
        try:
            loaded = load_ephemeris(path)
        except StarbrainError as exc:
            errors.append(RecordError(str(path), str(exc).removeprefix(f"{path}: ")))
            continue
        errors += loaded.errors
        got, bad = truth_arcs(loaded.table)
        arcs += got
        errors += bad
    return arcs, errors


@dataclass
class TruthEvaluation:
    """What :func:`evaluate_on_truth` returns.

    ``horizons_h`` (n_hz,) hours since each arc's first state; per evaluated object (n_obj):
    ``object_ids``, ``sources``, ``n_fit`` states in the fit window, ``fit_rms_km`` the fit's
    RMS position residual, ``bstar`` the prior's B* [1/earth radii]; ``sgp4_err_km`` and
    ``model_err_km`` (n_obj, n_hz) position errors [km] (NaN where the truth has no state near
    the horizon; ``model_err_km`` None without a model). Provenance per object: ``priors`` the
    model's prior ('sgp4', or the OD prior's name), ``fell_back`` (n_obj,) whether the model
    kept its prior alone and ``reasons`` why (or ''); with an OD world model ``prior_err_km``
    (n_obj, n_hz) the OD prior's own errors and ``prior_fit_rms_km`` (n_obj,) its fit RMS.
    ``errors``: every file, record or object that could not be evaluated."""

    horizons_h: npt.NDArray[np.float64]
    fit_hours: float
    object_ids: list[str]
    sources: list[str]
    n_fit: npt.NDArray[np.int64]
    fit_rms_km: npt.NDArray[np.float64]
    bstar: npt.NDArray[np.float64]
    sgp4_err_km: npt.NDArray[np.float64]
    model_err_km: npt.NDArray[np.float64] | None = None
    errors: list[RecordError] = field(default_factory=list)
    priors: list[str] = field(default_factory=list)
    fell_back: npt.NDArray[np.bool_] | None = None
    reasons: list[str] = field(default_factory=list)
    prior_err_km: npt.NDArray[np.float64] | None = None
    prior_fit_rms_km: npt.NDArray[np.float64] | None = None

    def rows(self) -> list[dict[str, Any]]:
        """One row per horizon with at least one object: ``horizon_h``, ``n_objects``,
        ``sgp4_median_km``, ``sgp4_p95_km`` and, with a model, ``prior`` (the model's prior),
        ``n_fell_back`` (objects at that horizon that kept the prior alone), with an OD world
        model ``prior_median_km`` and ``prior_p95_km`` (the OD prior alone), then
        ``model_median_km``, ``model_p95_km`` and ``median_ratio`` (model / SGP4)."""
        out = []
        for j, h in enumerate(self.horizons_h):
            ok = np.isfinite(self.sgp4_err_km[:, j])
            if not ok.any():
                continue
            p = self.sgp4_err_km[ok, j]
            row: dict[str, Any] = {"horizon_h": float(h), "n_objects": int(ok.sum()),
                                   "sgp4_median_km": float(np.median(p)),
                                   "sgp4_p95_km": float(np.percentile(p, 95))}  # fmt: skip
            if self.model_err_km is not None:
                row["prior"] = ", ".join(dict.fromkeys(np.asarray(self.priors)[ok].tolist()))
                back = self.fell_back if self.fell_back is not None else np.zeros(ok.size, bool)
                row["n_fell_back"] = int(back[ok].sum())
            if self.prior_err_km is not None:
                row["prior_median_km"] = float(np.median(self.prior_err_km[ok, j]))
                row["prior_p95_km"] = float(np.percentile(self.prior_err_km[ok, j], 95))
            if self.model_err_km is not None:
                m = self.model_err_km[ok, j]
                row["model_median_km"] = float(np.median(m))
                row["model_p95_km"] = float(np.percentile(m, 95))
                row["median_ratio"] = float(np.median(m) / max(np.median(p), 1e-300))
            out.append(row)
        return out


def _fit_window(
    arcs: list[TruthArc], fit_hours: float, errors: list[RecordError]
) -> tuple[list[TruthArc], list[int]]:
    """The arcs with enough states in the fit window (and that count); an error for the rest."""
    kept, counts = [], []
    for arc in arcs:
        n = int((timeconv.minutes_since(arc.times, arc.times[0]) <= fit_hours * 60 + 1e-9).sum())
        if n < _MIN_STATES:
            errors.append(RecordError(arc.source, f"object {arc.object_id}: a fit needs at least "
                                      f"{_MIN_STATES} states in the first {fit_hours:g} h (has "
                                      f"{n})"))  # fmt: skip
            continue
        kept.append(arc)
        counts.append(n)
    return kept, counts


def _truth_at_horizons(
    arcs: list[TruthArc], horizons_min: npt.NDArray[np.float64]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Per arc and horizon, the time [min since the arc's start] and TEME position [km] of the
    truth state nearest the horizon, NaN where none lies within the arc's median step."""
    t_eval = np.full((len(arcs), horizons_min.size), np.nan)
    r_true = np.full((len(arcs), horizons_min.size, 3), np.nan)
    for k, arc in enumerate(arcs):
        t = timeconv.minutes_since(arc.times, arc.times[0])
        tol = float(np.median(np.diff(t))) if t.size > 1 else 0.0
        idx = np.clip(np.searchsorted(t, horizons_min), 0, t.size - 1)
        prev = np.clip(idx - 1, 0, t.size - 1)
        idx = np.where(np.abs(t[prev] - horizons_min) < np.abs(t[idx] - horizons_min), prev, idx)
        near = np.abs(t[idx] - horizons_min) <= tol + 1e-9
        t_eval[k, near] = t[idx[near]]
        r_true[k, near] = arc.r_teme_km[idx[near]]
    return t_eval, r_true


def evaluate_on_truth(
    arcs: list[TruthArc],
    *,
    fit_hours: float = 24.0,
    horizons_h: Sequence[float] = DEFAULT_HORIZONS_H,
    model: Any = None,
    bstar: float | None = None,
    bstar_bounds: tuple[float, float] | None = None,
    errors: list[RecordError] | None = None,
) -> TruthEvaluation:
    """Fit SGP4 to the first ``fit_hours`` of each arc (all arcs in one batch), predict every
    horizon with SGP4 and, when ``model`` is given, with the model, in one batched call each;
    errors against the truth in TEME (see the module docstring). ``model``: an SGP4 + residual
    world model (called as ``model(elements, t_min) -> (r, v)`` on the fitted elements), or an
    :class:`~starbrain.models.orbit_od_model.OdWorldModel` (its OD prior fitted to the same
    window of the truth, see :func:`_od_predictions`).

    ``errors`` (from :func:`load_truth`) are carried into the result, with one more for each arc
    that has fewer than 4 states in the fit window. Raises StarbrainError when no arc is left."""
    from starbrain.models.orbit_model import predict

    if not fit_hours > 0:
        raise StarbrainError("the fit window must be positive (hours)")
    errs = list(errors or [])
    kept, counts = _fit_window(arcs, fit_hours, errs)
    if not kept:
        raise StarbrainError("no object has enough truth states to fit (see the errors above)")
    fit = fit_arcs([a.times[:n] for a, n in zip(kept, counts, strict=True)],
                   [a.r_teme_km[:n] for a, n in zip(kept, counts, strict=True)],
                   [a.v_teme_kmps[:n] for a, n in zip(kept, counts, strict=True)],
                   bstar=bstar, bstar_bounds=bstar_bounds)  # fmt: skip
    hz = np.asarray(horizons_h, dtype=np.float64)
    t_eval, r_true = _truth_at_horizons(kept, hz * 60.0)
    t = torch.as_tensor(np.nan_to_num(t_eval))
    with torch.no_grad():
        r, _, code = sgp4_propagate(fit.elements, t)
    r_sgp4 = np.where((code.numpy() == 0)[..., None], r.numpy(), np.nan)
    sgp4_err = np.linalg.norm(r_sgp4 - r_true, axis=-1)
    ev = TruthEvaluation(
        hz, float(fit_hours), [a.object_id for a in kept], [a.source for a in kept],
        np.asarray(counts, dtype=np.int64), fit.rms_km.numpy(), fit.elements.bstar.numpy(),
        sgp4_err, None, errs,
    )  # fmt: skip
    if model is None:
        return ev
    if hasattr(model, "prepare"):  # the OD world model
        r_model, r_prior, info = _od_predictions(model, kept, counts, ev.bstar, fit_hours, t_eval)
        ev.prior_err_km = np.linalg.norm(r_prior - r_true, axis=-1)
        ev.priors = [info.prior] * len(kept)
        ev.fell_back, ev.reasons = info.fell_back.copy(), list(info.reason)
        ev.prior_fit_rms_km = info.fit_rms_km.copy()
    else:
        r_model, _ = predict(model, fit.elements, t.numpy())
        ev.priors, ev.reasons = ["sgp4"] * len(kept), [""] * len(kept)
        ev.fell_back = np.zeros(len(kept), bool)
    ev.model_err_km = np.linalg.norm(r_model - r_true, axis=-1)
    return ev


def _od_predictions(
    model: Any, arcs: list[TruthArc], counts: list[int], bstar: npt.NDArray[np.float64],
    fit_hours: float, t_eval: npt.NDArray[np.float64],
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], Any]:  # fmt: skip
    """An OD world model on truth arcs: its prior fitted to each arc's first ``counts`` states
    (GCRS, one batch per group of arcs sharing their start and fit-window times), from the
    arc's first state and the drag of ``bstar`` (n,); TEME positions (n, n_hz, 3) of the model
    and of the prior alone at ``t_eval`` (n, n_hz) [min since each arc's start] (NaN where
    ``t_eval`` is or the state is not valid), and the per-object provenance."""
    from starbrain.physics.frames import teme_to_gcrs_matrix

    start = np.array([a.times[0] for a in arcs]).astype("datetime64[ns]")
    jd, fr = timeconv.datetime64_to_jd(start)
    jd, fr = np.atleast_1d(jd).astype(np.float64), np.atleast_1d(fr).astype(np.float64)
    t_fit = [
        timeconv.minutes_since(a.times[:c], a.times[0]) for a, c in zip(arcs, counts, strict=True)
    ]
    keys = [(int(start[k].astype(np.int64)), tuple(np.round(t_fit[k] * 6e4).astype(np.int64)))
            for k in range(len(arcs))]  # fmt: skip
    uniq = list(dict.fromkeys(keys))
    groups = np.array([uniq.index(key) for key in keys], dtype=np.int64)
    obs = []
    for g in range(len(uniq)):
        members = np.flatnonzero(groups == g)
        k0, c = members[0], counts[members[0]]
        rot = teme_to_gcrs_matrix(jd[k0] + 0 * t_fit[k0], fr[k0] + t_fit[k0] / 1440.0)
        r = np.einsum("tij,ntj->nti", rot, np.stack([arcs[k].r_teme_km[:c] for k in members]))
        v0 = np.einsum("ij,nj->ni", rot[0], np.stack([arcs[k].v_teme_kmps[0] for k in members]))
        obs.append((t_fit[k0] * 60.0, r, v0))
    state = model.prepare(jd, fr, groups, obs, np.asarray(bstar, np.float64), fit_hours / 24.0)
    t = np.nan_to_num(t_eval)
    out = []
    for residual in (True, False):
        r, _, ok, _ = model.propagate(state, t, residual=residual)
        out.append(np.where((ok & np.isfinite(t_eval))[..., None], r, np.nan))
    return out[0], out[1], state.info
