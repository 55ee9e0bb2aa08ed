"""The loop's default anomaly detector for stored telemetry: the robust z-score of
:mod:`starbrain.models.anomaly` (rolling-median residuals, scaled by their median absolute
deviation) per (APID, parameter), run window by window with the previous window's tail as
context.

The scale of each parameter is fitted on the first window it appears in (taken as nominal;
the median/MAD fit tolerates a short excursion in it). Runs of samples scoring above
``z_threshold`` less than ``merge_gap_s`` apart (a step's rise and fall) make one anomaly
(an ``ANOMALIES_SCHEMA`` row, method ``robust-z``, score = its peak z / threshold, so > 1).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa

from starbrain.core import timeconv

__all__ = ["RobustZDetector", "alert_payloads"]


def alert_payloads(anomalies: pa.Table, limit: int = 20) -> list[dict[str, Any]]:
    """The bus alerts of the first ``limit`` rows of an ``ANOMALIES_SCHEMA`` table: each names
    the model, the channel, the span, how many predicted sigmas out (``residual-sigma`` rows,
    whose score is that; None for methods without an uncertainty) and the console link
    (:meth:`starbrain.models.anomaly.detector.Detection.alert`), plus the label if any."""
    from starbrain.models.anomaly.detector import SIGMA, Detection

    rows = anomalies.slice(0, limit)
    start = rows.column("start").cast(pa.int64()).to_pylist()
    end = rows.column("end").cast(pa.int64()).to_pylist()
    out = []
    for r, a, b in zip(rows.to_pylist(), start, end, strict=True):
        score = float(r["score"]) if r["score"] is not None else 0.0
        sigma = score if r["method"] == SIGMA else None
        d = Detection(r["source"], r["parameter"], a, b, score, r["method"], r["label"], sigma)
        out.append(d.alert() | {"label": r["label"]})
    return out


class RobustZDetector:
    """Callable ``(telemetry, start, stop) -> anomalies`` (see :data:`AnomalyDetector`)."""

    method = "robust-z"

    def __init__(
        self,
        z_threshold: float = 15.0,
        window: int = 20,
        merge_gap_s: float = 120.0,
        source_of: Callable[[int], str] | None = None,
        apids: set[int] | None = None,
    ) -> None:
        self.apids = apids
        self.z_threshold, self.window, self.merge_gap_s = z_threshold, window, merge_gap_s
        self.source_of = source_of or (lambda apid: f"apid-{apid}")
        self._scorers: dict[tuple[int, str], Any] = {}
        self._tail: dict[tuple[int, str], tuple[np.ndarray, np.ndarray]] = {}

    def __call__(self, telemetry: pa.Table, start: np.datetime64, stop: np.datetime64) -> pa.Table:
        from starbrain.core.schemas.anomalies import ANOMALIES_SCHEMA
        from starbrain.models.anomaly.baselines import RobustZScorer
        from starbrain.models.anomaly.events import runs

        apid = telemetry.column("apid").to_numpy()
        param = np.asarray(
            telemetry.column("parameter").cast(pa.string()).to_pylist(), dtype=object
        )
        t = telemetry.column("time").to_numpy().astype("datetime64[ns]").astype(np.int64)
        v = telemetry.column("value").to_numpy(zero_copy_only=False).astype(np.float64)
        rows: dict[str, list[Any]] = {f.name: [] for f in ANOMALIES_SCHEMA}
        now = timeconv.utc_now().astype("datetime64[ns]")
        keys = sorted(
            {(int(a), str(p)) for a, p in zip(apid, param, strict=True)}
            if self.apids is None
            else {(int(a), str(p)) for a, p in zip(apid, param, strict=True) if a in self.apids}
        )
        for key in keys:
            sel = (apid == key[0]) & (param == key[1])
            order = np.argsort(t[sel], kind="stable")
            tk, vk = t[sel][order], v[sel][order]
            if not np.isfinite(vk).any():
                continue
            prev_t, prev_v = self._tail.get(key, (np.zeros(0, np.int64), np.zeros(0)))
            ctx_t, ctx_v = np.concatenate([prev_t, tk]), np.concatenate([prev_v, vk])
            x = np.nan_to_num(ctx_v)[:, None]
            scorer = self._scorers.get(key)
            if scorer is None:
                scorer = RobustZScorer(self.window).fit([x], [np.ones(len(x), bool)])
                self._scorers[key] = scorer
            z = scorer.score(x)[len(prev_t) :, 0]
            self._tail[key] = (ctx_t[-(self.window + 1) :], ctx_v[-(self.window + 1) :])
            dt = int(np.median(np.diff(tk))) if len(tk) > 1 else 0
            for a, b in _merge(runs(z > self.z_threshold), tk, round(self.merge_gap_s * 1e9)):
                rows["source"].append(self.source_of(key[0]))
                rows["parameter"].append(key[1])
                rows["start"].append(int(tk[a]))
                rows["end"].append(int(tk[b]) + dt)
                rows["score"].append(float(z[a : b + 1].max() / self.z_threshold))
                rows["method"].append(self.method)
                rows["detected_at"].append(int(now.astype(np.int64)))
                rows["label"].append(None)
        columns = {
            f.name: pa.array(np.array(rows[f.name], np.int64).astype("datetime64[ns]"), f.type)
            if pa.types.is_timestamp(f.type)
            else pa.array(rows[f.name], f.type)
            for f in ANOMALIES_SCHEMA
        }
        return pa.table(columns, schema=ANOMALIES_SCHEMA)


def _merge(spans: np.ndarray, t: np.ndarray, gap_ns: int) -> list[tuple[int, int]]:
    """Index runs ``(k, 2)`` joined when the time between one's end and the next's start is
    at most ``gap_ns``."""
    out: list[tuple[int, int]] = []
    for a, b in spans.tolist():
        if out and t[a] - t[out[-1][1]] <= gap_ns:
            out[-1] = (out[-1][0], b)
        else:
            out.append((a, b))
    return out
