"""DE421 heliocentric states: against JPL's approximate Keplerian elements, against the raw SPK
segments with an independent UTC->TDB conversion, and for internal consistency."""

from __future__ import annotations

import math

import numpy as np
import pytest

from starbrain.core import timeconv
from starbrain.physics import ephemeris as eph

# E. M. Standish, "Keplerian Elements for Approximate Positions of the Major Planets", JPL
# Solar System Dynamics, Table 1 (valid 1800-2050): a (au), e, I, L, long. perihelion, node
# (deg) at J2000 and their rates per Julian century, mean ecliptic and equinox of J2000.
STANDISH = {
    "earth barycenter": (
        (1.00000261, 0.01671123, -0.00001531, 100.46457166, 102.93768193, 0.0),
        (0.00000562, -0.00004392, -0.01294668, 35999.37244981, 0.32327364, 0.0),
    ),
    "mars": (
        (1.52371034, 0.09339410, 1.84969142, -4.55343205, -23.94362959, 49.55953891),
        (0.00001847, 0.00007882, -0.00813131, 19140.30268499, 0.44441088, -0.29257343),
    ),
}
# Table 1 is a fit good to a few arcminutes for the inner planets (the Earth-Moon barycentre
# position, not the Earth's); we allow 0.05 deg in direction and 0.1 % in distance.
ANGLE_TOL_DEG = 0.05
DIST_RTOL = 1e-3


def _standish_position_km(body: str, t: np.datetime64) -> np.ndarray:
    el0, rate = STANDISH[body]
    jd, fr = timeconv.datetime64_to_jd(t)
    cent = (float(jd) + float(fr) - 2451545.0) / 36525.0
    a, e, inc, lon, varpi, node = (x0 + dx * cent for x0, dx in zip(el0, rate, strict=True))
    w = math.radians(varpi - node)
    m = math.radians((lon - varpi + 180.0) % 360.0 - 180.0)
    ea = m
    for _ in range(50):
        ea -= (ea - e * math.sin(ea) - m) / (1.0 - e * math.cos(ea))
    xp = a * (math.cos(ea) - e)
    yp = a * math.sqrt(1.0 - e * e) * math.sin(ea)
    inc, node = math.radians(inc), math.radians(node)
    cw, sw, co, so, ci, si = (
        math.cos(w), math.sin(w), math.cos(node), math.sin(node), math.cos(inc), math.sin(inc),
    )  # fmt: skip
    x = (cw * co - sw * so * ci) * xp + (-sw * co - cw * so * ci) * yp
    y = (cw * so + sw * co * ci) * xp + (-sw * so + cw * co * ci) * yp
    z = (sw * si) * xp + (cw * si) * yp
    return np.array([x, y, z]) * eph.AU_KM


@pytest.mark.parametrize("body", ["earth barycenter", "mars"])
def test_against_standish_elements(body: str) -> None:
    times = np.arange("2000-01-01", "2040-01-01", 397, dtype="datetime64[D]").astype(
        "datetime64[ns]"
    )
    pos, _ = eph.heliocentric_state_at(body, times, frame="ecliptic")
    for t, p in zip(times, pos, strict=True):
        ref = _standish_position_km(body, t)
        cosang = np.dot(p, ref) / (np.linalg.norm(p) * np.linalg.norm(ref))
        assert math.degrees(math.acos(min(1.0, cosang))) < ANGLE_TOL_DEG, t
        assert abs(np.linalg.norm(p) / np.linalg.norm(ref) - 1.0) < DIST_RTOL, t


def test_against_raw_segments_with_fixed_leap_seconds() -> None:
    """Sum the DE421 segments ourselves at TDB = UTC + 37 s + 32.184 s (TAI-UTC = 37 s from
    2017-01-01; TDB - TT < 2 ms, i.e. < 0.1 km of Mars' motion)."""
    from jplephem.spk import SPK

    kernel = eph._kernel()
    spk: SPK = kernel.spk
    t = np.array(["2020-07-30T11:50:00", "2024-10-01T00:00:00"], dtype="datetime64[ns]")
    jd, fr = timeconv.datetime64_to_jd(t)
    tdb_fr = fr + (37.0 + 32.184) / 86400.0
    mars = spk[0, 4].compute(jd, tdb_fr) + spk[4, 499].compute(jd, tdb_fr)
    sun = spk[0, 10].compute(jd, tdb_fr)
    ref = (mars - sun).T
    pos, _ = eph.heliocentric_state(
        "mars", jd, fr, frame="icrf"
    )  # same instants, our UTC->TDB path
    assert np.max(np.linalg.norm(pos - ref, axis=-1)) < 0.1


def test_against_skyfield_vectors() -> None:
    from skyfield.api import load

    ts = load.timescale(builtin=True)
    k = eph._kernel()
    t = ts.utc(2026, 11, np.arange(1, 30, 7), 6, 30, 15.5)
    sky = (k["earth"] - k["sun"]).at(t)
    times = np.array(
        [f"2026-11-{d:02d}T06:30:15.5" for d in range(1, 30, 7)], dtype="datetime64[ns]"
    )
    pos, vel = eph.heliocentric_state_at("earth", times, frame="icrf")
    np.testing.assert_allclose(pos, sky.position.km.T, rtol=0, atol=1e-3)
    np.testing.assert_allclose(vel, sky.velocity.km_per_s.T, rtol=0, atol=1e-9)


def test_velocity_is_the_derivative_of_position() -> None:
    jd = np.full(5, 2460000.5)
    fr = np.linspace(0.1, 0.9, 5)
    h = 30.0 / 86400.0
    p_plus, _ = eph.heliocentric_state("mars", jd, fr + h)
    p_minus, _ = eph.heliocentric_state("mars", jd, fr - h)
    _, v = eph.heliocentric_state("mars", jd, fr)
    fd = (p_plus - p_minus) / 60.0
    np.testing.assert_allclose(v, fd, rtol=1e-8)


def test_frames_and_shapes() -> None:
    times = np.arange("2030-01-01", "2031-01-01", 30, dtype="datetime64[D]")
    p_ecl, v_ecl = eph.heliocentric_state_at("earth barycenter", times)
    p_eq, v_eq = eph.heliocentric_state_at("earth barycenter", times, frame="icrf")
    assert p_ecl.shape == (len(times), 3)
    np.testing.assert_allclose(eph.ecliptic_to_icrf(p_ecl), p_eq, rtol=0, atol=1e-6)
    np.testing.assert_allclose(eph.icrf_to_ecliptic(v_eq), v_ecl, rtol=0, atol=1e-12)
    # The Earth-Moon barycentre's orbit tilts away from the J2000 ecliptic by -0.0129 deg per
    # century (Standish's rate above): |z| <= 1 au * sin(0.004 deg) = 7e-5 au in 2030.
    assert np.max(np.abs(p_ecl[:, 2])) < 1e-4 * eph.AU_KM
    # Prograde: angular momentum along +z of the ecliptic frame.
    assert np.all(np.cross(p_ecl, v_ecl)[:, 2] > 0)
    grid = np.array([["2030-01-01", "2030-06-01"]] * 3, dtype="datetime64[ns]")
    p, v = eph.heliocentric_state_at("jupiter", grid)
    assert p.shape == v.shape == (3, 2, 3)


def test_errors_are_readable() -> None:
    with pytest.raises(ValueError, match="unknown body"):
        eph.heliocentric_state_at("vulcan", "2030-01-01")
    with pytest.raises(ValueError, match="DE421"):
        eph.heliocentric_state_at("mars", "2060-01-01")
    with pytest.raises(ValueError, match="frame"):
        eph.heliocentric_state_at("mars", "2030-01-01", frame="galactic")
    first, last = eph.de421_coverage()
    assert first < np.datetime64("1900-01-01") and last > np.datetime64("2053-01-01")
