"""Thermal models of a liquid-cooled GPU: the lumped RC prior and the simulator's truth.

Units: temperatures in deg C, power in W, coolant flow in L/min, thermal resistance in K/W,
heat capacity in J/K, time in s. Every function takes arrays of any matching shape (one entry
per GPU) and runs without a Python loop over GPUs.

**The RC prior** (one node per temperature). The die sits behind a resistance to the coolant
that falls with flow, ``R(F) = r0 + r_flow / F`` (conduction plus convection; the convective
film coefficient of a cold plate grows roughly with flow), so with board power ``P`` and inlet
temperature ``T_in``

    C dT/dt = P - (T - T_in) / R(F)

whose exact zero-order-hold step is ``T' = T_eq + (T - T_eq) exp(-dt / (R C))``,
``T_eq = T_in + P R(F)``. HBM gets the same form with its own share of the power.

The fleet simulator's truth (``sources.compute.thermal_truth``) has three nodes (die, cold plate,
HBM), so the die reacts in seconds and the plate in tens of seconds: the part this single-node
prior misses and a learned residual can pick up.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor

__all__ = ["RCThermalPrior", "rc_step", "resistance"]


def resistance(flow_lpm: Any, r0: Any, r_flow: Any) -> Any:
    """Die-to-coolant resistance (K/W) at coolant flow ``flow_lpm`` (L/min, floored at 0.05)."""
    f = flow_lpm.clamp_min(0.05) if isinstance(flow_lpm, Tensor) else np.maximum(flow_lpm, 0.05)
    return r0 + r_flow / f


def rc_step(t: Any, p_w: Any, t_in: Any, r: Any, c: Any, dt: float) -> Any:
    """Exact step of ``C dT/dt = P - (T - T_in)/R`` over ``dt`` s with ``P, T_in`` held."""
    exp = torch.exp if isinstance(t, Tensor) else np.exp
    t_eq = t_in + p_w * r
    return t_eq + (t - t_eq) * exp(-dt / (r * c))


class RCThermalPrior:
    """The PhysicsPrior of one GPU's die and HBM temperature.

    State ``x = (gpu_temp_c, memory_temp_c)``; input ``u = (power_w, inlet_temp_c,
    coolant_flow_lpm)`` held over the step; ``theta = (r0_k_per_w, r_flow_k_lpm_per_w,
    c_j_per_k, r_mem_k_per_w, c_mem_j_per_k, mem_power_frac)``. Batched over any leading shape.
    """

    state_dim = 2
    input_dim = 3
    theta_names = (
        "r0_k_per_w",
        "r_flow_k_lpm_per_w",
        "c_j_per_k",
        "r_mem_k_per_w",
        "c_mem_j_per_k",
        "mem_power_frac",
    )

    def __init__(self, theta: list[float] | None = None) -> None:
        # nominal H100-class cold plate: ~0.045 K/W at 2 L/min, tau ~ 60 s
        self._theta = list(theta) if theta is not None else [0.03, 0.03, 1300.0, 0.2, 250.0, 0.15]

    def theta_default(self) -> Tensor:
        return torch.tensor(self._theta, dtype=torch.float64)

    def step(self, x: Tensor, u: Tensor, theta: Tensor, dt: float) -> Tensor:
        th = theta.to(x.dtype)
        r0, rf, c, rm, cm, fm = (th[..., i] for i in range(6))
        p, t_in, flow = u[..., 0], u[..., 1], u[..., 2]
        r = resistance(flow, r0, rf)
        tg = rc_step(x[..., 0], p, t_in, r, c, dt)
        tm = rc_step(x[..., 1], fm * p, t_in, rm, cm, dt)
        return torch.stack([tg, tm], -1)

    def config(self) -> dict[str, Any]:
        return {"theta": self._theta}
