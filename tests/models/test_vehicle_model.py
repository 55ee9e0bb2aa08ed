"""The vehicle world model on fleet-simulator logs (CommonRoad multi-body model as the car)."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
import pytest
import torch

from starbrain.models.dynamics import FitConfig, Trajectories, evaluate
from starbrain.models.vehicle_model import (
    estimate_vehicle_parameters,
    fit_vehicle_model,
    vehicle_trajectories,
)
from starbrain.physics.vehicles import THETA_NAMES, VehicleParams
from starbrain.sources.driving import read_comma2k19
from starbrain.sources.driving.simulator import DRIVERS, FLEET, simulate_log, vehicle_parameters
from tests.sources.test_comma2k19 import LOG

BMW, VANAGON = FLEET[1], FLEET[2]  # steering ratios 16 and 18 in the simulator
WEAVING = DRIVERS[2]


def _spec(ratio: float = 16.0) -> dict[str, VehicleParams]:
    """What a fleet operator knows: each car's CommonRoad specification, one guessed ratio."""
    return {v.vehicle_id: VehicleParams.from_commonroad(vehicle_parameters(v), ratio)
            for v in (BMW, VANAGON)}  # fmt: skip


def test_steering_ratio_per_vehicle_from_logs() -> None:
    logs = pa.concat_tables([simulate_log(v, 1.0, WEAVING, duration_s=6.0) for v in (BMW, VANAGON)])
    data = vehicle_trajectories(logs, window_steps=20)
    assert data.vehicles == ("bmw-320i", "vw-vanagon") and data.trajectories.n_traj == 12
    est = estimate_vehicle_parameters(data, _spec(), free=("steering_ratio",))
    bmw, van = est["bmw-320i"]["steering_ratio"], est["vw-vanagon"]["steering_ratio"]
    # the single-track prior is not the multi-body car: measured 15.28 and 17.20 (-4.5 %); the
    # ratio between the two cars (truth 1.125) comes out as 1.1255
    assert bmw == pytest.approx(BMW.steering_ratio, rel=0.06)
    assert van == pytest.approx(VANAGON.steering_ratio, rel=0.06)
    assert van / bmw == pytest.approx(VANAGON.steering_ratio / BMW.steering_ratio, rel=0.02)
    assert est["bmw-320i"]["lf_m"] == pytest.approx(float(vehicle_parameters(BMW).a))  # fixed


@pytest.mark.slow
def test_cornering_stiffness_and_yaw_inertia_per_vehicle() -> None:
    """All four estimated parameters of two cars in one batch, from the sporty and weaving
    drivers (the calm one barely excites the lateral dynamics). The references are CommonRoad's
    own single-track equivalent of its multi-body tyres (C_S = -p_ky1 / p_dy1) and I_z / m."""
    logs = pa.concat_tables([simulate_log(v, 1.0, d, duration_s=8.0)
                             for v in (BMW, VANAGON) for d in DRIVERS[1:]])  # fmt: skip
    data = vehicle_trajectories(logs, window_steps=20)
    est = estimate_vehicle_parameters(data, _spec())
    for veh in (BMW, VANAGON):
        p, got = vehicle_parameters(veh), est[veh.vehicle_id]
        cs = -float(p.tire.p_ky1) / float(p.tire.p_dy1)
        # measured on 10 s logs: ratio -6.8 / -5.6 %, C_Sf -7 %, C_Sr -0.5 / +3 %, I/m +9 %
        assert got["steering_ratio"] == pytest.approx(veh.steering_ratio, rel=0.09)
        assert got["cs_front_per_rad"] == pytest.approx(cs, rel=0.12)
        assert got["cs_rear_per_rad"] == pytest.approx(cs, rel=0.12)
        assert got["yaw_inertia_per_mass_m2"] == pytest.approx(p.I_z / p.m, rel=0.15)


def test_real_log_windows() -> None:
    data = vehicle_trajectories(read_comma2k19(LOG).table, window_steps=40)
    traj = data.trajectories
    assert traj.n_traj == 29 and traj.x.shape == (29, 41, 6) and traj.u.shape == (29, 40, 2)
    assert float(traj.x[..., 4].abs().max()) == 0.0  # no lateral velocity in a real log
    # the input acceleration integrates back to the logged speed exactly
    v = traj.x[:, 0, 3] + traj.u[:, :, 1].sum(1) * traj.dt
    assert torch.allclose(v, traj.x[:, -1, 3], atol=1e-9)


@pytest.mark.slow
def test_residual_beats_the_prior_later_in_the_same_logs() -> None:
    """BMW on a dry road, three drivers, 10 s each: trained on the first 7.5 s of every log,
    judged on the last 2.5 s (held out by time), with the specification's parameters."""
    logs = pa.concat_tables([simulate_log(BMW, 1.0, d, duration_s=10.0) for d in DRIVERS])
    t_ns = pc.cast(logs["time"], pa.int64())
    later = pc.greater_equal(t_ns, pa.scalar(int(pc.min(t_ns).as_py()) + 7_500_000_000))
    train = vehicle_trajectories(logs.filter(pc.invert(later)), window_steps=20, stride=5)
    test = vehicle_trajectories(logs.filter(later), window_steps=20, stride=10)
    p = _spec()["bmw-320i"]
    params = {"bmw-320i": {n: getattr(p, n) for n in THETA_NAMES}}
    cfg = FitConfig(epochs=150, state_features=(3, 4, 5), residual_dims=(3, 4, 5), seed=0)
    model, hist = fit_vehicle_model(train, params, cfg)
    rows = p.theta().expand(test.trajectories.n_traj, -1)
    tt = test.trajectories
    judged = Trajectories(tt.x, tt.u, tt.dt, tt.strata, rows)
    scale = torch.tensor([1.0, 1.0, 0.1, 0.5, 0.1, 0.05], dtype=torch.float64)
    res = {r["horizon_steps"]: r for r in evaluate(model, judged, (1, 20), scale=scale)
           if r["stratum"] == "all"}  # fmt: skip
    # measured: 0.365 at 1 step, 0.432 at 20 steps (1 s), no window out of distribution
    assert res[1]["ratio"] < 0.85 and res[20]["ratio"] < 0.8
    assert hist.best_epoch > 0


def test_real_log_model_registers_and_reloads_its_prior(tmp_path) -> None:
    """A kinematic-prior model on the real comma2k19 log, through the store and back: the
    registry rebuilds the prior from its class path and parameters."""
    from starbrain.models.dynamics import fit_world_model, load_world_model, register_world_model
    from starbrain.physics.vehicles import KinematicSingleTrack
    from starbrain.store import Store

    data = vehicle_trajectories(read_comma2k19(LOG).table, window_steps=20)
    prior = KinematicSingleTrack({"steering_ratio": 14.0, "lf_m": 1.2, "lr_m": 1.5})
    cfg = FitConfig(epochs=20, state_features=(3, 5), residual_dims=(3, 5), seed=0, n_members=3)
    model, _ = fit_world_model(prior, data.trajectories, cfg, device="cpu")
    with Store(tmp_path / "s.duckdb") as store:
        register_world_model(store, "rav4", model, data.trajectories)
        loaded, row = load_world_model(store, "rav4")
    assert row["kind"] == "dynamics-residual/1"
    assert isinstance(loaded.prior, KinematicSingleTrack)
    assert loaded.prior.params.steering_ratio == 14.0
    x0, U = data.trajectories.x[:4, 0], data.trajectories.u[:4]
    a, _ = model.rollout(x0, U)
    b, _ = loaded.rollout(x0, U)
    assert torch.equal(a, b)
    # a scale check on real data: after 1 s at 8-20 m/s the position is off by metres at most
    err = (a[:, -1, :2] - data.trajectories.x[:4, -1, :2]).norm(dim=-1)
    assert float(err.max()) < 5.0
