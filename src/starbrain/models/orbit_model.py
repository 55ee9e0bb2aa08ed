"""The orbit world model: an SGP4 prior plus a small learned residual, trained end to end.

The prior is SGP4 propagation of mean elements fitted (:func:`~starbrain.models.fitting.
fit_elements`) to the first ``fit_days`` of a tracked arc, as an operator fits a TLE to tracking
data. The learned part (a PyTorch MLP whose inputs are the normalised fitted elements) corrects
the prior in two ways, in the spirit of ESA's ML-dSGP4 (Acciarini et al., 2024):

* input corrections to the mean motion and B* (the two elements that drive along-track drift),
  propagated through the differentiable SGP4, so training back-propagates through the physics;
* output corrections in the radial / transverse / normal (RTN) frame of the corrected state, a
  cubic polynomial in the normalised time since epoch whose coefficients the MLP predicts.

Positions in TEME, km; times in minutes since each satellite's epoch. CPU by default, CUDA when
present (:func:`~starbrain.physics.sgp4_init.resolve_device`). Seeds are fixed by the config.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import torch
from torch import Tensor, nn

from starbrain.core import timeconv
from starbrain.models.fitting import elements_from_state, fit_elements
from starbrain.models.truth import TruthSet
from starbrain.physics.sgp4 import sgp4_propagate
from starbrain.physics.sgp4_init import RADIUS_EARTH_KM, XKE, Sgp4Elements, resolve_device

__all__ = [
    "OrbitModelConfig",
    "OrbitWorldModel",
    "PriorArcs",
    "concat_arcs",
    "element_features",
    "fit_priors",
    "near_earth",
    "predict",
    "rtn_basis",
    "split_by_epoch",
    "sun_right_ascension",
    "train_orbit_model",
    "training_batch",
    "training_loop",
]

_N_FEATURES = 18
_TWOPI = 2.0 * math.pi
# scale of the drifts of (lambda, i, raan, h, k) over the horizon: 1e-4 rad is ~0.7 km in LEO
_DRIFT_SCALE = 1e-4
_BSTAR_REF = 1e-4  # [1/ER]: drag-driven drifts are learned per unit of B* / _BSTAR_REF
_N_DRIFT = 5
_ELEMENT_FIELDS = ("bstar", "ndot", "nddot", "no_kozai", "jdsatepoch", "jdsatepochF")
_RTN_SCALE_KM = 1.0
_LOSSES = ("relative", "absolute", "log")


@dataclass(frozen=True)
class OrbitModelConfig:
    """Hyper-parameters of :class:`OrbitWorldModel` and of its training (JSON-serialisable).

    ``powers``: the degree of the learned polynomials in the normalised time (drifts and RTN
    corrections are ``sum_p c_p tau^p``, p = 1..powers). ``loss``: ``"relative"`` (default) is
    the model's position error divided by SGP4's at the same satellite and time (plus
    ``loss_floor_km``), so every satellite, orbit class and horizon weighs alike and the median
    (not the few worst satellites) is what improves; ``"absolute"`` is the error in km;
    ``"log"`` its logarithm. ``time_batch`` > 0: each epoch uses that many of the training
    times, drawn at random (cheaper epochs; 0 uses all of them). ``gate_min``: every correction
    is multiplied by ``g = x^4 / (1 + x^4)``, ``x = t / gate_min`` (0 disables), so inside the
    fit span, where the fitted prior is already at its best, the model stays out of the way
    (g = 5e-5 at 1 h and 0.06 at 6 h for the default 12 h; 0.94 at 1 day). With ``x^2`` the
    held-out 6 h median error was 7-11% worse than SGP4's.
    """

    hidden: int = 64
    layers: int = 2
    epochs: int = 800
    lr: float = 1e-2
    weight_decay: float = 1e-4
    horizon_min: float = 7 * 1440.0  # time normalisation and training span
    train_step_min: float = 60.0
    fit_days: float = 1.0
    element_corrections: bool = True
    seed: int = 0
    powers: int = 3
    loss: str = "relative"
    loss_floor_km: float = 0.01
    time_batch: int = 0
    gate_min: float = 720.0

    def __post_init__(self) -> None:
        if self.loss not in _LOSSES:
            raise ValueError(f"loss must be one of {', '.join(_LOSSES)}, got {self.loss!r}")

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> OrbitModelConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in json.loads(text).items() if k in known})


def sun_right_ascension(jd: Tensor) -> Tensor:
    """Apparent right ascension of the Sun [rad] at Julian dates ``jd`` (UTC), to ~0.01 deg
    (the Astronomical Almanac's low-precision formula); enough to place an orbit's node."""
    n = jd - 2451545.0
    g = torch.deg2rad(357.528 + 0.9856003 * n)
    lam = torch.deg2rad(280.460 + 0.9856474 * n + 1.915 * torch.sin(g) + 0.020 * torch.sin(2 * g))
    eps = torch.deg2rad(23.439 - 4e-7 * n)
    return torch.atan2(torch.cos(eps) * torch.sin(lam), torch.cos(lam))


def element_features(el: Sgp4Elements) -> Tensor:
    """Normalised inputs (n_sat, 18) from mean elements, valid from LEO to GEO and HEO.

    Mean and perigee altitude (LEO-scaled, clipped) and log semi-major axis; eccentricity and
    its vector (squashed so HEO stays in range); inclination, node, node relative to the Sun
    and mean argument of latitude at epoch, as cosines and sines; log |B*| and its sign.
    """
    a_er = (XKE / el.no_kozai) ** (2.0 / 3.0)
    alt = (a_er - 1.0) * RADIUS_EARTH_KM
    alt_p = (a_er * (1.0 - el.ecco) - 1.0) * RADIUS_EARTH_KM
    es = torch.tanh(el.ecco * 100.0)
    node_sun = el.nodeo - sun_right_ascension(el.jdsatepoch + el.jdsatepochF)
    u0 = el.mo + el.argpo
    b = el.bstar
    return torch.stack(
        [
            ((alt - 800.0) / 400.0).clamp(-3.0, 3.0),
            ((alt_p - 800.0) / 400.0).clamp(-3.0, 3.0),
            torch.log(a_er) / math.log(6.6),
            es,
            el.ecco,
            es * torch.cos(el.argpo),
            es * torch.sin(el.argpo),
            torch.cos(el.inclo),
            torch.sin(el.inclo),
            torch.cos(el.nodeo),
            torch.sin(el.nodeo),
            torch.cos(node_sun),
            torch.sin(node_sun),
            torch.cos(u0),
            torch.sin(u0),
            (torch.log10(b.abs() + 1e-7) + 4.0),
            torch.tanh(b / 1e-5),
            torch.ones_like(b),
        ],
        dim=-1,
    ).to(torch.float32)


def near_earth(el: Sgp4Elements) -> Tensor:
    """(n_sat,) bool: period under 225 min (SGP4's near-earth branch). The learned correction
    applies to these only: deep-space orbits (SDP4: MEO, GEO, HEO) keep SGP4 unchanged, since
    training them together with LEO (errors 10-1000 times larger, resonant dynamics) spoiled
    both in our runs."""
    return el.no_kozai > _TWOPI / 225.0


def rtn_basis(r: Tensor, v: Tensor) -> Tensor:
    """(..., 3, 3) rows R (radial), T (along-track, in-plane), N (cross-track) unit vectors of
    states ``r``, ``v`` (..., 3)."""
    rh = r / r.norm(dim=-1, keepdim=True)
    nh = torch.linalg.cross(r, v)
    nh = nh / nh.norm(dim=-1, keepdim=True)
    th = torch.linalg.cross(nh, rh)
    return torch.stack([rh, th, nh], dim=-2)


class OrbitWorldModel(nn.Module):
    """SGP4 prior + learned residual. ``forward(elements, t_min) -> (r, v)`` TEME km, km/s,
    shape (n_sat, n_time, 3); ``elements`` are the fitted prior elements (n_sat,), ``t_min``
    (n_time,) minutes since their epoch.

    The MLP maps the normalised elements (:func:`element_features`) to (a) drifts of five mean
    elements (mean argument of latitude, inclination, RAAN and the eccentricity vector), each
    ``sum_p a_p tau^p`` with ``tau = t / horizon_min``, plus a drift of the mean argument of
    latitude proportional to B* (drag mismatch grows with the ballistic coefficient), so each
    (satellite, time) pair is propagated by SGP4 with its own drifted elements, and (b) a
    polynomial RTN position correction applied to SGP4's output. Secular rate errors of the
    prior (zonal harmonics beyond J4, third bodies, drag model, a mean motion and B* fitted to a
    short arc) show up as such drifts, which is why they are learnable from the elements. Every
    correction is 0 at the epoch and the output layer starts at zero, so an untrained model is
    exactly SGP4.
    """

    def __init__(self, config: OrbitModelConfig | None = None) -> None:
        super().__init__()
        self.config = config or OrbitModelConfig()
        torch.manual_seed(self.config.seed)
        p = self.config.powers
        n_out = p * (_N_DRIFT + 1) + 3 * p
        dims = [_N_FEATURES] + [self.config.hidden] * self.config.layers
        mods: list[nn.Module] = []
        for a, b in itertools.pairwise(dims):
            mods += [nn.Linear(a, b), nn.SiLU()]
        last = nn.Linear(dims[-1], n_out)
        nn.init.zeros_(last.weight)  # start exactly at the prior
        nn.init.zeros_(last.bias)
        self.mlp = nn.Sequential(*mods, last)

    def _outputs(self, el: Sgp4Elements) -> tuple[Tensor, Tensor]:
        """Drifts (n, powers, 5) [rad] and RTN coefficients (n, powers, 3) [km]."""
        dev = next(self.parameters()).device
        out = self.mlp(element_features(el).to(dev)).double()
        p = self.config.powers
        drift = out[:, : p * _N_DRIFT].reshape(-1, p, _N_DRIFT) * _DRIFT_SCALE
        drag = out[:, p * _N_DRIFT : p * (_N_DRIFT + 1)] * (el.bstar[:, None] / _BSTAR_REF)
        drift = torch.cat([drift[..., :1] + _DRIFT_SCALE * drag[..., None], drift[..., 1:]], -1)
        coef = _RTN_SCALE_KM * out[:, p * (_N_DRIFT + 1) :].reshape(-1, p, 3)
        return drift, coef

    def forward(self, el: Sgp4Elements, t_min: Tensor) -> tuple[Tensor, Tensor]:
        """``t_min``: (n_time,) minutes since epoch for every satellite, or (n_sat, n_time) one
        row per satellite. Returns r [km], v [km/s] (n_sat, n_time, 3) TEME."""
        dev = next(self.parameters()).device
        el = el.to(dev)
        drift, coef = self._outputs(el)
        near = near_earth(el)[:, None, None].to(drift.dtype)  # deep space: SGP4 unchanged
        drift, coef = drift * near, coef * near
        n = len(el)
        t = torch.as_tensor(t_min, dtype=torch.float64, device=dev)
        t = t.reshape(-1).expand(n, -1) if t.dim() <= 1 else t  # (n, nt)
        nt = t.shape[1]
        tau = t / self.config.horizon_min
        ps = range(1, self.config.powers + 1)
        gate, dgate = torch.ones_like(t), torch.zeros_like(t)  # dgate: d gate / d tau
        if self.config.gate_min > 0:
            x4 = (t / self.config.gate_min) ** 4
            gate = x4 / (1.0 + x4)
            # d gate / d tau = 4 x4 / (tau (1 + x4)^2), 0 at tau = 0, either sign of tau
            dgate = 4.0 * x4 / torch.where(tau == 0, 1.0, tau) / (1.0 + x4) ** 2
        powers = torch.stack([gate * tau**p for p in ps], -1)  # (n, nt, P), gated
        dpow = torch.stack([dgate * tau**p + gate * p * tau ** (p - 1) for p in ps], -1)
        if self.config.element_corrections:
            dx = torch.einsum("stp,spe->ste", powers, drift)  # (n, nt, 5)
            base = torch.stack(
                [
                    el.mo + el.argpo,
                    el.inclo,
                    el.nodeo,
                    el.ecco * torch.sin(el.argpo),
                    el.ecco * torch.cos(el.argpo),
                ],
                dim=-1,
            )
            x = (base[:, None, :] + dx).reshape(n * nt, 5)
            h, k = x[:, 3], x[:, 4]
            argp = torch.atan2(h, k)
            rep = {f: getattr(el, f).repeat_interleave(nt) for f in _ELEMENT_FIELDS}
            el_t = Sgp4Elements(
                **rep,
                ecco=torch.sqrt(h * h + k * k + 1e-30),
                argpo=torch.remainder(argp, _TWOPI),
                mo=torch.remainder(x[:, 0] - argp, _TWOPI),
                inclo=x[:, 1],
                nodeo=torch.remainder(x[:, 2], _TWOPI),
            )
            r, v, _ = sgp4_propagate(el_t, t.reshape(-1, 1))
            r, v = r.reshape(n, nt, 3), v.reshape(n, nt, 3)
        else:
            r, v, _ = sgp4_propagate(el, t)
        d_rtn = torch.einsum("stp,spc->stc", powers, coef)
        dv_rtn = torch.einsum("stp,spc->stc", dpow, coef)
        basis = rtn_basis(r, v).detach()  # the frame itself needs no gradient
        dr = torch.einsum("stc,stcj->stj", d_rtn, basis)
        dv = torch.einsum("stc,stcj->stj", dv_rtn, basis) / (self.config.horizon_min * 60.0)
        # the RTN frame turns at omega = (r x v) / |r|^2 (exact for two-body motion)
        omega = (torch.linalg.cross(r, v) / (r * r).sum(-1, keepdim=True)).detach()
        return r + dr, v + dv + torch.linalg.cross(omega, dr)

    def prior(self, el: Sgp4Elements, t_min: Tensor) -> tuple[Tensor, Tensor]:
        """SGP4 alone on the fitted elements."""
        r, v, _ = sgp4_propagate(el, t_min)
        return r, v


@dataclass
class PriorArcs:
    """Fitted prior elements for a truth set: ``elements`` (n_sat,) fitted to the first
    ``fit_days``; ``fit_rms_km`` (n_sat,) the fit residual; ``truth`` the arcs themselves."""

    elements: Sgp4Elements
    fit_rms_km: Tensor
    truth: TruthSet
    fit_days: float

    def subset(self, index: Any) -> PriorArcs:
        """The same arcs for the satellites ``index`` (an integer array) only."""
        idx = torch.as_tensor(np.asarray(index), dtype=torch.long)
        el = Sgp4Elements(**{k: v[idx] for k, v in self.elements.__dict__.items()})
        return PriorArcs(el, self.fit_rms_km[idx], self.truth.subset(idx.numpy()), self.fit_days)

    def split(self, n_test: int, seed: int = 0) -> tuple[PriorArcs, PriorArcs]:
        """(train, test): ``n_test`` satellites drawn with ``seed`` are held out."""
        perm = np.random.default_rng(seed).permutation(len(self.elements))
        return self.subset(np.sort(perm[n_test:])), self.subset(np.sort(perm[:n_test]))


def concat_arcs(parts: list[PriorArcs]) -> PriorArcs:
    """Prior arcs of several epochs (e.g. one :func:`fit_priors` per epoch of the solar cycle)
    as one set; see :func:`starbrain.models.truth.concat_truth`."""
    if not parts:
        raise ValueError("no prior arcs to concatenate")
    if len({p.fit_days for p in parts}) != 1:
        raise ValueError("prior arcs to concatenate need the same fit_days")
    from starbrain.models.truth import concat_truth

    keys = parts[0].elements.__dict__.keys()
    el = Sgp4Elements(**{k: torch.cat([p.elements.__dict__[k] for p in parts]) for k in keys})
    rms = torch.cat([p.fit_rms_km for p in parts])
    return PriorArcs(el, rms, concat_truth([p.truth for p in parts]), parts[0].fit_days)


def split_by_epoch(arcs: PriorArcs, cutoff: Any) -> tuple[PriorArcs, PriorArcs]:
    """(train, test) held out by time: satellites whose epoch is before ``cutoff`` (UTC,
    anything :func:`timeconv.to_datetime64` reads) train, the rest test."""
    epochs = arcs.truth.elements.column("epoch").to_numpy().astype("datetime64[ns]")
    cut = np.datetime64(timeconv.to_datetime64(cutoff), "ns")
    early = epochs < cut
    return arcs.subset(np.flatnonzero(early)), arcs.subset(np.flatnonzero(~early))


def fit_priors(truth: TruthSet, fit_days: float = 1.0, max_iter: int = 40) -> PriorArcs:
    """Fit SGP4 elements (B* included) to the first ``fit_days`` of each truth arc (TEME).

    The starting point of the fit comes from the truth state at epoch (no catalogue elements are
    used), with the catalogue B* as the only prior knowledge kept.
    """
    el0 = Sgp4Elements.from_table(truth.elements, device="cpu")
    use = truth.t_min <= fit_days * 1440.0 + 1e-9
    init = elements_from_state(
        truth.r_teme[:, 0], truth.v_teme[:, 0], el0.jdsatepoch.numpy(),
        el0.jdsatepochF.numpy(), bstar=el0.bstar.numpy(),
    )  # fmt: skip
    fit = fit_elements(truth.t_min[use], truth.r_teme[:, use], init, max_iter=max_iter)
    return PriorArcs(fit.elements, fit.rms_km, truth, fit_days)


@dataclass
class TrainingBatch:
    """What one training step sees: prior ``elements`` (n,), times ``t_min`` (nt,) [min],
    truth positions ``target`` (n, nt, 3) [km] and SGP4's own errors ``prior_err`` (n, nt)
    [km] there (the scale of the relative loss)."""

    elements: Sgp4Elements
    t_min: Tensor
    target: Tensor
    prior_err: Tensor

    def shard(self, rank: int, world: int) -> TrainingBatch:
        """Satellites ``rank, rank + world, ...``: one data-parallel worker's share."""
        el = Sgp4Elements(**{k: v[rank::world] for k, v in self.elements.__dict__.items()})
        return TrainingBatch(el, self.t_min, self.target[rank::world], self.prior_err[rank::world])

    def to(self, device: str | torch.device) -> TrainingBatch:
        return TrainingBatch(
            self.elements.to(device), self.t_min.to(device), self.target.to(device),
            self.prior_err.to(device),
        )  # fmt: skip


def training_batch(arcs: PriorArcs, config: OrbitModelConfig) -> TrainingBatch:
    """The near-earth satellites of ``arcs`` with complete truth and a finite fit, sampled every
    ``train_step_min`` up to ``horizon_min`` (CPU tensors)."""
    tr = arcs.truth
    ok = torch.as_tensor(tr.ok) & torch.isfinite(arcs.fit_rms_km) & near_earth(arcs.elements)
    idx = torch.nonzero(ok).flatten()
    if idx.numel() == 0:
        raise ValueError("no near-earth satellite with complete truth to train on")
    stride = max(1, round(config.train_step_min / float(tr.t_min[1] - tr.t_min[0])))
    sel = np.flatnonzero(tr.t_min <= config.horizon_min + 1e-9)[::stride]
    t = torch.as_tensor(tr.t_min[sel], dtype=torch.float64)
    target = torch.as_tensor(tr.r_teme[idx.numpy()][:, sel], dtype=torch.float64)
    el = Sgp4Elements(**{k: v[idx] for k, v in arcs.elements.__dict__.items()})
    with torch.no_grad():
        r0, _, _ = sgp4_propagate(el, t)
    return TrainingBatch(el, t, target, (r0 - target).norm(dim=-1))


def _loss(model: nn.Module, batch: TrainingBatch, config: OrbitModelConfig) -> Tensor:
    r, _ = model(batch.elements, batch.t_min)
    err = torch.sqrt(((r - batch.target) ** 2).sum(-1) + 1e-8)  # smoothed at 0.1 m
    if config.loss == "relative":
        return (err / (batch.prior_err + config.loss_floor_km)).mean()
    if config.loss == "log":
        return torch.log(err + config.loss_floor_km).mean()
    return err.mean()


def training_loop(
    model: nn.Module,
    batch: TrainingBatch,
    config: OrbitModelConfig,
    callback: Callable[[int, float], None] | None = None,
    reduce: Callable[[Tensor], Tensor] | None = None,
) -> list[float]:
    """Full-batch AdamW with a cosine learning rate over ``config.epochs``; the one loop that
    both the local path and each Ray Train worker run (there ``model`` is DDP-wrapped, so
    gradients are averaged across workers, and ``reduce`` averages the logged loss).
    Returns the loss per epoch."""
    opt = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=config.epochs)
    losses: list[float] = []
    gen = torch.Generator().manual_seed(config.seed)
    nt = batch.t_min.shape[0]
    for epoch in range(config.epochs):
        opt.zero_grad()
        step = batch
        if 0 < config.time_batch < nt:  # a fresh random subset of the times each epoch
            cols = torch.randperm(nt, generator=gen)[: config.time_batch].sort().values
            cols = cols.to(batch.t_min.device)
            step = TrainingBatch(
                batch.elements, batch.t_min[cols], batch.target[:, cols], batch.prior_err[:, cols]
            )
        loss = _loss(model, step, config)
        loss.backward()
        opt.step()
        sched.step()
        logged = loss.detach() if reduce is None else reduce(loss.detach())
        losses.append(float(logged))
        if callback is not None:
            callback(epoch, losses[-1])
    return losses


def _ray_worker(cfg: dict[str, Any]) -> None:
    """One Ray Train worker: its shard of the satellites, DDP, :func:`training_loop`."""
    import tempfile

    import ray.train
    import ray.train.torch
    import torch.distributed as dist

    ctx = ray.train.get_context()
    rank, world = ctx.get_world_rank(), ctx.get_world_size()
    config = OrbitModelConfig.from_json(cfg["config_json"])
    torch.set_num_threads(cfg["threads"])
    model = ray.train.torch.prepare_model(OrbitWorldModel(config))
    dev = next(model.parameters()).device
    batch = cfg["batch"].shard(rank, world).to(dev)

    def mean_over_workers(x: Tensor) -> Tensor:
        x = x.clone()
        dist.all_reduce(x)
        return x / world

    t0 = time.perf_counter()
    losses = training_loop(model, batch, config, reduce=mean_over_workers)
    seconds = time.perf_counter() - t0
    metrics = {"final_loss": losses[-1], "seconds": seconds}
    if rank == 0:
        with tempfile.TemporaryDirectory() as d:
            inner = model
            if isinstance(model, torch.nn.parallel.DistributedDataParallel):
                inner = cast(nn.Module, model.module)
            state = {k: v.detach().cpu() for k, v in inner.state_dict().items()}
            torch.save({"state": state, "losses": losses, "device": str(dev)}, f"{d}/model.pt")
            ray.train.report(metrics, checkpoint=ray.train.Checkpoint.from_directory(d))
    else:
        ray.train.report(metrics)


def _train_on_ray(
    batch: TrainingBatch, config: OrbitModelConfig, address: str, workers: int, threads: int
) -> tuple[dict[str, Tensor], list[float], str, float]:
    import tempfile

    from ray.train import RunConfig, ScalingConfig
    from ray.train.torch import TorchTrainer

    from starbrain.cluster import ray_init

    ray_init(address)
    storage = tempfile.mkdtemp(prefix="starbrain-ray-train-")
    trainer = TorchTrainer(
        _ray_worker,
        train_loop_config={"config_json": config.to_json(), "batch": batch, "threads": threads},
        scaling_config=ScalingConfig(
            num_workers=workers,
            use_gpu=torch.cuda.is_available(),
            resources_per_worker={"CPU": threads},
        ),
        run_config=RunConfig(storage_path=storage, name="orbit-model"),
    )
    result = trainer.fit()
    if result.checkpoint is None:
        raise RuntimeError(f"Ray Train returned no model: {result.error}")
    with result.checkpoint.as_directory() as d:
        saved = torch.load(f"{d}/model.pt", map_location="cpu", weights_only=True)
    seconds = float((result.metrics or {}).get("seconds", math.nan))
    return saved["state"], saved["losses"], f"ray:{workers}x{saved['device']}", seconds


def train_orbit_model(
    arcs: PriorArcs,
    config: OrbitModelConfig | None = None,
    device: str | torch.device | None = None,
    progress: bool = False,
    callback: Callable[[int, float], None] | None = None,
    *,
    ray_address: str | None = None,
    ray_workers: int = 2,
    ray_threads_per_worker: int = 1,
) -> tuple[OrbitWorldModel, dict[str, Any]]:
    """Train an :class:`OrbitWorldModel` on fitted priors against their truth arcs.

    Loss (``config.loss``, default relative): over satellites and times (every
    ``train_step_min`` up to ``horizon_min``) of the position error [km], full batch, AdamW with
    a cosine schedule. ``device``: default CUDA when present.

    ``ray_address``: None trains in this process; ``"local"`` starts a local Ray instance; any
    other address (``"auto"``, ``"ray://host:10001"``) joins that cluster. With Ray, a
    ``TorchTrainer`` runs :func:`training_loop` (the same loop) data-parallel on ``ray_workers``
    workers (DDP; gloo on CPU, NCCL on GPU), each with a share of the satellites, and the trained
    weights come back here. Returns the model (on ``device``) and a history dict (loss per epoch,
    seconds, device).
    """
    cfg = config or OrbitModelConfig()
    dev = resolve_device(device)
    torch.manual_seed(cfg.seed)
    batch = training_batch(arcs, cfg)
    model = OrbitWorldModel(cfg)
    t0 = time.perf_counter()
    if ray_address is not None:
        state, losses, where, _ = _train_on_ray(
            batch, cfg, ray_address, ray_workers, ray_threads_per_worker
        )
        model.load_state_dict(state)
        model = model.to(dev)
        if callback is not None:
            for epoch, loss in enumerate(losses):
                callback(epoch, loss)
    else:
        model = model.to(dev)
        where = str(dev)
        bar = None
        if progress:
            from rich.progress import Progress

            bar = Progress()
            bar.start()
            task = bar.add_task("training orbit model", total=cfg.epochs)

        def report(epoch: int, loss: float) -> None:
            if callback is not None:
                callback(epoch, loss)
            if bar is not None:
                bar.update(task, advance=1, description=f"loss {loss:8.4f}")

        try:
            losses = training_loop(model, batch.to(dev), cfg, callback=report)
        finally:
            if bar is not None:
                bar.stop()
    seconds = time.perf_counter() - t0
    model.eval()
    history = {
        "loss": losses,
        "loss_kind": cfg.loss,
        "seconds": seconds,
        "n_train": len(batch.elements),
        "device": where,
        "initial_loss": losses[0] if losses else math.nan,
        "final_loss": losses[-1] if losses else math.nan,
    }
    return model, history


def predict(
    model: OrbitWorldModel | None, elements: Sgp4Elements, t_min: Any
) -> tuple[np.ndarray, np.ndarray]:
    """TEME positions [km] and velocities [km/s], (n_sat, n_time, 3) NumPy, at ``t_min`` minutes
    since each element set's epoch: SGP4 + model, or SGP4 alone when ``model`` is None (the
    backend of ``starbrain predict``). Beyond the model's ``horizon_min`` the learned drifts are
    extrapolated polynomials: trust them less."""
    t = torch.as_tensor(np.asarray(t_min, dtype=np.float64))
    with torch.no_grad():
        if model is None:
            r, v, _ = sgp4_propagate(elements, t)
        else:
            dev = next(model.parameters()).device
            r, v = model(elements.to(dev), t.to(dev))
    return r.cpu().numpy(), v.cpu().numpy()
