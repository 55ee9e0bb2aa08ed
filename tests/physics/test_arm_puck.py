"""The push task's quasi-static contact prior, by hand."""

from __future__ import annotations

import torch

from starbrain.physics.arms import push_puck


def test_puck_is_pushed_out_to_contact_and_left_alone_otherwise() -> None:
    puck = torch.tensor([[0.50, 0.00], [0.50, 0.00], [0.30, 0.40]], dtype=torch.float64)
    ee = torch.tensor([[0.47, 0.00], [0.40, 0.00], [0.30, 0.36]], dtype=torch.float64)
    out = push_puck(puck, ee, 0.05)
    # 3 cm behind along -x: moved 2 cm along +x to exactly 5 cm away
    torch.testing.assert_close(out[0], torch.tensor([0.52, 0.0], dtype=torch.float64))
    torch.testing.assert_close(out[1], puck[1])  # 10 cm away: untouched
    torch.testing.assert_close(out[2], torch.tensor([0.30, 0.41], dtype=torch.float64))
    assert torch.allclose((out - ee)[[0, 2]].norm(dim=-1), torch.tensor(0.05, dtype=torch.float64))


def test_flange_on_the_centre_pushes_along_x() -> None:
    out = push_puck(torch.zeros(1, 2), torch.zeros(1, 2), 0.05)
    torch.testing.assert_close(out, torch.tensor([[0.05, 0.0]]))
    assert torch.isfinite(out).all()
