"""Walker-delta generator: geometry, the Starlink Gen1 filing, and SGP4's view of the altitude."""

from __future__ import annotations

import numpy as np
import pytest
from sgp4.api import WGS72, Satrec, SatrecArray

from starbrain.core.errors import StarbrainError
from starbrain.sources.catalogs.tle import format_tle, parse_tle_lines
from starbrain.sources.generators.constellation import (
    PRESETS,
    WalkerShell,
    generate,
    generate_preset,
)

R_WGS72_KM = 6378.135


@pytest.fixture(scope="module")
def starlink():
    return generate_preset("starlink-gen1", epoch="2026-01-01T00:00:00")


def test_starlink_gen1_as_filed(starlink) -> None:
    assert starlink.num_rows == 4408
    inc = np.array(starlink.column("inclination_deg"))
    counts = {v: int((inc == v).sum()) for v in np.unique(inc)}
    assert counts == {53.0: 1584, 53.2: 1584, 70.0: 720, 97.6: 348 + 172}
    assert len(set(starlink.column("norad_id").to_pylist())) == 4408


def test_tle_export_is_valid_for_python_sgp4_and_recovers_the_altitude(starlink) -> None:
    """python-sgp4's initialisation gives back the mean semi-major axis R + altitude (to 1 m)."""
    lines = format_tle(starlink)
    sats = [Satrec.twoline2rv(lines[k], lines[k + 1], WGS72) for k in range(0, len(lines), 2)]
    alt = np.array([s.a * R_WGS72_KM - R_WGS72_KM for s in sats])
    expected = np.concatenate([np.full(s.size, s.altitude_km) for s in PRESETS["starlink-gen1"]])
    assert np.abs(alt - expected).max() < 1e-3  # km
    # propagated over one orbit the mean geocentric distance stays within 15 km of it
    # (the J2 short-period and latitude-dependent terms of a near-circular orbit)
    arr = SatrecArray(sats[::97])
    t = np.linspace(0, 96, 97) / 1440.0
    e, r, _ = arr.sgp4(np.full_like(t, sats[0].jdsatepoch), sats[0].jdsatepochF + t)
    assert (e == 0).all()
    mean_r = np.linalg.norm(r, axis=-1).mean(axis=1)
    assert np.abs(mean_r - (R_WGS72_KM + expected[::97])).max() < 15.0


def test_round_trip_through_our_parser_is_exact(starlink) -> None:
    back = parse_tle_lines(format_tle(starlink, names=True))
    assert not back.errors
    for column in (
        "norad_id",
        "epoch",
        "object_name",
        "mean_motion_rev_per_day",
        "eccentricity",
        "inclination_deg",
        "ra_of_asc_node_deg",
        "arg_of_pericenter_deg",
        "mean_anomaly_deg",
        "bstar_per_earth_radius",
    ):
        assert back.table.column(column).equals(starlink.column(column)), column


def test_walker_geometry() -> None:
    shell = WalkerShell(1200.0, 60.0, planes=4, per_plane=3, phasing=2)
    t = generate([shell], epoch="2026-01-01")
    raan = np.array(t.column("ra_of_asc_node_deg"))
    anomaly = np.array(t.column("mean_anomaly_deg"))
    np.testing.assert_allclose(raan, np.repeat([0.0, 90.0, 180.0, 270.0], 3))
    # plane j, slot k: M = 360 k / S + 360 F j / T  (F = 2, T = 12)
    expected = np.mod([360 * k / 3 + 360 * 2 * j / 12 for j in range(4) for k in range(3)], 360)
    np.testing.assert_allclose(anomaly, np.round(expected, 4))


def test_bad_shells_and_presets_are_clear_errors() -> None:
    with pytest.raises(StarbrainError, match="phasing factor"):
        WalkerShell(550.0, 53.0, 4, 3, phasing=4)
    with pytest.raises(StarbrainError, match="no preset named"):
        generate_preset("nope")
    with pytest.raises(StarbrainError, match="do not fit"):
        generate([WalkerShell(550.0, 53.0, 10, 10)], first_norad=339_950)


def test_starlink_preset_keeps_its_satellites_apart(starlink) -> None:
    """Propagated with SGP4 over one orbit (5 s steps), no two satellites of a shell come
    within 30 km (Walker symmetry: the first satellite of a shell against the rest of it
    covers every pair), and no S4 plane coincides with an S5 plane."""
    import torch

    from starbrain.core import timeconv
    from starbrain.physics.sgp4 import propagate

    times = np.datetime64("2026-01-01", "ns") + np.arange(0, 96 * 60, 5) * np.timedelta64(1, "s")
    jd, fr = timeconv.datetime64_to_jd(times)
    torch.set_num_threads(1)
    r, _, err = propagate(starlink, jd, fr, backend="torch", device="cpu")
    assert (err == 0).all()
    start = 0
    for shell in PRESETS["starlink-gen1"]:
        block = r[start : start + shell.size]
        d = np.linalg.norm(block[1:] - block[0], axis=-1)
        assert d.min() > 30.0, (shell.name, d.min())
        start += shell.size
    raan = np.array(starlink.column("ra_of_asc_node_deg"))
    s4 = set(np.round(raan[3888 : 3888 + 348], 3))
    s5 = set(np.round(raan[4236:], 3))
    assert not s4 & s5
