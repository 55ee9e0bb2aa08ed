"""Ray Train: the data-parallel path trains the same model as the local path.

A real local Ray instance (``ray_address="local"``) runs ``TorchTrainer`` with two CPU workers
(DDP over gloo), each with half of the satellites. With equal shards, the average of the two
workers' gradients is the full-batch gradient, so the weights must match the local run's to
floating-point noise; the result is then registered and loaded back from a real store.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from starbrain.cluster import ray_available
from starbrain.models.orbit_model import OrbitModelConfig, fit_priors, train_orbit_model
from starbrain.models.truth import generate_truth, sample_elements

pytestmark = [
    pytest.mark.slow,  # starting Ray takes 10-60 s on the 2-core VM
    pytest.mark.skipif(not ray_available(), reason="Ray (the cluster extra) is not installed"),
]


def test_ray_train_matches_local_and_registers(tmp_path) -> None:
    import ray

    from starbrain.models.evaluation import evaluate_orbit_model
    from starbrain.models.registry import load_model, register_model
    from starbrain.store.database import Store

    truth = generate_truth(sample_elements(8, seed=4), days=1.0, step_min=30.0)
    arcs = fit_priors(truth, fit_days=0.5)
    cfg = OrbitModelConfig(hidden=16, epochs=25, horizon_min=1440.0, train_step_min=60.0)
    local, h_local = train_orbit_model(arcs, cfg, device="cpu")
    try:
        remote, h_ray = train_orbit_model(
            arcs, cfg, device="cpu", ray_address="local", ray_workers=2
        )
    finally:
        ray.shutdown()
    assert h_ray["device"] == "ray:2xcpu" and len(h_ray["loss"]) == 25
    np.testing.assert_allclose(h_ray["loss"], h_local["loss"], rtol=1e-5)
    for a, b in zip(remote.state_dict().values(), local.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)
    rows_local = evaluate_orbit_model(local, arcs)
    rows_ray = evaluate_orbit_model(remote, arcs)
    for a, b in zip(rows_local, rows_ray, strict=True):
        assert b["model_median_km"] == pytest.approx(a["model_median_km"], rel=1e-3, abs=1e-4)
    with Store(tmp_path / "store.duckdb") as store:
        register_model(store, "ray-tiny", remote, truth, metrics={"held_out": {"all": rows_ray}},
                       device=h_ray["device"])  # fmt: skip
        loaded, row = load_model(store, "latest")
    assert row["name"] == "ray-tiny" and row["device"] == "ray:2xcpu"
    for a, b in zip(loaded.state_dict().values(), remote.state_dict().values(), strict=True):
        assert torch.equal(a, b)
