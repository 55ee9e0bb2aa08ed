"""The launch telemetry simulator: its ascent obeys the launch-vehicle dynamics, injected
anomalies act where and only where their labels say, and the packet stream decodes with the
project's CCSDS decoder into the values that were simulated."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from starbrain.core.errors import StarbrainError
from starbrain.physics.flight_sim import (
    CHANNELS,
    PACKET_NAMES,
    SIM_VEHICLE,
    Anomaly,
    FlightConfig,
    launch_vehicle_definitions,
    parse_anomaly,
    random_anomalies,
    read_labels,
    simulate_flight,
)
from starbrain.physics.launch_vehicle import Atmosphere, planar_derivatives
from starbrain.sources.telemetry.ccsds import decode

DURATION = 200.0


@pytest.fixture(scope="module")
def nominal():
    return simulate_flight(FlightConfig(seed=3, duration_s=DURATION, rate_hz=20.0))


def test_definitions_have_fifty_parameters_in_five_packets() -> None:
    defs = launch_vehicle_definitions()
    assert [p.name for p in defs] == list(PACKET_NAMES)
    assert defs.n_parameters == len(CHANNELS) == 50
    assert [q.name for p in defs for q in p.parameters] == list(CHANNELS)


def test_ascent_obeys_the_planar_dynamics(nominal) -> None:
    """Central differences of the sampled state equal planar_derivatives (the model of
    physics.launch_vehicle) to 1e-5 relative; mass falls at T_vac / (Isp g0) and the first stage
    burns out at propellant / mdot (Tsiolkovsky's bookkeeping), to 1 ms."""
    f = nominal
    s1 = f.vehicle.stages[0]
    i = np.arange(300, 2800, 97)  # 15 s .. 140 s, first stage burning
    h = 1.0 / f.config.rate_hz
    dx = (f.state[i + 1] - f.state[i - 1]) / (2 * h)
    omega = 7.292115e-5 * np.cos(np.radians(f.config.latitude_deg))
    # pitch is piecewise linear, so central differences see its value at the middle sample
    ref = planar_derivatives(f.state[i], f.pitch_rad[i], s1, f.vehicle, omega_plane_radps=omega)
    scale = np.maximum(np.abs(ref), [1.0, 1e-6, 1.0, 1.0, 1.0])
    assert np.max(np.abs(dx - ref) / scale) < 1e-5
    assert f.meco_s == pytest.approx(s1.propellant_mass_kg / s1.mass_flow_kgps, abs=1e-3)
    assert np.ptp(np.diff(f.state[10:2900, 4])) < 1e-6 * s1.mass_flow_kgps
    # the sensed axial acceleration is (thrust - drag cos aoa) / m; at lift-off aoa = 0
    atm = Atmosphere()
    a0 = (s1.thrust_n(atm.pressure(0.0)) - 0.0) / f.state[0, 4]
    assert f.column("accel_axial", truth=True)[0] == pytest.approx(a0, rel=1e-12)
    # the vehicle is the planners' Falcon-9-like one, dispersed by at most 1.5 % in thrust
    assert abs(s1.thrust_vac_n / SIM_VEHICLE.stages[0].thrust_vac_n - 1) <= 0.015


def test_thrust_loss_is_physically_coupled_and_labelled() -> None:
    base = simulate_flight(FlightConfig(seed=5, duration_s=DURATION))
    f = simulate_flight(
        FlightConfig(
            seed=5, duration_s=DURATION, anomalies=(parse_anomaly("thrust_loss@50+10=0.2"),)
        )
    )
    t = f.t_s
    inside = (t >= 50.0) & (t < 60.0)
    before = t < 50.0
    for c in ("thrust", "chamber_pressure_a", "lox_flow", "fuel_flow", "turbopump_speed"):
        ratio = f.column(c, truth=True)[inside] / base.column(c, truth=True)[inside]
        if c != "thrust":  # thrust also depends on altitude through back-pressure
            np.testing.assert_allclose(ratio, 0.8, rtol=1e-12)
        # before the loss: the same flight (to the integrator's tolerance; its steps differ)
        np.testing.assert_allclose(
            f.column(c, truth=True)[before], base.column(c, truth=True)[before], rtol=1e-9
        )
    assert np.all(
        f.column("accel_axial", truth=True)[inside] < base.column("accel_axial", truth=True)[inside]
    )
    # 20 % less flow for 10 s: the first stage burns 2 s longer
    assert f.meco_s - base.meco_s == pytest.approx(2.0, abs=1e-3)
    (row,) = f.labels.to_pylist()
    assert row["kind"] == "thrust_loss" and "chamber_pressure_a" in row["channels"].split(",")
    t0 = np.datetime64(f.config.start.rstrip("Z"), "ns")
    assert np.datetime64(row["start"].replace(tzinfo=None), "ns") - t0 == np.timedelta64(50, "s")


def test_sensor_faults_act_exactly_inside_their_labels() -> None:
    specs = [
        "bias:chamber_pressure_b@20+10",
        "stuck:lox_level@40+8",
        "drift:nozzle_temperature@60+20",
        "spike:altitude@90+2",
    ]
    f = simulate_flight(
        FlightConfig(seed=8, duration_s=120.0, anomalies=tuple(map(parse_anomaly, specs)))
    )
    nominal = simulate_flight(FlightConfig(seed=8, duration_s=120.0))
    # same seed: the noise is identical, so the difference is the fault alone
    diff = f.values - nominal.values
    labels = f.labels.to_pylist()
    assert [r["kind"] for r in labels] == ["bias", "stuck", "drift", "spike"]
    t = f.t_s
    for spec, row in zip(specs, labels, strict=True):
        a = parse_anomaly(spec)
        c = list(CHANNELS).index(a.channel)
        sigma = CHANNELS[a.channel][1]
        inside = (t >= a.start_s) & (t < a.end_s)
        assert row["channels"] == a.channel
        assert np.all(diff[~inside, c] == 0.0), spec
        if a.kind == "bias":
            np.testing.assert_allclose(diff[inside, c], 12.0 * sigma, rtol=1e-6)
        elif a.kind == "stuck":
            assert np.ptp(f.values[inside, c]) == 0.0
        elif a.kind == "drift":
            np.testing.assert_allclose(
                diff[inside, c][-1], 25.0 * sigma * (1 - 0.05 / 20), rtol=1e-6
            )
        else:
            hits = np.flatnonzero(diff[:, c])
            assert len(hits) == 4 and np.all(np.abs(diff[hits, c]) == pytest.approx(40 * sigma))
    other = [
        i
        for i in range(50)
        if list(CHANNELS)[i] not in {s.split(":")[1].split("@")[0] for s in specs}
    ]
    assert np.all(diff[:, other] == 0.0)


def test_stream_decodes_into_the_simulated_values(tmp_path) -> None:
    anomalies = (Anomaly("dropout", 10.0, 1.0, "LV_GNSS"), Anomaly("dropout", 20.0, 0.5))
    f = simulate_flight(FlightConfig(seed=11, duration_s=30.0, rate_hz=50.0, anomalies=anomalies))
    path = tmp_path / "flight.bin"
    n_bytes = f.write(path, tmp_path / "labels.csv")
    defs = launch_vehicle_definitions()
    result = decode(path, defs, layout="wide")
    stats = result.stats
    assert stats.packets == int(f.present.sum()) and stats.bytes == n_bytes
    assert stats.crc == 0 and stats.bad_header == 0
    # 50 GNSS packets in the 1 s dropout + 25 of each packet type in the 0.5 s one
    assert stats.missing_packets == 50 + 5 * 25
    tables = result.tables
    for k, name in enumerate(PACKET_NAMES):
        table = tables[name]
        sent = f.present[:, k]
        # CUC with 2 fine bytes: times to the nearest 2**-16 s
        got_t = table.column("time").cast(pa.int64()).to_numpy()
        assert np.max(np.abs(got_t - f.times_ns[sent])) <= 2**-17 * 1e9
        for q in defs[name].parameters:
            got = table.column(q.name).to_numpy()
            want = f.values[sent, list(CHANNELS).index(q.name)]
            if q.type == "float":
                np.testing.assert_array_equal(got, want.astype(np.float32).astype(np.float64))
            else:  # integers and calibrated counts: within half a count
                step = q.calibration[1] if q.calibration else 1.0
                assert np.max(np.abs(got - want)) <= 0.5 * step + 1e-9, q.name
    labels = read_labels(tmp_path / "labels.csv")
    assert labels.column("kind").to_pylist() == ["dropout", "dropout"]
    assert labels.equals(f.labels)


def test_deterministic_per_seed_and_anomaly_specs() -> None:
    a = simulate_flight(FlightConfig(seed=1, duration_s=30.0)).packet_bytes()
    b = simulate_flight(FlightConfig(seed=1, duration_s=30.0)).packet_bytes()
    c = simulate_flight(FlightConfig(seed=2, duration_s=30.0)).packet_bytes()
    assert a == b and a != c and len(a) == len(c)
    drawn = random_anomalies(4, 7, 400.0)
    assert drawn == random_anomalies(4, 7, 400.0)
    assert sorted(x.kind for x in drawn) == sorted(
        ["bias", "drift", "stuck", "spike", "thrust_loss", "valve_oscillation", "dropout"]
    )
    ends = [x.end_s for x in drawn]
    starts = [x.start_s for x in drawn]
    assert all(e <= s for e, s in zip(ends[:-1], starts[1:], strict=True))  # no overlaps
    assert parse_anomaly("thrust_loss@100+8=0.25") == Anomaly("thrust_loss", 100.0, 8.0, None, 0.25)
    for bad in ("stuck@10+5", "bias:nope@1+1", "melt:thrust@1+1", "stuck:thrust@1"):
        with pytest.raises(StarbrainError):
            parse_anomaly(bad)
