"""Per-fleet entry points of the residual anomaly detector (:mod:`.residual`): a fleet's stream
and its world model in, residual streams, a fitted scorer and events out.

Fleets (``FLEETS``) and what is scored, one step ahead at the stream's own rate:

* ``vehicle``: a ``vehicle``-stream table and a :class:`~starbrain.models.dynamics.WorldModel`
  of the vehicle kinds (:mod:`starbrain.models.vehicle_kinds`; one model, or ``{vehicle_id:
  model}``), state and input as :func:`starbrain.models.vehicle_model.vehicle_trajectories`
  builds them; channels ``lateral_velocity_mps`` (when logged) and ``yaw_rate_radps``. The
  speed channel is not scored: the model's acceleration input is the logged speed's difference.
* ``arm``: an ``arm``-stream table and an arm world model (:mod:`starbrain.models.arm`; one,
  or ``{arm_id: model}``);
  channels ``qd1_radps``, ``qd2_radps`` (the joint angles follow from them).
* ``compute``: a ``compute``-stream table and a :class:`~starbrain.models.compute_model.
  ComputeModel`; the cold plate is inferred by the same observer, the first ``warmup_steps``
  samples of each GPU are not scored; channels ``gpu_temp_c``, ``memory_temp_c``. With
  ``design_flow_lpm`` the model is given the loop's design flow instead of the measured one
  (what the GPU should read if its cooling were healthy): a pump losing flow then shows in the
  residual, as it does on a node whose facility flow is not measured at all.

Each (object, run) becomes one :class:`ResidualStream` (object = vehicle, arm or GPU id; run =
log segment or episode). :func:`score_stream` is the one call a CLI needs:
``score_stream(kind, table, model, scorer) -> events``. :func:`raw_channels` gives the same runs'
raw channels ``(n, C)`` for the simple baselines (robust z, isolation forest, limits).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from starbrain.core.errors import StarbrainError
from starbrain.models.anomaly.residual import (
    ResidualConfig,
    ResidualEvent,
    ResidualScorer,
    ResidualStream,
)

__all__ = [
    "FLEETS",
    "RawRun",
    "check_kind",
    "events_table",
    "fit_scorer",
    "fleet_streams",
    "predict_ahead",
    "raw_channels",
    "score_stream",
]

FloatArray = npt.NDArray[np.float64]
FLEETS = ("vehicle", "arm", "compute")
VEHICLE_SCORED = ("lateral_velocity_mps", "yaw_rate_radps")
ARM_SCORED = ("qd1_radps", "qd2_radps")
COMPUTE_SCORED = ("gpu_temp_c", "memory_temp_c")
RAW = {
    "vehicle": ("speed_mps", "lateral_velocity_mps", "yaw_rate_radps", "steering_wheel_angle_rad",
                "accel_y_mps2"),
    "arm": ("q1_rad", "q2_rad", "qd1_radps", "qd2_radps", "tau_cmd_1_nm", "tau_cmd_2_nm"),
    "compute": ("gpu_temp_c", "memory_temp_c", "power_w", "inlet_temp_c", "coolant_flow_lpm"),
}  # fmt: skip
_RUN_KEYS = {"vehicle": ("vehicle_id", "log_id", "segment"), "arm": ("arm_id", "episode"),
             "compute": ("gpu_id",)}  # fmt: skip


@dataclass(frozen=True)
class RawRun:
    """One run's raw channels: ``x`` ``(n, C)`` at ``t_ns`` ``(n,)``, channel names ``channels``
    (NaN where a column is null)."""

    object_id: str
    run_id: str
    t_ns: npt.NDArray[np.int64]
    x: FloatArray
    channels: tuple[str, ...]


def check_kind(kind: str) -> None:
    """A one-sentence error unless ``kind`` is one of :data:`FLEETS`."""
    if kind not in FLEETS:
        raise StarbrainError(f"unknown fleet {kind!r}: use one of {', '.join(FLEETS)}")


def _runs(kind: str, table: pa.Table) -> list[tuple[str, str, dict[str, np.ndarray]]]:
    """``(object_id, run_id, columns)`` per run, rows in time order; floats as float64."""
    keys = _RUN_KEYS[kind]
    missing = [c for c in (*keys, "time") if c not in table.column_names]
    if missing:
        raise StarbrainError(f"the {kind} table lacks the columns {', '.join(missing)}")
    t = table.sort_by([(k, "ascending") for k in keys] + [("time", "ascending")])
    key = np.array(["\x1f".join(map(str, v)) for v in zip(*(t[k].to_pylist() for k in keys),
                                                         strict=True)], dtype=object)  # fmt: skip
    cols = {}
    for name in t.column_names:
        if name == "time":
            cols[name] = t[name].cast(pa.int64()).to_numpy()
        elif pa.types.is_floating(t.schema.field(name).type):
            cols[name] = t[name].to_numpy(zero_copy_only=False).astype(np.float64)
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]]) if len(key) else np.zeros(0, int)
    ends = np.r_[starts[1:], len(key)]
    out = []
    for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
        parts = str(key[s]).split("\x1f")
        out.append((parts[0], "/".join(parts[1:]), {k: v[s:e] for k, v in cols.items()}))
    return out


def raw_channels(kind: str, table: pa.Table) -> list[RawRun]:
    """The raw channels ``RAW[kind]`` of every run (see the module docstring)."""
    check_kind(kind)
    out = []
    for obj, run, c in _runs(kind, table):
        x = np.stack([c.get(n, np.full(len(c["time"]), np.nan)) for n in RAW[kind]], axis=1)
        out.append(RawRun(obj, run, c["time"], x, RAW[kind]))
    return out


def predict_ahead(model: Any, x: FloatArray, u: FloatArray, horizon: int = 1) -> tuple[Any, Any]:
    """Open-loop ``horizon``-step predictions of ``x[horizon:]`` from ``x[:-horizon]`` under the
    logged inputs (``x`` ``(n, state)``, ``u`` ``(n - 1, input)``, ``u[k]`` drives ``x[k] ->
    x[k + 1]``), by ``model.rollout``: mean and standard deviation, each ``(n - horizon, state)``.
    """
    import torch

    n, h = x.shape[0], horizon
    if h < 1 or n <= h:
        raise StarbrainError(f"a {h}-step prediction needs more than {h} samples, got {n}")
    idx = np.arange(n - h)[:, None] + np.arange(h)[None, :]
    x0 = torch.as_tensor(x[: n - h], dtype=torch.float64)
    U = torch.as_tensor(u[idx], dtype=torch.float64)
    X, var = model.rollout(x0, U)
    return X[:, -1].numpy(), np.sqrt(np.maximum(var[:, -1].numpy(), 0.0))


def _stream(obj: str, run: str, name: str, t: Any, resid: FloatArray, sig: FloatArray,
            channels: tuple[str, ...], units: tuple[str, ...],
            valid: Any = None) -> ResidualStream:  # fmt: skip
    return ResidualStream(obj, name, channels, units, np.asarray(t, np.int64), resid, sig,
                          valid, run)  # fmt: skip


def _modelled_runs(kind: str, table: pa.Table, model: Any, h: int) -> Iterator[tuple[Any, ...]]:
    """``(object_id, run_id, columns, model)`` for the runs with a model (``model`` or
    ``model[object_id]``) and more than ``h + 1`` samples."""
    for obj, run, c in _runs(kind, table):
        m = model.get(obj) if isinstance(model, dict) else model
        if m is not None and len(c["time"]) >= h + 2:
            yield obj, run, c, m


def _vehicle(table: pa.Table, model: Any, name: str, h: int) -> list[ResidualStream]:
    out = []
    for obj, run, c, m in _modelled_runs("vehicle", table, model, h):
        vy = c.get("lateral_velocity_mps")
        has_vy = vy is not None and np.isfinite(vy).any()
        x = np.stack([c["x_m"], c["y_m"], np.unwrap(c["yaw_rad"]), c["speed_mps"],
                      np.nan_to_num(vy) if vy is not None and has_vy else np.zeros(len(c["time"])),
                      c["yaw_rate_radps"]], 1)  # fmt: skip
        dt = float(np.median(np.diff(c["time"]))) / 1e9
        u = np.stack([c["steering_wheel_angle_rad"][:-1], np.diff(x[:, 3]) / dt], 1)
        mean, sig = predict_ahead(m, x, u, h)
        dims = [4, 5] if has_vy else [5]
        chans = tuple(VEHICLE_SCORED[-len(dims) :])
        units = ("m/s", "rad/s")[-len(dims) :]
        out.append(_stream(obj, run, name, c["time"][h:], x[h:, dims] - mean[:, dims],
                           sig[:, dims], chans, units))  # fmt: skip
    return out


def _arm(table: pa.Table, model: Any, name: str, h: int) -> list[ResidualStream]:
    from starbrain.core.schemas.arm import COMMAND_CHANNELS, STATE_CHANNELS

    out = []
    for obj, run, c, m in _modelled_runs("arm", table, model, h):
        x = np.stack([c[k] for k in STATE_CHANNELS], 1)
        u = np.stack([c[k] for k in COMMAND_CHANNELS], 1)[:-1]
        mean, sig = predict_ahead(m, x, u, h)
        out.append(_stream(obj, run, name, c["time"][h:], x[h:, 2:] - mean[:, 2:], sig[:, 2:],
                           ARM_SCORED, ("rad/s", "rad/s")))  # fmt: skip
    return out


def _compute(
    table: pa.Table, model: Any, name: str, h: int, warmup_steps: int, design: float | None
) -> list[ResidualStream]:
    from starbrain.physics.thermal import plate_observer

    wm = getattr(model, "model", model)
    theta = getattr(model, "prior_theta", None)
    theta = wm.theta.tolist() if theta is None else theta
    out = []
    for obj, _run, c in _runs("compute", table):
        n = len(c["time"])
        if n < h + 2:
            continue
        dt = float(np.median(np.diff(c["time"]))) / 1e9
        names = ("gpu_temp_c", "memory_temp_c", "inlet_temp_c", "coolant_flow_lpm")
        tg, tm, t_in, flow = (c[k][:, None] for k in names)
        if design is not None:
            flow = np.full_like(flow, design)
        tp = plate_observer(tg, tm, t_in, flow, theta, dt)[:, 0]
        x = np.stack([tg[:, 0], tm[:, 0], tp], 1)
        u = np.stack([c["power_w"], t_in[:, 0], flow[:, 0]], 1)[1:]  # u[k] drives x[k] -> x[k+1]
        mean, sig = predict_ahead(wm, x, u, h)
        valid = np.arange(n - h) >= warmup_steps  # the start state: the observer has converged
        out.append(_stream(obj, "", name, c["time"][h:], x[h:, :2] - mean[:, :2], sig[:, :2],
                           COMPUTE_SCORED, ("degC", "degC"), valid))  # fmt: skip
    return out


def fleet_streams(
    kind: str,
    table: pa.Table,
    model: Any,
    model_name: str | None = None,
    horizon: int = 1,
    warmup_steps: int = 60,
    design_flow_lpm: float | None = None,
) -> list[ResidualStream]:
    """One residual stream per run of ``table`` against ``model`` (see the module docstring):
    the residuals of ``horizon``-step open-loop predictions (:func:`predict_ahead`; a sensor
    bias fed back through the state shows in one step only at its onset, over a few steps it
    stays); ``model_name`` labels the alerts (default ``<kind>-world-model``)."""
    check_kind(kind)
    name = model_name or f"{kind}-world-model"
    if table.num_rows == 0:
        return []
    if kind == "vehicle":
        return _vehicle(table, model, name, horizon)
    if kind == "arm":
        return _arm(table, model, name, horizon)
    return _compute(table, model, name, horizon, warmup_steps, design_flow_lpm)


def fit_scorer(
    kind: str,
    nominal: pa.Table,
    model: Any,
    config: ResidualConfig | None = None,
    model_name: str | None = None,
    horizon: int = 1,
) -> ResidualScorer:
    """A :class:`ResidualScorer` calibrated on a nominal (fault-free) table of the fleet, for
    ``horizon``-step residuals."""
    streams = fleet_streams(kind, nominal, model, model_name, horizon)
    if not streams:
        raise StarbrainError(f"the nominal {kind} table holds no run with at least 3 samples")
    return ResidualScorer(config or ResidualConfig()).fit(streams)


def score_stream(
    kind: str,
    table: pa.Table,
    model: Any,
    scorer: ResidualScorer | None = None,
    nominal: pa.Table | None = None,
    model_name: str | None = None,
    horizon: int = 1,
) -> list[ResidualEvent]:
    """The residual detector's events on ``table`` (every run), in time order. Pass a fitted
    ``scorer`` or a ``nominal`` table to fit one (:func:`fit_scorer`); ``horizon`` must be the
    one the scorer was fitted for."""
    if scorer is None:
        if nominal is None:
            raise StarbrainError("score_stream needs a fitted scorer or a nominal table to fit one")
        scorer = fit_scorer(kind, nominal, model, model_name=model_name, horizon=horizon)
    events: list[ResidualEvent] = []
    for s in fleet_streams(kind, table, model, model_name or scorer.model or None, horizon):
        events += scorer.events(s)
    return sorted(events, key=lambda e: (e.start_ns, e.object_id, e.channel))


def events_table(events: Sequence[ResidualEvent]) -> pa.Table:
    """Events as a table (one row each, the :class:`ResidualEvent` fields; times UTC ns)."""
    ts = pa.timestamp("ns", tz="UTC")
    rows = [e.as_dict() for e in events]
    fields = list(ResidualEvent.__dataclass_fields__)
    cols = {}
    for f in fields:
        vals = [r[f] for r in rows]
        cols[f] = pa.array(vals, pa.int64()).cast(ts) if f.endswith("_ns") else pa.array(vals)
    return pa.table(cols) if rows else pa.table({f: pa.array([], pa.string()) for f in fields})
