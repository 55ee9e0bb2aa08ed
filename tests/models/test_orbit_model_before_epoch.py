"""The orbit world model's velocity before the epoch (negative times since epoch), which the
planners need for windows that start before an element set's epoch (issue #13: /api/passes with
the live loop's model, whose epochs lie after the window start, failed with velocities of
~1e300 km/s from the gate's derivative, where ``tau`` was clamped to 1e-300).

Reference: the central finite difference of the model's own positions, (r(t + h) - r(t - h)) /
2h with h = 0.05 s, which the analytic velocity must match within 5e-5 km/s, before the epoch
as after it: SGP4's own velocity differs from the derivative of its position by ~2 cm/s (see
``planners/routing.py``), the finite difference itself is good to ~1e-9 km/s."""

from __future__ import annotations

import numpy as np
import torch

from starbrain.models.orbit_model import OrbitModelConfig, OrbitWorldModel
from starbrain.physics.sgp4 import Sgp4Elements
from starbrain.sources.generators.constellation import WalkerShell, generate


def test_velocity_before_the_epoch_is_the_derivative_of_position() -> None:
    model = OrbitWorldModel(OrbitModelConfig(gate_min=60.0))
    gen = torch.Generator().manual_seed(11)
    with torch.no_grad():
        model.mlp[-1].bias.copy_(torch.randn(model.mlp[-1].bias.shape, generator=gen) * 3.0)
    model.eval()
    el = Sgp4Elements.from_table(
        generate([WalkerShell(550.0, 53.0, 2, 2, phasing=1)], epoch="2026-11-25"), device="cpu"
    )
    h = 0.05 / 60.0  # min
    t = torch.tensor([-300.0, -35.0, -1.0, 0.0, 1.0, 35.0, 300.0], dtype=torch.float64)
    with torch.no_grad():
        _, v = model(el, t)
        r_plus, _ = model(el, t + h)
        r_minus, _ = model(el, t - h)
    fd = (r_plus - r_minus).numpy() / (2 * h * 60.0)
    assert np.isfinite(v.numpy()).all()
    err = np.abs(v.numpy() - fd).max(axis=(0, 2))
    assert err.max() < 5e-5, err
    assert err[:3].max() < 3 * err[4:].max()  # before the epoch no worse than after
