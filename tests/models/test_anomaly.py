"""Anomaly detection: event-wise metrics on hand-made cases, telemanom's dynamic threshold on
synthetic errors, the isolation-forest fast path against scikit-learn, and a small fixed-seed
end-to-end run (train on nominal flights, find an injected thrust loss and a stuck sensor,
offline and online with the added latency measured)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from starbrain.models.anomaly.baselines import iforest_score_samples, rolling_residuals
from starbrain.models.anomaly.data import frame_from_flight, frame_from_packets
from starbrain.models.anomaly.detector import (
    AnomalyDetector,
    DetectorConfig,
    detections_table,
    evaluate,
    label_detections,
)
from starbrain.models.anomaly.events import EventScores, event_scores, merge_intervals, runs
from starbrain.models.anomaly.online import OnlineScorer
from starbrain.models.anomaly.thresholds import dynamic_threshold, ewma
from starbrain.physics.flight_sim import FlightConfig, parse_anomaly, simulate_flight
from starbrain.store.database import Store

# -- event metrics --------------------------------------------------------------------------------


def test_event_scores_hand_made() -> None:
    labels = [(10, 20), (30, 40), (50, 60)]
    # one prediction overlaps label 1 twice over, one touches label 2's end, two hit nothing
    predicted = [(12, 13), (15, 25), (40, 41), (70, 80), (0, 5)]
    s = event_scores(labels, predicted)
    assert (s.tp, s.fp, s.fn) == (2, 2, 1)
    assert s.precision == pytest.approx(2 / 4)
    assert s.recall == pytest.approx(2 / 3)
    # F0.5 = 1.25 p r / (0.25 p + r)
    assert s.f_beta == pytest.approx(1.25 * 0.5 * (2 / 3) / (0.25 * 0.5 + 2 / 3))
    assert event_scores([], []).as_dict()["f0.5"] == 0.0
    assert (event_scores([(0, 1)], []).fn, event_scores([], [(0, 1)]).fp) == (1, 1)
    total = EventScores(2, 2, 1) + EventScores(1, 0, 0)
    assert (total.tp, total.fp, total.fn, total.precision) == (3, 2, 1, 0.6)
    assert merge_intervals([(5, 6), (0, 2), (2.5, 3)], gap=0.5) == [(0, 3), (5, 6)]
    assert runs(np.array([0, 1, 1, 0, 1], bool)).tolist() == [[1, 2], [4, 4]]


# -- thresholds -----------------------------------------------------------------------------------


def test_ewma_matches_pandas() -> None:
    x = np.random.default_rng(0).normal(size=(500, 3))
    ref = pd.DataFrame(x).ewm(span=7, adjust=False).mean().to_numpy()
    np.testing.assert_allclose(ewma(x, 7), ref, rtol=1e-12, atol=1e-12)


def test_dynamic_threshold_finds_the_two_injected_anomalies() -> None:
    """Half-normal errors with two strong bumps and a weak one: the threshold isolates exactly
    the two strong sequences (z = 5.5); a minimum percent decrease of 50 % prunes them all
    (their maxima are < 2x the largest nominal error); a floor above the noise silences
    nominal data."""
    rng = np.random.default_rng(42)
    e = np.abs(rng.normal(0.0, 1.0, 5000))
    e[1000:1030] += 6.0
    e[3000:3050] += 6.0
    e[4000:4020] += 3.0
    e_s = ewma(e, 10)
    th = dynamic_threshold(e_s, error_buffer=3)
    assert th.z == 5.5
    assert len(th.sequences) == 2
    (a0, b0), (a1, b1) = th.sequences
    assert 1000 <= a0 <= 1010 and 1029 <= b0 <= 1045
    assert 3000 <= a1 <= 3010 and 3049 <= b1 <= 3065
    assert np.all(th.scores > 0)
    assert len(dynamic_threshold(e_s, error_buffer=3, p=0.5).sequences) == 0
    nominal = ewma(np.abs(rng.normal(0.0, 1.0, 5000)), 10)
    assert len(dynamic_threshold(nominal, floor=float(nominal.max()) * 1.01).sequences) == 0


def test_isolation_forest_fast_path_equals_scikit_learn() -> None:
    from sklearn.ensemble import IsolationForest

    x = np.random.default_rng(1).normal(size=(300, 5))
    forest = IsolationForest(n_estimators=50, random_state=0).fit(x)
    np.testing.assert_array_equal(iforest_score_samples(forest, x), forest.score_samples(x))


def test_rolling_residuals_leave_no_bias_on_a_linear_trend() -> None:
    x = np.arange(200.0)[:, None] * np.array([[0.5, -3.0]])
    assert np.max(np.abs(rolling_residuals(x, 20))) < 1e-12


# -- end to end -----------------------------------------------------------------------------------

DURATION, RATE = 60.0, 20.0
FAULTS = ("thrust_loss@30+5=0.25", "stuck:lox_level@12+6")


@pytest.fixture(scope="module")
def trained() -> AnomalyDetector:
    frames = [
        frame_from_flight(simulate_flight(FlightConfig(seed=s, duration_s=DURATION, rate_hz=RATE)))
        for s in (101, 102, 103)
    ]
    cfg = DetectorConfig()
    cfg = dataclasses.replace(
        cfg,
        forecaster=dataclasses.replace(cfg.forecaster, epochs=3, windows_per_epoch=4096),
        sigma_forecaster=dataclasses.replace(
            cfg.sigma_forecaster, epochs=3, windows_per_epoch=4096
        ),
    )
    return AnomalyDetector.train(frames[:2], frames[2:], cfg)


@pytest.fixture(scope="module")
def faulty():
    return simulate_flight(
        FlightConfig(seed=7, duration_s=DURATION, anomalies=tuple(map(parse_anomaly, FAULTS)))
    )


def _hits(dets, start_s: float, end_s: float, t0_ns: int) -> set[str]:
    return {
        d.method
        for d in dets
        if d.start_ns <= t0_ns + end_s * 1e9 and t0_ns + start_s * 1e9 <= d.end_ns
    }


def test_detectors_find_thrust_loss_and_stuck_sensor(trained, faulty, tmp_path) -> None:
    path = tmp_path / "f.bin"
    faulty.write(path)
    frame = frame_from_packets(path, source="f.bin")  # through the encoder and decoder
    dets = trained.detect(frame)
    t0 = int(faulty.times_ns[0])
    assert _hits(dets, 30.0, 35.0, t0) == {
        "residual-sigma", "telemanom-lstm", "robust-z", "isolation-forest"
    }  # fmt: skip
    assert "rules" in _hits(dets, 12.0, 18.0, t0)  # the flat-line rule names the channel
    assert any(d.method == "rules" and d.parameter == "lox_level" for d in dets)
    # at most one false alarm by the LSTM outside the two anomalies (two minutes of training)
    outside = [
        d for d in dets if d.method == "telemanom-lstm" and not _hits([d], 12.0, 18.0, t0)
        and not _hits([d], 30.0, 36.0, t0)
    ]  # fmt: skip
    assert len(outside) <= 1
    ev = evaluate(trained, [(frame, faulty.labels)])
    assert ev.scores["telemanom-lstm+rules"].recall == 1.0
    assert ev.scores["telemanom-lstm"].precision >= 0.5
    # the detector survives a save/load round trip with identical detections
    again = AnomalyDetector.load(trained.save(tmp_path / "det.pt")).detect(frame)
    assert [(d.method, d.parameter, d.start_ns) for d in again] == [
        (d.method, d.parameter, d.start_ns) for d in dets
    ]
    # detections go to the store's anomalies stream, labelled with the injected kind
    table = detections_table(label_detections(dets, faulty.labels))
    with Store(tmp_path / "s.duckdb") as store:
        store.append("anomalies", table)
        got = store.read("anomalies", where="label = ?", params=["thrust_loss"])
    assert got.num_rows >= 3


def test_online_scoring_adds_under_100_ms_per_packet(trained, faulty) -> None:
    """Packets arrive one datagram per sample time (all five packets); the scorer's added
    latency per sample stays under 100 ms (median and 95th percentile), and it raises the
    thrust loss while the flight is still in it."""
    scorer = OnlineScorer(trained, source="live", rate_hz=RATE)
    mats = [m for _, m in faulty.packet_matrices()]
    dets = []
    for i in range(int(40 * RATE)):  # through the thrust loss (30-35 s) and 5 s beyond
        dets += scorer.feed(b"".join(m[i].tobytes() for m in mats))
    dets += scorer.flush()
    lat = np.array(scorer.latencies_s[10:])  # after warm-up (first imports, first forward)
    assert len(lat) > 700
    assert np.median(lat) < 0.1 and np.percentile(lat, 95) < 0.1
    t0 = int(faulty.times_ns[0])
    first = min(d.start_ns for d in dets if _hits([d], 30.0, 35.0, t0))
    assert 30.0 <= (first - t0) / 1e9 < 31.0


def test_variance_head_sigma_is_calibrated_on_an_unseen_nominal_flight(trained) -> None:
    """The world model's predicted sigma matches its own residuals on a nominal flight it never
    saw: |residual| / sigma has the half-normal's quantiles (median 0.674, 95 % 1.960; scipy's
    norm.ppf, not ours) within 0.15 and 0.5 on the scored samples."""
    from scipy.stats import norm

    from starbrain.models.anomaly.detector import scoring_mask

    frame = frame_from_flight(simulate_flight(FlightConfig(seed=104, duration_s=DURATION)))
    assert trained.sigma_model is not None
    r, sd = trained.sigma_model.residuals(frame.filled())
    keep = scoring_mask(frame, 1.0, 5.0)
    z = np.abs(r / sd)[keep][:, trained.monitored]
    assert np.median(z) == pytest.approx(norm.ppf(0.75), abs=0.15)
    assert np.quantile(z, 0.95) == pytest.approx(norm.ppf(0.975), abs=0.5)
    assert (sd[keep][:, trained.monitored] > 0).all()


def test_residual_sigma_alert_names_model_channel_sigmas_and_link(trained, faulty) -> None:
    """A residual-sigma event on the thrust loss says which model and channel, how many
    predicted sigmas out (above the calibrated threshold floor) and links to the console view
    of that flight and time."""
    frame = frame_from_flight(faulty)
    t0 = int(faulty.times_ns[0])
    dets = [d for d in trained.detect(frame, methods=["residual-sigma"], rules=False)
            if _hits([d], 30.0, 35.0, t0)]  # fmt: skip
    assert dets
    d = max(dets, key=lambda d: d.sigma or 0.0)
    a = d.alert()
    assert a["model"] == "lstm-variance-forecaster" and a["method"] == "residual-sigma"
    floor = trained.floors["residual-sigma"][trained.channels.index(d.parameter)]
    assert a["channel"] == d.parameter and a["sigma"] > floor * trained.config.floor_margin
    assert a["link"].startswith(f"/#telemetry?flight={faulty.config.flight_id}&t=")
    when = np.datetime64(a["link"].split("&t=")[1].split("&")[0].rstrip("Z"), "ns")
    assert 29.0 <= (when.astype(np.int64) - t0) / 1e9 <= 35.0  # within the error buffer
    assert a["link"].endswith(f"&channel={d.parameter}")
    # a telemanom-lstm event has no sigma: its model carries no uncertainty
    other = trained.detect(frame, methods=["telemanom-lstm"], rules=False)
    assert other and all(x.sigma is None and x.alert()["sigma"] is None for x in other)


def test_online_residual_sigma_raises_the_thrust_loss_with_its_sigmas(trained, faulty) -> None:
    """Fed live, residual-sigma alone flags the thrust loss (30-35 s) within its first second,
    naming how many predicted sigmas out it went, and nothing in the nominal 20-29 s before."""
    scorer = OnlineScorer(trained, source="live", rate_hz=RATE, methods=["residual-sigma"])
    mats = [m for _, m in faulty.packet_matrices()]
    dets = []
    for i in range(int(20 * RATE), int(38 * RATE)):
        dets += scorer.feed(b"".join(m[i].tobytes() for m in mats))
    dets += scorer.flush()
    t0 = int(faulty.times_ns[0])
    hit = [d for d in dets if _hits([d], 30.0, 35.0, t0)]
    assert hit and all(d.method == "residual-sigma" and (d.sigma or 0) > 1.0 for d in hit)
    assert 30.0 <= (min(d.start_ns for d in hit) - t0) / 1e9 < 31.0
    assert not [d for d in dets if (d.end_ns - t0) / 1e9 < 29.0]


def test_floor_margins_raise_each_lstm_threshold_and_calibrate_restores_floors(
    trained, faulty
) -> None:
    """A huge floor margin silences exactly its own method; calibrate() on the same nominal
    flight reproduces the trained floors to the last bit."""
    frame = frame_from_flight(faulty)
    big = dataclasses.replace(trained, config=dataclasses.replace(trained.config,
                              lstm_floor_margin=1e6))  # fmt: skip
    methods = {d.method for d in big.detect(frame, rules=False)}
    assert "telemanom-lstm" not in methods and "residual-sigma" in methods
    calib = frame_from_flight(
        simulate_flight(FlightConfig(seed=103, duration_s=DURATION, rate_hz=RATE))
    )
    again = dataclasses.replace(trained).calibrate([calib])
    for m, f in trained.floors.items():
        np.testing.assert_array_equal(again.floors[m], f)
