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

__all__ = ["PlateRCPrior", "RCThermalPrior", "plate_observer", "rc_step", "resistance"]


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


class PlateRCPrior:
    """Three-node RC PhysicsPrior: die, HBM and cold plate.

    State ``x = (gpu_temp_c, memory_temp_c, plate_temp_c)`` (the plate is not measured: it comes
    from :func:`plate_observer` over the stream); input ``u = (power_w, inlet_temp_c,
    coolant_flow_lpm)``; ``theta = (r_die, c_die, r_mem, c_mem, r_conv0, r_conv_flow, c_plate,
    mem_frac)`` in K/W, J/K and the HBM share of board power. The die reacts in ~1 s, the plate
    in ~1 min; each step is ``n_sub`` exact node relaxations (stable for any ``dt``).
    """

    state_dim = 3
    input_dim = 3
    theta_names = (
        "r_die_k_per_w",
        "c_die_j_per_k",
        "r_mem_k_per_w",
        "c_mem_j_per_k",
        "r_conv0_k_per_w",
        "r_conv_flow_k_lpm_per_w",
        "c_plate_j_per_k",
        "mem_power_frac",
    )

    def __init__(self, theta: list[float] | None = None, n_sub: int = 4) -> None:
        self._theta = (
            list(theta)
            if theta is not None
            else [0.012, 120.0, 0.09, 250.0, 0.01, 0.05, 1200.0, 0.15]
        )
        self.n_sub = n_sub

    def theta_default(self) -> Tensor:
        return torch.tensor(self._theta, dtype=torch.float64)

    def step(self, x: Tensor, u: Tensor, theta: Tensor, dt: float) -> Tensor:
        th = theta.to(x.dtype)
        r_d, c_d, r_m, c_m, r0, rf, c_p, fm = (th[..., i] for i in range(8))
        p, t_in, flow = u[..., 0], u[..., 1], u[..., 2]
        r_c = resistance(flow, r0, rf)
        tg, tm, tp = x[..., 0], x[..., 1], x[..., 2]
        h = dt / self.n_sub
        for _ in range(self.n_sub):
            tg = rc_step(tg, (1 - fm) * p, tp, r_d, c_d, h)
            tm = rc_step(tm, fm * p, tp, r_m, c_m, h)
            tp = rc_step(tp, (tg - tp) / r_d + (tm - tp) / r_m, t_in, r_c, c_p, h)
        return torch.stack([tg, tm, tp], -1)

    def config(self) -> dict[str, Any]:
        return {"theta": self._theta, "n_sub": self.n_sub}


def plate_observer(
    tg: np.ndarray,
    tm: np.ndarray,
    t_in: np.ndarray,
    flow: np.ndarray,
    theta: Any,
    dt: float,
    tp0: np.ndarray | None = None,
) -> np.ndarray:
    """The cold-plate temperature ``(n_time, n_gpu)`` inferred from measured die and HBM
    temperatures, inlet temperature and flow (all ``(n_time, n_gpu)``, sampled every ``dt`` s).

    Integrates the plate node of :class:`PlateRCPrior` with die and HBM held at their measured
    values: ``C_p dTp/dt = (Tg - Tp)/r_die + (Tm - Tp)/r_mem - (Tp - T_in)/R(F)``. Its error
    decays with ``C_p / (1/r_die + 1/r_mem + 1/R)`` (~10 s nominal) whatever ``tp0`` (default
    the mean of die and inlet temperature), so after a minute of stream it is converged.
    """
    th = np.asarray(theta, dtype=float)
    r_d, r_m, r0, rf, c_p = th[0], th[2], th[4], th[5], th[6]
    tp = np.empty_like(tg)
    cur = 0.5 * (tg[0] + t_in[0]) if tp0 is None else tp0
    for k in range(tg.shape[0]):
        g = 1 / r_d + 1 / r_m + 1 / resistance(flow[k], r0, rf)
        t_eq = (tg[k] / r_d + tm[k] / r_m + t_in[k] / resistance(flow[k], r0, rf)) / g
        cur = t_eq + (cur - t_eq) * np.exp(-dt * g / c_p)
        tp[k] = cur
    return tp
