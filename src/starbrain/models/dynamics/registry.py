"""World models in the store's ``models`` stream (the same registry as the orbit model), with
the prior rebuilt from its class path and constructor arguments."""

from __future__ import annotations

import importlib
import io
import json
from typing import Any

import numpy as np
import pyarrow as pa
import torch

from starbrain.core import timeconv
from starbrain.core.errors import StarbrainError
from starbrain.core.schemas.registry import MODELS_SCHEMA
from starbrain.models.dynamics.data import Trajectories
from starbrain.models.dynamics.prior import PhysicsPrior
from starbrain.models.dynamics.world_model import WorldModel, WorldModelConfig

__all__ = ["KIND_DYNAMICS", "load_world_model", "register_world_model"]

KIND_DYNAMICS = "dynamics-residual/1"


def _prior_path(prior: PhysicsPrior) -> str:
    cls = type(prior)
    return f"{cls.__module__}:{cls.__qualname__}"


def register_world_model(
    store: Any,
    name: str,
    model: WorldModel,
    data: Trajectories | None = None,
    metrics: Any = None,
    created: Any = None,
    *,
    data_info: dict[str, Any] | None = None,
) -> pa.Table:
    """Append ``model`` to the ``models`` stream under ``name``; returns the row written."""
    config = {
        "world_model": model.config.to_dict(),
        "prior": {"class": _prior_path(model.prior), "config": model.prior.config()},
    }
    info = dict(data_info or {})
    if data is not None:
        info.update({"n_traj": data.n_traj, "n_steps": data.n_steps, "dt_s": data.dt,
                     "strata": sorted(set(data.strata)) if data.strata else None})  # fmt: skip
    return append_model_row(
        store, name, KIND_DYNAMICS, json.dumps(config, sort_keys=True), model.state_dict(),
        fingerprint=data.fingerprint() if data is not None else None,
        data_json=json.dumps(info, sort_keys=True) if info else None,
        metrics=metrics, device=str(model.device), created=created,
    )  # fmt: skip


def append_model_row(
    store: Any,
    name: str,
    kind: str,
    config_json: str,
    state_dict: dict[str, torch.Tensor],
    *,
    fingerprint: str | None,
    data_json: str | None,
    metrics: Any,
    device: str,
    created: Any = None,
) -> pa.Table:
    """One row of the ``models`` stream (any kind of model: orbit, dynamics, ...): the weights
    serialised with ``torch.save``, ``created`` (default now, UTC); returns the row written."""
    if not name or name == "latest":
        raise StarbrainError(f"a model cannot be named {name!r}")
    buf = io.BytesIO()
    torch.save({k: v.detach().cpu() for k, v in state_dict.items()}, buf)
    when = timeconv.utc_now() if created is None else timeconv.to_datetime64(created)
    row = {
        "name": [name],
        "created": pa.array(np.array([when], "datetime64[ns]"), pa.timestamp("ns", tz="UTC")),
        "kind": [kind],
        "config_json": [config_json],
        "data_fingerprint": [fingerprint],
        "data_json": [data_json],
        "metrics_json": [json.dumps(metrics, sort_keys=True) if metrics is not None else None],
        "device": [device],
        "weights": [buf.getvalue()],
    }
    table = pa.Table.from_pydict(row, schema=MODELS_SCHEMA)
    store.append("models", table, source=f"model:{name}")
    return table


def _build_prior(spec: dict[str, Any]) -> PhysicsPrior:
    path = str(spec["class"])
    module, _, qual = path.partition(":")
    if not module.startswith("starbrain."):
        raise StarbrainError(
            f"the prior {path} is not part of starbrain; pass prior= to load_world_model"
        )
    try:
        cls = getattr(importlib.import_module(module), qual)
    except (ImportError, AttributeError) as exc:
        raise StarbrainError(f"cannot import the prior {path}: {exc}") from exc
    prior: PhysicsPrior = cls(**spec.get("config", {}))
    return prior


def load_world_model(
    store: Any, name: str, prior: PhysicsPrior | None = None, device: str | None = None
) -> tuple[WorldModel, dict[str, Any]]:
    """The newest version of world model ``name`` and its registry row (without weights)."""
    table = store.read("models", where="name = ?", params=[name])
    if table.num_rows == 0:
        raise StarbrainError(f"no model named {name!r} in the store; see `starbrain model list`")
    row = sorted(table.to_pylist(), key=lambda r: r["created"])[-1]
    if row["kind"] != KIND_DYNAMICS:
        raise StarbrainError(f"model {name!r} is of kind {row['kind']}, not {KIND_DYNAMICS}")
    config = json.loads(row["config_json"])
    prior = prior if prior is not None else _build_prior(config["prior"])
    model = WorldModel(prior, WorldModelConfig.from_dict(config["world_model"]))
    state = torch.load(io.BytesIO(row.pop("weights")), map_location="cpu", weights_only=True)
    model.load_state_dict(state)
    if device is not None:
        model = model.to(device)
    model.eval()
    row["metrics"] = json.loads(row.get("metrics_json") or "null")
    return model, row
