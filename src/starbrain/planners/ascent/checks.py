"""The checks on an ascent solution (see :mod:`starbrain.planners.ascent`): the pitch profile
re-flown by DOP853 from lift-off, the orbits reached, the velocity, Tsiolkovsky and energy
budgets, and the :class:`~starbrain.planners.ascent.result.AscentResult` assembled."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.integrate import solve_ivp

from starbrain.physics.launch_vehicle import (
    MU_EARTH_M3_S2,
    R_EARTH_M,
    PlanarOrbit,
    planar_derivatives,
    planar_orbit,
)
from starbrain.planners.ascent.result import AscentResult
from starbrain.planners.ascent.transcription import (
    _OFFSET,
    _PAYLOAD_SCALE,
    _SCALE,
    _Phase,
    _Transcription,
)

FloatArray = npt.NDArray[np.float64]


def _fly_phase(tr: _Transcription, p: _Phase, u: FloatArray, x0: FloatArray) -> FloatArray:
    """Re-fly arc ``p`` from state ``x0`` with its node pitch ``u`` (linear in between) by
    DOP853 (rtol 1e-11, atol 1e-6), restarting at each node (the pitch has a kink there);
    returns the states ``(40 k + 1, 5)`` on a grid of 40 samples per interval."""
    node_t = p.h * np.arange(p.k + 1)

    def rhs(t: float, y: FloatArray) -> FloatArray:
        pitch = float(np.interp(t, node_t, u))
        return planar_derivatives(
            y, pitch, p.stage, tr.vehicle, atmosphere=tr.atm, omega_plane_radps=tr.omega
        )

    grid = np.linspace(0.0, p.duration, 40 * p.k + 1)
    y = np.empty((grid.size, 5))
    y[0] = x0
    for j in range(p.k):
        seg = grid[40 * j : 40 * (j + 1) + 1]
        run = solve_ivp(
            rhs, (seg[0], seg[-1]), y[40 * j], method="DOP853", t_eval=seg, rtol=1e-11, atol=1e-6
        )
        y[40 * j : 40 * (j + 1) + 1] = run.y.T
    return y


_Flown = list[tuple[_Phase, FloatArray, FloatArray, FloatArray]]


def _reflow(
    tr: _Transcription, z: FloatArray
) -> tuple[list[Any], list[Any], list[Any], list[Any], _Flown, float]:
    """The collocated nodes of every arc (times, stage, unscaled states, pitch; the staging
    node kept twice, each arc's first node dropped when it continues the same stage), each arc
    re-flown from lift-off (:func:`_fly_phase`, the stage's dry mass dropped at staging) as
    ``(phase, grid, states, pitch)``, and the ideal delta-v ``sum c ln(m0 / mf)`` (m/s)."""
    ts, stages, xs_all, us_all = [], [], [], []
    flown: _Flown = []
    x: FloatArray | None = None
    prev = tr.phases[0].stage_index
    dv_ideal = 0.0
    m_stage_start = 0.0
    for i, p in enumerate(tr.phases):
        xs, u = p.unpack(z)
        xn = _OFFSET + _SCALE * xs
        keep = slice(1, None) if i and p.stage_index == prev else slice(None)
        ts.append((p.t0 + p.h * np.arange(p.k + 1))[keep])
        stages.append(np.full(p.k + 1, p.stage_index)[keep])
        xs_all.append(xn[keep])
        us_all.append(u[keep])
        if x is None:
            x = xn[0].copy()
            m_stage_start = float(x[4])
        elif p.stage_index != prev:
            dv_ideal += tr.vehicle.stages[prev].exhaust_speed_mps * math.log(m_stage_start / x[4])
            x = x.copy()
            x[4] -= tr.vehicle.stages[prev].dry_mass_kg
            m_stage_start = float(x[4])
        prev = p.stage_index
        y = _fly_phase(tr, p, u, x)
        grid = np.linspace(0.0, p.duration, 40 * p.k + 1)
        flown.append((p, grid, y, np.interp(grid, p.h * np.arange(p.k + 1), u)))
        x = y[-1]
    assert x is not None
    dv_ideal += tr.vehicle.stages[prev].exhaust_speed_mps * math.log(m_stage_start / x[4])
    return ts, stages, xs_all, us_all, flown, dv_ideal


def _result(
    tr: _Transcription,
    z: FloatArray,
    sol: Any,
    elapsed: float,
    viol: float,
    target_alt_m: float,
    latitude_rad: float,
) -> AscentResult:
    """The :class:`AscentResult` of the solution ``z`` (SLSQP's ``sol``, solved in ``elapsed``
    s, largest constraint violation ``viol``): nodes, re-flown orbit, budgets, maximum q."""
    ts, stages, xs_all, us_all, flown, dv_ideal = _reflow(tr, z)
    budgets = _budgets(tr, flown, dv_ideal)
    yf = flown[-1][2][-1]

    t = np.concatenate(ts)
    states = np.vstack(xs_all)
    pitch = np.concatenate(us_all)
    stage = np.concatenate(stages)
    q = tr.dynamic_pressure(states)
    iq = int(np.argmax(q))
    climbing = (stage == 0) & (states[:, 2] > 1.0) & (t > tr.boost.t0)
    aoa = np.abs(tr.angle_of_attack(states[climbing], pitch[climbing]))
    xf = states[-1]
    try:
        orbit = planar_orbit(xf[0], xf[2], xf[3])
        orbit_resim = planar_orbit(yf[0], yf[2], yf[3])
    except ValueError:
        nan = math.nan
        orbit = orbit_resim = PlanarOrbit(nan, nan, nan, nan, nan, nan)
    return AscentResult(
        success=bool(sol.success) and viol < 1e-6,
        message=str(sol.message),
        vehicle=tr.vehicle,
        atmosphere=tr.atm,
        target_alt_m=target_alt_m,
        latitude_rad=latitude_rad,
        payload_kg=float(z[tr.i_payload] * _PAYLOAD_SCALE),
        liftoff_mass_kg=float(states[0, 4]),
        burnout_mass_kg=float(xf[4]),
        staging_time_s=tr.phases[-1].t0,
        final_time_s=float(t[-1]),
        t_s=t,
        stage=stage,
        states=states,
        pitch_rad=pitch,
        dynamic_pressure_pa=q,
        max_q_pa=float(q[iq]),
        max_q_time_s=float(t[iq]),
        max_q_alt_m=float(states[iq, 0] - R_EARTH_M),
        max_aoa_rad=float(np.max(aoa)) if aoa.size else 0.0,
        orbit=orbit,
        orbit_resim=orbit_resim,
        resim_final_state=yf.copy(),
        budgets=budgets,
        nlp_iterations=int(getattr(sol, "nit", 0)),
        solve_time_s=elapsed,
        constraint_violation=viol,
    )


def _budgets(
    tr: _Transcription,
    flown: list[tuple[_Phase, FloatArray, FloatArray, FloatArray]],
    dv_ideal: float,
) -> dict[str, float]:
    """Velocity, Tsiolkovsky and energy budgets on the re-flown arcs (Simpson quadrature)."""
    from scipy.integrate import simpson

    veh = tr.vehicle
    b = dict.fromkeys(
        (
            "thrust_accel_integral",
            "loss_backpressure",
            "loss_gravity",
            "loss_drag",
            "loss_steering",
            "work_thrust",
            "work_drag",
        ),
        0.0,
    )
    for p, grid, y, pitch in flown:
        r, vr, vt, m = y[:, 0], y[:, 2], y[:, 3], y[:, 4]
        h = r - R_EARTH_M
        pres = tr.atm.pressure(h)
        acc = p.stage.thrust_n(pres, tr.atm.p0_pa) / m
        v = np.sqrt(vr * vr + vt * vt)
        gamma = np.arctan2(vr, vt)
        wt = vt - tr.omega * r
        k = 0.5 * tr.atm.density(h) * np.sqrt(vr * vr + wt * wt)
        k = k * veh.drag_coefficient * veh.reference_area_m2 / m  # drag per unit mass / v_rel
        drag_power = k * (vr * vr + wt * vt)  # (D / m) . v
        g = MU_EARTH_M3_S2 / (r * r)
        integrands = {
            "thrust_accel_integral": acc,
            "loss_backpressure": p.stage.exit_area_m2(tr.atm.p0_pa) * pres / m,
            "loss_gravity": g * np.sin(gamma),
            "loss_drag": drag_power / v,
            "loss_steering": acc * (1.0 - np.cos(pitch - gamma)),
            "work_thrust": acc * (np.sin(pitch) * vr + np.cos(pitch) * vt),
            "work_drag": drag_power,
        }
        for j in range(p.k):  # Simpson per interval: the integrands have kinks at nodes
            sl = slice(40 * j, 40 * (j + 1) + 1)
            for key, val in integrands.items():
                b[key] += float(simpson(val[sl], x=grid[sl]))
    y0 = flown[0][2][0]
    yf = flown[-1][2][-1]
    b["dv_ideal"] = dv_ideal
    b["speed_gain"] = math.hypot(yf[2], yf[3]) - math.hypot(y0[2], y0[3])
    b["velocity_residual"] = (
        dv_ideal
        - b["loss_backpressure"]
        - b["loss_gravity"]
        - b["loss_drag"]
        - b["loss_steering"]
        - b["speed_gain"]
    )
    b["tsiolkovsky_residual"] = b["thrust_accel_integral"] - (dv_ideal - b["loss_backpressure"])

    def energy(s: FloatArray) -> float:
        return 0.5 * (s[2] ** 2 + s[3] ** 2) - MU_EARTH_M3_S2 / s[0]

    b["energy_change"] = energy(yf) - energy(y0)
    b["energy_residual"] = b["energy_change"] - (b["work_thrust"] - b["work_drag"])
    return b
