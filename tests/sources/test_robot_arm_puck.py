"""The push task's puck in the MuJoCo arm: absent it changes nothing, present it is pushed."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("mujoco")

from starbrain.core.errors import StarbrainError
from starbrain.physics.arms import inverse_kinematics
from starbrain.sources.robots import WORN_ARM, MujocoArm, Puck


def _push_along_x(arm: MujocoArm, n: int = 100) -> None:
    q = inverse_kinematics((0.35, 0.0))
    arm.reset([q[0], q[1], 0.0, 0.0], (0.45, 0.0))
    for k in range(n):  # joint PD along a flange line to x = 0.6 m
        tgt = inverse_kinematics((min(0.35 + 0.005 * k, 0.6), 0.0))
        s = arm.state
        arm.step(20 * (np.array(tgt) - s[:2]) - 2 * s[2:])


def test_the_pusher_pushes_the_puck_and_stays_in_contact() -> None:
    arm = MujocoArm(WORN_ARM, Puck())
    _push_along_x(arm)
    assert arm.state.shape == (4,)
    puck, ee = arm.puck_xy(), arm.ee_pose()[:2]
    assert puck[0] > 0.60  # pushed 15 cm or more from 0.45 m
    # it ends at the contact distance (3 + 2 cm) ahead: the quasi-static prior's picture
    assert np.hypot(*(puck - ee)) == pytest.approx(Puck().contact_m, abs=0.003)
    assert abs(puck[1]) < 0.01


def test_a_puck_out_of_the_way_does_not_change_the_arm() -> None:
    free, with_puck = MujocoArm(WORN_ARM), MujocoArm(WORN_ARM, Puck())
    for arm in (free, with_puck):
        arm.reset([0.3, 0.5, 0.0, 0.0], (-0.5, -0.5) if arm.puck else None)
        for _ in range(20):
            _, tau = arm.step([2.0, -1.0])
    np.testing.assert_allclose(with_puck.state, free.state, atol=1e-12)
    assert tau.shape == (2,)


def test_puck_errors() -> None:
    with pytest.raises(StarbrainError, match="radius_m"):
        Puck(radius_m=0.0)
    with pytest.raises(StarbrainError, match="no puck"):
        MujocoArm(WORN_ARM).reset(None, (0.4, 0.0))
    with pytest.raises(StarbrainError, match="no puck"):
        MujocoArm(WORN_ARM).puck_xy()
