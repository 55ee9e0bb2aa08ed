"""A registry of trained world models in the store: config, data fingerprint, metrics, weights.

Rows live in the ``models`` stream (:data:`MODELS_SCHEMA`; key ``(name, created)``, so a name
keeps its history and the newest row is current). Weights are stored as a BLOB of
``torch.save(state_dict)`` bytes, so a store file is self-contained.
"""

from __future__ import annotations

import hashlib
import io
import json
from typing import Any

import numpy as np
import pyarrow as pa
import torch

from starbrain.core.errors import StarbrainError
from starbrain.core.schemas.registry import MODELS_KEY, MODELS_SCHEMA
from starbrain.models.dynamics.registry import append_model_row
from starbrain.models.orbit_model import OrbitModelConfig, OrbitWorldModel
from starbrain.models.orbit_residual import OrbitResidual
from starbrain.models.truth import TruthSet

__all__ = [
    "MODELS_KEY",
    "MODELS_SCHEMA",
    "list_models",
    "load_model",
    "load_od_model",
    "register_model",
    "register_od_model",
    "resolve_model_name",
    "truth_fingerprint",
]

KIND_ORBIT = "orbit-sgp4-residual/2"  # /2: 18 element features, B*-scaled drag drift
KIND_ORBIT_OD = "orbit-od-residual/1"  # numerical OD prior + residual ensemble (issue #14)
LATEST = "latest"


def truth_fingerprint(truth: TruthSet) -> str:
    """sha256 over the initial elements, the sample times and the force model of a truth set."""
    h = hashlib.sha256()
    el = truth.elements.select(
        ["norad_id", "epoch", "mean_motion_rev_per_day", "eccentricity", "inclination_deg",
         "ra_of_asc_node_deg", "arg_of_pericenter_deg", "mean_anomaly_deg",
         "bstar_per_earth_radius"]
    )  # fmt: skip
    for col in el.columns:
        h.update(np.ascontiguousarray(col.to_numpy(zero_copy_only=False)).tobytes())
    h.update(np.ascontiguousarray(truth.t_min).tobytes())
    h.update(truth.force_model_json.encode())
    return h.hexdigest()


def register_model(
    store: Any,
    name: str,
    model: OrbitWorldModel,
    truth: TruthSet | None = None,
    metrics: Any = None,
    created: Any = None,
    *,
    data: dict[str, Any] | None = None,
    device: str | None = None,
) -> pa.Table:
    """Append a trained model to the ``models`` stream of ``store``; returns the row written.

    ``truth`` gives the data fingerprint and the physics of the training data (force model,
    spacecraft, sampling); ``data`` adds to that record (e.g. how the sample was drawn and which
    satellites were held out); ``device`` is where it trained (default: where it is now).
    """
    data_json = None
    if truth is not None or data is not None:
        record = json.loads(truth.metadata_json()) if truth is not None else {}
        data_json = json.dumps({**record, **(data or {})}, sort_keys=True)
    return append_model_row(
        store, name, KIND_ORBIT, model.config.to_json(), model.state_dict(),
        fingerprint=truth_fingerprint(truth) if truth is not None else None,
        data_json=data_json, metrics=metrics,
        device=device or str(next(model.parameters()).device), created=created,
    )  # fmt: skip


def list_models(store: Any) -> list[dict[str, Any]]:
    """Every registered model version, newest first, without weights (for ``model list``)."""
    rows = store.read("models").drop(["weights"]).to_pylist()
    for r in rows:
        r["metrics"] = json.loads(r.pop("metrics_json") or "null")
    return sorted(rows, key=lambda r: (r["created"], r["name"]), reverse=True)


def resolve_model_name(store: Any, name: str) -> str:
    """``name`` itself, or for ``"latest"`` the name of the newest registered model."""
    if name != LATEST:
        return name
    rows = list_models(store)
    if not rows:
        raise StarbrainError("no trained model in the store yet: run `starbrain model train`")
    return str(rows[0]["name"])


def load_model(
    store: Any, name: str, device: str | torch.device | None = None
) -> tuple[OrbitWorldModel, dict[str, Any]]:
    """The newest version of model ``name`` (or of any model, for ``"latest"``) and its
    registry row (without weights; ``metrics`` parsed from ``metrics_json``)."""
    name = resolve_model_name(store, name)
    table = store.read("models", where="name = ?", params=[name])
    if table.num_rows == 0:
        raise StarbrainError(f"no model named {name!r} in the store; see `starbrain model list`")
    rows = sorted(table.to_pylist(), key=lambda r: r["created"])
    row = rows[-1]
    if row["kind"] != KIND_ORBIT:
        raise StarbrainError(
            f"model {name!r} is of kind {row['kind']}, which this version cannot load "
            f"(it loads {KIND_ORBIT}); train a new one with `starbrain model train`"
        )
    model = OrbitWorldModel(OrbitModelConfig.from_json(row["config_json"]))
    state = torch.load(io.BytesIO(row.pop("weights")), map_location="cpu", weights_only=True)
    model.load_state_dict(state)
    if device is not None:
        model = model.to(device)
    model.eval()
    row["metrics"] = json.loads(row.get("metrics_json") or "null")
    return model, row


def register_od_model(
    store: Any,
    name: str,
    model: OrbitResidual,
    *,
    truth_force_model_json: str | None = None,
    train_config: dict[str, Any] | None = None,
    metrics: Any = None,
    created: Any = None,
) -> pa.Table:
    """Append an OD-prior + residual model (:class:`~starbrain.models.orbit_residual.
    OrbitResidual`); ``data_json`` records the valid domain (trained regimes, feature ranges,
    horizon, epoch range), the prior, the truth's force model and the training config."""
    data = {
        "domain": json.loads(model.meta_json())["domain"], "prior": model.prior_name,
        "truth_force_model": json.loads(truth_force_model_json or "null"),
        "train_config": train_config,
    }  # fmt: skip
    return append_model_row(
        store, name, KIND_ORBIT_OD, model.meta_json(), model.ensemble.state_dict(),
        fingerprint=None, data_json=json.dumps(data, sort_keys=True, default=str),
        metrics=metrics, device="cpu", created=created,
    )  # fmt: skip


def load_od_model(store: Any, name: str) -> tuple[OrbitResidual, dict[str, Any]]:
    """The newest version of OD-residual model ``name`` (or ``"latest"``) and its row."""
    name = resolve_model_name(store, name)
    table = store.read("models", where="name = ?", params=[name])
    if table.num_rows == 0:
        raise StarbrainError(f"no model named {name!r} in the store; see `starbrain model list`")
    row = sorted(table.to_pylist(), key=lambda r: r["created"])[-1]
    if row["kind"] != KIND_ORBIT_OD:
        raise StarbrainError(f"model {name!r} is of kind {row['kind']}, not {KIND_ORBIT_OD}")
    state = torch.load(io.BytesIO(row.pop("weights")), map_location="cpu", weights_only=True)
    model = OrbitResidual.from_meta(row["config_json"], state)
    row["metrics"] = json.loads(row.get("metrics_json") or "null")
    return model, row
