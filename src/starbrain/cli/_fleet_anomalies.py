"""``starbrain anomalies train|detect|report --stream vehicle|arm|compute``: the fleet detector
(:mod:`starbrain.models.anomaly.fleet_detector`) on the store's rows, its world model from the
registry; events to the ``anomalies`` stream and alerts on the bus (``starbrain.alerts``, also
kept in the store's ``loop_events`` log as the loop's are)."""

from __future__ import annotations

import json
from typing import Any

import pyarrow as pa

from starbrain.cli._common import OutputFormat, _emit, _notes, _open_store
from starbrain.core.errors import StarbrainError


def _window_sql(kind: str, obj: str | None, since: str | None, until: str | None) -> tuple:
    from starbrain.core import timeconv
    from starbrain.models.anomaly.fleet_detector import OBJECT_COLUMN

    where, params = [], []
    if obj:
        where.append(f"{OBJECT_COLUMN[kind]} = ?")
        params.append(obj)
    for op, v in ((">=", since), ("<", until)):
        if v:
            where.append(f"time {op} ?")
            t = timeconv.to_datetime64(v).astype("datetime64[us]").item()
            params.append(t)
    return " AND ".join(where) or None, params


def stored_rows(store: Any, kind: str, obj: str | None, since: str | None,
                until: str | None) -> pa.Table:  # fmt: skip
    """The stream's rows (of one object and time window when given); an error when none."""
    where, params = _window_sql(kind, obj, since, until)
    table = store.read(kind, where=where, params=params)
    if table.num_rows == 0:
        what = " ".join(x for x in (f"for {obj!r}" if obj else "", f"from {since}" if since else "",
                                    f"until {until}" if until else "") if x)  # fmt: skip
        raise StarbrainError(f"no {kind} rows stored {what}".rstrip() + ": load or simulate some "
                             "first")  # fmt: skip
    return table


def world_model(store: Any, kind: str, name: str | None) -> tuple[Any, dict[str, Any]]:
    """The fleet's world model ``name`` or, without one, its newest registered one."""
    from starbrain.models.anomaly.fleet_detector import world_model_rows
    from starbrain.models.dynamics import load_world_model

    if name is None:
        rows = world_model_rows(store, kind)
        if not rows:
            raise StarbrainError(
                f"no {kind} world model registered: train one first (`starbrain "
                f"{ {'vehicle': 'vehicle', 'arm': 'robot', 'compute': 'run'}[kind] } train`"
                " or the loop's task), or name one with --model"
            )
        name = str(rows[0]["name"])
    model, row = load_world_model(store, name)
    row["data"] = json.loads(row.get("data_json") or "null") or {}
    return model, row


def train(kind: str, model_name: str | None, name: str | None, obj: str | None,
          since: str | None, until: str | None, fmt: OutputFormat) -> None:  # fmt: skip
    """Fit the detector on the stored nominal rows and register it (kind residual-scorer/1)."""
    from starbrain.models.anomaly.fleet_detector import KIND_SCORER, FleetDetector
    from starbrain.models.dynamics.registry import append_model_row

    with _open_store() as store:
        model, mrow = world_model(store, kind, model_name)
        obj = obj or (mrow["data"].get("vehicle_id") if kind == "vehicle" else None)
        table = stored_rows(store, kind, obj, since, until)
        det = FleetDetector.fit(kind, table, model, str(mrow["name"]))
        reg = name or f"{kind}-anomalies"
        info = {"world_model": mrow["name"], "world_model_created": str(mrow["created"]),
                "object": obj, "since": since, "until": until, "rows": table.num_rows}  # fmt: skip
        append_model_row(store, reg, KIND_SCORER, det.to_json(), {}, fingerprint=None,
                         data_json=json.dumps(info, sort_keys=True), metrics=None,
                         device="cpu")  # fmt: skip
    sc = det.scorer
    rows = [{"name": reg, "world_model": mrow["name"], "channel": c, "threshold_sigma": th,
             "kappa": k, "floor": f, "rows": table.num_rows}
            for c, th, k, f in zip(sc.channels, sc.threshold.tolist(), sc.kappa.tolist(),
                                   sc.floor.tolist(), strict=True)]  # fmt: skip
    _emit(rows, fmt, title=f"registered {kind} anomaly detector {reg!r}")


def _publish(store: Any, events: list[Any], nats: str | None, mqtt: str | None) -> int:
    """Each event's alert on ``starbrain.alerts`` (the in-process bus, and NATS or MQTT when a
    broker URL is given), logged in ``loop_events``; returns how many were sent."""
    import asyncio

    from starbrain.core import timeconv
    from starbrain.loop.checkpoint import Checkpoint
    from starbrain.loop.publish import make_publisher

    pub = make_publisher(nats, mqtt)
    now = timeconv.iso(timeconv.utc_now())
    msgs = [{"sim_time": now, "kind": "anomaly", "message": e.message(), **e.alert()}
            for e in events]  # fmt: skip

    async def send() -> None:
        await pub.start()
        try:
            for m in msgs:
                await pub.publish("starbrain.alerts", m)
        finally:
            await pub.close()

    asyncio.run(send())
    Checkpoint(store).log([{"subject": "starbrain.alerts", **m} for m in msgs])
    return len(msgs)


def detect(kind: str, name: str | None, obj: str | None, since: str | None, until: str | None,
           keep: bool, fmt: OutputFormat, nats: str | None = None,
           mqtt: str | None = None) -> None:  # fmt: skip
    """Score stored rows with the stored detector; store the events, publish the alerts."""
    from starbrain.models.anomaly.fleet_detector import anomalies_rows, event_dict, newest_scorer

    with _open_store(read_only=not keep) as store:
        det, srow = newest_scorer(store, kind, name)
        model, _ = world_model(store, kind, det.model_name)
        table = stored_rows(store, kind, obj, since, until)
        events = det.detect(table, model)
        n_new = n_sent = 0
        if keep and events:
            n_new = store.append("anomalies", anomalies_rows(events), source=srow["name"]).n_new
            n_sent = _publish(store, events, nats, mqtt)
    cols = ("object_id", "run_id", "method", "model", "channel", "start", "end", "sigma",
            "score", "link")  # fmt: skip
    rows = [{c: event_dict(e)[c] for c in cols} for e in events]
    _emit(rows, fmt, title=f"{len(events)} {kind} anomalies ({srow['name']})")
    if keep:
        _notes(fmt).print(f"stored {n_new} anomalies, published {n_sent} alerts", highlight=False)


def report(kind: str, name: str | None, fmt: OutputFormat) -> None:
    """Stored events of the fleet's detectors per method, channel and object."""
    import numpy as np

    from starbrain.models.anomaly.fleet_detector import KIND_SCORER

    with _open_store(read_only=True) as store:
        t = store.read("models", where="kind = ?", params=[KIND_SCORER]).drop(["weights"])
        models = {json.loads(r["config_json"])["world_model"] for r in t.to_pylist()
                  if json.loads(r["config_json"])["stream"] == kind
                  and (name is None or r["name"] == name)}  # fmt: skip
        if not models:
            raise StarbrainError(f"no {kind} anomaly detector in the store: run `starbrain "
                                 f"anomalies train --stream {kind}` first")  # fmt: skip
        ev = store.read("anomalies").to_pylist()
    from starbrain.models.anomaly.fleet_detector import OBJECT_COLUMN

    ours = [r for r in ev if r["method"] in {f"residual:{m}" for m in models}
            or r["method"] == f"limits:{kind}"]  # fmt: skip
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for r in ours:
        groups.setdefault((r["method"], r["parameter"], r["source"]), []).append(r)
    rows = [{"method": m, "channel": c, OBJECT_COLUMN[kind]: s, "events": len(g),
             "max_score": float(np.nanmax([x["score"] for x in g])),
             "first": min(x["start"] for x in g), "last": max(x["end"] for x in g)}
            for (m, c, s), g in sorted(groups.items())]  # fmt: skip
    _emit(rows, fmt, title=f"{len(ours)} stored {kind} anomalies")
