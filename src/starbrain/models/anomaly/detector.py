"""The anomaly detector of launch-vehicle telemetry: three methods behind one interface, with
their calibration, persistence and event-wise evaluation.

Methods (``METHODS``):

* ``residual-sigma``: the world model's residual over its own predicted uncertainty. Group
  LSTM forecasters with a variance head (:mod:`.forecaster`, Gaussian NLL) predict each
  channel's next normalised difference and its standard deviation; the score is
  ``|d - d_hat| / sigma_hat`` (in sigmas), EWMA-smoothed over ``sigma_smoothing_s`` and
  thresholded per channel by telemanom's dynamic threshold, never below ``floor_margin`` x the
  largest score on nominal calibration flights (both tuned on the labelled calibration
  flights, seeds 3000-3009, never on the held-out 5000+);
* ``telemanom-lstm``: group LSTM forecasters (:mod:`.forecaster`), errors smoothed by an EWMA
  and thresholded per channel by telemanom's nonparametric dynamic threshold
  (:mod:`.thresholds`; Hundman et al., KDD 2018);
* ``robust-z``: robust z-score of rolling-median residuals (:class:`.baselines.RobustZScorer`);
* ``isolation-forest``: scikit-learn's isolation forest on residuals and noise levels
  (:class:`.baselines.IsolationForestScorer`).

Calibration, shared by all three: a channel's threshold never falls below the largest score it
reached on nominal calibration flights (flights not used for training). Samples within
``mask_before_s`` / ``mask_after_s`` of a commanded mode change (the ``stage`` and
``engine_state`` channels: staging, ignition, cut-off), of the start of the record, and just
after a data gap are not scored,
because such transients are announced, not anomalous. Optional data-quality ``rules`` (reported
as their own method ``rules``): packet gaps (dropout) and flat-lined channels (a noisy sensor
whose reading repeats exactly for ``flatline_s``).
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from starbrain.core.errors import StarbrainError
from starbrain.models.anomaly.baselines import IsolationForestScorer, RobustZScorer
from starbrain.models.anomaly.data import TelemetryFrame
from starbrain.models.anomaly.events import EventScores, event_scores, merge_intervals, runs
from starbrain.models.anomaly.forecaster import Forecaster, ForecasterConfig
from starbrain.models.anomaly.thresholds import dynamic_threshold, ewma
from starbrain.physics.flight_sim import CONTINUOUS_CHANNELS

__all__ = [
    "METHODS",
    "AnomalyDetector",
    "Detection",
    "DetectorConfig",
    "detections_table",
    "evaluate",
]

FloatArray = npt.NDArray[np.float64]
METHODS = ("residual-sigma", "telemanom-lstm", "robust-z", "isolation-forest")
SIGMA = "residual-sigma"
RULES = "rules"
MODE_CHANNELS = ("stage", "engine_state")
KIND = "anomaly-detector/1"


@dataclass(frozen=True)
class Detection:
    """One detected anomaly: the channel (or group) that triggered it, its time span (UTC ns),
    a score (larger = more anomalous) and the method; ``sigma``: for ``residual-sigma``, the
    peak smoothed ``|residual| / predicted sigma`` (how far outside the model's uncertainty),
    which is also its ``score`` (so the stored ``anomalies`` stream keeps it)."""

    source: str
    parameter: str
    start_ns: int
    end_ns: int
    score: float
    method: str
    label: str | None = None
    sigma: float | None = None

    @property
    def model(self) -> str:
        """The model that raised it: the world model for ``residual-sigma``, else the method."""
        return {SIGMA: "lstm-variance-forecaster"}.get(self.method, self.method)

    @property
    def link(self) -> str:
        """The console view of the event: the telemetry tab at the source and start time."""
        from urllib.parse import quote

        when = str(np.datetime64(self.start_ns, "ns"))[:23] + "Z"
        return f"/#telemetry?flight={quote(self.source)}&t={when}&channel={quote(self.parameter)}"

    def alert(self) -> dict[str, Any]:
        """What an alert says: model, channel, span, how many sigmas out, the console link."""
        return {
            "model": self.model,
            "method": self.method,
            "source": self.source,
            "channel": self.parameter,
            "start": str(np.datetime64(self.start_ns, "ns"))[:23] + "Z",
            "end": str(np.datetime64(self.end_ns, "ns"))[:23] + "Z",
            "score": round(self.score, 3),
            "sigma": None if self.sigma is None else round(self.sigma, 2),
            "link": self.link,
        }


@dataclass(frozen=True)
class DetectorConfig:
    forecaster: ForecasterConfig = field(default_factory=ForecasterConfig)
    sigma_forecaster: ForecasterConfig = field(
        default_factory=lambda: ForecasterConfig(variance_head=True)
    )
    smoothing_s: float = 0.5  # EWMA span of the LSTM errors
    error_buffer: int = 3  # samples either side of a flagged error (telemanom's buffer)
    p: float = 0.13  # minimum percent decrease in pruning
    z_min: float = 6.0  # robust-z: never below this
    merge_gap_s: float = 2.0  # detections closer than this are one event
    mask_before_s: float = 1.0
    mask_after_s: float = 5.0
    flatline_s: float = 1.0
    rolling_window: int = 20
    seed: int = 0
    sigma_smoothing_s: float = 0.25  # EWMA span of |residual| / sigma (calibration-tuned)
    floor_margin: float = 1.3  # residual-sigma threshold >= this x the nominal maximum
    lstm_floor_margin: float = 1.0  # the same for telemanom-lstm (1: as first published here)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DetectorConfig:
        d = dict(d)
        d["forecaster"] = ForecasterConfig(**d["forecaster"])
        if d.get("sigma_forecaster") is not None:
            d["sigma_forecaster"] = ForecasterConfig(**d["sigma_forecaster"])
        return cls(**d)


def scoring_mask(frame: TelemetryFrame, before_s: float, after_s: float) -> npt.NDArray[np.bool_]:
    """``(n,)`` True where samples are scored: away from mode changes and data gaps."""
    n = len(frame.t_ns)
    dt = frame.dt_s or 1.0
    ok = np.ones(n, dtype=bool)
    filled = frame.filled()
    changes: list[int] = [0]  # the start of the record: no history yet
    for c in MODE_CHANNELS:
        if c in frame.channels:
            col = filled[:, frame.channels.index(c)]
            changes += list(np.flatnonzero(np.diff(col) != 0) + 1)
    gaps: npt.NDArray[np.bool_] = np.asarray(np.isnan(frame.values).any(axis=1))
    b, a = int(np.ceil(before_s / dt)), int(np.ceil(after_s / dt))
    for i in changes:
        ok[max(0, i - b) : i + a] = False
    for s, e in runs(gaps):
        ok[s : e + 1 + a] = False
    return ok


@dataclass
class AnomalyDetector:
    """Trained detectors for one channel layout (``channels``; ``groups``: group -> channels)."""

    channels: tuple[str, ...]
    groups: dict[str, tuple[str, ...]]
    config: DetectorConfig = DetectorConfig()
    forecaster: Forecaster | None = None
    sigma_model: Forecaster | None = None
    robust_z: RobustZScorer | None = None
    iforest: IsolationForestScorer | None = None
    floors: dict[str, FloatArray] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def monitored(self) -> list[int]:
        return [i for i, c in enumerate(self.channels) if c in CONTINUOUS_CHANNELS]

    # training -----------------------------------------------------------------------------------
    @classmethod
    def train(
        cls,
        train: Sequence[TelemetryFrame],
        calibration: Sequence[TelemetryFrame],
        config: DetectorConfig = DetectorConfig(),
        methods: Sequence[str] = METHODS,
        progress: Callable[[], object] | None = None,
    ) -> AnomalyDetector:
        """Fit the methods on nominal ``train`` flights; calibrate floors on nominal
        ``calibration`` flights (at least one)."""
        if not train or not calibration:
            raise StarbrainError("training needs at least one training and one calibration flight")
        first = train[0]
        det = cls(first.channels, dict(first.groups), config)
        for f in (*train, *calibration):
            if f.channels != det.channels:
                raise StarbrainError(f"flight {f.source} has a different channel layout")
        xs = [f.filled() for f in train]
        masks = [scoring_mask(f, config.mask_before_s, config.mask_after_s) for f in train]
        mon = det.monitored
        inputs = {g: [det.channels.index(c) for c in chans] for g, chans in det.groups.items()}
        outputs = {g: [i for i in idx if i in mon] for g, idx in inputs.items()}
        if SIGMA in methods:
            det.sigma_model = Forecaster(inputs, outputs, config.sigma_forecaster).fit(
                xs, masks, progress
            )
        if "telemanom-lstm" in methods:
            det.forecaster = Forecaster(inputs, outputs, config.forecaster).fit(xs, masks, progress)
        if "robust-z" in methods:
            det.robust_z = RobustZScorer(config.rolling_window).fit(xs, masks)
        if "isolation-forest" in methods:
            det.iforest = IsolationForestScorer(config.rolling_window, seed=config.seed).fit(
                [x[:, mon] for x in xs], masks
            )
        det.calibrate(calibration)
        det.metadata["n_train"] = len(train)
        det.metadata["n_calibration"] = len(calibration)
        return det

    def calibrate(self, calibration: Sequence[TelemetryFrame]) -> AnomalyDetector:
        """Set every method's per-channel floor: its largest score on the nominal
        ``calibration`` flights (re-run after changing the smoothing of ``config``)."""
        floors: dict[str, list[FloatArray]] = {}
        for f in calibration:
            for m, s in self._scores(f).items():
                floors.setdefault(m, []).append(s.max(axis=0))
        self.floors = {m: np.max(v, axis=0) for m, v in floors.items()}
        return self

    @property
    def methods(self) -> list[str]:
        out = []
        if self.sigma_model is not None:
            out.append(SIGMA)
        if self.forecaster is not None:
            out.append("telemanom-lstm")
        if self.robust_z is not None:
            out.append("robust-z")
        if self.iforest is not None:
            out.append("isolation-forest")
        return out

    # scoring ------------------------------------------------------------------------------------
    def _check(self, frame: TelemetryFrame) -> None:
        if frame.channels != self.channels:
            missing = set(self.channels) - set(frame.channels)
            raise StarbrainError(
                f"{frame.source}: telemetry channels differ from the detector's"
                + (f" (missing {', '.join(sorted(missing)[:5])})" if missing else "")
            )

    def _scores(self, frame: TelemetryFrame) -> dict[str, FloatArray]:
        """Masked score matrices per method: ``(n, C)`` (isolation forest: ``(n, 1)``)."""
        cfg = self.config
        x = frame.filled()
        mask = scoring_mask(frame, cfg.mask_before_s, cfg.mask_after_s)[:, None]
        out: dict[str, FloatArray] = {}
        if self.sigma_model is not None:
            r, sd = self.sigma_model.residuals(x)
            span = max(1.0, cfg.sigma_smoothing_s / (frame.dt_s or 1.0))
            out[SIGMA] = ewma(np.abs(r) / sd * mask, span)
        if self.forecaster is not None:
            span = max(1.0, cfg.smoothing_s / (frame.dt_s or 1.0))
            out["telemanom-lstm"] = ewma(self.forecaster.errors(x) * mask, span)
        if self.robust_z is not None:
            z = self.robust_z.score(x)
            z[:, [i for i in range(len(self.channels)) if i not in self.monitored]] = 0.0
            out["robust-z"] = z * mask
        if self.iforest is not None:
            s, _ = self.iforest.score(x[:, self.monitored])
            out["isolation-forest"] = (s[:, None] - 0.0) * mask
        return out

    def detect(
        self, frame: TelemetryFrame, methods: Sequence[str] | None = None, rules: bool = True
    ) -> list[Detection]:
        """Anomalies in one flight by each method (and the data-quality rules)."""
        self._check(frame)
        cfg = self.config
        methods = list(methods or self.methods)
        unknown = set(methods) - set(self.methods)
        if unknown:
            raise StarbrainError(f"this detector was not trained for {', '.join(sorted(unknown))}")
        scores = self._scores(frame)
        t = frame.t_ns
        dt_ns = round((frame.dt_s or 1.0) * 1e9)
        gap = max(1, round(cfg.merge_gap_s / (frame.dt_s or 1.0)))
        out: list[Detection] = []

        def add(
            method: str, c: int, seqs: npt.NDArray[np.int64], vals: FloatArray, sig: bool = False
        ) -> None:
            for (a, b), v in zip(_merge_runs(seqs, gap), _merge_vals(seqs, vals, gap), strict=True):
                peak = float(scores[method][a : b + 1, c].max()) if sig else None
                out.append(
                    Detection(frame.source, self.channels[c], int(t[a]), int(t[b]) + dt_ns,
                              float(v) if peak is None else peak, method, sigma=peak)
                )  # fmt: skip

        for m in methods:
            s = scores[m]
            margin = {SIGMA: cfg.floor_margin, "telemanom-lstm": cfg.lstm_floor_margin}
            floor = self.floors[m] * margin.get(m, 1.0)
            if m in ("telemanom-lstm", SIGMA):
                for c in self.monitored:
                    th = dynamic_threshold(
                        s[:, c], error_buffer=cfg.error_buffer, p=cfg.p, floor=float(floor[c])
                    )
                    add(m, c, th.sequences, th.scores, sig=m == SIGMA)
            elif m == "robust-z":
                for c in self.monitored:
                    thr = max(cfg.z_min, float(floor[c]))
                    seqs = runs(s[:, c] > thr)
                    add(m, c, seqs, _seq_max(s[:, c], seqs) / thr)
            else:
                assert self.iforest is not None
                thr = float(floor[0])
                seqs = runs(s[:, 0] > thr)
                _, blame = self.iforest.score(frame.filled()[:, self.monitored])
                for (a, b), v in zip(
                    _merge_runs(seqs, gap), _merge_vals(seqs, _seq_max(s[:, 0], seqs), gap),
                    strict=True,
                ):  # fmt: skip
                    c = self.monitored[int(np.bincount(blame[a : b + 1]).argmax())]
                    out.append(
                        Detection(frame.source, self.channels[c], int(t[a]), int(t[b]) + dt_ns,
                                  float(v - thr), m)
                    )  # fmt: skip
        if rules:
            out += self.rule_detections(frame)
        return out

    def rule_detections(self, frame: TelemetryFrame) -> list[Detection]:
        """Packet gaps of two or more samples (per group) and exact flat lines of noisy
        channels lasting ``flatline_s``."""
        t, v = frame.t_ns, frame.values
        dt_ns = round((frame.dt_s or 1.0) * 1e9)
        out: list[Detection] = []
        for g, chans in frame.groups.items():
            idx = [frame.channels.index(c) for c in chans]
            missing: npt.NDArray[np.bool_] = np.asarray(np.isnan(v[:, idx]).all(axis=1))
            for a, b in runs(missing):
                if b - a + 1 >= 2:
                    out.append(
                        Detection(frame.source, g, int(t[a]), int(t[b]) + dt_ns,
                                  float(b - a + 1), RULES)
                    )  # fmt: skip
        k = max(2, round(self.config.flatline_s / (frame.dt_s or 1.0)))
        same = np.diff(v, axis=0) == 0  # NaN compares unequal: gaps never flat-line
        for c in self.monitored:
            for a, b in runs(same[:, c]):
                if b - a + 1 >= k:
                    out.append(
                        Detection(frame.source, self.channels[c], int(t[a]), int(t[b + 1]) + dt_ns,
                                  float(b - a + 1), RULES)
                    )  # fmt: skip
        return out

    # persistence --------------------------------------------------------------------------------
    def to_bytes(self) -> bytes:
        import pickle

        state = {
            "kind": KIND,
            "channels": self.channels,
            "groups": self.groups,
            "config": asdict(self.config),
            "forecaster": self.forecaster.state() if self.forecaster else None,
            "sigma_model": self.sigma_model.state() if self.sigma_model else None,
            "robust_z": self.robust_z.state() if self.robust_z else None,
            "iforest": pickle.dumps(self.iforest) if self.iforest else None,
            "floors": self.floors,
            "metadata": self.metadata,
        }
        buf = io.BytesIO()
        import torch

        torch.save(state, buf)
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes, device: Any = None) -> AnomalyDetector:
        """Load a detector written by :meth:`to_bytes` (pickled: load only files you made)."""
        import pickle

        import torch

        state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=False)
        if not isinstance(state, dict) or state.get("kind") != KIND:
            raise StarbrainError("not an anomaly-detector file")
        det = cls(
            tuple(state["channels"]),
            {k: tuple(v) for k, v in state["groups"].items()},
            DetectorConfig.from_dict(state["config"]),
        )
        if state["forecaster"] is not None:
            det.forecaster = Forecaster.from_state(state["forecaster"], device)
        if state.get("sigma_model") is not None:
            det.sigma_model = Forecaster.from_state(state["sigma_model"], device)
        if state["robust_z"] is not None:
            det.robust_z = RobustZScorer.from_state(state["robust_z"])
        if state["iforest"] is not None:
            det.iforest = pickle.loads(state["iforest"])
        det.floors = {k: np.asarray(v) for k, v in state["floors"].items()}
        det.metadata = dict(state["metadata"])
        return det

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(self.to_bytes())
        return path

    @classmethod
    def load(cls, path: str | Path, device: Any = None) -> AnomalyDetector:
        path = Path(path)
        if not path.is_file():
            raise StarbrainError(
                f"{path}: no trained detector there; train one with `starbrain anomalies train`"
            )
        return cls.from_bytes(path.read_bytes(), device)


def _seq_max(s: FloatArray, seqs: npt.NDArray[np.int64]) -> FloatArray:
    return np.array([s[a : b + 1].max() for a, b in seqs]) if len(seqs) else np.zeros(0)


def _merge_runs(seqs: npt.NDArray[np.int64], gap: int) -> list[tuple[int, int]]:
    return [(int(a), int(b)) for a, b in merge_intervals(seqs.tolist(), gap)]


def _merge_vals(seqs: npt.NDArray[np.int64], vals: FloatArray, gap: int) -> list[float]:
    merged = _merge_runs(seqs, gap)
    out = []
    for a, b in merged:
        sel = (seqs[:, 0] >= a) & (seqs[:, 1] <= b)
        out.append(float(np.max(vals[sel])) if sel.any() else 0.0)
    return out


# -- outputs and evaluation -----------------------------------------------------------------------
def detections_table(detections: Sequence[Detection], detected_at: Any = None) -> pa.Table:
    """Detections in ``ANOMALIES_SCHEMA`` (the store's ``anomalies`` stream)."""
    from starbrain.core import timeconv
    from starbrain.core.schemas.anomalies import ANOMALIES_SCHEMA

    when = timeconv.utc_now() if detected_at is None else timeconv.to_datetime64(detected_at)
    when_ns = int(np.asarray(when).astype("datetime64[ns]").astype(np.int64))
    ts = pa.timestamp("ns", tz="UTC")
    return pa.table(
        {
            "source": pa.array([d.source for d in detections], pa.string()),
            "parameter": pa.array([d.parameter for d in detections], pa.string()),
            "start": pa.array([d.start_ns for d in detections], pa.int64()).cast(ts),
            "end": pa.array([d.end_ns for d in detections], pa.int64()).cast(ts),
            "score": pa.array([d.score for d in detections], pa.float64()),
            "method": pa.array([d.method for d in detections], pa.string()),
            "detected_at": pa.array([when_ns] * len(detections), pa.int64()).cast(ts),
            "label": pa.array([d.label for d in detections], pa.string()),
        },
        schema=ANOMALIES_SCHEMA,
    )


def label_detections(detections: Sequence[Detection], labels: pa.Table) -> list[Detection]:
    """Each detection with the kind of the first labelled anomaly its span overlaps (or None)."""
    from dataclasses import replace

    if labels.num_rows == 0:
        return list(detections)
    ls = labels.column("start").cast(pa.int64()).to_numpy()
    le = labels.column("end").cast(pa.int64()).to_numpy()
    kinds = labels.column("kind").to_pylist()
    out = []
    for d in detections:
        hit = np.flatnonzero((ls <= d.end_ns) & (d.start_ns <= le))
        out.append(replace(d, label=kinds[hit[0]]) if hit.size else d)
    return out


@dataclass
class Evaluation:
    """Event-wise scores per method (and per method with the rules added), and recall per
    anomaly kind and method."""

    scores: dict[str, EventScores]
    recall_by_kind: dict[str, dict[str, tuple[int, int]]]  # method -> kind -> (found, total)
    n_flights: int
    n_labels: int

    def rows(self) -> list[dict[str, Any]]:
        """One row per method: precision, recall, F-beta, TP/FP/FN, and per anomaly kind the
        labelled anomalies found (``found_<kind>``) out of ``total_<kind>``."""
        kinds = sorted({k for v in self.recall_by_kind.values() for k in v})
        out: list[dict[str, Any]] = []
        for m, sc in self.scores.items():
            row: dict[str, Any] = {"method": m, **sc.as_dict()}
            for k in kinds:
                found, total = self.recall_by_kind.get(m, {}).get(k, (None, None))
                row[f"found_{k}"], row[f"total_{k}"] = found, total
            out.append(row)
        return out

    def markdown(self) -> str:
        lines = [
            "| method | precision | recall | F0.5 | TP | FP | FN |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for m, s in self.scores.items():
            lines.append(
                f"| {m} | {s.precision:.2f} | {s.recall:.2f} | {s.f_beta:.2f} | "
                f"{s.tp} | {s.fp} | {s.fn} |"
            )
        return "\n".join(lines)

    def kinds_markdown(self) -> str:
        kinds = sorted({k for v in self.recall_by_kind.values() for k in v})
        lines = [
            "| method | " + " | ".join(kinds) + " |",
            "|---|" + "---:|" * len(kinds),
        ]
        for m, v in self.recall_by_kind.items():
            cells = [f"{v[k][0]}/{v[k][1]}" if k in v else "-" for k in kinds]
            lines.append(f"| {m} | " + " | ".join(cells) + " |")
        return "\n".join(lines)


def evaluate(
    detector: AnomalyDetector,
    flights: Sequence[tuple[TelemetryFrame, pa.Table]],
    merge_gap_s: float | None = None,
    progress: Callable[[], object] | None = None,
) -> Evaluation:
    """Event-wise precision, recall and F0.5 per method over labelled flights. Within a flight,
    a method's detections on all channels are merged into events (joined when closer than
    ``merge_gap_s``) and matched to the labels by time overlap (:func:`.events.event_scores`)."""
    gap_ns = (detector.config.merge_gap_s if merge_gap_s is None else merge_gap_s) * 1e9
    names = [*detector.methods, RULES, *(f"{m}+rules" for m in detector.methods)]
    scores = {m: EventScores(0, 0, 0) for m in names}
    by_kind: dict[str, dict[str, tuple[int, int]]] = {m: {} for m in names}
    n_labels = 0
    for frame, labels in flights:
        dets = detector.detect(frame, rules=True)
        lab = list(
            zip(
                labels.column("start").cast(pa.int64()).to_pylist(),
                labels.column("end").cast(pa.int64()).to_pylist(),
                strict=True,
            )
        )
        kinds = labels.column("kind").to_pylist()
        n_labels += len(lab)
        for m in names:
            parts = m.split("+")
            spans = [(d.start_ns, d.end_ns) for d in dets if d.method in parts]
            pred = merge_intervals(spans, gap_ns)
            scores[m] = scores[m] + event_scores(lab, pred)
            for (a, b), k in zip(lab, kinds, strict=True):
                hit = any(pa_ <= b and a <= pb for pa_, pb in pred)
                f, tot = by_kind[m].get(k, (0, 0))
                by_kind[m][k] = (f + int(hit), tot + 1)
        if progress is not None:
            progress()
    return Evaluation(scores, by_kind, len(flights), n_labels)
