"""Anomalies from a world model's own residuals, measured in its predicted uncertainty.

For one object (a vehicle, an arm, a GPU, a satellite) a world model predicts each next state
(one step, or ``k`` steps, ahead) as a mean ``mu`` and a standard deviation ``sigma``; the
observation is ``y``. A :class:`ResidualStream` holds ``r = y - mu`` and ``sigma``, both
``(n, C)`` in the channels' own units (``units``), at the observation times ``t_ns`` ``(n,)``
(UTC ns). The score of a sample is how far outside its uncertainty it falls:

    z[k, c] = |r[k, c]| / s[k, c],    s = kappa_c * sqrt(sigma**2 + floor_c**2)   ("sigma")

fitted on nominal streams only (:meth:`ResidualScorer.fit`): ``floor_c`` (channel units) is
``floor_frac`` times the robust spread of the nominal residuals, so a model that claims
certainty (a physics prior alone has ``sigma = 0``) still gets a finite score; ``kappa_c``
rescales so that the nominal signed ratio ``r / sqrt(sigma**2 + floor**2)`` has unit robust
spread (1.4826 MAD): an ensemble that is over- or under-confident on nominal data is put right,
and ``z`` reads as "standard deviations outside the model's calibrated uncertainty".

Thresholds are telemanom's (Hundman et al., KDD 2018, via :mod:`.thresholds`), fitted on the
nominal streams: ``z`` is smoothed by an EWMA (``smoothing`` samples); each channel's
``threshold`` is the largest of telemanom's nonparametric dynamic threshold over the nominal
smoothed scores, ``margin`` x their largest value and ``z_min``. A stream's samples at or above
it (widened by ``error_buffer``) form sequences that telemanom's pruning (minimum percent
decrease ``p``) keeps or drops. The stream's own dynamic threshold is not used: a fault lasting
a good part of a stream inflates its mean and spread (a 6-s gyro bias in a 16-s log raised it to
20.9 sigma and hid the 3.4-sigma fault). Kept sequences closer than ``merge_gap`` samples are
one :class:`ResidualEvent`, which names the model, the object, the channel and how many
(calibrated) sigmas out it peaked, with the residual and the model's own sigma there.

:class:`OnlineResidual` scores one sample at a time with the same calibration (EWMA state and
the fitted threshold), so batch and online flag the same samples (pruning aside).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from starbrain.core.errors import StarbrainError
from starbrain.models.anomaly.events import merge_intervals, runs
from starbrain.models.anomaly.thresholds import _dilate, dynamic_threshold, ewma, prune_sequences

__all__ = [
    "OnlineResidual",
    "ResidualConfig",
    "ResidualEvent",
    "ResidualScorer",
    "ResidualStream",
]

FloatArray = npt.NDArray[np.float64]
MAD_TO_SIGMA = 1.4826


@dataclass(frozen=True)
class ResidualStream:
    """One object's residuals against one world model (see the module docstring).

    ``residual`` and ``sigma`` ``(n, C)``: observation minus predicted mean and the model's
    predicted standard deviation (>= 0, 0 where it gives none), channel units ``units``;
    ``t_ns`` ``(n,)``: observation times (UTC ns, increasing); ``valid`` ``(n,)``: samples to
    score (False where the model had no prediction: a log's first sample, a gap); ``run_id``:
    the log, episode or arc the stream comes from (objects' runs may overlap in time)."""

    object_id: str
    model: str
    channels: tuple[str, ...]
    units: tuple[str, ...]
    t_ns: npt.NDArray[np.int64]
    residual: FloatArray
    sigma: FloatArray
    valid: npt.NDArray[np.bool_] | None = None
    run_id: str = ""

    def __post_init__(self) -> None:
        n, c = len(self.t_ns), len(self.channels)
        for name in ("residual", "sigma"):
            a = getattr(self, name)
            if a.shape != (n, c):
                raise StarbrainError(
                    f"{self.object_id}: {name} is {a.shape}, expected ({n}, {c}) for "
                    f"{n} times and the channels {', '.join(self.channels)}"
                )
        if len(self.units) != c:
            raise StarbrainError(f"{self.object_id}: one unit per channel is needed")
        if self.valid is not None and self.valid.shape != (n,):
            raise StarbrainError(f"{self.object_id}: valid must be ({n},)")

    @property
    def mask(self) -> npt.NDArray[np.bool_]:
        """``(n, C)`` True where a sample is scored: valid and finite."""
        ok = np.isfinite(self.residual) & np.isfinite(self.sigma)
        if self.valid is not None:
            ok &= self.valid[:, None]
        return ok


@dataclass(frozen=True)
class ResidualConfig:
    """Scoring settings; sample counts are in samples of the stream."""

    smoothing: float = 3.0  # EWMA span of the scores (samples)
    error_buffer: int = 2  # samples either side of a flagged score (telemanom's buffer)
    p: float = 0.13  # telemanom's minimum percent decrease in pruning
    z_min: float = 4.0  # a channel's threshold never falls below this many sigmas
    margin: float = 1.0  # threshold floor = margin x the largest nominal smoothed score
    floor_frac: float = 0.1  # sigma floor as a fraction of the nominal residuals' spread
    merge_gap: int = 20  # flagged runs closer than this are one event (samples)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ResidualEvent:
    """One anomaly: ``object_id`` scored against ``model`` on ``channel``, from ``start_ns`` to
    ``end_ns`` (UTC ns, closed). ``peak_sigma``: the largest score (calibrated sigmas outside
    the model's uncertainty) at ``peak_ns``, where the residual was ``residual`` and the model's
    own predicted sigma ``model_sigma`` (both in ``unit``); ``threshold_sigma``: the smoothed
    threshold that fired; ``score``: telemanom's ``(max e_s - eps) / (mean + std)``."""

    object_id: str
    model: str
    channel: str
    unit: str
    start_ns: int
    end_ns: int
    peak_ns: int
    peak_sigma: float
    residual: float
    model_sigma: float
    threshold_sigma: float
    score: float
    run_id: str = ""

    def message(self) -> str:
        """One line for an operator: which model, which channel, how far outside."""
        return (
            f"{self.object_id}: {self.channel} {self.peak_sigma:.1f} sigma outside {self.model}'s "
            f"uncertainty (residual {self.residual:+.4g} {self.unit}, model sigma "
            f"{self.model_sigma:.3g} {self.unit}, threshold {self.threshold_sigma:.1f})"
        )

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_detection(self) -> Any:
        """This event as the launch detector's ``Detection`` (``source`` = object, ``parameter``
        = channel, ``score`` = peak sigma, ``method`` = ``residual:<model>``), for
        ``detector.detections_table`` and the ``anomalies`` stream."""
        from starbrain.models.anomaly.detector import Detection

        return Detection(self.object_id, self.channel, self.start_ns, self.end_ns,
                         self.peak_sigma, f"residual:{self.model}")  # fmt: skip


def _robust_spread(x: FloatArray) -> float:
    x = x[np.isfinite(x)]
    if x.size == 0:
        return 0.0
    return float(np.median(np.abs(x - np.median(x))) * MAD_TO_SIGMA)


@dataclass
class ResidualScorer:
    """Residual-over-uncertainty scores, thresholds and events for one channel layout.

    Fit on nominal streams (:meth:`fit`), then :meth:`score` and :meth:`events` any stream with
    the same ``channels``. ``floor`` (channel units), ``kappa`` and ``threshold`` (sigmas) are
    ``(C,)``; a channel whose nominal residuals have no spread at all is not scored
    (``active`` False: its prediction is exact by construction)."""

    config: ResidualConfig = field(default_factory=ResidualConfig)
    channels: tuple[str, ...] = ()
    floor: FloatArray = field(default_factory=lambda: np.zeros(0))
    kappa: FloatArray = field(default_factory=lambda: np.zeros(0))
    threshold: FloatArray = field(default_factory=lambda: np.zeros(0))
    active: npt.NDArray[np.bool_] = field(default_factory=lambda: np.zeros(0, bool))
    model: str = ""

    @property
    def fitted(self) -> bool:
        return len(self.channels) > 0

    def fit(self, nominal: Sequence[ResidualStream]) -> ResidualScorer:
        """Calibrate on nominal streams (no fault anywhere in them)."""
        if not nominal:
            raise StarbrainError("fitting a residual scorer needs at least one nominal stream")
        self.channels, self.model = nominal[0].channels, nominal[0].model
        for s in nominal:
            self._check(s)
        c = len(self.channels)
        r = [np.where(s.mask, s.residual, np.nan) for s in nominal]
        spread = np.array([_robust_spread(np.concatenate([x[:, j] for x in r])) for j in range(c)])
        self.active = spread > 0
        self.floor = np.where(self.active, self.config.floor_frac * spread, 1.0)
        self.kappa = np.ones(c)
        ratio = [x / np.sqrt(s.sigma**2 + self.floor**2) for x, s in zip(r, nominal, strict=True)]
        for j in range(c):
            k = _robust_spread(np.concatenate([x[:, j] for x in ratio]))
            self.kappa[j] = k if k > 0 else 1.0
        e_s = [self.smoothed(s) for s in nominal]
        peaks = np.max([e.max(axis=0) for e in e_s], axis=0)
        cat = np.concatenate(e_s)
        eps = [dynamic_threshold(cat[:, j], error_buffer=self.config.error_buffer).epsilon
               if self.active[j] else 0.0 for j in range(c)]  # fmt: skip
        dyn = np.where(np.isfinite(eps), eps, 0.0)
        self.threshold = np.maximum.reduce([np.full(c, self.config.z_min),
                                            self.config.margin * peaks, dyn])  # fmt: skip
        return self

    def _check(self, s: ResidualStream) -> None:
        if s.channels != self.channels:
            raise StarbrainError(
                f"{s.object_id}: channels {', '.join(s.channels)} differ from the scorer's "
                f"({', '.join(self.channels)})"
            )

    def score(self, s: ResidualStream) -> FloatArray:
        """``(n, C)`` scores in calibrated sigmas; 0 where not scored."""
        if not self.fitted:
            raise StarbrainError("the residual scorer is not fitted: call fit() on nominal data")
        self._check(s)
        z = np.abs(s.residual) / (self.kappa * np.sqrt(s.sigma**2 + self.floor**2))
        return np.where(s.mask & self.active, z, 0.0)

    def smoothed(self, s: ResidualStream) -> FloatArray:
        """The scores smoothed by the EWMA (``config.smoothing`` samples), ``(n, C)``."""
        return ewma(self.score(s), max(1.0, self.config.smoothing))

    def events(self, s: ResidualStream) -> list[ResidualEvent]:
        """Anomalous events of one stream, per channel, in time order."""
        cfg = self.config
        z = self.score(s)
        e_s = ewma(z, max(1.0, cfg.smoothing))
        out: list[ResidualEvent] = []
        dt = int(np.median(np.diff(s.t_ns))) if len(s.t_ns) > 1 else 0
        for j in np.flatnonzero(self.active):
            eps = float(self.threshold[j])
            flagged = runs(_dilate(e_s[:, j] >= eps, cfg.error_buffer))
            if len(flagged) == 0:
                continue
            kept, maxima = prune_sequences(e_s[:, j], flagged, eps, cfg.p)
            spread = float(e_s[:, j].mean() + e_s[:, j].std())
            scores = (maxima - eps) / spread if spread > 0 else maxima * 0.0
            seqs = kept.tolist()
            for a, b in merge_intervals(seqs, cfg.merge_gap):
                a, b = int(a), int(b)
                sel = [i for i, (x, y) in enumerate(seqs) if x >= a and y <= b]
                k = a + int(np.argmax(z[a : b + 1, j]))
                out.append(
                    ResidualEvent(
                        s.object_id, s.model, s.channels[j], s.units[j], int(s.t_ns[a]),
                        int(s.t_ns[b]) + dt, int(s.t_ns[k]), float(z[k, j]),
                        float(s.residual[k, j]), float(s.sigma[k, j]), eps,
                        float(np.max(scores[sel])) if sel else 0.0, s.run_id,
                    )
                )  # fmt: skip
        return sorted(out, key=lambda e: (e.start_ns, e.channel))

    def online(self, object_id: str = "live", units: Sequence[str] | None = None) -> OnlineResidual:
        """A per-sample scorer for one object with this calibration."""
        return OnlineResidual(self, object_id, tuple(units or ("",) * len(self.channels)))

    def state(self) -> dict[str, Any]:
        """JSON-ready state (``from_state`` rebuilds the scorer)."""
        return {
            "config": self.config.to_dict(),
            "channels": list(self.channels),
            "floor": self.floor.tolist(),
            "kappa": self.kappa.tolist(),
            "threshold": self.threshold.tolist(),
            "active": self.active.tolist(),
            "model": self.model,
        }

    @classmethod
    def from_state(cls, d: dict[str, Any]) -> ResidualScorer:
        return cls(ResidualConfig(**d["config"]), tuple(d["channels"]), np.asarray(d["floor"]),
                   np.asarray(d["kappa"]), np.asarray(d["threshold"]),
                   np.asarray(d["active"], bool), str(d["model"]))  # fmt: skip


@dataclass
class _Open:
    start_ns: int
    last_ns: int
    peak: tuple[float, int, float, float]  # z, t_ns, residual, model sigma


class OnlineResidual:
    """Scores one object's samples as they arrive: :meth:`step` takes one observation's
    residual and the model's sigma ``(C,)`` and returns the events it closed (an event closes
    once its channel has stayed below threshold for ``merge_gap`` samples); :meth:`flush` closes
    the rest. The threshold is the fitted one; events are not pruned (that needs the future)."""

    def __init__(self, scorer: ResidualScorer, object_id: str, units: tuple[str, ...]) -> None:
        if not scorer.fitted:
            raise StarbrainError("the residual scorer is not fitted: call fit() on nominal data")
        self.sc, self.object_id, self.units = scorer, object_id, units
        cfg = scorer.config
        self.alpha = 2.0 / (max(1.0, cfg.smoothing) + 1.0)
        self.e_s: FloatArray | None = None
        self.eps = scorer.threshold.copy()
        self.open: dict[int, _Open] = {}
        self.dt_ns = 0
        self.last_t = 0

    def step(self, t_ns: int, residual: FloatArray, sigma: FloatArray) -> list[ResidualEvent]:
        sc, cfg = self.sc, self.sc.config
        z = np.abs(residual) / (sc.kappa * np.sqrt(sigma**2 + sc.floor**2))
        z = np.where(np.isfinite(z) & sc.active, z, 0.0)
        self.e_s = z if self.e_s is None else self.alpha * z + (1 - self.alpha) * self.e_s
        if self.last_t:
            self.dt_ns = t_ns - self.last_t
        self.last_t = t_ns
        out = []
        for j in np.flatnonzero(self.e_s > self.eps).tolist():
            ev = self.open.get(j)
            peak = (float(z[j]), t_ns, float(residual[j]), float(sigma[j]))
            if ev is None:
                self.open[j] = _Open(t_ns, t_ns, peak)
            else:
                ev.last_ns = t_ns
                if peak[0] > ev.peak[0]:
                    ev.peak = peak
        for j in list(self.open):
            if self.e_s[j] <= self.eps[j] and t_ns - self.open[j].last_ns > cfg.merge_gap * max(
                self.dt_ns, 1
            ):
                out.append(self._close(j))
        return out

    def flush(self) -> list[ResidualEvent]:
        return [self._close(j) for j in list(self.open)]

    def _close(self, j: int) -> ResidualEvent:
        ev, sc = self.open.pop(j), self.sc
        z, t, r, s = ev.peak
        return ResidualEvent(self.object_id, sc.model, sc.channels[j], self.units[j],
                             ev.start_ns, ev.last_ns + self.dt_ns, t, z, r, s,
                             float(self.eps[j]), 0.0)  # fmt: skip
