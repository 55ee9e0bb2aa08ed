"""The residual-over-uncertainty anomaly detector (issue #19 B): calibration against known
Gaussian residuals, events naming model/channel/sigma, online = batch, and the fleet entry
point on a simulated arm with a payload change."""

from __future__ import annotations

import numpy as np
import pytest

from starbrain.core.errors import StarbrainError
from starbrain.models.anomaly.residual import ResidualConfig, ResidualScorer, ResidualStream

DT_NS = 50_000_000  # 20 Hz


def _stream(rng, n=2000, sigma=(0.1, 2.0), claimed=1.0, step=None, obj="car-1"):
    """Gaussian residuals of std ``sigma`` (per channel); the model claims ``claimed * sigma``;
    ``step=(start, end, channel, size_in_sigma)`` adds a bias there."""
    s = np.asarray(sigma)
    r = rng.normal(0, 1, (n, 2)) * s
    if step is not None:
        a, b, c, k = step
        r[a:b, c] += k * s[c]
    t = np.arange(n, dtype=np.int64) * DT_NS
    return ResidualStream(obj, "toy-model", ("yaw_rate_radps", "vy_mps"), ("rad/s", "m/s"), t, r,
                          np.broadcast_to(claimed * s, (n, 2)).copy())  # fmt: skip


@pytest.fixture
def rng():
    return np.random.default_rng(7)


def test_calibration_recovers_an_overconfident_models_factor(rng) -> None:
    # the model claims half the true spread; with the floor (0.1 of the spread) added in
    # quadrature kappa must be 1 / sqrt(0.5**2 + 0.1**2) = 1.96 (a MAD estimate from 8,000
    # N(0, 1) samples has a standard error of ~1.7 %), and a calibrated model's 1 / sqrt(1.01)
    over = ResidualScorer().fit([_stream(rng, claimed=0.5) for _ in range(4)])
    np.testing.assert_allclose(over.kappa, 1.0 / np.sqrt(0.5**2 + 0.1**2), rtol=0.05)
    ok = ResidualScorer().fit([_stream(rng) for _ in range(4)])
    np.testing.assert_allclose(ok.kappa, 1.0 / np.sqrt(1 + 0.1**2), rtol=0.05)
    # nominal held-out streams: no event at all; scores are in sigmas (mean |z| = sqrt(2/pi))
    assert all(not ok.events(_stream(rng)) for _ in range(5))
    assert ok.score(_stream(rng)).mean() == pytest.approx(np.sqrt(2 / np.pi), rel=0.05)


def test_a_bias_is_found_on_its_channel_with_its_size(rng) -> None:
    sc = ResidualScorer().fit([_stream(rng) for _ in range(4)])
    s = _stream(rng, step=(1000, 1100, 1, 8.0))
    ev = sc.events(s)
    assert len(ev) == 1
    e = ev[0]
    assert (e.object_id, e.model, e.channel, e.unit) == ("car-1", "toy-model", "vy_mps", "m/s")
    assert abs(e.start_ns - 1000 * DT_NS) <= 3 * DT_NS and abs(e.end_ns - 1100 * DT_NS) <= 6 * DT_NS
    assert 8.0 < e.peak_sigma < 14.0  # 8 sigma plus noise, in calibrated sigmas
    assert e.model_sigma == pytest.approx(2.0)
    assert "vy_mps" in e.message() and "sigma outside toy-model" in e.message()
    det = e.to_detection()
    assert (det.source, det.parameter, det.method) == ("car-1", "vy_mps", "residual:toy-model")


def test_a_prior_without_sigma_is_scored_through_the_floor(rng) -> None:
    nominal = [_stream(rng, claimed=0.0) for _ in range(3)]
    sc = ResidualScorer().fit(nominal)
    # kappa x floor is the residuals' robust spread: floor_frac of it times 1/floor_frac
    np.testing.assert_allclose(sc.kappa * sc.floor, [0.1, 2.0], rtol=0.05)
    assert [e.channel for e in sc.events(_stream(rng, claimed=0.0, step=(500, 600, 0, 8)))] == [
        "yaw_rate_radps"
    ]


def test_online_flags_what_the_batch_flags(rng) -> None:
    sc = ResidualScorer(ResidualConfig(p=0.0)).fit([_stream(rng) for _ in range(4)])
    s = _stream(rng, step=(700, 760, 0, 9.0))
    batch = sc.events(s)
    onl = sc.online("car-1", s.units)
    live = []
    for k in range(len(s.t_ns)):
        live += onl.step(int(s.t_ns[k]), s.residual[k], s.sigma[k])
    live += onl.flush()
    assert [e.channel for e in live] == [e.channel for e in batch] == ["yaw_rate_radps"]
    assert abs(live[0].start_ns - batch[0].start_ns) <= 2 * DT_NS
    assert live[0].peak_sigma == pytest.approx(batch[0].peak_sigma)


def test_state_round_trip_and_clear_errors(rng) -> None:
    sc = ResidualScorer().fit([_stream(rng) for _ in range(2)])
    again = ResidualScorer.from_state(sc.state())
    s = _stream(rng, step=(300, 350, 1, 9.0))
    assert [e.as_dict() for e in again.events(s)] == [e.as_dict() for e in sc.events(s)]
    with pytest.raises(StarbrainError, match="not fitted"):
        ResidualScorer().score(s)
    with pytest.raises(StarbrainError, match="expected"):
        ResidualStream("x", "m", ("a",), ("1",), np.arange(3), np.zeros((2, 1)), np.zeros((2, 1)))
    other = ResidualStream("x", "m", ("a", "b"), ("1", "1"), s.t_ns, s.residual, s.sigma)
    with pytest.raises(StarbrainError, match="differ"):
        sc.events(other)


def test_arm_payload_change_is_found_by_the_fleet_entry_point() -> None:
    from starbrain.models.anomaly.fleets import fit_scorer, score_stream
    from starbrain.models.arm import fit_arm_model
    from starbrain.sources.faults import Fault
    from starbrain.sources.robots import WORN_ARM, simulate_arm
    from starbrain.sources.robots.simulator import simulate_faulty_arm

    train = simulate_arm(WORN_ARM, n_episodes=2, n_steps=100, seed=1)
    model, _ = fit_arm_model("nominal", train)  # the datasheet prior: no training, sigma 0
    # calibrated on the worn arm's own nominal runs (its prior error is the nominal spread)
    sc = fit_scorer("arm", simulate_arm(WORN_ARM, n_episodes=3, n_steps=100, seed=2), model)
    faults = {0: [Fault("joint_fault", 0.8, magnitude=8.0, channel="j2")]}
    test, labels = simulate_faulty_arm(faults, WORN_ARM, n_episodes=2, n_steps=100, seed=3)
    events = score_stream("arm", test, model, sc, model_name="arm/nominal")
    start = labels["start"][0].value
    hits = [e for e in events if e.run_id == "0" and e.end_ns >= start]
    assert hits and all(e.model == "arm/nominal" for e in events)
    assert min(e.start_ns for e in hits) - start < 0.5e9  # found within half a second
    assert not [e for e in events if e.run_id == "1"]  # the nominal episode raises nothing
