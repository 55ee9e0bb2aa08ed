"""Issue #14's orbit world model, end to end: one config, truth across the solar cycle,
held-out orbits / regimes / epochs, the OD prior plus learned residual, and stratified tables.

:class:`WorldModelTrainConfig` holds the defaults of ``starbrain model train`` and of
``bench/world_model.py``: generic LEO (:func:`starbrain.models.truth.sample_leo_elements`:
300-1,200 km, all inclinations, e < 0.02, Cd*A/m 0.002-0.1 m^2/kg log-uniform) at epochs
spread over solar cycles 23-25; truth from :meth:`ForceModel.full` (EGM2008 ``truth_degree``
squared, NRLMSISE-00 with the observed F10.7/Ap of brahe's CSSI file, Sun, Moon, SRP with a
conical shadow); training on the earlier epochs only, testing on new orbits at the later epochs,
and the ``held_out_regimes`` never trained on at any epoch. The baseline is SGP4 fitted to the
same fit window (:func:`starbrain.models.orbit_model.fit_priors`); the model is numerical OD on
that window with a cheaper force model (:mod:`starbrain.models.orbit_od`) plus the residual of
:mod:`starbrain.models.orbit_residual`. Positions are compared in GCRS (SGP4's in TEME against
the TEME truth: the norm of a difference does not depend on the frame), km.
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from starbrain.core import timeconv
from starbrain.core.constants import WGS84_MU_KM3_S2
from starbrain.models.evaluation import DEFAULT_HORIZONS_MIN, position_errors, stratified_table
from starbrain.models.orbit_model import fit_priors
from starbrain.models.orbit_od import OdFit
from starbrain.models.orbit_od_model import od_prior_fit
from starbrain.models.orbit_residual import (
    FEATURE_NAMES,
    OrbitResidual,
    ResidualConfig,
    ResidualPrediction,
    SatelliteFeatures,
    fit_residual,
    orbit_regime,
)
from starbrain.models.truth import (
    TruthSet,
    generate_truth,
    leo_strata,
    sample_leo_elements,
)
from starbrain.physics.forces import ForceModel
from starbrain.physics.sgp4_init import RADIUS_EARTH_KM

__all__ = [
    "EpochData",
    "WorldModelResult",
    "WorldModelTrainConfig",
    "default_workers",
    "epoch_data",
    "od_features",
    "predict_with_od",
    "result_json",
    "run_world_model",
    "split_train_test",
    "train_config",
]


def _ns(t: Any) -> int:
    """UTC time -> integer nanoseconds (for ordering epochs)."""
    return int(np.asarray(timeconv.to_datetime64(t)).astype("datetime64[ns]").astype(np.int64))


@dataclass(frozen=True)
class WorldModelTrainConfig:
    """Defaults of ``starbrain model train`` (issue #14): what truth, which split, which prior.

    ``train_epochs`` / ``test_epochs``: UTC epochs (ISO), the test ones all later than every
    training one (hold-out by epoch); solar activity (81-day F10.7) at them spans low to high
    (2001-10: high, 2009-06: low, 2012-03 and 2014-06: moderate to high, 2017-09 and 2019-06:
    low; tests 2021-06: low, 2023-03 and 2024-08: high). ``sats_per_*_epoch`` generic LEO
    satellites are drawn per epoch (a fresh seed each, so test orbits are new orbits), with
    ``shell_fraction`` constellation-shell look-alikes. ``held_out_regimes``: orbit regimes
    (:func:`~starbrain.models.orbit_residual.orbit_regime`) dropped from training at every epoch.
    ``days`` of truth every ``step_min``; the prior is fitted to the first ``fit_days``.
    ``truth_degree``: EGM2008 degree and order of the truth (12 keeps training plus
    evaluation under 15 minutes on 2 cores); ``prior_degree``: the OD prior's (exponential
    atmosphere, see :func:`~starbrain.models.orbit_od.prior_force_model`). The residual
    trains on times every ``residual_step_min`` after the fit window. A satellite that sinks
    below ``min_altitude_km`` within ``days`` (a re-entry) is stopped and left out.
    """

    train_epochs: tuple[str, ...] = (
        "2001-10-01T00:00:00", "2009-06-01T00:00:00", "2012-03-01T00:00:00",
        "2014-06-01T00:00:00", "2017-09-01T00:00:00", "2019-06-01T00:00:00",
    )  # fmt: skip
    test_epochs: tuple[str, ...] = (
        "2021-06-01T00:00:00", "2023-03-01T00:00:00", "2024-08-01T00:00:00",
    )  # fmt: skip
    sats_per_train_epoch: int = 8
    sats_per_test_epoch: int = 12
    shell_fraction: float = 0.15
    held_out_regimes: tuple[str, ...] = ("500-800 km / 40-80 deg",)
    days: float = 7.0
    step_min: float = 20.0
    fit_days: float = 1.0
    truth_degree: int = 12
    prior_degree: int = 8
    od_iterations: int = 3
    residual_step_min: float = 180.0
    horizons_min: tuple[float, ...] = DEFAULT_HORIZONS_MIN
    min_altitude_km: float = 200.0
    seed: int = 0
    residual: ResidualConfig = field(default_factory=ResidualConfig)

    def __post_init__(self) -> None:
        if self.train_epochs and self.test_epochs:
            last = max(_ns(e) for e in self.train_epochs)
            first = min(_ns(e) for e in self.test_epochs)
            if first <= last:
                raise ValueError("every test epoch must be later than every training epoch")
        if not 0 < self.fit_days < self.days:
            raise ValueError("fit_days must be in (0, days)")

    def truth_force_model(self) -> ForceModel:
        """The truth's forces: :meth:`ForceModel.full` at ``truth_degree``."""
        return ForceModel.full(self.truth_degree)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def train_config(
    base: WorldModelTrainConfig | None = None, **overrides: Any
) -> WorldModelTrainConfig:
    """``base`` (default: the defaults) with the ``overrides`` that are not None: any field of
    :class:`WorldModelTrainConfig`, plus ``residual_epochs`` (the residual ensemble's training
    epochs). The one place ``starbrain model train`` and ``bench/world_model.py`` turn their
    options into a config, so equal options give equal configs."""
    cfg = base or WorldModelTrainConfig()
    given = {k: v for k, v in overrides.items() if v is not None}
    epochs = given.pop("residual_epochs", None)
    if epochs is not None:
        given["residual"] = dataclasses.replace(given.get("residual", cfg.residual), epochs=epochs)
    for key in ("train_epochs", "test_epochs", "held_out_regimes", "horizons_min"):
        if key in given:
            given[key] = tuple(given[key])
    return dataclasses.replace(cfg, **given)


@dataclass
class EpochData:
    """One epoch's satellites: truth, SGP4 baseline errors ``e_sgp4`` (n, H) at the config's
    horizons, the OD ``fit``, prior GCRS states ``r_od``/``v_od`` (n, K, 3) at ``t_days`` (K,)
    (the horizons first, then the residual's grid), ``feats`` and ``strata`` labels (n,)."""

    truth: TruthSet
    e_sgp4: np.ndarray
    fit: OdFit
    t_days: np.ndarray
    r_od: np.ndarray
    v_od: np.ndarray
    feats: SatelliteFeatures
    strata: dict[str, np.ndarray]
    seconds: dict[str, float]

    def subset(self, idx: Any) -> EpochData:
        i = np.asarray(idx)
        f = self.fit
        fit = OdFit(f.r0[i], f.v0[i], f.drag_scale[i], f.ballistic0[i], f.srp_m2kg[i],
                    f.rms_km[i], f.epoch, f.force_model)  # fmt: skip
        return EpochData(
            self.truth.subset(i), self.e_sgp4[i], fit, self.t_days, self.r_od[i], self.v_od[i],
            self.feats.subset(i), {k: v[i] for k, v in self.strata.items()}, self.seconds,
        )  # fmt: skip

    def truth_at(self, t_days: np.ndarray) -> np.ndarray:
        """GCRS truth positions (n, k, 3) at the truth samples nearest ``t_days``."""
        cols = [int(np.argmin(np.abs(self.truth.t_min - d * 1440.0))) for d in t_days]
        return self.truth.r_gcrs[:, cols]


def od_features(fit: OdFit, epoch: Any, fit_days: float) -> SatelliteFeatures:
    """The residual's inputs from an OD fit: what is known at the end of the fit window."""
    from starbrain.models.orbit_model import sun_right_ascension
    from starbrain.physics.space_weather import space_weather_provider

    r, v = fit.r0, fit.v0
    h = np.cross(r, v)
    inc = np.degrees(np.arccos(np.clip(h[:, 2] / np.linalg.norm(h, axis=1), -1, 1)))
    node = np.arctan2(h[:, 0], -h[:, 1])
    rr = np.linalg.norm(r, axis=1)
    a = 1.0 / (2.0 / rr - np.sum(v * v, axis=1) / WGS84_MU_KM3_S2)
    alt = a - RADIUS_EARTH_KM
    jd = fit.epoch[0] + fit.epoch[1]
    import torch

    sun_ra = float(sun_right_ascension(torch.tensor(jd + fit_days, dtype=torch.float64)))
    sw = space_weather_provider()
    day = float(np.floor(jd - 2400000.5 + fit_days))
    f107 = float(sw.get_f107_observed(day - 1.0))
    f107a = float(sw.get_f107_obs_avg81(day))
    ap = float(sw.get_ap_daily(day - 1.0))
    n = r.shape[0]
    vals = np.stack([
        alt, inc, np.log10(np.maximum(fit.ballistic_m2kg, 1e-4)), np.full(n, f107),
        np.full(n, f107a), np.full(n, ap), np.cos(node - sun_ra), np.sin(node - sun_ra),
        np.log10(np.maximum(np.nan_to_num(fit.rms_km, nan=1.0), 1e-4)),
    ], axis=1)  # fmt: skip
    assert vals.shape[1] == len(FEATURE_NAMES)
    return SatelliteFeatures(vals, orbit_regime(alt, inc))


def _times_days(cfg: WorldModelTrainConfig) -> np.ndarray:
    """Horizons, then the residual grid after the fit window (days since epoch)."""
    grid = np.arange(cfg.fit_days * 1440.0 + cfg.residual_step_min, cfg.days * 1440.0 + 1e-9,
                     cfg.residual_step_min)  # fmt: skip
    hz = [h for h in cfg.horizons_min if h <= cfg.days * 1440.0 + 1e-9]
    return np.concatenate([np.asarray(hz), grid]) / 1440.0


def epoch_data(
    cfg: WorldModelTrainConfig, epoch: str, n_sat: int, seed: int, prior: ForceModel | None = None
) -> EpochData:
    """Sample ``n_sat`` LEO satellites at ``epoch``, make truth, fit SGP4 and the OD prior."""
    t0, c0 = time.perf_counter(), time.process_time()
    el = sample_leo_elements(n_sat, seed=seed, epoch=epoch, shell_fraction=cfg.shell_fraction)
    truth = generate_truth(el, days=cfg.days, step_min=cfg.step_min,
                           force_model=cfg.truth_force_model(),
                           min_altitude_km=cfg.min_altitude_km)  # fmt: skip
    t1 = time.perf_counter()
    arcs = fit_priors(truth, fit_days=cfg.fit_days)
    hz = [h for h in cfg.horizons_min if h <= cfg.days * 1440.0 + 1e-9]
    e_sgp4, _ = position_errors(None, arcs, hz)
    t2 = time.perf_counter()
    use = truth.t_min <= cfg.fit_days * 1440.0 + 1e-9
    jd, fr = timeconv.datetime64_to_jd(truth.epoch)
    # drag starts from the SGP4 fit's B* (data, not the truth's spacecraft); SRP: Cr*A/m
    # of a typical bus, held fixed (not observable in a day)
    t_days = _times_days(cfg)
    fit, r_od, v_od = od_prior_fit(
        truth.r_gcrs[:, use], truth.t_min[use] * 60.0, (float(jd), float(fr)),
        truth.r_gcrs[:, 0], truth.v_gcrs[:, 0], arcs.elements.bstar.numpy(), cfg.prior_degree,
        cfg.od_iterations, t_days * 86400.0, prior,
    )  # fmt: skip
    t3 = time.perf_counter()
    assert r_od is not None and v_od is not None
    feats = od_features(fit, truth.epoch, cfg.fit_days)
    strata = dict(leo_strata(el))
    strata["regime"] = np.where(np.isin(feats.regime, cfg.held_out_regimes), "held-out regime",
                                "trained regime")  # fmt: skip
    strata["epoch"] = np.full(n_sat, str(epoch)[:10])
    secs = {"truth_s": t1 - t0, "sgp4_fit_s": t2 - t1, "od_fit_s": t3 - t2,
            "cpu_s": time.process_time() - c0}  # fmt: skip
    return EpochData(truth, e_sgp4, fit, t_days, r_od, v_od, feats, strata, secs)


def split_train_test(
    cfg: WorldModelTrainConfig, parts: list[tuple[str, EpochData]]
) -> tuple[list[EpochData], list[EpochData]]:
    """(train, test) from ``(role, data)`` pairs: role 'train' keeps only satellites outside
    ``held_out_regimes``; 'test' keeps all (new orbits at later epochs)."""
    train, test = [], []
    for role, d in parts:
        if role == "train":
            keep = np.flatnonzero(~np.isin(d.feats.regime, cfg.held_out_regimes))
            train.append(d.subset(keep))
        else:
            test.append(d)
    return train, test


def _cat(parts: list[EpochData], attr: str) -> np.ndarray:
    return np.concatenate([getattr(p, attr) for p in parts])


def predict_with_od(
    model: OrbitResidual | None, data: EpochData, t_days: np.ndarray | None = None
) -> ResidualPrediction:
    """The world model's prediction for ``data``'s satellites at its ``t_days`` (or a leading
    subset): the OD prior, corrected by ``model`` where it is valid (None: prior alone)."""
    k = data.t_days.size if t_days is None else len(t_days)
    t = data.t_days[:k]
    r, v = data.r_od[:, :k], data.v_od[:, :k]
    if model is None:
        n = r.shape[0]
        why = ["no residual model"] * n
        nan = np.full_like(r, np.nan)
        return ResidualPrediction(r, nan, np.ones(n, bool), why, "numerical-od", np.zeros(k, bool))
    return model.correct(data.feats, t, r, v)


@dataclass
class WorldModelResult:
    """What :func:`run_world_model` returns: the trained ``model``, the stratified ``table``
    (rows of :func:`~starbrain.models.evaluation.stratified_table` with ``prior_median_km`` /
    ``prior_p95_km`` of the OD prior alone added), ``coverage`` (H,) of the 2-sigma band on the
    test satellites, per-horizon, ``fell_back`` count, stage ``seconds``, the ``config``."""

    model: OrbitResidual
    table: list[dict[str, Any]]
    coverage: list[float]
    n_fell_back: int
    n_train: int
    n_test: int
    seconds: dict[str, float]
    config: WorldModelTrainConfig
    truth_force_model: str

    def metrics(self) -> dict[str, Any]:
        """JSON-ready summary for the registry."""
        held = {g: [r for r in self.table if r["label"] == g] for g in ("all", "generic")}
        return {
            "stratified": self.table, "coverage_2sigma": self.coverage,
            "n_fell_back": self.n_fell_back, "n_train": self.n_train, "n_test": self.n_test,
            "seconds": self.seconds, "held_out": held,
            "training": {"n_train": self.n_train, "seconds": self.seconds.get("total_s"),
                         "device": "cpu"},
        }  # fmt: skip


def _evaluate(
    model: OrbitResidual, test: list[EpochData], cfg: WorldModelTrainConfig
) -> tuple[list[dict[str, Any]], list[float], int]:
    hz = [h for h in cfg.horizons_min if h <= cfg.days * 1440.0 + 1e-9]
    e_sgp, e_prior, e_model, z_in, fell = [], [], [], [], 0
    for d in test:
        pred = predict_with_od(model, d, np.asarray(hz) / 1440.0)
        tru = d.truth_at(np.asarray(hz) / 1440.0)
        e_sgp.append(d.e_sgp4)
        e_prior.append(np.linalg.norm(d.r_od[:, : len(hz)] - tru, axis=-1))
        e_model.append(np.linalg.norm(pred.r - tru, axis=-1))
        from starbrain.models.orbit_residual import rtn_basis

        res = np.einsum("nkcj,nkj->nkc", rtn_basis(d.r_od[:, : len(hz)], d.v_od[:, : len(hz)]),
                        tru - pred.r)  # fmt: skip
        z_in.append(np.abs(res) <= 2.0 * pred.sigma_rtn)
        fell += int(pred.fell_back.sum())
    strata = {k: np.concatenate([d.strata[k] for d in test]) for k in test[0].strata}
    ok = np.concatenate([d.truth.ok for d in test])
    es, ep, em = np.concatenate(e_sgp), np.concatenate(e_prior), np.concatenate(e_model)
    ok &= np.isfinite(ep).all(axis=1) & np.isfinite(em).all(axis=1)
    rows = stratified_table(es, em, hz, strata, ok)
    prior_rows = stratified_table(es, ep, hz, strata, ok)
    for r, p in zip(rows, prior_rows, strict=True):
        r["prior_median_km"], r["prior_p95_km"] = p["model_median_km"], p["model_p95_km"]
    zin = np.concatenate(z_in)[ok]  # (n, H, 3)
    coverage = [float(zin[:, j].mean()) for j in range(len(hz))]
    return rows, coverage, fell


def _epoch_job(job: tuple[WorldModelTrainConfig, str, int, int]) -> EpochData:
    """One epoch's data in a worker process (a top-level function, so it pickles)."""
    cfg, epoch, n_sat, seed = job
    return epoch_data(cfg, epoch, n_sat, seed)


def _worker_init() -> None:
    """Each worker computes on one thread: the workers, not the threads, use the cores."""
    import torch

    torch.set_num_threads(1)


def default_workers() -> int:
    """Worker processes for :func:`run_world_model`: the CPUs this process may use, at most 4
    (the epochs are coarse jobs; more workers than cores only add memory)."""
    import os

    n = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, min(4, n or 1))


def _epoch_parts(cfg: WorldModelTrainConfig, say: Any, workers: int) -> list[tuple[str, EpochData]]:
    """Every epoch's :class:`EpochData` as ``(role, data)`` in the plan's order; with
    ``workers`` > 1 the epochs run in that many spawned processes (largest first). Each
    satellite is integrated on its own step size and each epoch has its own seed, so the
    result does not depend on ``workers``."""
    plan = [("train", e, cfg.sats_per_train_epoch) for e in cfg.train_epochs]
    plan += [("test", e, cfg.sats_per_test_epoch) for e in cfg.test_epochs]
    jobs = [(cfg, ep, n, cfg.seed * 1000 + k) for k, (_, ep, n) in enumerate(plan)]
    if workers <= 1 or len(jobs) <= 1:
        out = []
        for k, ((role, ep, n), job) in enumerate(zip(plan, jobs, strict=True)):
            say(f"{role} epoch {ep[:10]}: truth for {n} satellites, SGP4 and OD fits")
            out.append((role, _epoch_job(job)))
            say(f"{role} epoch {ep[:10]} done ({k + 1}/{len(jobs)})")
        return out
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor, as_completed

    say(f"{len(jobs)} epochs (truth, SGP4 and OD fits) on {workers} worker processes")
    done: dict[int, EpochData] = {}
    with ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn"),
                             initializer=_worker_init) as pool:  # fmt: skip
        order = sorted(range(len(jobs)), key=lambda k: -jobs[k][2])
        futures = {pool.submit(_epoch_job, jobs[k]): k for k in order}
        for fut in as_completed(futures):
            k = futures[fut]
            done[k] = fut.result()
            say(f"{plan[k][0]} epoch {plan[k][1][:10]} done ({len(done)}/{len(jobs)})")
    return [(plan[k][0], done[k]) for k in range(len(jobs))]


def run_world_model(
    cfg: WorldModelTrainConfig | None = None, progress: Any = None, workers: int | None = None
) -> WorldModelResult:
    """Make the data of ``cfg`` (default: the ``model train`` defaults), train the residual on
    the training epochs, evaluate on the test epochs. ``progress(message)`` is told each stage.
    ``workers``: processes for the epochs' truth and fits (default :func:`default_workers`).
    ``seconds`` holds each stage's summed time over the epochs (``truth_s``, ``sgp4_fit_s``,
    ``od_fit_s``: each worker's wall seconds, so on several workers more than the run's wall
    time; ``cpu_s`` the CPU seconds those stages took, what a loaded machine does not inflate),
    ``data_wall_s``, ``residual_train_s`` and ``total_s`` (wall, train plus evaluate), and
    ``main_cpu_s`` (this process's CPU seconds for training and evaluating the residual)."""
    cfg = cfg or WorldModelTrainConfig()
    say = progress or (lambda _m: None)
    t_start = time.perf_counter()
    parts = _epoch_parts(cfg, say, default_workers() if workers is None else workers)
    train, test = split_train_test(cfg, parts)
    secs = {s: sum(d.seconds[s] for _, d in parts) for s in parts[0][1].seconds}
    t0, c0 = time.perf_counter(), time.process_time()
    secs["data_wall_s"] = t0 - t_start
    say("training the residual ensemble")
    feats = SatelliteFeatures(np.concatenate([d.feats.values for d in train]),
                              np.concatenate([d.feats.regime for d in train]))  # fmt: skip
    t_days = train[0].t_days
    r_truth = np.concatenate([d.truth_at(t_days) for d in train])
    model = fit_residual(
        feats, t_days, r_truth, _cat(train, "r_od"), _cat(train, "v_od"), cfg.fit_days,
        f"numerical-od:egm2008-{cfg.prior_degree}x{cfg.prior_degree}+exponential",
        cfg.residual, epoch_range=(cfg.train_epochs[0], cfg.train_epochs[-1]),
    )  # fmt: skip
    secs["residual_train_s"] = time.perf_counter() - t0
    rows, coverage, fell = _evaluate(model, test, cfg)
    secs["main_cpu_s"] = time.process_time() - c0
    secs["total_s"] = time.perf_counter() - t_start
    return WorldModelResult(
        model, rows, coverage, fell, int(feats.values.shape[0]),
        sum(d.feats.values.shape[0] for d in test), secs, cfg,
        cfg.truth_force_model().to_json(),
    )  # fmt: skip


def result_json(result: WorldModelResult) -> str:
    """The result's metrics and config as JSON (for ``--json``)."""
    cfg = result.config.to_dict()
    return json.dumps({"config": cfg, **result.metrics()}, default=str, indent=1)
