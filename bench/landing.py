"""Powered-descent guidance solve times: starbrain's direct Clarabel path vs plain CVXPY.

The problem is the Mars landing of Blackmore, Acikmese & Scharf (2010), case 1 (the vehicle of
Acikmese & Ploen 2007; r0 = [1500, 500, 2000] m, v0 = [-75, 0, 100] m/s), minimum fuel, 55
intervals, first-order hold: 616 unknowns, ~1400 cone rows. Three ways to solve it:

* ``ours``: :func:`starbrain.planners.landing.solve_landing` with ``backend="conic"``: the cone
  program assembled with NumPy into a fixed sparsity pattern, one Clarabel workspace re-used
  across times of flight (only numbers change), unknowns scaled to order one;
* ``cvxpy``: the same problem stated in CVXPY and rebuilt for every time of flight
  (``backend="cvxpy"``, Clarabel underneath): what a user of CVXPY writes first;
* ``cvxpy-dpp`` (per-solve table only): the problem written with ``cp.Parameter`` (DPP) so
  CVXPY compiles it once and re-solves with new parameter values, Clarabel underneath.

All use Clarabel 0.11 at the same tolerances (1e-8). Two workloads: one solve at a fixed time of
flight (median over ``--repeats`` passes over 8 times between 70 and 85 s), and the whole
free-final-time solve (line search, ~16 solves; median over ``--repeats``). The ratio is the
peer's time / ours (above 1: we are faster). The fuel found by each is printed as a check.
Run: ``python bench/landing.py [--repeats R]``.
"""

from __future__ import annotations

import argparse
import math
import time
from typing import Any, Literal

import numpy as np

from _timing import median_time
from starbrain.planners import landing as ld

R0 = (1500.0, 500.0, 2000.0)
V0 = (-75.0, 0.0, 100.0)
N = 55
TFS = np.linspace(70.0, 85.0, 8)


def spec() -> Any:
    return ld._Spec(
        config=ld.MARS_LANDER_2007,
        r0=np.array(R0),
        v0=np.array(V0),
        target=np.zeros(3),
        vf=np.zeros(3),
        n=N,
        hold="foh",
        mode="fuel",
        enforce_dry_mass=False,
    )


class DppLanding:
    """The first-order-hold minimum-fuel problem with the time of flight in parameters."""

    def __init__(self, s: Any) -> None:
        import cvxpy as cp

        self.cp, self.s = cp, s
        c, n = s.config, s.n
        nc = n + 1
        self.h2 = cp.Parameter(nonneg=True)
        self.h2_3 = cp.Parameter(nonneg=True)
        self.h2_6 = cp.Parameter(nonneg=True)
        self.h = cp.Parameter(nonneg=True)
        self.alh2 = cp.Parameter(nonneg=True)
        self.hg = cp.Parameter(3)
        self.h2g = cp.Parameter(3)
        self.mu1 = cp.Parameter(nc, nonneg=True)
        self.mu2 = cp.Parameter(nc, nonneg=True)
        self.c1 = cp.Parameter(nc)
        self.c2 = cp.Parameter(nc)
        self.p1 = cp.Parameter(nc, nonneg=True)
        self.q1 = cp.Parameter(nc)
        self.zlo = cp.Parameter(n)
        self.zhi = cp.Parameter(n)
        self.r_km = cp.Variable((n + 1, 3))
        self.v_hm = cp.Variable((n + 1, 3))
        r, v = 1e3 * self.r_km, 1e2 * self.v_hm
        self.z = z = cp.Variable(n + 1)
        a = cp.Variable((nc, 3))
        sg = cp.Variable(nc)
        ones = np.ones((n, 1))
        cons = [
            r[0] == s.r0,
            v[0] == s.v0,
            z[0] == math.log(c.wet_mass_kg),
            v[1:]
            == v[:-1] + ones @ cp.reshape(self.hg, (1, 3), order="C") + self.h2 * (a[:-1] + a[1:]),
            r[1:]
            == r[:-1]
            + self.h * v[:-1]
            + ones @ cp.reshape(self.h2g, (1, 3), order="C")
            + self.h2_3 * a[:-1]
            + self.h2_6 * a[1:],
            z[1:] == z[:-1] - self.alh2 * (sg[:-1] + sg[1:]),
            r[n] == 0.0,
            v[n] == 0.0,
            cp.norm(a, axis=1) <= sg,
            sg <= self.c2 - cp.multiply(self.mu2, z),
            sg >= self.c1 - cp.multiply(self.mu1, z) + cp.square(cp.multiply(self.p1, z) - self.q1),
            z[1:] >= self.zlo,
            z[1:] <= self.zhi,
        ]
        if c.glide_slope_rad is not None:
            d = r[:n] - ones @ cp.reshape(r[n], (1, 3), order="C")
            cons.append(cp.norm(d[:, 1:], axis=1) <= d[:, 0] / math.tan(c.glide_slope_rad))
        self.prob = cp.Problem(cp.Maximize(z[n]), cons)
        assert self.prob.is_dpp()

    def solve(self, tf: float) -> float:
        s, c = self.s, self.s.config
        h = tf / s.n
        g = np.asarray(c.gravity_mps2)
        self.h.value, self.h2.value = h, h / 2
        self.h2_3.value, self.h2_6.value = h * h / 3, h * h / 6
        self.alh2.value = c.alpha_s_per_m * h / 2
        self.hg.value, self.h2g.value = h * g, h * h / 2 * g
        z0, _, emz0 = ld._taylor_centre(s, np.arange(s.n + 1) * h)
        mu1, mu2 = c.thrust_min_n * emz0, c.thrust_max_n * emz0
        self.mu1.value, self.mu2.value = mu1, mu2
        self.c1.value, self.c2.value = mu1 * (1 + z0), mu2 * (1 + z0)
        self.p1.value = np.sqrt(mu1 / 2)
        self.q1.value = np.sqrt(mu1 / 2) * z0
        z0n, z1n, _ = ld._taylor_centre(s, np.arange(1, s.n + 1) * h)
        self.zlo.value, self.zhi.value = z0n, z1n
        self.prob.solve(solver="CLARABEL", tol_gap_abs=1e-8, tol_gap_rel=1e-8, tol_feas=1e-8)
        return c.wet_mass_kg - math.exp(float(np.asarray(self.z.value)[s.n]))


def fuel(sol: Any) -> float:
    return ld.MARS_LANDER_2007.wet_mass_kg - math.exp(float(sol.x[sol.layout.z[N]]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    s = spec()

    conic = ld._ConicSolver(s)
    t_ours, f_ours = median_time(
        lambda: [fuel(conic.solve(float(t))) for t in TFS], args.repeats, warmup=True
    )
    rebuild = ld._CvxpySolver(s)
    t_cvx, f_cvx = median_time(
        lambda: [fuel(rebuild.solve(float(t))) for t in TFS], args.repeats, warmup=True
    )
    t0 = time.perf_counter()
    dpp = DppLanding(s)
    dpp.solve(float(TFS[0]))
    t_compile = time.perf_counter() - t0
    t_dpp, f_dpp = median_time(
        lambda: [dpp.solve(float(t)) for t in TFS], args.repeats, warmup=True
    )
    per = len(TFS)
    dev = max(
        max(abs(a - b) for a, b in zip(f_ours, f_cvx, strict=True)),
        max(abs(a - b) for a, b in zip(f_ours, f_dpp, strict=True)),
    )
    print(f"one solve at a fixed tf ({per} times of flight, median of {args.repeats} passes)")
    print(f"  ours (direct Clarabel, re-used)  {1e3 * t_ours / per:8.2f} ms")
    print(
        f"  cvxpy (rebuilt every tf)         {1e3 * t_cvx / per:8.2f} ms   "
        f"ratio {t_cvx / t_ours:5.2f}x"
    )
    print(
        f"  cvxpy-dpp (compiled once)        {1e3 * t_dpp / per:8.2f} ms   "
        f"ratio {t_dpp / t_ours:5.2f}x   (first compile + solve {t_compile:.2f} s)"
    )
    print(f"  largest fuel difference between the three: {dev:.4f} kg")

    def full(backend: Literal["conic", "cvxpy"]) -> Any:
        return ld.solve_landing(R0, V0, ld.MARS_LANDER_2007, backend=backend, simulate=False)

    t_full_ours, r_ours = median_time(lambda: full("conic"), args.repeats, warmup=True)
    t_full_cvx, r_cvx = median_time(lambda: full("cvxpy"), max(1, args.repeats // 2), warmup=True)
    print(f"free-final-time minimum fuel (line search, median of {args.repeats} runs)")
    print(
        f"  ours   {t_full_ours:7.3f} s  {r_ours.n_solves} solves  "
        f"fuel {r_ours.fuel_kg:.3f} kg  tf {r_ours.tf_s:.2f} s"
    )
    print(
        f"  cvxpy  {t_full_cvx:7.3f} s  {r_cvx.n_solves} solves  "
        f"fuel {r_cvx.fuel_kg:.3f} kg  tf {r_cvx.tf_s:.2f} s   "
        f"ratio {t_full_cvx / t_full_ours:5.2f}x"
    )


if __name__ == "__main__":
    main()
