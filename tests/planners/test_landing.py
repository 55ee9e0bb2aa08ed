"""Powered-descent guidance by lossless convexification, checked against the published Mars
landing example and for internal consistency (tight relaxation, constraints at every node,
re-simulation through the nonlinear dynamics).

Sources of the published numbers. The journal texts are paywalled; we read them through public
transcriptions, and say so per test:

* Acikmese & Ploen, JGCD 30(5) 2007: the Mars lander (g = [-3.7114, 0, 0] m/s^2, 1905 kg wet,
  1505 kg dry, Isp 225 s, six 3100 N engines canted 27 deg, throttle 0.3-0.8, 4 deg glide
  slope), r0 = [1500, 0, 2000] m, v0 = [-75, 0, 100] m/s, and the fuel used: 399.5 kg for
  tf = 81 s with the glide slope, 387.9 kg for tf = 72 s without. Taken from A. Wenzel's DLR
  master thesis (2018, elib.dlr.de/118732, chapter 4), which reproduces the 2007 example, as
  quoted in a public repository's provenance table; the vehicle numbers also appear in several
  public reimplementations.
* Blackmore, Acikmese & Scharf, JGCD 33(4) 2010, section V and the corresponding patent
  US 8,489,260 (Acikmese, Blackmore, Scharf): case 1 r0 = [1500, 500, 2000] m,
  v0 = [-75, 0, 100] m/s, "This solution requires 399.4 kg of fuel and has tf = 78.4 s" (the
  patent prints 399.5 kg and 78.3 s), golden search stopped at a 3 s interval, 55 points;
  case 2 adds 40 m/s cross-range velocity: minimum fuel is infeasible, "at least 410 kg of fuel
  is required", and the minimum-landing-error trajectory lands 268 m from the target using all
  400 kg, tf ~ 77.6 s. Read through public transcriptions of the paper and of the patent.
"""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from starbrain.planners import landing as ld

AP07 = ld.MARS_LANDER_2007
R0_2007 = (1500.0, 0.0, 2000.0)
R0_2010 = (1500.0, 500.0, 2000.0)
V0 = (-75.0, 0.0, 100.0)


@pytest.fixture(scope="module")
def case1() -> ld.LandingResult:
    """Blackmore et al. 2010 case 1, free final time, the prioritised (minimum-error) algorithm."""
    return ld.solve_landing(R0_2010, V0, AP07, objective="min_error")


@pytest.fixture(scope="module")
def tilted() -> ld.LandingResult:
    """Case 1 geometry with a 50 deg thrust pointing limit, which binds (the free solution
    tilts to 56 deg)."""
    return ld.solve_landing(R0_2010, V0, replace(AP07, max_tilt_rad=math.radians(50.0)))


def test_acikmese_ploen_2007_fuel_with_glide_slope() -> None:
    """399.5 kg for tf = 81 s with the 4 deg glide slope (Acikmese & Ploen 2007 via Wenzel 2018,
    see the module docstring). Tolerance: 1 % (the issue's bar); we land within 0.05 kg."""
    res = ld.solve_landing(R0_2007, V0, AP07, tf_s=81.0)
    assert res.ok
    assert abs(res.fuel_kg - 399.5) < 0.01 * 399.5
    assert abs(res.fuel_kg - 399.5) < 0.1


def test_acikmese_ploen_2007_fuel_without_glide_slope() -> None:
    """387.9 kg for tf = 72 s without the glide slope (same source); 1 % tolerance."""
    res = ld.solve_landing(R0_2007, V0, replace(AP07, glide_slope_rad=None), tf_s=72.0)
    assert res.ok
    assert abs(res.fuel_kg - 387.9) < 0.01 * 387.9


def test_blackmore_2010_case1_free_final_time(case1: ld.LandingResult) -> None:
    """399.4 kg at tf = 78.4 s (Blackmore et al. 2010, case 1). Fuel within 1 %; tf within
    1.5 s, half the 3 s interval at which the paper's golden search stopped (fuel is flat in tf
    there). The target is reachable, so the minimum landing error is zero (< 1 cm)."""
    assert case1.ok
    assert abs(case1.fuel_kg - 399.4) < 0.01 * 399.4
    assert abs(case1.tf_s - 78.4) < 1.5
    assert case1.landing_error_m < 0.01
    assert np.allclose(case1.v_mps[-1], 0.0, atol=1e-6)
    assert abs(case1.r_m[-1, 0]) < 1e-6


def test_blackmore_2010_printed_alpha_does_not_give_the_printed_fuel() -> None:
    """Blackmore et al. (2010, section V) print alpha = 4.53e-4 s/m = 1/(Isp g0), without the
    27 deg cant. With it case 1 needs only ~361 kg, 10 % below their 399.4 kg; with the cant
    (alpha = 1/(Isp g0 cos 27 deg), the 2007 model) we reproduce 399.4 kg to 0.2 %. So the
    published solution used the cant-corrected alpha, and the test above uses it; this test
    pins the finding so nobody "corrects" the constant back."""
    printed = ld.solve_landing(R0_2010, V0, ld.BLACKMORE_2010_LANDER, tf_s=78.4, simulate=False)
    assert printed.ok
    assert printed.fuel_kg < 0.92 * 399.4


def test_blackmore_2010_case2_target_out_of_reach() -> None:
    """Case 2 (v0 = [-75, 40, 100] m/s): minimum fuel is infeasible and needs "at least 410 kg"
    (we need 408.6 kg, within 0.4 %); the minimum-landing-error solution uses the whole 400 kg
    and lands softly off target. The paper's 268 m is *not* reproduced to 1 %: our miss is
    234.7 m (converging to ~233 m as the grid is refined; zero-order hold on 55 nodes gives
    257 m), so the published value reflects its coarser discretisation; and the paper's case 2
    initial position is not stated in the transcription we read (we use r0 = [1500, 0, 2000] m,
    whose case-1 twin matches). Asserted: infeasible with 400-420 kg needed, and a miss of
    200-300 m at tf within 2 s of 77.6 s."""
    v0 = (-75.0, 40.0, 100.0)
    fuel = ld.solve_landing(R0_2007, v0, AP07, simulate=False)
    assert fuel.status == "infeasible"
    assert 400.0 < fuel.fuel_kg < 420.0
    err = ld.solve_landing(R0_2007, v0, AP07, objective="min_error")
    assert err.ok
    assert 200.0 < err.landing_error_m < 300.0
    assert abs(err.tf_s - 77.6) < 2.0
    assert abs(err.fuel_kg - 400.0) < 0.01
    assert np.allclose(err.v_mps[-1], 0.0, atol=1e-6)
    assert err.relaxation_gap_n < 0.1


@pytest.mark.parametrize("which", ["case1", "tilted"])
def test_relaxation_is_tight(which: str, request: pytest.FixtureRequest) -> None:
    """Lossless convexification: ||T|| = Gamma at every node. Bound: 0.1 N, 2e-5 of the
    minimum thrust (we see ~1e-3 N, the solver tolerance)."""
    res: ld.LandingResult = request.getfixturevalue(which)
    gap = res.gamma_n - np.linalg.norm(res.thrust_n, axis=1)
    assert res.relaxation_gap_n < 0.1
    assert np.max(np.abs(gap)) < 0.1


@pytest.mark.parametrize("which", ["case1", "tilted"])
def test_constraints_hold_at_every_node(which: str, request: pytest.FixtureRequest) -> None:
    """Recomputed from the returned arrays, not from the result's own margins: glide slope
    (4 deg above the landing point), thrust magnitude in [rho1, rho2], the pointing limit,
    mass above dry; tolerances 1e-6 m, 0.01 N, 1e-6 rad."""
    res: ld.LandingResult = request.getfixturevalue(which)
    c = res.config
    assert c is not None and res.ok
    d = res.r_m - res.r_m[-1]
    horiz = np.linalg.norm(d[:, 1:], axis=1)
    assert np.all(d[:, 0] >= math.tan(c.glide_slope_rad or 0.0) * horiz - 1e-6)
    tn = np.linalg.norm(res.thrust_n, axis=1)
    assert np.all(tn >= c.thrust_min_n - 0.01)
    assert np.all(tn <= c.thrust_max_n + 0.01)
    tilt = np.arccos(np.clip(res.thrust_n[:, 0] / tn, -1.0, 1.0))
    if c.max_tilt_rad is not None:
        assert np.all(tilt <= c.max_tilt_rad + 1e-6)
        assert np.max(tilt) > c.max_tilt_rad - 1e-3  # the limit binds
    assert np.all(np.diff(res.mass_kg) < 0)
    assert res.mass_kg[-1] >= c.dry_mass_kg - 1e-4
    assert res.glide_slope_margin_m >= -1e-6
    assert res.thrust_margin_n >= -0.01


def test_resimulated_landing_error_is_small(case1: ld.LandingResult) -> None:
    """The planned thrust flown open-loop through the nonlinear 3-DOF dynamics (DOP853,
    rtol 1e-10) lands within 0.1 m and 0.01 m/s of the plan and burns the planned fuel to
    0.1 kg. With first-order hold the interpolated ||a|| falls below the interpolated sigma
    between nodes where the thrust turns, so the flown vehicle burns ~0.04 kg less and lands
    ~3 cm off; with zero-order hold the plan is flown exactly (~1e-5 m, ~1e-6 m/s)."""
    assert case1.resim_position_error_m < 0.1
    assert case1.resim_velocity_error_mps < 0.01
    assert abs(case1.resim_fuel_kg - case1.fuel_kg) < 0.1
    zoh = ld.solve_landing(R0_2010, V0, AP07, tf_s=78.0, hold="zoh")
    assert zoh.ok
    assert zoh.resim_position_error_m < 1e-3
    assert zoh.resim_velocity_error_mps < 1e-4


def test_first_order_hold_converges_from_above_and_zero_order_hold_costs_more() -> None:
    """Both holds approach the same continuous optimum as the grid is refined: at tf = 81 s,
    first-order hold on 30 / 55 / 120 intervals gives a decreasing fuel, zero-order hold on 120
    intervals a little more (a coarser control), all within 0.5 kg of each other."""
    foh = [
        ld.solve_landing(R0_2007, V0, AP07, tf_s=81.0, n_intervals=n, simulate=False).fuel_kg
        for n in (30, 55, 120)
    ]
    zoh = ld.solve_landing(
        R0_2007, V0, AP07, tf_s=81.0, n_intervals=120, hold="zoh", simulate=False
    ).fuel_kg
    assert foh[0] > foh[1] > foh[2]
    assert foh[2] < zoh < foh[2] + 0.5


def test_conic_and_cvxpy_backends_agree() -> None:
    """The direct Clarabel assembly and the CVXPY statement of the same problem (Clarabel
    underneath) reach the same optimum at a fixed time of flight (0.01 kg)."""
    pytest.importorskip("cvxpy")
    ours = ld.solve_landing(R0_2010, V0, AP07, tf_s=78.0, simulate=False)
    ref = ld.solve_landing(R0_2010, V0, AP07, tf_s=78.0, simulate=False, backend="cvxpy")
    assert ours.ok and ref.ok
    assert abs(ours.fuel_kg - ref.fuel_kg) < 0.01
    assert np.max(np.abs(ours.r_m - ref.r_m)) < 1.0


def test_infeasible_time_of_flight_is_reported() -> None:
    """20 s is too short to stop from 125 m/s within the thrust bounds."""
    res = ld.solve_landing(R0_2007, V0, AP07, tf_s=20.0)
    assert res.status == "infeasible"
    assert res.r_m.shape == (0, 3)


def test_write_outputs(case1: ld.LandingResult, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    from starbrain.report.landing import write_landing_outputs

    paths = write_landing_outputs(case1, tmp_path)
    names = {p.name for p in paths}
    assert names == {"landing.json", "landing_trajectory.png", "landing_thrust.png"}
    data = json.loads((tmp_path / "landing.json").read_text())
    assert data["status"] == "optimal"
    assert abs(data["fuel_kg"] - case1.fuel_kg) < 1e-9
    assert len(data["thrust_n"]) == case1.t_s.size
    assert (tmp_path / "landing_thrust.png").stat().st_size > 10_000


def test_bad_inputs_are_explained() -> None:
    with pytest.raises(ValueError, match="initial altitude"):
        ld.solve_landing((-5.0, 0.0, 0.0), V0)
    with pytest.raises(ValueError, match="objective"):
        ld.solve_landing(R0_2007, V0, objective="fastest")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="dry mass"):
        replace(AP07, dry_mass_kg=2000.0)


# --------------------------------------------------------------------------- glide slope off/tiny


def _min_elevation_deg(res: ld.LandingResult) -> float:
    d = res.r_m[:-1] - res.r_m[-1]
    return float(np.degrees(np.arctan2(d[:, 0], np.linalg.norm(d[:, 1:], axis=1))).min())


def test_glide_slope_zero_means_no_constraint() -> None:
    """``glide_slope_rad=0`` is ``None`` (no cone): the same fuel as ``None`` at the 2007 paper's
    tf = 72 s without glide slope (387.9 kg there, see the module docstring), less fuel than with
    the 4 deg cone on case 1, and a trajectory that leaves the old cone (it even dips 235 m
    below the landing site: nothing keeps it above ground)."""
    assert replace(AP07, glide_slope_rad=0.0).glide_slope_rad is None
    off = ld.solve_landing(R0_2007, V0, replace(AP07, glide_slope_rad=0.0), tf_s=72.0)
    none = ld.solve_landing(R0_2007, V0, replace(AP07, glide_slope_rad=None), tf_s=72.0)
    assert off.ok and none.ok
    assert off.fuel_kg == pytest.approx(none.fuel_kg, abs=1e-6)
    assert abs(off.fuel_kg - 387.9) < 0.01 * 387.9
    free = ld.solve_landing(R0_2010, V0, replace(AP07, glide_slope_rad=0.0))
    cone = ld.solve_landing(R0_2010, V0, AP07)
    assert free.ok and cone.ok
    assert free.fuel_kg <= cone.fuel_kg - 5.0  # 388.7 vs 398.9 kg
    assert _min_elevation_deg(free) < 4.0 - 1.0
    assert free.r_m[:, 0].min() < -100.0
    assert math.isinf(free.glide_slope_margin_m)


@pytest.mark.parametrize("angle_deg", [1e-4, 1e-6])
def test_tiny_glide_slope_solves(angle_deg: float) -> None:
    """A 1e-4 deg cone made Clarabel stop "inaccurate" at every tf (``infeasible`` overall).
    It now solves; as the angle goes to 0 the cone becomes the floor "altitude >= landing
    altitude", so the fuel lies between the unconstrained and the 0.5 deg solutions, matches
    0.01 deg to 0.05 kg and the CVXPY statement of the same problem to 0.02 kg, and the
    trajectory stays above ground (unlike the unconstrained one)."""
    cfg = replace(AP07, glide_slope_rad=math.radians(angle_deg))
    tiny = ld.solve_landing(R0_2010, V0, cfg)
    assert tiny.ok, tiny.status
    assert tiny.glide_slope_margin_m >= -1e-3
    assert tiny.r_m[:, 0].min() >= -1e-3
    assert tiny.relaxation_gap_n < 0.1
    free = ld.solve_landing(R0_2010, V0, replace(AP07, glide_slope_rad=None))
    half = ld.solve_landing(R0_2010, V0, replace(AP07, glide_slope_rad=math.radians(0.5)))
    small = ld.solve_landing(R0_2010, V0, replace(AP07, glide_slope_rad=math.radians(0.01)))
    assert free.fuel_kg <= tiny.fuel_kg <= half.fuel_kg + 1e-3
    assert tiny.fuel_kg == pytest.approx(small.fuel_kg, abs=0.05)
    ref = ld.solve_landing(R0_2010, V0, cfg, tf_s=tiny.tf_s, backend="cvxpy", simulate=False)
    assert ref.ok
    assert tiny.fuel_kg == pytest.approx(ref.fuel_kg, abs=0.02)


def test_glide_slope_angle_out_of_range() -> None:
    with pytest.raises(ValueError, match="glide_slope_rad"):
        replace(AP07, glide_slope_rad=-0.01)
    with pytest.raises(ValueError, match="glide_slope_rad"):
        replace(AP07, glide_slope_rad=math.pi / 2)


def test_cli_glide_slope_zero(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from starbrain.cli import app

    args = ["landing", "solve", "--out", str(tmp_path), "--glide-slope-deg"]
    res = CliRunner().invoke(app, [*args, "0"])
    assert res.exit_code == 0, res.output
    data = json.loads((tmp_path / "landing.json").read_text())
    assert data["config"]["glide_slope_rad"] is None
    assert data["fuel_kg"] == pytest.approx(388.7, abs=0.5)  # 398.9 kg with the 4 deg default
    bad = CliRunner().invoke(app, [*args, "-1"])
    assert bad.exit_code != 0
    assert "--glide-slope-deg" in str(bad.exception)
