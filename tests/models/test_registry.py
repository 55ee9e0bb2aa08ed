"""The model registry over a real store, with the proposed ``models`` stream registered."""

from __future__ import annotations

import pytest
import torch

from starbrain.core.errors import StarbrainError
from starbrain.models.orbit_model import OrbitModelConfig, OrbitWorldModel
from starbrain.models.registry import (
    list_models,
    load_model,
    register_model,
    truth_fingerprint,
)
from starbrain.models.truth import generate_truth, sample_elements
from starbrain.store.database import Store


@pytest.fixture
def store(tmp_path):
    with Store(tmp_path / "store.duckdb") as s:
        yield s


def test_register_list_and_load(store) -> None:
    truth = generate_truth(sample_elements(2, seed=1), days=0.05, step_min=10.0)
    model = OrbitWorldModel(OrbitModelConfig(hidden=8, seed=3))
    with torch.no_grad():
        model.mlp[-1].bias.fill_(0.25)
    register_model(store, "orbit-a", model, truth, metrics=[{"horizon_min": 60.0}],
                   created="2024-01-01T00:00:00")  # fmt: skip
    register_model(store, "orbit-a", OrbitWorldModel(OrbitModelConfig(hidden=8)), truth,
                   created="2023-12-31T00:00:00")  # an older version  # fmt: skip
    rows = list_models(store)
    assert len(rows) == 2 and "weights" not in rows[0]
    assert rows[0]["metrics"] == [{"horizon_min": 60.0}]
    assert rows[0]["data_fingerprint"] == truth_fingerprint(truth)
    loaded, _row = load_model(store, "orbit-a")
    assert loaded.config == model.config
    for a, b in zip(loaded.state_dict().values(), model.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    with pytest.raises(StarbrainError, match="no model named"):
        load_model(store, "missing")


def test_fingerprint_changes_with_the_data() -> None:
    a = generate_truth(sample_elements(2, seed=1), days=0.02, step_min=10.0)
    b = generate_truth(sample_elements(2, seed=2), days=0.02, step_min=10.0)
    assert truth_fingerprint(a) == truth_fingerprint(a) != truth_fingerprint(b)


def test_latest_data_record_and_old_kinds(store) -> None:
    import json

    import pyarrow as pa

    from starbrain.core.schemas.registry import MODELS_SCHEMA
    from starbrain.models.registry import resolve_model_name

    with pytest.raises(StarbrainError, match="no trained model"):
        resolve_model_name(store, "latest")
    truth = generate_truth(sample_elements(2, seed=1), days=0.02, step_min=10.0)
    model = OrbitWorldModel(OrbitModelConfig(hidden=8))
    register_model(store, "old", model, truth, created="2024-01-01T00:00:00")
    register_model(store, "new", model, truth, created="2024-02-01T00:00:00",
                   data={"recipe": {"seed": 4}}, device="ray:2xcpu")  # fmt: skip
    assert resolve_model_name(store, "latest") == "new"
    _, row = load_model(store, "latest")
    assert row["name"] == "new" and row["device"] == "ray:2xcpu"
    data = json.loads(row["data_json"])
    # the force model of the truth is stored with the model
    assert data["force_model"]["drag"] and data["force_model"]["gravity_degree"] == 6
    assert data["recipe"] == {"seed": 4} and data["n_sat"] == 2
    old = pa.Table.from_pylist(
        [{"name": "v1", "created": row["created"], "kind": "orbit-sgp4-residual/1",
          "config_json": "{}", "weights": b""}], schema=MODELS_SCHEMA,
    )  # fmt: skip
    store.append("models", old, source="test")
    with pytest.raises(StarbrainError, match="cannot load"):
        load_model(store, "v1")
    with pytest.raises(StarbrainError, match="cannot be named"):
        register_model(store, "latest", model)
