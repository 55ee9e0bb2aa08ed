"""Online scoring of live telemetry packets: decode, grid, score each new sample, emit events.

``OnlineScorer.feed(data)`` takes raw CCSDS bytes (one or more packets, e.g. a UDP datagram),
decodes them, and when every packet group of a sample time has arrived (or a later sample time
shows up) scores that sample with each trained method, using only the past: the LSTM forecast
from the previous ``window`` samples, the robust z-score and isolation-forest features from the
last ``rolling_window`` samples, and thresholds fixed at training (floors) or, for the LSTM, the
telemanom threshold of the trailing ``history_s`` of smoothed errors (refreshed every second).
Events close once no flag was raised for ``merge_gap_s``; ``feed`` returns the events closed by
that call. ``latencies_s`` records, per fed call that completed a sample, the wall time from the
call's start to the sample's scores: the latency the detector adds to each packet.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from starbrain.models.anomaly.baselines import iforest_score_samples, last_noise, last_residual
from starbrain.models.anomaly.detector import SIGMA, AnomalyDetector, Detection
from starbrain.models.anomaly.forecaster import LOGVAR_RANGE
from starbrain.models.anomaly.thresholds import dynamic_threshold
from starbrain.sources.telemetry.packets import PacketSet

__all__ = ["OnlineScorer"]

FloatArray = npt.NDArray[np.float64]


@dataclass
class _Open:
    start_ns: int
    last_ns: int
    score: float
    channel: str
    sigma: float | None = None


class OnlineScorer:
    """Stream scorer for one source; see the module docstring."""

    def __init__(
        self,
        detector: AnomalyDetector,
        definitions: PacketSet | None = None,
        source: str = "live",
        rate_hz: float = 20.0,
        history_s: float = 60.0,
        methods: Sequence[str] | None = None,
    ) -> None:
        from starbrain.physics.flight_sim import launch_vehicle_definitions
        from starbrain.sources.telemetry.ccsds import PacketDecoder

        self.det = detector
        self.defs = definitions or launch_vehicle_definitions()
        self.decoder = PacketDecoder(self.defs, source=source, layout="wide")
        self.source = source
        self.methods = list(methods or detector.methods)
        cfg = detector.config
        self.dt_s = 1.0 / rate_hz
        self.n_keep = max(cfg.forecaster.window, cfg.rolling_window) + 3
        self.rows: deque[FloatArray] = deque(maxlen=self.n_keep)
        self.col = {c: i for i, c in enumerate(detector.channels)}
        self.pending: dict[int, FloatArray] = {}  # time_ns -> partially filled row
        self.last_mode: FloatArray | None = None
        self.suppress_until = -1
        self.mode_idx = [self.col[c] for c in ("stage", "engine_state") if c in self.col]
        span = max(1.0, cfg.smoothing_s / self.dt_s)
        self.alpha = 2.0 / (span + 1.0)
        self.alpha_sigma = 2.0 / (max(1.0, cfg.sigma_smoothing_s / self.dt_s) + 1.0)
        self.z_s = np.zeros(len(detector.channels))
        self.z_hist: deque[FloatArray] = deque(maxlen=int(history_s * rate_hz))
        self.eps_sigma = np.full(len(detector.channels), np.inf)
        self.e_s = np.zeros(len(detector.channels))
        self.e_hist: deque[FloatArray] = deque(maxlen=int(history_s * rate_hz))
        self.eps = np.full(len(detector.channels), np.inf)
        self.n_scored = 0
        self.open: dict[str, _Open] = {}
        self.latencies_s: list[float] = []
        self.mon = detector.monitored

    # ------------------------------------------------------------------------------------------
    def feed(self, data: bytes) -> list[Detection]:
        started = time.perf_counter()
        batches = self.decoder.feed(data)
        for b in batches:
            t = b.column("time").cast("int64").to_numpy()
            names = [n for n in b.schema.names if n in self.col]
            block = np.stack([b.column(n).to_numpy(zero_copy_only=False) for n in names], axis=1)
            idx = [self.col[n] for n in names]
            for k, tk in enumerate(t.tolist()):
                row = self.pending.get(tk)
                if row is None:
                    row = self.pending[tk] = np.full(len(self.col), np.nan)
                row[idx] = block[k]
        out: list[Detection] = []
        complete = sorted(tk for tk, r in self.pending.items() if not np.isnan(r).any())
        latest = max(self.pending, default=None)
        ready = sorted(
            set(complete) | {tk for tk in self.pending if latest is not None and tk < latest}
        )
        for tk in ready:
            out += self._score(tk, self.pending.pop(tk))
            self.latencies_s.append(time.perf_counter() - started)
        return out

    def flush(self) -> list[Detection]:
        """Score what is pending and close every open event."""
        out: list[Detection] = []
        for tk in sorted(self.pending):
            out += self._score(tk, self.pending.pop(tk))
        for m in list(self.open):
            out.append(self._close(m))
        return out

    # ------------------------------------------------------------------------------------------
    def _score(self, t_ns: int, row: FloatArray) -> list[Detection]:
        if self.rows:
            prev = self.rows[-1]
            row = np.where(np.isnan(row), prev, row)
        row = np.nan_to_num(row)
        if self.mode_idx:
            mode = row[self.mode_idx]
            if self.last_mode is not None and np.any(mode != self.last_mode):
                self.suppress_until = t_ns + int(self.det.config.mask_after_s * 1e9)
            self.last_mode = mode
        self.rows.append(row)
        buf = np.asarray(self.rows)
        # method -> (score, channel index[, sigmas])
        flags: dict[str, tuple[float, int] | tuple[float, int, float]] = {}
        cfg = self.det.config
        warm = len(buf) >= self.n_keep
        if self.det.sigma_model is not None and SIGMA in self.methods:
            flag = self._sigma_step(buf, t_ns)
            if flag is not None:
                flags[SIGMA] = flag
        fc = self.det.forecaster
        if fc is not None and "telemanom-lstm" in self.methods and len(buf) > fc.config.window + 1:
            d = fc.differences(buf)
            pred = fc.predict_last(d[-fc.config.window - 1 : -1])
            err = np.zeros(len(self.col))
            for g, p in pred.items():
                err[fc.outputs[g]] = np.abs(p - d[-1, fc.outputs[g]])
            if t_ns < self.suppress_until:
                err[:] = 0.0
            self.e_s = self.alpha * err + (1 - self.alpha) * self.e_s
            floor = self.det.floors["telemanom-lstm"]
            c = self._trailing_flag(self.e_s, self.e_hist, self.eps, floor)
            if c is not None:
                th = np.maximum(self.eps, floor)
                flags["telemanom-lstm"] = (float(self.e_s[c] - th[c]), c)
        suppressed = t_ns < self.suppress_until
        if warm and not suppressed and self.det.robust_z is not None and "robust-z" in self.methods:
            rz = self.det.robust_z
            r = last_residual(buf, rz.window)
            z = np.abs(r - rz.center) / rz.scale
            thr = np.maximum(cfg.z_min, self.det.floors["robust-z"])
            over = [c for c in self.mon if z[c] > thr[c]]
            if over:
                c = max(over, key=lambda i: z[i] / thr[i])
                flags["robust-z"] = (float(z[c] / thr[c]), c)
        if (
            warm
            and not suppressed
            and self.det.iforest is not None
            and "isolation-forest" in self.methods
        ):
            iso = self.det.iforest
            x = buf[:, self.mon]
            zz = np.minimum(
                np.abs(last_residual(x, iso.window) - iso.z.center) / iso.z.scale, 50.0
            )[None]
            noise = last_noise(x, iso.window)[None]
            lr = np.minimum(np.abs(np.log10((noise + 1e-12) / iso.noise_ref)), 6.0)
            s = float(-iforest_score_samples(iso.forest, np.concatenate([zz, lr], axis=1))[0])
            thr_if = float(self.det.floors["isolation-forest"][0])
            if s > thr_if:
                dev = np.maximum(zz[0] / 5.0, lr[0])
                flags["isolation-forest"] = (s - thr_if, self.mon[int(np.argmax(dev))])
        self.n_scored += 1
        return self._update_events(t_ns, flags)

    def _trailing_flag(
        self, e_s: FloatArray, hist: deque[FloatArray], eps: FloatArray, floor: FloatArray
    ) -> int | None:
        """Append ``e_s`` to ``hist``; every second refresh ``eps`` (in place) as telemanom's
        threshold of the trailing history; the monitored channel furthest over
        ``max(eps, floor)`` (relative), or None."""
        hist.append(e_s.copy())
        if self.n_scored % max(1, round(1.0 / self.dt_s)) == 0 and len(hist) > 20:
            h = np.asarray(hist)
            for c in self.mon:
                eps[c] = dynamic_threshold(h[:, c], error_buffer=1).epsilon
        th = np.maximum(eps, floor)
        over = [c for c in self.mon if e_s[c] > th[c]]
        return max(over, key=lambda i: e_s[i] / th[i]) if over else None

    def _sigma_step(self, buf: FloatArray, t_ns: int) -> tuple[float, int, float] | None:
        """One sample of ``residual-sigma``: ``|d - d_hat| / sigma_hat`` per channel, smoothed,
        against the trailing dynamic threshold and the calibrated floor."""
        fc = self.det.sigma_model
        assert fc is not None
        L = fc.config.window
        if len(buf) <= L + 1:
            return None
        d = fc.differences(buf[-L - 2 :])
        z = np.zeros(len(self.col))
        for g, y in fc.predict_last(d[-L - 1 : -1]).items():
            cols = fc.outputs[g]
            k = len(cols)
            sd = np.exp(0.5 * np.clip(y[k:], *LOGVAR_RANGE)) if fc.config.variance_head else 1.0
            z[cols] = np.abs(d[-1, cols] - y[:k]) / sd
        if t_ns < self.suppress_until:
            z[:] = 0.0
        self.z_s = self.alpha_sigma * z + (1 - self.alpha_sigma) * self.z_s
        floor = self.det.floors[SIGMA] * self.det.config.floor_margin
        c = self._trailing_flag(self.z_s, self.z_hist, self.eps_sigma, floor)
        if c is None:
            return None
        return float(self.z_s[c]), c, float(self.z_s[c])  # score = sigmas, as offline

    def _update_events(
        self, t_ns: int, flags: dict[str, tuple[float, int] | tuple[float, int, float]]
    ) -> list[Detection]:
        out = []
        gap_ns = int(self.det.config.merge_gap_s * 1e9)
        for m, (score, c, *sig) in flags.items():
            ev = self.open.get(m)
            name = self.det.channels[c]
            sigma = sig[0] if sig else None
            if ev is None:
                self.open[m] = _Open(t_ns, t_ns, score, name, sigma)
            else:
                ev.last_ns = t_ns
                if score > ev.score:
                    ev.score, ev.channel, ev.sigma = score, name, sigma
        for m in list(self.open):
            if m not in flags and t_ns - self.open[m].last_ns > gap_ns:
                out.append(self._close(m))
        return out

    def _close(self, method: str) -> Detection:
        ev = self.open.pop(method)
        end = ev.last_ns + int(self.dt_s * 1e9)
        return Detection(
            self.source, ev.channel, ev.start_ns, end, ev.score, method, sigma=ev.sigma
        )
