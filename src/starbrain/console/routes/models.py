"""GET /api/models (the world-model registry with metrics per horizon) and /api/loop (the live
loop's tasks, checkpoint and recent messages)."""

from __future__ import annotations

import json
from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Query, Request

from starbrain.console.deps import ERROR_RESPONSES, StoreDep, compute
from starbrain.console.schemas import (
    LoopEvent,
    LoopStatus,
    LoopTask,
    ModelEntry,
    ModelHorizon,
    ModelsResponse,
)
from starbrain.core.timeconv import iso_ns
from starbrain.store import queries
from starbrain.store.database import Store

router = APIRouter(tags=["models"], responses=ERROR_RESPONSES)


def horizons(metrics: Any) -> list[ModelHorizon]:
    """Per-horizon rows from a registry entry's metrics, whichever trainer wrote them:
    ``held_out.all`` (``starbrain model train``), ``evaluation`` (the loop's re-fits) or a
    plain list of rows."""
    rows: Any = None
    if isinstance(metrics, dict):
        held = metrics.get("held_out")
        rows = held.get("all") if isinstance(held, dict) else None
        rows = rows or metrics.get("evaluation")
    elif isinstance(metrics, list):
        rows = metrics
    out = []
    for r in rows or []:
        if isinstance(r, dict) and isinstance(r.get("horizon_min"), int | float):
            fields = {k: r.get(k) for k in ModelHorizon.model_fields}
            clean = {
                k: v for k, v in fields.items() if isinstance(v, int | float) and np.isfinite(v)
            }
            out.append(ModelHorizon.model_validate(clean))
    return out


def _models(store: Store, limit: int) -> ModelsResponse:
    t = queries.models(store, limit)
    models = []
    for r in t.to_pylist():
        try:
            metrics = json.loads(r["metrics_json"]) if r["metrics_json"] else None
        except ValueError:
            metrics = None
        models.append(
            ModelEntry(
                name=r["name"],
                created=iso_ns(r["created_ns"]) or "",
                kind=r["kind"],
                device=r["device"],
                data_fingerprint=r["data_fingerprint"],
                horizons=horizons(metrics),
                metrics=metrics,
            )
        )
    return ModelsResponse(models=models)


@router.get("/api/models", response_model=ModelsResponse, summary="World-model registry")
async def models(
    request: Request, store: StoreDep, limit: Annotated[int, Query(ge=1, le=200)] = 50
) -> ModelsResponse:
    """Registered world models, newest first, with their position error against truth per
    prediction horizon (SGP4 alone and SGP4 + the learned model)."""
    return await compute(request, _models, store, limit)


def _loop(store: Store, live: dict[str, Any] | None, n_events: int) -> LoopStatus:
    tasks: list[LoopTask] = []
    if live is not None:
        tasks = [LoopTask.model_validate(t) for t in live["tasks"]]
    elif queries.has_table(store, queries.LOOP_STATE_TABLE):
        t = queries.loop_tasks(store)
        tasks = [
            LoopTask(name=r["task"], done_until=iso_ns(r["done_until_ns"]) or "", runs=r["runs"])
            for r in t.to_pylist()
        ]
    events: list[LoopEvent] = []
    if queries.has_table(store, queries.LOOP_EVENTS_TABLE):
        t = queries.loop_events(store, n_events)
        for r in t.to_pylist():
            try:
                message = json.loads(r["payload"])
            except ValueError:
                message = None
            events.append(
                LoopEvent(subject=r["subject"], sim_time=iso_ns(r["sim_time_ns"]), message=message)
            )
    return LoopStatus(
        running=bool(live and live["running"]),
        sim_time=live["sim_time"] if live else None,
        speed=live["speed"] if live else None,
        publisher=live["publisher"] if live else None,
        tasks=tasks,
        events=events,
    )


@router.get("/api/loop", response_model=LoopStatus, summary="The live loop")
async def loop_status(
    request: Request, store: StoreDep, events: Annotated[int, Query(ge=0, le=500)] = 50
) -> LoopStatus:
    """The loop's tasks (windows processed up to when, runs) and its most recent published
    messages. ``running`` is true when the loop runs in this server's process."""
    service = getattr(request.app.state, "loop", None)
    live = service.status() if service is not None else None
    return await compute(request, _loop, store, live, events)
