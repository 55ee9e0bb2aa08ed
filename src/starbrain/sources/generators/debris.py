"""A synthetic LEO debris-like population: element sets drawn from documented distributions.

The population is a fixed-seed mixture of inclination clusters that loosely resembles the
catalogued LEO population (fragments and rocket bodies clustered around the sun-synchronous band
and a few historical inclinations). It is a test and benchmark load for conjunction screening,
not a model of the real catalogue. Each object is drawn as follows (degrees and km at this edge):

===========  ======  =================================  ================================
cluster      weight  inclination                        perigee altitude (km)
===========  ======  =================================  ================================
SSO          0.34    sun-synchronous for its orbit,     N(780, 130) in [450, 1500]
                     then + N(0, 0.3) (about 97-100)
82 deg       0.14    N(82.8, 0.4)                       N(850, 110) in [500, 1500]
86 deg       0.06    N(86.4, 0.3)                       N(770, 60) in [500, 1500]
74 deg       0.10    N(74.0, 0.3)                       N(760, 80) in [400, 1500]
65-71 deg    0.16    U(65, 71)                          N(700, 200) in [300, 1500]
50-56 deg    0.08    U(50, 56)                          N(520, 120) in [300, 1500]
background   0.12    U(20, 110)                         U(300, 1500)
===========  ======  =================================  ================================

Eccentricity is exponential with a 0.006 mean, capped at 0.05 (most fragments are near-circular,
a tail reaches a few hundredths); the semi-major axis follows from the perigee,
``a = (R + h_p) / (1 - e)``. Right ascension of the node, argument of perigee and mean anomaly are
uniform. B* is log-uniform in [1e-5, 3e-4] per earth radius, so no object decays within weeks.
Mean motions are SGP4-consistent (``constellation.kozai_mean_motion``) and every value is rounded
to the precision of the TLE columns, as the constellation generator does.

Catalogue numbers run from ``first_norad`` (default 300001, alpha-5 ``W0001``) upwards and must
stay below 340000 (the alpha-5 limit), so the default allows up to 39,999 objects, clear of the
Starlink preset (200001-204408).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from starbrain.core.errors import StarbrainError
from starbrain.sources.generators.constellation import (
    J2_WGS72,
    MU_WGS72_KM3_S2,
    RADIUS_WGS72_KM,
    elements_table,
    generation_epoch,
    kozai_mean_motion,
)

__all__ = ["DEBRIS_CLUSTERS", "generate_debris"]

DEFAULT_SEED = 20_260_101
MAX_NORAD = 339_999

# (name, weight, inclination draw, perigee draw) -- see the module docstring.
DEBRIS_CLUSTERS: tuple[tuple[str, float], ...] = (
    ("sso", 0.34),
    ("82deg", 0.14),
    ("86deg", 0.06),
    ("74deg", 0.10),
    ("65-71deg", 0.16),
    ("50-56deg", 0.08),
    ("background", 0.12),
)

_SUN_RATE_RAD_S = 2.0 * math.pi / (365.2422 * 86400.0)  # mean motion of the mean Sun


def _sso_inclination_deg(a_km: npt.NDArray[np.float64], e: npt.NDArray[np.float64]) -> Any:
    """Inclination whose J2 nodal regression follows the mean Sun (first-order secular rate)."""
    n = np.sqrt(MU_WGS72_KM3_S2 / a_km**3)
    p = a_km * (1.0 - e * e)
    cos_i = -_SUN_RATE_RAD_S / (1.5 * n * J2_WGS72 * (RADIUS_WGS72_KM / p) ** 2)
    return np.degrees(np.arccos(np.clip(cos_i, -1.0, 1.0)))


def _clipped_normal(
    rng: np.random.Generator, mean: float, sd: float, lo: float, hi: float, n: int
) -> npt.NDArray[np.float64]:
    """Normal draws redrawn until inside [lo, hi] (a truncated normal)."""
    out = rng.normal(mean, sd, n)
    bad = (out < lo) | (out > hi)
    while bad.any():
        out[bad] = rng.normal(mean, sd, int(bad.sum()))
        bad = (out < lo) | (out > hi)
    return out


_PERIGEE_KM = {  # mean, sd, lo, hi (km); None: uniform over [lo, hi]
    "sso": (780.0, 130.0, 450.0, 1500.0),
    "82deg": (850.0, 110.0, 500.0, 1500.0),
    "86deg": (770.0, 60.0, 500.0, 1500.0),
    "74deg": (760.0, 80.0, 400.0, 1500.0),
    "65-71deg": (700.0, 200.0, 300.0, 1500.0),
    "50-56deg": (520.0, 120.0, 300.0, 1500.0),
    "background": (None, None, 300.0, 1500.0),
}


def _perigees_and_inclinations(
    rng: np.random.Generator, cluster: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Perigee heights (km) and inclinations (deg) per object of each cluster index in
    ``cluster``, drawn cluster by cluster in ``DEBRIS_CLUSTERS`` order; the sun-synchronous
    cluster's inclinations are left NaN (they follow from ``a`` and ``e``)."""
    n = cluster.size
    hp = np.empty(n)
    inc = np.full(n, np.nan)
    for k, (name, _) in enumerate(DEBRIS_CLUSTERS):
        sel = np.nonzero(cluster == k)[0]
        mean, sd, lo, hi = _PERIGEE_KM[name]
        if mean is None or sd is None:  # the background: uniform perigees
            hp[sel] = rng.uniform(lo, hi, sel.size)
        else:
            hp[sel] = _clipped_normal(rng, mean, sd, lo, hi, sel.size)
        draws = {
            "82deg": lambda m: rng.normal(82.8, 0.4, m),
            "86deg": lambda m: rng.normal(86.4, 0.3, m),
            "74deg": lambda m: rng.normal(74.0, 0.3, m),
            "65-71deg": lambda m: rng.uniform(65.0, 71.0, m),
            "50-56deg": lambda m: rng.uniform(50.0, 56.0, m),
            "background": lambda m: rng.uniform(20.0, 110.0, m),
        }
        if name in draws:
            inc[sel] = draws[name](sel.size)
    return hp, inc


def generate_debris(
    n: int = 6000,
    epoch: object = None,
    *,
    seed: int = DEFAULT_SEED,
    first_norad: int = 300_001,
    prefix: str = "DEB",
    source: str = "generated:debris",
) -> pa.Table:
    """``n`` debris-like LEO element sets (``ELEMENTS_SCHEMA``), reproducible for a given seed.

    ``epoch`` (anything ``timeconv.to_datetime64`` reads) defaults to today 00:00 UTC; every
    object shares it. Catalogue numbers are ``first_norad .. first_norad + n - 1`` (at most
    339999); names are ``"{prefix} {k:06d}"``. See the module docstring for the distributions.
    """
    if n < 0:
        raise StarbrainError(f"the number of debris objects must be >= 0, got {n}")
    if first_norad < 1 or first_norad + n - 1 > MAX_NORAD:
        raise StarbrainError(
            f"catalogue numbers {first_norad}..{first_norad + n - 1} do not fit 1..{MAX_NORAD}"
        )
    t0 = generation_epoch(epoch)
    rng = np.random.default_rng(seed)
    weights = np.array([w for _, w in DEBRIS_CLUSTERS])
    cluster = rng.choice(len(DEBRIS_CLUSTERS), size=n, p=weights / weights.sum())
    hp, inc = _perigees_and_inclinations(rng, cluster)

    ecc = np.minimum(rng.exponential(0.006, n), 0.05)
    a_km = (RADIUS_WGS72_KM + hp) / (1.0 - ecc)
    sso = cluster == 0
    inc[sso] = _sso_inclination_deg(a_km[sso], ecc[sso]) + rng.normal(0.0, 0.3, int(sso.sum()))
    raan = rng.uniform(0.0, 360.0, n)
    argp = rng.uniform(0.0, 360.0, n)
    mean_anomaly = rng.uniform(0.0, 360.0, n)
    bstar = 10.0 ** rng.uniform(-5.0, math.log10(3e-4), n)

    inc = np.round(inc, 4)
    ecc = np.round(ecc, 7)
    elements: dict[str, Any] = {
        "mean_motion_rev_per_day": kozai_mean_motion(a_km - RADIUS_WGS72_KM, np.radians(inc), ecc),
        "eccentricity": ecc,
        "inclination_deg": inc,
        "ra_of_asc_node_deg": raan,
        "arg_of_pericenter_deg": argp,
        "mean_anomaly_deg": mean_anomaly,
        "bstar_per_earth_radius": bstar,
    }
    names = [f"{prefix} {k + 1:06d}" for k in range(n)]
    return elements_table(first_norad, t0, names, elements, source)
