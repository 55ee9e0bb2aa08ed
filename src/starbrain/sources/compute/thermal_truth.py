"""The fleet simulator's thermal truth for one liquid-cooled GPU: three nodes (die, cold plate,
HBM). Units: deg C, W, L/min, K/W, J/K, s. Arrays ``(n_gpu,)``, no loop over GPUs.

It lives beside the simulator (``sources`` sits left of ``physics``); the world model's prior is
the single-node ``physics.thermal.RCThermalPrior``, which shares the flow law ``r0 + r_flow/F``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

__all__ = ["ThermalTruth", "relax", "truth_step"]


def relax(t: np.ndarray, p_w: np.ndarray, t_ref: np.ndarray, r: np.ndarray, c: float, dt: float):
    """Exact step of ``C dT/dt = P - (T - T_ref)/R`` over ``dt`` s with ``P, T_ref`` held."""
    t_eq = t_ref + p_w * r
    return t_eq + (t - t_eq) * np.exp(-dt / (r * c))


@dataclass(frozen=True)
class ThermalTruth:
    """Three-node truth: die -> plate (``r_die``), plate -> coolant
    (``r_conv0 + r_conv_flow / F**flow_exponent``), HBM -> plate (``r_mem``); HBM dissipates
    ``mem_frac`` of board power. Per-GPU spread multiplies the resistances (simulator)."""

    r_die: float = 0.012
    c_die: float = 120.0
    r_conv0: float = 0.014
    r_conv_flow: float = 0.036
    c_plate: float = 1200.0
    r_mem: float = 0.09
    c_mem: float = 250.0
    mem_frac: float = 0.15
    # the film coefficient grows as Re^0.8 (Dittus-Boelter), so r_conv ~ F^-0.8; the RC prior
    # assumes F^-1, which fits near nominal flow and drifts as a pump loses flow
    flow_exponent: float = 0.8

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
    r_conv = (k.r_conv0 + k.r_conv_flow / np.maximum(flow, 0.05) ** k.flow_exponent) * spread
    p_mem = k.mem_frac * p_w
    p_die = p_w - p_mem
    for _ in range(n_sub):
        tg = relax(tg, p_die, tp, r_die, k.c_die, h)
        tm = relax(tm, p_mem, tp, r_mem, k.c_mem, h)
        # plate: heat in from die and HBM, out to the coolant
        q_in = (tg - tp) / r_die + (tm - tp) / r_mem
        tp = relax(tp, q_in, t_in, r_conv, k.c_plate, h)
    return tg, tp, tm
