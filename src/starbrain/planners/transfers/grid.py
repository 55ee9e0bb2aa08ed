"""Porkchop grids and their optimisation (:mod:`starbrain.planners.transfers`): planet states
from DE421, Lambert arcs for broadcast launch x arrival times, the derived launch and arrival
quantities and burns (:func:`evaluate_transfers`), and the local optimum of one
(:func:`optimize_transfer`)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt

from starbrain.core import timeconv
from starbrain.physics import ephemeris
from starbrain.physics.lambert import solve_lambert
from starbrain.planners.transfers.results import (
    _DAY_S,
    _NS_PER_DAY,
    RADIUS_KM,
    DeltaVAssumptions,
    TransferGrid,
    TransferOption,
    _objective_values,
)


def _states(body: str, ns: npt.NDArray[np.int64]) -> tuple[Any, Any]:
    """Heliocentric ecliptic state at UTC nanoseconds, computed once per distinct time."""
    uniq, inv = np.unique(ns.ravel(), return_inverse=True)
    jd, fr = timeconv.datetime64_to_jd(uniq.astype("datetime64[ns]"))
    r, v = ephemeris.heliocentric_state(body, jd, fr, frame="ecliptic")
    return r[inv].reshape(*ns.shape, 3), v[inv].reshape(*ns.shape, 3)


_BARY = " barycenter"


def _planet_key(name: str) -> str:
    """Ephemeris key of a departure or target point: a planet (its centre, e.g. ``"earth"``)
    or a planet's system barycentre (``"earth barycenter"``, the Earth-Moon barycentre)."""
    key = " ".join(name.strip().lower().replace("barycentre", "barycenter").split())
    planet = key.removesuffix(_BARY)
    if planet not in ephemeris.GM_KM3_S2 or planet not in RADIUS_KM:
        raise ValueError(
            f"unknown planet {name!r}; choose one of {', '.join(sorted(RADIUS_KM))} "
            "(or '<planet> barycenter')"
        )
    return key


def _planet_of(key: str) -> str:
    """The planet whose GM and radius the burns at ``key`` (a :func:`_planet_key`) use."""
    return key.removesuffix(_BARY)


def _dv_from_vinf(vinf: Any, mu: float, r_peri: float, r_apo: float | None) -> Any:
    """Periapsis burn between a hyperbola of excess speed vinf and an orbit (r_peri, r_apo)."""
    r_apo = r_peri if r_apo is None else r_apo
    a = 0.5 * (r_peri + r_apo)
    v_hyp = np.sqrt(vinf**2 + 2.0 * mu / r_peri)
    v_orb = np.sqrt(mu * (2.0 / r_peri - 1.0 / a))
    return v_hyp - v_orb


def _lambert(r1: Any, r2: Any, tof_s: Any, device: str | None) -> tuple[Any, Any, Any]:
    """Heliocentric velocities at both ends (km/s) and convergence of the zero-revolution
    prograde Lambert arcs from ``r1`` to ``r2`` (km) in ``tof_s`` (s; NaN: none), in NumPy or,
    with ``device``, in PyTorch (results back in NumPy)."""
    if device is None:
        sol = solve_lambert(r1, r2, tof_s, ephemeris.MU_SUN_KM3_S2)
        return sol.v1, sol.v2, sol.converged
    import torch

    sol = solve_lambert(
        torch.as_tensor(r1, device=device),
        torch.as_tensor(r2, device=device),
        torch.as_tensor(tof_s, device=device),
        ephemeris.MU_SUN_KM3_S2,
    )
    return sol.v1.cpu().numpy(), sol.v2.cpu().numpy(), sol.converged.cpu().numpy()


def _burns(
    dep: str, tgt: str, vinf_dep: Any, vinf_arr: Any, assumptions: DeltaVAssumptions
) -> tuple[Any, Any]:
    """Departure and arrival burns (km/s) for excess speeds ``vinf_dep``, ``vinf_arr`` (km/s)
    under ``assumptions``: from the parking orbit, into the capture orbit (zero without
    capture)."""
    p_dep, p_tgt = _planet_of(dep), _planet_of(tgt)
    mu_d = ephemeris.GM_KM3_S2[p_dep]
    mu_t = ephemeris.GM_KM3_S2[p_tgt]
    r_park = RADIUS_KM[p_dep] + assumptions.parking_alt_km
    dv_dep = _dv_from_vinf(vinf_dep, mu_d, r_park, None)
    if not assumptions.capture:
        return dv_dep, np.zeros_like(vinf_arr)
    apo = assumptions.capture_apoapsis_alt_km
    dv_arr = _dv_from_vinf(
        vinf_arr,
        mu_t,
        RADIUS_KM[p_tgt] + assumptions.capture_periapsis_alt_km,
        None if apo is None else RADIUS_KM[p_tgt] + apo,
    )
    return dv_dep, dv_arr


def evaluate_transfers(
    launch: Any,
    arrival: Any,
    *,
    departure: str = "earth",
    target: str = "mars",
    assumptions: DeltaVAssumptions | None = None,
    device: str | None = None,
) -> TransferGrid:
    """Zero-revolution prograde Lambert transfers for broadcast launch and arrival UTC times.

    ``launch`` and ``arrival`` are anything :func:`starbrain.timeconv.to_datetime64` reads,
    broadcast together (``launch[:, None]`` against ``arrival[None, :]`` gives a porkchop).
    ``device`` (``"cpu"``, ``"cuda"``) runs the Lambert batch in PyTorch; the default is NumPy.
    """
    dep = _planet_key(departure)
    tgt = _planet_key(target)
    assumptions = assumptions or DeltaVAssumptions()
    l_ns, a_ns = np.broadcast_arrays(timeconv.to_ns(launch), timeconv.to_ns(arrival))
    r1, vp1 = _states(dep, l_ns)
    r2, vp2 = _states(tgt, a_ns)
    tof_s = (a_ns - l_ns).astype(np.float64) / 1e9
    tof_pos = np.where(tof_s > 0.0, tof_s, np.nan)
    v1, v2, ok = _lambert(r1, r2, tof_pos, device)
    vinf_dep = v1 - vp1
    vinf_arr_vec = v2 - vp2
    c3 = np.sum(vinf_dep**2, axis=-1)
    vinf_arr = np.linalg.norm(vinf_arr_vec, axis=-1)
    vd_eq = ephemeris.ecliptic_to_icrf(vinf_dep)
    vinf_dep_mag = np.sqrt(c3)
    with np.errstate(invalid="ignore", divide="ignore"):
        dla = np.arcsin(np.clip(vd_eq[..., 2] / vinf_dep_mag, -1.0, 1.0))
    rla = np.mod(np.arctan2(vd_eq[..., 1], vd_eq[..., 0]), 2.0 * math.pi)
    hz = r1[..., 0] * r2[..., 1] - r1[..., 1] * r2[..., 0]
    cosang = np.sum(r1 * r2, axis=-1)
    sinang = np.linalg.norm(np.cross(r1, r2), axis=-1)
    angle = np.arctan2(sinang, cosang)
    angle = np.where(hz >= 0.0, angle, 2.0 * math.pi - angle)
    dv_dep, dv_arr = _burns(dep, tgt, vinf_dep_mag, vinf_arr, assumptions)
    nan = np.nan
    return TransferGrid(
        departure=dep,
        target=tgt,
        launch=l_ns.astype("datetime64[ns]"),
        arrival=a_ns.astype("datetime64[ns]"),
        tof_days=tof_s / _DAY_S,
        c3_km2_s2=np.where(ok, c3, nan),
        vinf_dep_kms=np.where(ok, vinf_dep_mag, nan),
        vinf_arr_kms=np.where(ok, vinf_arr, nan),
        dla_rad=np.where(ok, dla, nan),
        rla_rad=np.where(ok, rla, nan),
        transfer_angle_rad=np.where(ok, angle, nan),
        dv_departure_kms=np.where(ok, dv_dep, nan),
        dv_arrival_kms=np.where(ok, dv_arr, nan),
        dv_total_kms=np.where(ok, dv_dep + dv_arr, nan),
        converged=np.asarray(ok, dtype=bool),
        assumptions=assumptions,
    )


def _day_grid(start: Any, end: Any, step_days: float) -> npt.NDArray[np.datetime64]:
    s = int(timeconv.to_ns(start))
    e = int(timeconv.to_ns(end))
    if e < s:
        raise ValueError(f"the span starts at {start} but ends earlier, at {end}")
    step = round(step_days * _NS_PER_DAY)
    if step <= 0:
        raise ValueError(f"step_days must be positive, not {step_days}")
    # Integer count: np.arange's float length computation loses the end at ns resolution.
    count = (e - s) // step + 1
    return (s + step * np.arange(count, dtype=np.int64)).astype("datetime64[ns]")


def porkchop(
    launch_start: Any,
    launch_end: Any,
    arrival_start: Any,
    arrival_end: Any,
    *,
    step_days: float = 2.0,
    departure: str = "earth",
    target: str = "mars",
    assumptions: DeltaVAssumptions | None = None,
    device: str | None = None,
) -> TransferGrid:
    """Launch-date x arrival-date grid of transfers (shape ``(n_launch, n_arrival)``).

    Dates are UTC (strings, datetimes or ``datetime64``); both axes are sampled every
    ``step_days`` from their start, ends included when they fall on the step.
    """
    launch = _day_grid(launch_start, launch_end, step_days)
    arrival = _day_grid(arrival_start, arrival_end, step_days)
    return evaluate_transfers(
        launch[:, None],
        arrival[None, :],
        departure=departure,
        target=target,
        assumptions=assumptions,
        device=device,
    )


# --------------------------------------------------------------------------- optimisation


def optimize_transfer(
    launch_guess: Any,
    arrival_guess: Any,
    *,
    objective: str = "c3",
    transfer_type: int | None = None,
    departure: str = "earth",
    target: str = "mars",
    assumptions: DeltaVAssumptions | None = None,
    max_shift_days: float = 60.0,
    ridge_margin_deg: float = 0.0,
    tol_days: float = 1e-3,
) -> TransferOption:
    """Refine a transfer from a grid guess by local minimisation (scipy Nelder-Mead).

    Minimises ``objective`` (``"c3"``, ``"dv"``, ``"vinf_arr"``) over launch and arrival dates,
    staying within ``max_shift_days`` of the guesses and, if ``transfer_type`` is 1 or 2, on
    that side of the 180-degree transfer angle and at least ``ridge_margin_deg`` away from it.
    Returns the best point found (at worst the guess).
    """
    from scipy.optimize import minimize

    base_l = int(timeconv.to_ns(launch_guess))
    base_a = int(timeconv.to_ns(arrival_guess))
    margin = math.radians(ridge_margin_deg)

    def at(p: npt.NDArray[np.float64]) -> TransferGrid:
        ln = np.array([base_l + round(p[0] * _NS_PER_DAY)], dtype=np.int64)
        an = np.array([base_a + round(p[1] * _NS_PER_DAY)], dtype=np.int64)
        return evaluate_transfers(
            ln.astype("datetime64[ns]"),
            an.astype("datetime64[ns]"),
            departure=departure,
            target=target,
            assumptions=assumptions,
        )

    def cost(p: npt.NDArray[np.float64]) -> float:
        if np.any(np.abs(p) > max_shift_days):
            return 1e12
        g = at(p)
        val = float(_objective_values(g, objective)[0])
        if not g.converged[0] or not math.isfinite(val):
            return 1e12
        if transfer_type is not None and int(g.transfer_type[0]) != transfer_type:
            return 1e12
        if abs(float(g.transfer_angle_rad[0]) - math.pi) < margin:
            return 1e12
        return val

    start = np.zeros(2)
    best = minimize(
        cost,
        start,
        method="Nelder-Mead",
        options={
            "xatol": tol_days,
            "fatol": 1e-9,
            "initial_simplex": np.array([[0.0, 0.0], [2.0, 0.0], [0.0, 2.0]]),
            "maxiter": 400,
        },
    )
    p = best.x if best.fun <= cost(start) else start
    g = at(p)
    if not g.converged[0]:
        raise ValueError(
            f"no converged transfer near launch {launch_guess} / arrival {arrival_guess}"
        )
    return g.option((0,))
