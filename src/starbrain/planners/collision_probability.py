"""Probability of collision of short-term encounters (2-D Foster method) and covariance models.

Short-term encounter assumptions (Foster & Estes 1992; Chan 2008, "Spacecraft Collision
Probability", ch. 2-3): relative motion is rectilinear during the encounter, position errors are
Gaussian and uncorrelated between the two objects, velocity errors are neglected, and both
objects are spheres whose radii add up to the hard-body radius ``R``. The collision probability
is then the integral of the combined position density, projected onto the encounter plane
(perpendicular to the relative velocity at TCA), over the disk of radius ``R`` centred on the
origin, the density being centred on the miss vector.

The 2-D integral is computed numerically and vectorised over encounters. In the principal axes of
the 2x2 covariance the integral over the axis with the smaller sigma is exact (a difference of
normal CDFs); the other axis is integrated with Gauss-Legendre panels in ``theta``
(``y = R sin theta``, which removes the square-root end singularity of the disk's chord). Panel
edges are placed where the integrand has its features (at multiples of each sigma from the miss
components), so narrow densities (sigma much smaller than ``R``) stay accurate; relative accuracy
is about 1e-10 for the published test cases (see the tests), including probabilities near 1e-27.

Units: any consistent length unit (km in this package); covariances in that unit squared.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.special import ndtr

__all__ = [
    "DEFAULT_COVARIANCE",
    "RtnCovarianceModel",
    "encounter_plane",
    "pc_circle",
    "pc_foster",
    "rtn_basis",
    "rtn_to_inertial",
]

FloatArray = npt.NDArray[np.float64]

_GL_NODES, _GL_WEIGHTS = np.polynomial.legendre.leggauss(16)
_GL24_NODES, _GL24_WEIGHTS = np.polynomial.legendre.leggauss(24)
# Panel edges, in sigmas from the miss component: along the integrated axis (the density's
# centre and shoulders) and across it (where the disk's chord crosses the narrow density).
_Y_EDGES = np.array([-8.0, -4.0, -2.0, -1.0, 0.0, 1.0, 2.0, 4.0, 8.0])
_X_EDGES = np.array([-8.0, -3.0, -1.0, 0.0, 1.0, 3.0, 8.0])


def _interval_mass(lo: FloatArray, hi: FloatArray) -> FloatArray:
    """P(lo < Z < hi) for a standard normal Z, accurate in both tails (lo <= hi)."""
    upper = lo > 0.0  # both in the upper tail: use the mirror image to avoid 1 - 1
    return np.where(upper, ndtr(-lo) - ndtr(-hi), ndtr(hi) - ndtr(lo))


def pc_circle(
    xm: npt.ArrayLike,
    ym: npt.ArrayLike,
    sx: npt.ArrayLike,
    sy: npt.ArrayLike,
    radius: npt.ArrayLike,
) -> FloatArray:
    """Probability that a 2-D Gaussian (centre ``(xm, ym)``, axis-aligned sigmas ``sx``, ``sy``)
    falls inside the disk of ``radius`` centred on the origin. Arrays broadcast together.

    This is the 2-D Pc of Foster & Estes (1992) in the encounter plane's principal axes, as
    tabulated for instance by Chan (2008) and Alfano (2009). Sigmas must be positive.
    """
    xm, ym, sx, sy, radius = np.broadcast_arrays(
        *(np.asarray(a, dtype=np.float64) for a in (xm, ym, sx, sy, radius))
    )
    shape = xm.shape
    xm, ym, sx, sy, radius = (a.reshape(-1) for a in (xm, ym, sx, sy, radius))
    if np.any(sx <= 0.0) or np.any(sy <= 0.0):
        raise ValueError("the sigmas of the encounter-plane covariance must be positive")
    # integrate numerically along the wider axis (y), exactly along the narrower one (x)
    swap = sx > sy
    ax, ay = np.where(swap, ym, xm), np.where(swap, xm, ym)
    bx, by = np.where(swap, sy, sx), np.where(swap, sx, sy)
    ax = np.abs(ax)  # the disk is symmetric
    out = np.empty(len(xm))
    # densities wider than the disk are smooth over it: one panel suffices
    wide = bx >= radius
    for sel, panels in ((np.nonzero(wide)[0], False), (np.nonzero(~wide)[0], True)):
        if len(sel):
            out[sel] = _integrate(ax[sel], ay[sel], bx[sel], by[sel], radius[sel], panels)
    return np.clip(out, 0.0, 1.0).reshape(shape)


def _integrate(
    ax: FloatArray, ay: FloatArray, bx: FloatArray, by: FloatArray, radius: FloatArray, panels: bool
) -> FloatArray:
    """The disk integral in theta (see the module docstring), by Gauss-Legendre panels whose
    edges sit on the density's features when ``panels``, else by one 24-node rule."""
    n = len(ax)
    half = 0.5 * np.pi
    if panels:
        r = radius[:, None]
        y_edges = np.arcsin(np.clip((ay[:, None] + by[:, None] * _Y_EDGES) / r, -1.0, 1.0))
        x_edges = np.arccos(np.clip((ax[:, None] + bx[:, None] * _X_EDGES) / r, 0.0, 1.0))
        edges = np.concatenate(
            [np.full((n, 1), -half), y_edges, x_edges, -x_edges, np.full((n, 1), half)], axis=1
        )
        edges.sort(axis=1)
        nodes, weights = _GL_NODES, _GL_WEIGHTS
    else:
        edges = np.tile([-half, half], (n, 1))
        nodes, weights = _GL24_NODES, _GL24_WEIGHTS
    a, b = edges[:, :-1], edges[:, 1:]  # (n, n_panel)
    mid, hw = 0.5 * (a + b), 0.5 * (b - a)
    theta = mid[..., None] + hw[..., None] * nodes  # (n, n_panel, n_node)
    rr = radius[:, None, None]
    y = rr * np.sin(theta)
    chord = rr * np.cos(theta)
    ax3, ay3 = ax[:, None, None], ay[:, None, None]
    bx3, by3 = bx[:, None, None], by[:, None, None]
    zy = (y - ay3) / by3
    dens_y = np.exp(-0.5 * zy * zy) / (np.sqrt(2.0 * np.pi) * by3)
    mass_x = _interval_mass((-chord - ax3) / bx3, (chord - ax3) / bx3)
    f = dens_y * mass_x * chord
    return np.einsum("npk,k,np->n", f, weights, hw)


def pc_foster(miss_2d: npt.ArrayLike, cov_2d: npt.ArrayLike, radius: npt.ArrayLike) -> FloatArray:
    """2-D Pc for a miss vector ``(..., 2)`` and a full encounter-plane covariance ``(..., 2, 2)``.

    The covariance is diagonalised (closed form for symmetric 2x2) and the miss vector rotated into
    its principal axes; the disk is rotation invariant. See :func:`pc_circle`.
    """
    m = np.asarray(miss_2d, dtype=np.float64)
    c = np.asarray(cov_2d, dtype=np.float64)
    a, b, d = c[..., 0, 0], 0.5 * (c[..., 0, 1] + c[..., 1, 0]), c[..., 1, 1]
    half_tr = 0.5 * (a + d)
    disc = np.sqrt(np.maximum(0.25 * (a - d) ** 2 + b * b, 0.0))
    l1, l2 = half_tr + disc, half_tr - disc  # l1 >= l2
    phi = 0.5 * np.arctan2(2.0 * b, a - d)  # direction of the l1 axis
    ex, ey = np.cos(phi), np.sin(phi)
    u = m[..., 0] * ex + m[..., 1] * ey  # along the l1 axis
    w = -m[..., 0] * ey + m[..., 1] * ex
    if np.any(l2 <= 0.0):
        raise ValueError("the encounter-plane covariance must be positive definite")
    return pc_circle(u, w, np.sqrt(l1), np.sqrt(l2), radius)


def rtn_basis(r: npt.ArrayLike, v: npt.ArrayLike) -> FloatArray:
    """Rows R, T, N (radial, in-track, cross-track) of each state's orbit frame, ``(..., 3, 3)``.

    ``R = r / |r|``, ``N = r x v / |r x v|``, ``T = N x R`` (CCSDS's RTN, as in the CDM).
    """
    r = np.asarray(r, dtype=np.float64)
    v = np.asarray(v, dtype=np.float64)
    rh = r / np.linalg.norm(r, axis=-1, keepdims=True)
    h = np.cross(r, v)
    nh = h / np.linalg.norm(h, axis=-1, keepdims=True)
    th = np.cross(nh, rh)
    return np.stack([rh, th, nh], axis=-2)


def rtn_to_inertial(cov_rtn: npt.ArrayLike, r: npt.ArrayLike, v: npt.ArrayLike) -> FloatArray:
    """A position covariance ``(..., 3, 3)`` given in the RTN frame of ``(r, v)`` -> inertial."""
    m = rtn_basis(r, v)  # rows are the RTN axes in inertial coordinates
    return np.einsum("...ki,...kl,...lj->...ij", m, np.asarray(cov_rtn, dtype=np.float64), m)


def encounter_plane(
    dr: npt.ArrayLike, dv: npt.ArrayLike, cov: npt.ArrayLike
) -> tuple[FloatArray, FloatArray]:
    """Project a relative state at TCA onto the encounter plane.

    ``dr`` and ``dv`` ``(..., 3)`` are the secondary's position and velocity relative to the
    primary, ``cov`` ``(..., 3, 3)`` the combined position covariance, all inertial. The plane is
    perpendicular to ``dv``; its x axis is along the miss vector (the component of ``dr``
    perpendicular to ``dv``), y completes the right-handed set with ``dv``. Returns the 2-D miss
    vector ``(..., 2)`` (``(|miss|, 0)``) and covariance ``(..., 2, 2)``.
    """
    dr = np.asarray(dr, dtype=np.float64)
    dv = np.asarray(dv, dtype=np.float64)
    z = dv / np.linalg.norm(dv, axis=-1, keepdims=True)
    perp = dr - np.sum(dr * z, axis=-1, keepdims=True) * z
    miss = np.linalg.norm(perp, axis=-1)
    # a zero miss vector: any direction perpendicular to dv serves as x
    helper = np.where(np.abs(z[..., :1]) < 0.9, [1.0, 0.0, 0.0], [0.0, 1.0, 0.0])
    alt = helper - np.sum(helper * z, axis=-1, keepdims=True) * z
    x = np.where((miss > 0.0)[..., None], perp, alt)
    x = x / np.linalg.norm(x, axis=-1, keepdims=True)
    y = np.cross(z, x)
    p = np.stack([x, y], axis=-2)  # (..., 2, 3)
    cov2 = np.einsum("...ik,...kl,...jl->...ij", p, np.asarray(cov, dtype=np.float64), p)
    return np.stack([miss, np.zeros_like(miss)], axis=-1), cov2


@dataclass(frozen=True, slots=True)
class RtnCovarianceModel:
    """A default position covariance: diagonal in RTN, sigmas growing linearly with the time from
    the element set's epoch to the TCA (``sigma = sigma0 + rate * |dt|``), in km and km/day.

    Element sets come without covariance. The defaults are an assumption of this package, set to
    the order of magnitude that TLE accuracy studies report for LEO (sub-km radial and
    cross-track, along-track errors dominating and growing by about a km per day, e.g. Flohrer,
    Krag & Klinkrad 2008, "Assessment and categorization of TLE orbit errors for the US SSN
    catalogue"); they are not fitted to any catalogue. Pass measured covariances when known.
    """

    sigma0_rtn_km: tuple[float, float, float] = (0.1, 0.3, 0.1)
    rate_rtn_km_per_day: tuple[float, float, float] = (0.05, 1.0, 0.05)

    def __call__(self, age_days: npt.ArrayLike) -> FloatArray:
        """RTN covariances ``(n, 3, 3)`` km^2 for element ages ``(n,)`` days at the TCA."""
        age = np.abs(np.asarray(age_days, dtype=np.float64))[..., None]
        sigma = np.asarray(self.sigma0_rtn_km) + np.asarray(self.rate_rtn_km_per_day) * age
        out: Any = np.zeros((*sigma.shape, 3))
        idx = np.arange(3)
        out[..., idx, idx] = sigma * sigma
        return np.asarray(out)

    @property
    def name(self) -> str:
        s0 = ", ".join(f"{x:g}" for x in self.sigma0_rtn_km)
        rate = ", ".join(f"{x:g}" for x in self.rate_rtn_km_per_day)
        return f"default RTN sigmas ({s0}) km + ({rate}) km/day since epoch"


DEFAULT_COVARIANCE = RtnCovarianceModel()
