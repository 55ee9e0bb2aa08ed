"""The fleet anomaly detector as shipped (issue #19): a world model's residual scorer
(:mod:`.fleets`, :mod:`.residual`) plus the limit rules, fitted on nominal rows of a
``vehicle``, ``arm`` or ``compute`` stream, stored in the registry and run on stored rows.

* ``residual``: ``|y - mu| / sigma`` of the fleet's world model one step ahead, telemanom
  thresholds calibrated on the nominal rows (:class:`~.residual.ResidualScorer`);
* ``limits``: each raw channel (``fleets.RAW[kind]``) outside its nominal range widened by
  ``pad`` (10 %) of that range, flagged runs closer than ``merge_gap`` samples one event (the
  rule that catches a pump losing flow, which the residual cannot see: the measured flow input
  explains the temperatures).

:class:`FleetEvent` is one alert: fleet, object id (vehicle / arm / GPU), channel, span (UTC ns),
how many calibrated sigmas out (residual events; None for limits), the model and the console
link (``/#<tab>?<object column>=..&t=..&channel=..``). :func:`world_model_rows` and
:func:`newest_scorer` find the registry rows (the store's ``models`` stream): world models of kind
``dynamics-residual/1`` whose prior lives in the fleet's physics package, scorers of kind
:data:`KIND_SCORER` whose ``config_json`` is :meth:`FleetDetector.to_json`.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import quote

import numpy as np
import pyarrow as pa

from starbrain.core import timeconv
from starbrain.core.errors import StarbrainError
from starbrain.models.anomaly.events import merge_intervals, runs
from starbrain.models.anomaly.fleets import (
    RAW,
    check_kind,
    fit_scorer,
    raw_channels,
    score_stream,
)
from starbrain.models.anomaly.residual import ResidualScorer

__all__ = [
    "KIND_SCORER",
    "OBJECT_COLUMN",
    "FleetDetector",
    "FleetEvent",
    "anomalies_rows",
    "newest_scorer",
    "world_model_rows",
]

KIND_SCORER = "residual-scorer/1"
OBJECT_COLUMN = {"vehicle": "vehicle_id", "arm": "arm_id", "compute": "gpu_id"}
VIEW = {"vehicle": "vehicles", "arm": "arm", "compute": "compute"}  # console tabs
PRIOR_PACKAGE = {"vehicle": "starbrain.physics.vehicles", "arm": "starbrain.physics.arms",
                 "compute": "starbrain.physics.thermal"}  # fmt: skip
LIMITS = "limits"


@dataclass(frozen=True)
class FleetEvent:
    """One fleet anomaly (see the module docstring); ``method`` is ``residual`` or ``limits``;
    ``score``: residual events' peak sigma, limit events' largest excess over the range (in
    range widths)."""

    fleet: str
    object_id: str
    run_id: str
    method: str
    model: str
    channel: str
    start_ns: int
    end_ns: int
    score: float
    sigma: float | None = None
    residual: float | None = None
    model_sigma: float | None = None
    unit: str = ""

    @property
    def link(self) -> str:
        when = timeconv.iso_ns(self.start_ns)
        return (f"/#{VIEW[self.fleet]}?{OBJECT_COLUMN[self.fleet]}={quote(self.object_id)}"
                f"&t={when}&channel={quote(self.channel)}")  # fmt: skip

    @property
    def stored_method(self) -> str:
        """The ``anomalies`` stream's method: ``residual:<model>`` or ``limits:<fleet>``."""
        return f"residual:{self.model}" if self.method == "residual" else f"limits:{self.fleet}"

    def message(self) -> str:
        if self.sigma is None:
            return f"{self.object_id}: {self.channel} outside its nominal range ({self.model})"
        head = f"{self.object_id}: {self.channel} {self.sigma:.1f} sigma outside {self.model}'s"
        return f"{head} uncertainty (residual {self.residual:+.4g} {self.unit})"

    def alert(self) -> dict[str, Any]:
        """What the bus alert carries (the launch alerts' fields, plus fleet and object)."""
        iso = timeconv.iso_ns
        return {"fleet": self.fleet, "object_id": self.object_id, "run_id": self.run_id,
                "model": self.model, "method": self.method, "channel": self.channel,
                "start": iso(self.start_ns), "end": iso(self.end_ns),
                "score": round(self.score, 3),
                "sigma": None if self.sigma is None else round(self.sigma, 2),
                "link": self.link}  # fmt: skip


@dataclass
class FleetDetector:
    """Residual scorer + limits for one fleet and one world model (see the module)."""

    kind: str
    model_name: str
    scorer: ResidualScorer
    lo: np.ndarray
    hi: np.ndarray
    horizon: int = 1
    merge_gap: int = 20

    @classmethod
    def fit(cls, kind: str, nominal: pa.Table, model: Any, model_name: str,
            horizon: int = 1, pad: float = 0.1) -> FleetDetector:  # fmt: skip
        """Calibrate on nominal (fault-free) rows of the fleet's stream."""
        check_kind(kind)
        scorer = fit_scorer(kind, nominal, model, model_name=model_name, horizon=horizon)
        x = np.concatenate([r.x for r in raw_channels(kind, nominal)])
        lo, hi = np.nanmin(x, axis=0), np.nanmax(x, axis=0)
        width = np.where(np.isfinite(hi - lo), hi - lo, 0.0)
        return cls(kind, model_name, scorer, lo - pad * width, hi + pad * width, horizon)

    def detect(self, table: pa.Table, model: Any) -> list[FleetEvent]:
        """Residual and limit events on ``table`` (every run), in time order."""
        found = score_stream(self.kind, table, model, self.scorer,
                             model_name=self.model_name, horizon=self.horizon)  # fmt: skip
        out = [FleetEvent(self.kind, e.object_id, e.run_id, "residual", e.model, e.channel,
                          e.start_ns, e.end_ns, e.peak_sigma, e.peak_sigma, e.residual,
                          e.model_sigma, e.unit) for e in found]  # fmt: skip
        out += self._limit_events(table)
        return sorted(out, key=lambda e: (e.start_ns, e.object_id, e.method, e.channel))

    def _limit_events(self, table: pa.Table) -> list[FleetEvent]:
        out = []
        width = np.where(self.hi > self.lo, self.hi - self.lo, 1.0)
        for r in raw_channels(self.kind, table):
            dt = int(np.median(np.diff(r.t_ns))) if len(r.t_ns) > 1 else 0
            excess = np.maximum(self.lo - r.x, r.x - self.hi) / width  # (n, C), NaN stays out
            for j, name in enumerate(r.channels):
                flags = np.nan_to_num(excess[:, j], nan=-1.0) > 0
                for a, b in merge_intervals(runs(flags).tolist(), self.merge_gap):
                    a, b = int(a), int(b)
                    out.append(FleetEvent(self.kind, r.object_id, r.run_id, "limits", LIMITS,
                                          name, int(r.t_ns[a]), int(r.t_ns[b]) + dt,
                                          float(np.nanmax(excess[a : b + 1, j]))))  # fmt: skip
        return out

    # -- the registry --------------------------------------------------------------------------
    def to_json(self) -> str:
        return json.dumps({"stream": self.kind, "world_model": self.model_name,
                           "scorer": self.scorer.state(), "raw_channels": list(RAW[self.kind]),
                           "limits_lo": self.lo.tolist(), "limits_hi": self.hi.tolist(),
                           "horizon": self.horizon, "merge_gap": self.merge_gap},
                          sort_keys=True)  # fmt: skip

    @classmethod
    def from_json(cls, text: str) -> FleetDetector:
        d = json.loads(text)
        nan = lambda v: np.array([np.nan if x is None else x for x in v], float)  # noqa: E731
        return cls(d["stream"], d["world_model"], ResidualScorer.from_state(d["scorer"]),
                   nan(d["limits_lo"]), nan(d["limits_hi"]), int(d["horizon"]),
                   int(d["merge_gap"]))  # fmt: skip


def world_model_rows(store: Any, kind: str) -> list[dict[str, Any]]:
    """Registered world models of fleet ``kind`` (prior in its physics package), newest first,
    without weights."""
    from starbrain.models.dynamics.registry import KIND_DYNAMICS

    check_kind(kind)
    t = store.read("models", where="kind = ?", params=[KIND_DYNAMICS])
    rows = [
        r
        for r in t.drop(["weights"]).to_pylist()
        if json.loads(r["config_json"])["prior"]["class"].startswith(PRIOR_PACKAGE[kind])
    ]
    return sorted(rows, key=lambda r: r["created"], reverse=True)  # fmt: skip


def newest_scorer(store: Any, kind: str, name: str | None = None) -> tuple[FleetDetector, dict]:
    """The newest stored detector of fleet ``kind`` (or named ``name``) and its row."""
    t = store.read("models", where="kind = ?", params=[KIND_SCORER]).drop(["weights"])
    rows = [r for r in t.to_pylist() if (name is None or r["name"] == name)
            and json.loads(r["config_json"])["stream"] == kind]  # fmt: skip
    if not rows:
        which = f"named {name!r} " if name else ""
        raise StarbrainError(f"no {kind} anomaly detector {which}in the store: run `starbrain "
                             f"anomalies train --stream {kind}` first")  # fmt: skip
    row = max(rows, key=lambda r: r["created"])
    return FleetDetector.from_json(row["config_json"]), row


def anomalies_rows(events: list[FleetEvent]) -> pa.Table:
    """Events as ``anomalies`` stream rows (source = object id, parameter = channel, score =
    sigma or limit excess, method ``residual:<model>`` or ``limits:<fleet>``)."""
    from starbrain.core.schemas.anomalies import ANOMALIES_SCHEMA

    now = np.datetime64(timeconv.utc_now(), "ns").astype(np.int64)
    ts = lambda v: pa.array(np.asarray(v, np.int64), pa.int64()).cast(pa.timestamp("ns", "UTC"))  # noqa: E731
    cols = {"source": [e.object_id for e in events], "parameter": [e.channel for e in events],
            "start": ts([e.start_ns for e in events]), "end": ts([e.end_ns for e in events]),
            "score": [e.score for e in events], "method": [e.stored_method for e in events],
            "detected_at": ts([now] * len(events)), "label": [None] * len(events)}  # fmt: skip
    return pa.table(cols).cast(ANOMALIES_SCHEMA)


def event_dict(e: FleetEvent) -> dict[str, Any]:
    """A flat record of an event for csv/json output (times UTC ISO, the link)."""
    d = asdict(e) | e.alert()
    for k in ("start_ns", "end_ns"):
        d.pop(k)
    return d
