"""Orbit determination with the numerical propagator: the physics prior of the orbit world model.

Batch least squares (Gauss-Newton, chord variant) on the positions of a fit window: per
satellite the GCRS state at epoch (r0 [km], v0 [km/s]) and a drag scale ``s`` that multiplies a
nominal Cd*A/m, so the estimated ballistic coefficient is ``s * ballistic0`` [m^2/kg]. The
Jacobian comes from forward finite differences, all satellites and all 7 parameter directions in
one batch of :func:`starbrain.physics.numerical.propagate_numerical` (each satellite keeps its
own step size, so a batch changes nothing), computed once at the starting point and reused by
the iterations (the problem is nearly linear once the start is within a few km).

The prior's force model (:func:`prior_force_model`) is deliberately cheaper than, and different
from, the truth's: low-degree EGM2008 gravity and the static exponential atmosphere, whose error
against the truth's NRLMSISE-00 with observed space weather the drag scale absorbs over the fit
window (what it cannot absorb, the density's change after the window, is left to the learned
residual). Times are SI seconds since the UTC epoch; positions GCRS, km.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from starbrain.physics.forces import ForceModel, Spacecraft
from starbrain.physics.integrators import IntegratorOptions
from starbrain.physics.numerical import propagate_numerical

__all__ = ["OdFit", "fit_numerical", "prior_force_model", "propagate_fit"]

#: Finite-difference steps: position [km], velocity [km/s], relative drag scale.
_FD_STEPS = np.array([1e-3, 1e-3, 1e-3, 1e-6, 1e-6, 1e-6, 1e-2])
#: Integrator tolerances of the prior (looser than the truth's 1e-12: the prior's model error
#: is metres to kilometres, the integration error at 1e-10 well under a metre per week).
#: The prior stops a satellite below this altitude [km] (re-entry: NaN from there on).
_MIN_ALT_KM = 150.0
PRIOR_OPTIONS = IntegratorOptions(rtol=1e-10, atol_km=1e-7, atol_kmps=1e-10)


def prior_force_model(degree: int = 8) -> ForceModel:
    """The OD prior's forces: EGM2008 ``degree`` x ``degree`` (brahe's coefficients; degree
    <= 6 with order 0 uses the built-in zonals), Vallado's static exponential atmosphere, Sun,
    Moon and cannonball SRP with a cylindrical shadow. Not the truth's model on purpose."""
    if degree <= 6:
        return ForceModel(gravity_degree=degree, shadow="cylindrical")
    return ForceModel(
        gravity_degree=degree, gravity_order=degree, gravity_file="brahe:EGM2008",
        shadow="cylindrical",
    )  # fmt: skip


@dataclass
class OdFit:
    """Result of :func:`fit_numerical` for ``n`` satellites.

    ``r0``/``v0`` (n, 3) GCRS km, km/s at the epoch; ``drag_scale`` (n,) the estimated factor
    on ``ballistic0`` (n,) [m^2/kg]; ``srp_m2kg`` (n,) the assumed Cr*A/m; ``rms_km`` (n,) the
    position residual over the fit window; ``epoch`` the split UTC Julian date;
    ``force_model`` the prior's forces.
    """

    r0: npt.NDArray[np.float64]
    v0: npt.NDArray[np.float64]
    drag_scale: npt.NDArray[np.float64]
    ballistic0: npt.NDArray[np.float64]
    srp_m2kg: npt.NDArray[np.float64]
    rms_km: npt.NDArray[np.float64]
    epoch: tuple[float, float]
    force_model: ForceModel

    @property
    def ballistic_m2kg(self) -> npt.NDArray[np.float64]:
        """(n,) estimated Cd*A/m [m^2/kg]."""
        return self.drag_scale * self.ballistic0


def _spacecraft(ballistic: npt.ArrayLike, srp: npt.ArrayLike) -> Spacecraft:
    """Unit-mass spacecraft with the given Cd*A/m and Cr*A/m (m^2/kg)."""
    return Spacecraft(mass_kg=1.0, drag_area_m2=np.asarray(ballistic), cd=1.0,
                      srp_area_m2=np.asarray(srp), cr=1.0)  # fmt: skip


def _propagate(
    p: npt.NDArray[np.float64], b0: npt.NDArray[np.float64], srp: npt.NDArray[np.float64],
    epoch: tuple[float, float], t_s: npt.NDArray[np.float64], fm: ForceModel,
    velocity: bool = False,
) -> Any:  # fmt: skip
    """Positions (n, n_time, 3) from parameters p (n, 7) = (r0, v0, drag scale); with
    ``velocity`` the pair (r, v)."""
    sc = _spacecraft(np.maximum(p[:, 6], 0.0) * b0, srp)
    res = propagate_numerical(p[:, :3], p[:, 3:6], epoch, t_s, fm, sc, PRIOR_OPTIONS,
                              min_altitude_km=_MIN_ALT_KM)  # fmt: skip
    return (np.asarray(res.r), np.asarray(res.v)) if velocity else np.asarray(res.r)


def fit_numerical(
    r_obs_km: npt.ArrayLike,
    t_obs_s: npt.ArrayLike,
    epoch: tuple[float, float],
    r0_km: npt.ArrayLike,
    v0_kmps: npt.ArrayLike,
    ballistic0_m2kg: npt.ArrayLike,
    srp_m2kg: npt.ArrayLike,
    force_model: ForceModel | None = None,
    iterations: int = 3,
    t_out_s: npt.ArrayLike | None = None,
) -> tuple[OdFit, np.ndarray | None, np.ndarray | None]:
    """Batch least squares of (r0, v0, drag scale) to GCRS positions ``r_obs_km`` (n, m, 3)
    at ``t_obs_s`` (m,) seconds since ``epoch`` (split UTC JD), from the first guess
    ``r0_km``/``v0_kmps`` (n, 3) and ``ballistic0_m2kg`` (n,) with the drag scale starting
    at 1. ``srp_m2kg`` (n,) is held fixed. Satellites are fitted together but independently;
    a satellite whose propagation fails keeps NaN residuals (``rms_km`` NaN).

    Returns ``(fit, r_out, v_out)``. ``t_out_s`` (k,): r_out/v_out are the fitted prior's GCRS
    positions and velocities (n, k, 3) there, from the same final run that gives the residual
    (else None), which saves a second propagation."""
    fm = force_model if force_model is not None else prior_force_model()
    obs = np.asarray(r_obs_km, dtype=np.float64)
    t_s = np.asarray(t_obs_s, dtype=np.float64)
    n = obs.shape[0]
    b0 = np.asarray(ballistic0_m2kg, dtype=np.float64).reshape(n)
    srp = np.broadcast_to(np.asarray(srp_m2kg, dtype=np.float64), (n,)).copy()
    p = np.concatenate([np.atleast_2d(r0_km), np.atleast_2d(v0_kmps), np.ones((n, 1))], axis=1)
    # Jacobian (n, 3m, 7) once, at the first guess: the nominal and 7 perturbed runs in one batch
    pert = np.repeat(p[None], 8, axis=0)
    for k in range(7):
        pert[k + 1, :, k] += _FD_STEPS[k]
    rep = lambda x: np.tile(x, 8)  # noqa: E731
    r_all = _propagate(pert.reshape(8 * n, 7), rep(b0), rep(srp), epoch, t_s, fm)
    r_all = r_all.reshape(8, n, t_s.size * 3)
    jac = np.stack([(r_all[k + 1] - r_all[0]) / _FD_STEPS[k] for k in range(7)], axis=-1)
    resid = obs.reshape(n, -1) - r_all[0]
    scale = np.sqrt(np.nansum(jac**2, axis=1)) + 1e-30  # column scaling, (n, 7)
    js = np.nan_to_num(jac / scale[:, None, :])
    normal = np.einsum("nmi,nmj->nij", js, js) + 1e-9 * np.eye(7)
    for it in range(iterations):
        rhs = np.einsum("nmi,nm->ni", js, np.nan_to_num(resid))
        p = p + np.linalg.solve(normal, rhs[..., None])[..., 0] / scale
        p[:, 6] = np.maximum(p[:, 6], 0.0)
        if it < iterations - 1:
            resid = obs.reshape(n, -1) - _propagate(p, b0, srp, epoch, t_s, fm).reshape(n, -1)
    t_out = np.zeros(0) if t_out_s is None else np.asarray(t_out_s, dtype=np.float64)
    r_fin, v_fin = _propagate(p, b0, srp, epoch, np.concatenate([t_s, t_out]), fm, True)
    resid = obs - r_fin[:, : t_s.size]
    rms = np.sqrt(np.mean(np.sum(resid**2, axis=-1), axis=-1))
    fit = OdFit(p[:, :3], p[:, 3:6], p[:, 6], b0, srp, rms, epoch, fm)
    if t_out_s is None:
        return fit, None, None
    return fit, r_fin[:, t_s.size :], v_fin[:, t_s.size :]


def propagate_fit(fit: OdFit, t_s: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """GCRS positions [km] and velocities [km/s] (n, n_time, 3) of the fitted prior at
    ``t_s`` seconds since its epoch (NaN where a satellite decayed or failed)."""
    sc = _spacecraft(fit.ballistic_m2kg, fit.srp_m2kg)
    res = propagate_numerical(
        fit.r0, fit.v0, fit.epoch, np.asarray(t_s, dtype=np.float64), fit.force_model, sc,
        PRIOR_OPTIONS, min_altitude_km=_MIN_ALT_KM,
    )  # fmt: skip
    return np.asarray(res.r), np.asarray(res.v)
