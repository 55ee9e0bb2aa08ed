"""The push task's contact prior: a quasi-static puck pushed by a round pusher in the plane.

The puck (radius ``r_p``) moves only while the pusher (radius ``r_e``, centred on the flange) is
in contact, and then by just enough to stay tangent: after every step its centre is projected out
of the disc of radius ``contact_m = r_p + r_e`` around the flange. This is quasi-static pushing
with high table friction (the puck stops when the pusher stops, no sliding-on); MuJoCo's puck
slides a little after a fast push, which the MPC corrects by replanning every step. Units m, base
frame; shapes ``(..., 2)``.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["push_puck"]


def push_puck(puck_xy: Tensor, ee_xy: Tensor, contact_m: float) -> Tensor:
    """The puck's centre after the flange moved to ``ee_xy``: unchanged when the two are at least
    ``contact_m`` apart, otherwise moved radially away from the flange to exactly ``contact_m``
    (a flange exactly at the centre pushes along +x)."""
    d = puck_xy - ee_xy
    dist = torch.linalg.vector_norm(d, dim=-1, keepdim=True)
    away = torch.where(dist > 1e-12, d / dist.clamp_min(1e-12), torch.zeros_like(d))
    away = torch.where(dist > 1e-12, away, torch.tensor([1.0, 0.0], dtype=d.dtype, device=d.device))
    return puck_xy + away * torch.relu(contact_m - dist)
