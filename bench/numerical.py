"""Benchmark: batched Cowell propagation (starbrain.physics.numerical) vs peers, one run.

Workload: 1,000 LEO satellites (circular-ish, 400-1,200 km, random planes), one day, states
every 60 s, full force model (J2-J6, drag, Sun, Moon, SRP with conical shadow), DOP853 at
rtol 1e-12 / atol 1e-9 km, 1e-12 km/s.

Peers, same force functions and tolerances:
* SciPy ``solve_ivp(method="DOP853")`` looping over the satellites one at a time. Run on a
  subset and extrapolated linearly to the full batch (stated in the output).
* Orekit 13 NumericalPropagator (DormandPrince853, 1 mm position tolerance), if
  ``orekit_jpype`` imports: J2-J6 + Sun + Moon + SRP + drag (one exponential layer). Orekit is
  fed our Earth rotation and DE421 positions through Python callbacks (its data files are not on
  PyPI), which costs it time; also a subset, extrapolated.

Spherical-harmonics kernel (``--kernel``, also printed first in a full run): EGM2008 from
brahe's wheel, 30x30 and 70x70, at ``--points`` Earth-fixed LEO positions;
``forces.accel_harmonics_body`` on the whole batch (NumPy, and torch on CPU) against brahe's
``GravityModel.compute_spherical_harmonics`` (Rust, Clenshaw summation; one position per call,
as its Python API takes them), with the largest difference between the two.

Prints medians of repeats and the ratios. Run: ``.venv/bin/python bench/numerical.py``
(``--kernel`` for the kernel comparison alone).
"""

from __future__ import annotations

import argparse
import math
import statistics
import time

import numpy as np

from starbrain.physics import forces as F
from starbrain.physics.environment import SIDEREAL_RATE_RADPS, ForceEnvironment, epoch_tt
from starbrain.physics.integrators import IntegratorOptions
from starbrain.physics.numerical import propagate_numerical

N_SAT = 1000
DAY_S = 86400.0
T_OUT = np.arange(0.0, DAY_S + 1.0, 60.0)
EPOCH = np.datetime64("2024-03-20T06:00:00")
REPEATS = 3
SCIPY_SUBSET = 3
OREKIT_SUBSET = 2
FM = F.ForceModel(earth_rotation_radps=SIDEREAL_RATE_RADPS)
SC = F.Spacecraft(mass_kg=200.0, drag_area_m2=2.0, srp_area_m2=2.0, cd=2.2, cr=1.3)
OPT = IntegratorOptions()


def leo_constellation(n: int, seed: int = 42) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    a = F.WGS84_RADIUS_KM + rng.uniform(400.0, 1200.0, n)
    inc = np.arccos(rng.uniform(-1.0, 1.0, n))
    raan, u = rng.uniform(0.0, 2 * np.pi, (2, n))
    speed = np.sqrt(F.EGM2008_MU_KM3_S2 / a) * (1.0 + rng.uniform(-1e-3, 1e-3, n))
    cu, su, ci, si = np.cos(u), np.sin(u), np.cos(inc), np.sin(inc)
    co, so = np.cos(raan), np.sin(raan)
    r = a[:, None] * np.stack([co * cu - so * su * ci, so * cu + co * su * ci, su * si], axis=1)
    v = speed[:, None] * np.stack([-co * su - so * cu * ci, -so * su + co * cu * ci, cu * si], 1)
    return r, v


def bench_starbrain(r0: np.ndarray, v0: np.ndarray) -> tuple[float, np.ndarray]:
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        res = propagate_numerical(r0, v0, EPOCH, T_OUT, FM, SC, OPT)
        times.append(time.perf_counter() - start)
    assert np.all(res.error == 0), np.bincount(res.error)
    return statistics.median(times), res.r[:, -1]


def bench_scipy(r0: np.ndarray, v0: np.ndarray) -> tuple[float, np.ndarray]:
    from scipy.integrate import solve_ivp

    ballistic = SC.ballistic_m2kg(1)
    srp = SC.srp_m2kg(1)
    atol = np.array([OPT.atol_km] * 3 + [OPT.atol_kmps] * 3)
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        env = ForceEnvironment(epoch_tt(EPOCH), 0.0, DAY_S, step_s=FM.table_step_s)
        finals = []
        for k in range(r0.shape[0]):

            def rhs(t: float, y: np.ndarray, env: ForceEnvironment = env) -> np.ndarray:
                a = F.acceleration(FM, env, np.array([t]), y[None, :3], y[None, 3:], ballistic, srp)
                return np.concatenate([y[3:], a[0]])

            sol = solve_ivp(
                rhs, (0.0, DAY_S), np.concatenate([r0[k], v0[k]]), method="DOP853",
                t_eval=T_OUT, rtol=OPT.rtol, atol=atol,
            )  # fmt: skip
            finals.append(sol.y[:3, -1])
        times.append(time.perf_counter() - start)
    return statistics.median(times), np.array(finals)


def bench_orekit(r0: np.ndarray, v0: np.ndarray) -> tuple[float, np.ndarray] | None:
    try:
        import jpype
        import orekit_jpype
    except ImportError:
        return None
    if not jpype.isJVMStarted():
        orekit_jpype.initVM()
    from org.hipparchus.geometry.euclidean.threed import Rotation, Vector3D
    from org.hipparchus.ode.nonstiff import DormandPrince853Integrator
    from org.orekit.bodies import OneAxisEllipsoid
    from org.orekit.forces.drag import DragForce, IsotropicDrag
    from org.orekit.forces.gravity import HolmesFeatherstoneAttractionModel, ThirdBodyAttraction
    from org.orekit.forces.gravity.potential import GravityFieldFactory, TideSystem
    from org.orekit.forces.radiation import (
        IsotropicRadiationSingleCoefficient,
        SolarRadiationPressure,
    )
    from org.orekit.frames import Frame, FramesFactory, Transform
    from org.orekit.models.earth.atmosphere import SimpleExponentialAtmosphere
    from org.orekit.orbits import CartesianOrbit, OrbitType
    from org.orekit.propagation import SpacecraftState
    from org.orekit.propagation.numerical import NumericalPropagator
    from org.orekit.time import AbsoluteDate
    from org.orekit.utils import PVCoordinates, TimeStampedPVCoordinates

    ett = epoch_tt(EPOCH)
    env = ForceEnvironment(ett, 0.0, DAY_S)
    d0 = AbsoluteDate.J2000_EPOCH.shiftedBy((ett[0] - 2451545.0) * 86400.0).shiftedBy(
        ett[1] * 86400.0
    )
    gcrf = FramesFactory.getGCRF()

    @jpype.JImplements("org.orekit.frames.TransformProvider")
    class EarthRotation:
        @jpype.JOverride
        def getTransform(self, date):
            m = env.gcrs_to_terrestrial(np.array([date.durationFrom(d0)]))[0]
            rot = Rotation(jpype.JArray(jpype.JDouble, 2)(m.tolist()), 1e-10)
            return Transform(date, rot, Vector3D(0.0, 0.0, SIDEREAL_RATE_RADPS))

        @jpype.JOverride
        def getStaticTransform(self, date):
            return self.getTransform(date)

        @jpype.JOverride
        def getKinematicTransform(self, date):
            return self.getTransform(date)

    @jpype.JImplements("org.orekit.utils.ExtendedPositionProvider")
    class Body:
        def __init__(self, lookup) -> None:
            self.lookup = lookup

        @jpype.JOverride
        def getPosition(self, date, frame):
            km = self.lookup(np.array([date.durationFrom(d0)]))[0]
            p = Vector3D(*(km * 1e3).tolist())
            if not frame.equals(gcrf):
                p = gcrf.getTransformTo(frame, date).transformPosition(p)
            return p

        @jpype.JOverride
        def getPVCoordinates(self, date, frame):
            return TimeStampedPVCoordinates(date, self.getPosition(date, frame), Vector3D.ZERO)

        @jpype.JOverride
        def getVelocity(self, date, frame):
            return Vector3D.ZERO

    @jpype.JImplements("org.orekit.propagation.sampling.OrekitFixedStepHandler")
    class Collector:
        def __init__(self) -> None:
            self.states: list = []

        @jpype.JOverride
        def init(self, s0, t, step):
            self.states = []

        @jpype.JOverride
        def handleStep(self, state):
            self.states.append(state)

        @jpype.JOverride
        def finish(self, state):
            pass

    body = Frame(gcrf, EarthRotation(), "starbrain-terrestrial", False)
    sun, moon = Body(env.sun_km), Body(env.moon_km)
    d2 = jpype.JArray(jpype.JDouble, 2)
    c = [[0.0] * (n + 1) for n in range(7)]
    c[0][0] = 1.0
    for n, cn in F.EGM2008_C_BAR_ZONAL.items():
        c[n][0] = cn
    s = [[0.0] * (n + 1) for n in range(7)]
    mu = FM.mu_km3s2 * 1e9
    field = GravityFieldFactory.getNormalizedProvider(
        FM.radius_km * 1e3, mu, TideSystem.TIDE_FREE, d2(c), d2(s)
    )
    sphere = OneAxisEllipsoid(FM.radius_km * 1e3, 0.0, body)
    wgs84 = OneAxisEllipsoid(F.WGS84_RADIUS_KM * 1e3, F.WGS84_FLATTENING, body)
    table = F.VALLADO_EXPONENTIAL_TABLE

    def run_one(r: np.ndarray, v: np.ndarray) -> np.ndarray:
        pv = PVCoordinates(Vector3D(*(r * 1e3).tolist()), Vector3D(*(v * 1e3).tolist()))
        orbit = CartesianOrbit(pv, gcrf, d0, mu)
        tol = NumericalPropagator.tolerances(1e-3, orbit, OrbitType.CARTESIAN)
        prop = NumericalPropagator(DormandPrince853Integrator(1e-3, 300.0, tol[0], tol[1]))
        prop.setOrbitType(OrbitType.CARTESIAN)
        prop.addForceModel(HolmesFeatherstoneAttractionModel(body, field))
        prop.addForceModel(ThirdBodyAttraction(sun, "Sun", FM.mu_sun_km3s2 * 1e9))
        prop.addForceModel(ThirdBodyAttraction(moon, "Moon", FM.mu_moon_km3s2 * 1e9))
        prop.addForceModel(
            SolarRadiationPressure(
                F.AU_KM * 1e3, FM.srp_pressure_npm2, sun, sphere,
                IsotropicRadiationSingleCoefficient(float(SC.srp_area_m2), float(SC.cr)),
            )
        )  # fmt: skip
        layer = table[np.searchsorted(table[:, 0], np.linalg.norm(r) - F.WGS84_RADIUS_KM) - 1]
        atmosphere = SimpleExponentialAtmosphere(
            wgs84, float(layer[1]), float(layer[0]) * 1e3, float(layer[2]) * 1e3
        )
        prop.addForceModel(
            DragForce(atmosphere, IsotropicDrag(float(SC.drag_area_m2), float(SC.cd)))
        )
        prop.setInitialState(SpacecraftState(orbit).withMass(float(SC.mass_kg)))
        # Same output cadence as the others: one state every 60 s, from Orekit's interpolator.
        prop.setStepHandler(60.0, Collector())
        final = prop.propagate(d0.shiftedBy(DAY_S)).getPVCoordinates(gcrf).getPosition()
        return np.array([final.getX(), final.getY(), final.getZ()]) / 1e3

    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        finals = np.array([run_one(r0[k], v0[k]) for k in range(r0.shape[0])])
        times.append(time.perf_counter() - start)
    return statistics.median(times), finals


def _median_time(fn, repeats: int) -> float:
    out = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return statistics.median(out)


def bench_harmonics_kernel(n_points: int, repeats: int) -> None:
    """Our batched spherical-harmonics kernel vs brahe's, EGM2008 30x30 and 70x70."""
    try:
        import brahe
    except ImportError:
        print("harmonics kernel         : skipped (brahe not importable)")
        return
    field = F.load_gravity_field("brahe:EGM2008")
    model = brahe.GravityModel.from_model_type(brahe.GravityModelType.EGM2008_120)
    r, _ = leo_constellation(n_points, seed=7)  # Earth-fixed here: only the radii matter
    try:
        import torch

        # One intra-op thread: on a small shared machine torch's thread pool spins (70x70 took
        # 6 s with 2 threads on 2 busy cores, 0.2 s with one).
        torch.set_num_threads(1)
        r_t = torch.from_numpy(r)
    except ImportError:
        torch = None
    for deg in (30, 70):
        args = (field.mu_km3s2, field.radius_km, field.c_bar, field.s_bar, deg, deg)
        F.accel_harmonics_body(r, *args)  # tables cached, as in a propagation
        t_np = _median_time(lambda a=args: F.accel_harmonics_body(r, *a), repeats)
        r_m = [x * 1e3 for x in r]
        t_bh = _median_time(
            lambda d=deg, pts=r_m: [model.compute_spherical_harmonics(x, d, d) for x in pts],
            repeats,
        )
        ours = F.accel_harmonics_body(r, *args)
        theirs = np.array([model.compute_spherical_harmonics(x, deg, deg) for x in r_m]) / 1e3
        diff = np.abs(ours - (theirs - F.accel_point_mass(r, field.mu_km3s2))).max()
        line = (
            f"harmonics {deg}x{deg} x{n_points:<5d}: starbrain numpy {t_np * 1e3:8.2f} ms, "
            f"brahe {t_bh * 1e3:8.2f} ms -> brahe/starbrain {t_bh / t_np:6.2f}x"
        )
        if torch is not None:
            t_tc = _median_time(lambda a=args: F.accel_harmonics_body(r_t, *a), repeats)
            line += f"; torch cpu/1 thread {t_tc * 1e3:8.2f} ms ({t_bh / t_tc:5.2f}x)"
        print(line + f"; max |diff| {diff:.1e} km/s^2")


def main() -> None:
    global N_SAT, REPEATS
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--satellites", type=int, default=N_SAT, help="batch size (default 1000)")
    parser.add_argument("--repeats", type=int, default=REPEATS, help="timed repeats (median)")
    parser.add_argument("--kernel", action="store_true", help="only the harmonics kernel vs brahe")
    parser.add_argument("--points", type=int, default=1000, help="kernel batch (default 1000)")
    args = parser.parse_args()
    N_SAT, REPEATS = args.satellites, args.repeats
    bench_harmonics_kernel(args.points, max(REPEATS, 5))
    if args.kernel:
        return
    r0, v0 = leo_constellation(N_SAT)
    n_states = N_SAT * T_OUT.size
    print(
        f"workload: {N_SAT} LEO satellites x 1 day, output every 60 s ({T_OUT.size} epochs), "
        f"J2-J6 + drag + Sun + Moon + SRP(conical), rtol {OPT.rtol:g}; median of {REPEATS}"
    )
    t_ours, final_ours = bench_starbrain(r0, v0)
    print(
        f"starbrain batched DOP853 : {t_ours:8.2f} s  {n_states / t_ours:10.0f} states/s  "
        f"{N_SAT / t_ours * 1.0:7.1f} satellite-days/s"
    )
    t_sp, final_sp = bench_scipy(r0[:SCIPY_SUBSET], v0[:SCIPY_SUBSET])
    t_sp_full = t_sp / SCIPY_SUBSET * N_SAT
    print(
        f"scipy solve_ivp DOP853   : {t_sp_full:8.2f} s  {n_states / t_sp_full:10.0f} states/s  "
        f"(measured {t_sp:.2f} s on {SCIPY_SUBSET} satellites one at a time, "
        f"x{N_SAT / SCIPY_SUBSET:g})"
    )
    dr = np.linalg.norm(final_sp - final_ours[:SCIPY_SUBSET], axis=1).max() * 1e3
    print(
        f"  speed-up vs scipy loop : {t_sp_full / t_ours:8.1f}x   (max end-position diff "
        f"{dr:.3f} m; solve_ivp has no shadow-boundary handling)"
    )
    ok = bench_orekit(r0[:OREKIT_SUBSET], v0[:OREKIT_SUBSET])
    if ok is None:
        print("orekit                   : skipped (orekit_jpype not importable)")
    else:
        t_ok, final_ok = ok
        t_ok_full = t_ok / OREKIT_SUBSET * N_SAT
        print(
            f"orekit 13 DP853 (1 mm)   : {t_ok_full:8.2f} s  {n_states / t_ok_full:10.0f} states/s "
            f"(measured {t_ok:.2f} s on {OREKIT_SUBSET} satellites, x{N_SAT / OREKIT_SUBSET:.4g}; "
            "Earth rotation, Sun, Moon via Python callbacks)"
        )
        dr = np.linalg.norm(final_ok - final_ours[:OREKIT_SUBSET], axis=1).max() * 1e3
        print(
            f"  speed-up vs orekit     : {t_ok_full / t_ours:8.1f}x   (max end-position diff "
            f"{dr:.3f} m; Orekit drag uses the satellite's starting atmosphere layer only)"
        )
    print(f"(single process, {math.ceil(time.process_time())} s CPU in this run)")


if __name__ == "__main__":
    main()
