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

from starbrain import timeconv
from starbrain.models.orbit_model import OrbitModelConfig, OrbitWorldModel
from starbrain.models.truth import TruthSet
from starbrain.sources.records import StarbrainError
from starbrain.store.decision_schemas import MODELS_KEY, MODELS_SCHEMA

__all__ = [
    "MODELS_KEY",
    "MODELS_SCHEMA",
    "list_models",
    "load_model",
    "register_model",
    "truth_fingerprint",
]

KIND_ORBIT = "orbit-sgp4-residual/1"


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
) -> pa.Table:
    """Append a trained model to the ``models`` stream of ``store``; returns the row written."""
    buf = io.BytesIO()
    torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, buf)
    when = timeconv.utc_now() if created is None else timeconv.to_datetime64(created)
    row = {
        "name": [name],
        "created": pa.array(np.array([when], "datetime64[ns]"), pa.timestamp("ns", tz="UTC")),
        "kind": [KIND_ORBIT],
        "config_json": [model.config.to_json()],
        "data_fingerprint": [truth_fingerprint(truth) if truth is not None else None],
        "data_json": [truth.metadata_json() if truth is not None else None],
        "metrics_json": [json.dumps(metrics, sort_keys=True) if metrics is not None else None],
        "device": [str(next(model.parameters()).device)],
        "weights": [buf.getvalue()],
    }
    table = pa.Table.from_pydict(row, schema=MODELS_SCHEMA)
    store.append("models", table, source=f"model:{name}")
    return table


def list_models(store: Any) -> list[dict[str, Any]]:
    """Every registered model version, newest first, without weights (for ``model list``)."""
    table = store.read("models")
    rows = table.drop(["weights"]).to_pylist()
    for r in rows:
        r["metrics"] = json.loads(r.pop("metrics_json") or "null")
    return sorted(rows, key=lambda r: (r["name"], r["created"]), reverse=True)


def load_model(
    store: Any, name: str, device: str | torch.device | None = None
) -> tuple[OrbitWorldModel, dict[str, Any]]:
    """The newest version of model ``name`` and its registry row (without weights)."""
    table = store.read("models", where="name = ?", params=[name])
    if table.num_rows == 0:
        raise StarbrainError(f"no model named {name!r} in the store; see `starbrain model list`")
    rows = sorted(table.to_pylist(), key=lambda r: r["created"])
    row = rows[-1]
    if row["kind"] != KIND_ORBIT:
        raise StarbrainError(f"model {name!r} is of kind {row['kind']}, not {KIND_ORBIT}")
    model = OrbitWorldModel(OrbitModelConfig.from_json(row["config_json"]))
    state = torch.load(io.BytesIO(row.pop("weights")), map_location="cpu", weights_only=True)
    model.load_state_dict(state)
    if device is not None:
        model = model.to(device)
    model.eval()
    return model, row
