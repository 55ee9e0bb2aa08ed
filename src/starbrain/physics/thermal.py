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

**The simulator's truth** has three nodes (die, cold plate, HBM), so the die reacts in seconds
and the plate in tens of seconds: the part the single-node prior misses and a learned residual
can pick up.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

__all__ = ["RCThermalPrior", "ThermalTruth", "rc_step", "resistance", "truth_step"]


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


@dataclass(frozen=True)
class ThermalTruth:
    """Three-node truth: die -> plate (``r_die``), plate -> coolant (``r_conv0 + r_conv_flow/F``),
    HBM -> plate (``r_mem``); HBM dissipates ``mem_frac`` of board power. Per-GPU spread comes
    from multiplying these by the simulator's manufacturing factors."""

    r_die: float = 0.012
    c_die: float = 120.0
    r_conv0: float = 0.014
    r_conv_flow: float = 0.036
    c_plate: float = 1200.0
    r_mem: float = 0.09
    c_mem: float = 250.0
    mem_frac: float = 0.15

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


def truth_step(
    tg: np.ndarray,
    tp: np.ndarray,
    tm: np.ndarray,
    p_w: np.ndarray,
    t_in: np.ndarray,
    flow: np.ndarray,
    k: ThermalTruth,
    spread: np.ndarray,
    dt: float,
    n_sub: int = 4,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Advance die, plate and HBM temperatures ``(n_gpu,)`` by ``dt`` s (``n_sub`` sub-steps,
    each node relaxing exactly towards its equilibrium given the others: stable for any dt).
    ``spread`` ``(n_gpu,)`` scales every resistance (manufacturing and mounting variation)."""
    h = dt / n_sub
    r_die, r_mem = k.r_die * spread, k.r_mem * spread
    r_conv = resistance(flow, k.r_conv0, k.r_conv_flow) * spread
    p_mem = k.mem_frac * p_w
    p_die = p_w - p_mem
    for _ in range(n_sub):
        tg = rc_step(tg, p_die, tp, r_die, k.c_die, h)
        tm = rc_step(tm, p_mem, tp, r_mem, k.c_mem, h)
        # plate: heat in from die and HBM, out to the coolant
        q_in = (tg - tp) / r_die + (tm - tp) / r_mem
        tp = rc_step(tp, q_in, t_in, r_conv, k.c_plate, h)
    return tg, tp, tm
