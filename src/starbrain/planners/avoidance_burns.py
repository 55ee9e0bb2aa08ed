"""The burn search of :mod:`starbrain.planners.avoidance` (step 2 of its method): in the
encounter plane of the original geometry, the 2-D Foster Pc of the miss ``m - P S dv`` for
burns ``dv`` (RTN, km/s) under the linear sensitivity ``S``, and the smallest burns that bring it
under a goal, along-track first, else over 2,000 directions on the sphere.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from starbrain.planners.collision_probability import pc_foster, rtn_to_inertial

__all__ = ["Geometry", "burn_candidates", "geometry", "pc_of"]

FloatArray = npt.NDArray[np.float64]


@dataclass(slots=True)
class Geometry:
    """A conjunction from the manoeuvring object's side."""

    dr: FloatArray  # other - manoeuvring, inertial, km
    dv: FloatArray
    plane: FloatArray  # (2, 3) encounter-plane axes
    cov2: FloatArray  # (2, 2) combined covariance in the plane
    hbr: float


def geometry(c: dict[str, Any], k: int) -> Geometry:
    """The encounter of conjunction row ``c`` (positions, velocities and RTN covariances of both
    objects) from object ``k``'s side: relative state, encounter-plane axes (perpendicular to
    the relative velocity), combined covariance in the plane (km^2) and hard-body radius."""
    r = {j: np.array([c[f"{a}{j}_km"] for a in "xyz"]) for j in (1, 2)}
    v = {j: np.array([c[f"v{a}{j}_kmps"] for a in "xyz"]) for j in (1, 2)}
    cov = {}
    for j in (1, 2):
        m = np.zeros((3, 3))
        for (a, b), name in zip(
            ((0, 0), (1, 0), (1, 1), (2, 0), (2, 1), (2, 2)),
            ("rr", "tr", "tt", "nr", "nt", "nn"),
            strict=True,
        ):
            m[a, b] = m[b, a] = c[f"cov{j}_{name}_km2"]
        cov[j] = rtn_to_inertial(m, r[j], v[j])
    o = 3 - k
    dr, dv = r[o] - r[k], v[o] - v[k]
    z = dv / np.linalg.norm(dv)
    x = dr - (dr @ z) * z
    if np.linalg.norm(x) < 1e-12:
        x = np.cross(z, [1.0, 0.0, 0.0] if abs(z[0]) < 0.9 else [0.0, 1.0, 0.0])
    x /= np.linalg.norm(x)
    plane = np.stack([x, np.cross(z, x)])
    return Geometry(dr, dv, plane, plane @ (cov[1] + cov[2]) @ plane.T, c["hard_body_radius_km"])


def pc_of(geo: Geometry, sens: FloatArray, dv_rtn: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Linear-model Pc and miss (km) for burns ``dv_rtn`` (..., 3) km/s."""
    shift = np.einsum("ij,...j->...i", sens, dv_rtn)
    miss = np.einsum("ij,...j->...i", geo.plane, geo.dr - shift)
    p = pc_foster(miss, np.broadcast_to(geo.cov2, (*miss.shape[:-1], 2, 2)), geo.hbr)
    return p, np.linalg.norm(miss, axis=-1)


def _smallest_along(
    ok: Any, directions: FloatArray, max_dv: float
) -> tuple[FloatArray, FloatArray]:
    """For unit directions (d, 3), the smallest magnitude in (0, max_dv] with ok(dv) true
    (inf where none): a log-spaced scan, then bisection on the first bracket."""
    mags = np.geomspace(max_dv * 1e-5, max_dv, 160)
    dv = directions[:, None, :] * mags[None, :, None]
    good = ok(dv)  # (d, n_mag)
    first = np.where(good.any(axis=1), good.argmax(axis=1), -1)
    hi = np.where(first >= 0, mags[np.maximum(first, 0)], np.inf)
    lo = np.where(first > 0, mags[np.maximum(first - 1, 0)], 0.0)
    has = np.isfinite(hi)
    for _ in range(40):
        mid = 0.5 * (lo + hi)
        test = np.where(has, mid, 0.0)
        g = ok(directions[:, None, :] * test[:, None, None])[:, 0]
        hi = np.where(has & g, mid, hi)
        lo = np.where(has & ~g, mid, lo)
    return hi, has


def _fibonacci_sphere(n: int) -> FloatArray:
    """``n`` unit vectors (n, 3) spread evenly on the sphere (Fibonacci lattice)."""
    k = np.arange(n) + 0.5
    z = 1.0 - 2.0 * k / n
    phi = math.pi * (1.0 + 5**0.5) * k
    s = np.sqrt(1.0 - z * z)
    return np.stack([s * np.cos(phi), s * np.sin(phi), z], axis=1)


def burn_candidates(
    geo: Geometry,
    sens: FloatArray,
    pc_goal: float,
    min_miss_km: float | None,
    max_dv: float,
    three_d: bool,
) -> list[tuple[str, FloatArray]]:
    """Burns (RTN, km/s) meeting the goal by the linear model, best first."""

    def ok(dv: FloatArray) -> Any:
        p, miss = pc_of(geo, sens, dv)
        good = p <= pc_goal
        if min_miss_km is not None:
            good &= miss >= min_miss_km
        return good

    out: list[tuple[str, FloatArray]] = []
    along = np.array([[0.0, 1.0, 0.0], [0.0, -1.0, 0.0]])
    mag, has = _smallest_along(ok, along, max_dv)
    for idx in np.argsort(mag):
        if has[idx]:
            out.append(("along-track", along[idx] * mag[idx]))
    if three_d or not out:
        dirs = _fibonacci_sphere(2000)
        mag, has = _smallest_along(ok, dirs, max_dv)
        if has.any():
            best = int(np.argmin(mag))
            out.append(("3-d", dirs[best] * mag[best]))
            out.sort(key=lambda c: float(np.linalg.norm(c[1])))  # smallest burn first
    return out
