"""Per-GPU thermal parameters estimated from each GPU's own history by least squares.

Every GPU differs from the nominal cold plate (mounting, thermal paste, its place on the
manifold), and a degrading pump moves the flow-dependent resistance away from what the nominal
flow law says. :func:`estimate_gpu_theta` fits, for every GPU at once, the free parameters of
the three-node prior (``physics.thermal.PlateRCPrior``: die, HBM and convective resistances,
the flow sensitivity ``r_conv_flow`` and the plate's heat capacity) plus the unmeasured initial
plate temperature, by Levenberg-Marquardt on the *simulation* error of die and HBM temperature
over the history (an open-loop run of the prior from the first sample, the error a forecast
makes), with a small ridge towards the nominal values so that a parameter the history does not
excite (the flow split at constant flow) stays nominal.

Vectorised over GPUs with NumPy (the Jacobian by forward differences, one batched simulation
per iteration); the only Python loops are over iterations and time steps. Units: deg C, W,
L/min, K/W, J/K, s; shapes ``(n_time, n_gpu)`` as the ``compute`` metrics.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from starbrain.core.errors import StarbrainError
from starbrain.physics.thermal import rc_step, resistance

__all__ = ["FREE_THETA", "estimate_gpu_theta", "simulate_plate_rc"]

FREE_THETA = (0, 2, 4, 5, 6)
"""Indices of ``PlateRCPrior.theta`` fitted per GPU: r_die, r_mem, r_conv0, r_conv_flow,
c_plate (each as ``nominal * exp(q)``)."""
_PLATE_SCALE_K = 5.0  # the initial-plate offset moves on this scale (K)


def simulate_plate_rc(
    theta: np.ndarray,
    x0: tuple[np.ndarray, np.ndarray, np.ndarray],
    p_w: np.ndarray,
    t_in: np.ndarray,
    flow: np.ndarray,
    dt_s: float,
    n_sub: int = 4,
) -> tuple[np.ndarray, np.ndarray]:
    """Open-loop run of the three-node prior (same sub-stepping as ``PlateRCPrior.step``).

    ``theta`` ``(..., 8)``; ``x0`` the die, HBM and plate temperatures ``(...)``; ``p_w``,
    ``t_in``, ``flow`` ``(n_steps, ...)``, the inputs held over each step. Returns die and HBM
    temperature ``(n_steps, ...)`` at the end of each step."""
    r_d, c_d, r_m, c_m, r0, rf, c_p, fm = (theta[..., i] for i in range(8))
    tg, tm, tp = x0
    h = dt_s / n_sub
    out_g, out_m = np.empty(p_w.shape), np.empty(p_w.shape)
    for k in range(p_w.shape[0]):
        r_c = resistance(flow[k], r0, rf)
        for _ in range(n_sub):
            tg = rc_step(tg, (1 - fm) * p_w[k], tp, r_d, c_d, h)
            tm = rc_step(tm, fm * p_w[k], tp, r_m, c_m, h)
            tp = rc_step(tp, (tg - tp) / r_d + (tm - tp) / r_m, t_in[k], r_c, c_p, h)
        out_g[k], out_m[k] = tg, tm
    return out_g, out_m


def _theta_of(theta0: np.ndarray, q: np.ndarray, free: Sequence[int]) -> np.ndarray:
    th = np.broadcast_to(theta0, (*q.shape[:-1], theta0.size)).copy()
    for j, i in enumerate(free):
        th[..., i] = theta0[i] * np.exp(q[..., j])
    return th


def estimate_gpu_theta(
    metrics: dict[str, np.ndarray],
    gpus: Sequence[int] | np.ndarray,
    dt_s: float,
    theta0: Any,
    start: int = 0,
    stop: int | None = None,
    *,
    n_iter: int = 8,
    ridge: float = 1e-2,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-GPU parameters ``(n_gpu, 8)`` of ``PlateRCPrior`` from samples ``start..stop`` of
    the GPUs ``gpus`` (``metrics`` as :func:`~starbrain.models.compute_model.
    compute_trajectories` takes them; ``power_w[k]`` drives sample ``k - 1`` to ``k``), and each
    GPU's RMS simulation error (deg C, die and HBM) at the end. ``theta0`` ``(8,)`` is the
    nominal start and the ridge's target."""
    g = np.asarray(gpus)
    stop = metrics["gpu_temp_c"].shape[0] - 1 if stop is None else stop
    if stop - start < 30:
        raise StarbrainError(f"a per-GPU estimate needs at least 30 samples, got {stop - start}")
    th0 = np.asarray(theta0, dtype=float)
    tg, tm = (metrics[c][start : stop + 1, g] for c in ("gpu_temp_c", "memory_temp_c"))
    u = [metrics[c][start + 1 : stop + 1, g][:, :, None]
         for c in ("power_w", "inlet_temp_c", "coolant_flow_lpm")]  # fmt: skip
    tp_guess = 0.5 * (tg[0] + u[1][0, :, 0])
    n_free, n_p = len(FREE_THETA), len(FREE_THETA) + 1

    def residuals(q: np.ndarray) -> np.ndarray:  # q (G, B, n_p) -> (G, B, 2 n_steps)
        b = q.shape[1]
        x0 = (tg[0][:, None], tm[0][:, None], tp_guess[:, None] + _PLATE_SCALE_K * q[..., n_free])
        p_w, t_in, flow = (np.repeat(a, b, 2) for a in u)
        th = _theta_of(th0, q[..., :n_free], FREE_THETA)
        sg, sm = simulate_plate_rc(th, x0, p_w, t_in, flow, dt_s)
        r = np.concatenate([sg - tg[1:, :, None], sm - tm[1:, :, None]], 0)
        return r.transpose(1, 2, 0)

    q, mu, eps, eye = np.zeros((g.size, n_p)), np.full(g.size, 1e-2), 1e-5, np.eye(n_p)
    r0 = residuals(q[:, None])[:, 0]
    cost = (r0**2).sum(1) + ridge * (q**2).sum(1)
    for _ in range(n_iter):
        jac = (residuals(q[:, None] + eps * eye[None]) - r0[:, None]) / eps  # (G, n_p, 2T)
        a = jac @ jac.transpose(0, 2, 1) + ridge * eye
        a = a + mu[:, None, None] * eye * np.einsum("gii->gi", a)[:, :, None]
        grad = (jac @ r0[..., None])[..., 0] + ridge * q
        trial = q - np.linalg.solve(a, grad[..., None])[..., 0]
        r_t = residuals(trial[:, None])[:, 0]
        c_t = (r_t**2).sum(1) + ridge * (trial**2).sum(1)
        better = c_t < cost
        q[better], r0[better], cost[better] = trial[better], r_t[better], c_t[better]
        mu = np.where(better, mu / 3.0, mu * 4.0)
    rms = np.sqrt((r0**2).mean(1))
    return _theta_of(th0, q[:, :n_free], FREE_THETA), rms
