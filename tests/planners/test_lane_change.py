"""The ISO 3888-2 double lane change: cone layout, cone strikes by the body, the speed search,
and (slow) a closed-loop run of MPC on CommonRoad's multi-body car."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from starbrain.planners.lane_change import (
    DLCResult,
    DLCTrack,
    body_outline,
    cones_struck,
    search_max_speed,
)


def test_iso_3888_2_layout() -> None:
    # ISO 3888-2:2011 Table 1 for a 1.8 m wide car: lanes 1.1 b + 0.25 = 2.23 m, b + 1 = 2.8 m,
    # 1.3 b + 0.25 = 2.59 m; sections 12 / 13.5 / 11 / 12.5 / 12 m, 61 m in all; 1 m offset
    (a0, a1, r1, l1), (b0, b1, r3, l3), (c0, c1, r5, l5) = DLCTrack(1.8).sections
    assert (a0, a1, b0, b1, c0, c1) == (0.0, 12.0, 25.5, 36.5, 49.0, 61.0)
    assert l1 - r1 == pytest.approx(2.23) and l3 - r3 == pytest.approx(2.8)
    assert l5 - r5 == pytest.approx(2.59) and r3 - l1 == pytest.approx(1.0)
    assert r1 == r5 == 0.0
    assert DLCTrack(2.3).sections[2][3] == pytest.approx(3.0)  # section 5 at most 3 m wide
    # the reference path runs on each lane's centre
    y = DLCTrack(1.8).centre_y(torch.tensor([5.0, 31.0, 55.0]))
    assert torch.allclose(y, torch.tensor([1.115, 3.23 + 1.4, 1.295]), atol=1e-6)


def test_a_cone_is_struck_by_the_body_not_only_the_centre() -> None:
    track = DLCTrack(1.8)  # section 1: y in [0, 2.23]
    x = np.array([6.0])
    # centred and straight: the 1.8 m body clears both cone lines
    assert cones_struck(track, *body_outline(x, np.array([1.115]), np.zeros(1), 4.5, 1.8)) == []
    # centre 0.95 m from the right line: the centre is well inside, the body's side is not
    px, py = body_outline(x, np.array([0.85]), np.zeros(1), 4.5, 1.8)
    assert cones_struck(track, px, py) == ["s1-right"]
    # yawed 10 deg on the centre line: a corner reaches past the left line (1.115 + 0.9 cos +
    # 2.25 sin 10 deg = 2.40 > 2.23)
    px, py = body_outline(x, np.array([1.115]), np.array([math.radians(10)]), 4.5, 1.8)
    assert "s1-left" in cones_struck(track, px, py)
    # the same body between sections (x = 18 m, section 2) strikes nothing
    assert cones_struck(track, *body_outline(np.array([18.0]), np.array([0.0]), np.zeros(1),
                                             4.5, 1.8)) == []  # fmt: skip


def _fake(passing: set[float]) -> object:
    def run(v: float) -> DLCResult:
        return DLCResult(v, v in passing, [], 0.0, False, np.zeros((1, 6)))

    return run


def test_speed_search_reports_a_driven_speed() -> None:
    best, runs = search_max_speed(_fake({8.0, 9.0, 10.0, 12.0}), 8.0, 30.0)  # type: ignore[arg-type]
    assert best == 12.0 and [r.speed_mps for r in runs] == [8, 9, 10, 11, 12, 13, 14]
    best, runs = search_max_speed(_fake(set()), 8.0, 30.0)  # type: ignore[arg-type]
    assert best is None and len(runs) == 1


@pytest.mark.slow
def test_physics_mpc_passes_the_lane_change_at_10_mps_on_a_dry_road() -> None:
    """MPC over the single-track prior (the specification's parameters) drives CommonRoad's
    multi-body BMW through the cones at 10 m/s, friction 1.0 (measured: no cone, 3.5 deg peak
    sideslip, about 60 s on the loaded 2-core machine)."""
    from starbrain.models.dynamics.world_model import WorldModel, WorldModelConfig
    from starbrain.physics.vehicles.single_track import DynamicSingleTrack, VehicleParams
    from starbrain.planners.lane_change import run_double_lane_change
    from starbrain.sources.driving.simulator import FLEET, vehicle_parameters

    p = vehicle_parameters(FLEET[1], 1.0)
    theta = VehicleParams.from_commonroad(p, 16.0).theta()
    model = WorldModel(DynamicSingleTrack(substep_s=0.05),  # type: ignore[arg-type]
                       WorldModelConfig(6, 2, 0.05, n_members=1), theta)  # fmt: skip
    r = run_double_lane_change(model, p, 16.0, 10.0)
    assert r.passed and r.cones == [] and not r.spun
    assert 1.0 < math.degrees(r.max_sideslip_rad) < 10.0
    assert r.trajectory[-1, 0] > 61.0  # through the exit
