"""Ground passes against Skyfield's ``EarthSatellite.find_events``, ``altaz`` and ``is_sunlit``.

Reference: Skyfield 1.55 on the same Earth-orientation data (skyfield-data's finals2000A.all
with polar motion) and the same SGP4 core. Skyfield's event search stops when its bracket is
under 0.5 s, so events are compared within 1 s; our own event times are checked more tightly by
evaluating Skyfield's altitude at them: 1e-3 degree from the threshold at rise and set (tol_s is
1 ms and elevation rates stay under ~0.5 deg/s), and 1e-4 degree from our maximum elevation
at culmination. That last bound is set by the interpolation between grid samples (180 s): SGP4's
velocity is not exactly the derivative of its position (cm/s), which leaves up to ~0.5 m of
position error mid-step, ~3e-5 degree at 500 km range. Sunlit flags must equal Skyfield's
``is_sunlit`` at our culmination times.

The TLEs are real element sets from Space-Track of 2024-07-05: the ISS and five Starlinks from
the 53.0, 53.2, 70.0, 97.6 and 43.0 degree shells.
"""

from __future__ import annotations

import numpy as np
import pytest
from sgp4.api import Satrec
from skyfield.api import EarthSatellite, wgs84

from starbrain.core import timeconv
from starbrain.physics import frames
from starbrain.planners.passes import (
    PASSES_SCHEMA,
    GroundStation,
    Passes,
    find_passes,
    satrec_propagator,
)

EVENT_TOL_S = 1.0
THRESHOLD_TOL_DEG = 1e-3
MAX_ELEVATION_TOL_DEG = 1e-4

TLES = [
    (  # ISS (ZARYA)
        "1 25544U 98067A   24187.60274059  .00015430  00000-0  28127-3 0  9991",
        "2 25544  51.6389 224.0870 0010360  32.9136 104.5931 15.49600588461405",
    ),
    (  # STARLINK-1008
        "1 44714U 19074B   24186.92492718  .00002517  00000-0  18782-3 0  9998",
        "2 44714  53.0533  57.4165 0001425  98.1851 261.9300 15.06401150256392",
    ),
    (  # STARLINK-3151
        "1 49408U 21104A   24187.45591816  .00001324  00000-0  10124-3 0  9995",
        "2 49408  53.2179  97.5698 0001193  91.3182 268.7947 15.08837963146202",
    ),
    (  # STARLINK-3090
        "1 49132U 21082C   24187.60864960  .00004391  00000-0  37548-3 0  9990",
        "2 49132  70.0013  37.7520 0003390 268.9665  91.1106 14.98335695154295",
    ),
    (  # STARLINK-3004
        "1 48880U 21059B   24187.62020848  .00002100  00000-0  16802-3 0  9990",
        "2 48880  97.6608 311.6330 0001801  91.2169 268.9262 15.01269239166973",
    ),
    (  # STARLINK-5382
        "1 54820U 22177A   24187.37211520 -.00000510  00000-0 -22673-4 0  9993",
        "2 54820  43.0023 220.7751 0001194 271.0438  89.0267 15.02537424 84846",
    ),
]
STATIONS = [
    GroundStation("Turin", 45.07, 7.69, 0.24),
    GroundStation("Svalbard", 78.23, 15.41, 0.5),
    GroundStation("Cape Town", -33.92, 18.42, 0.0),
    GroundStation("Singapore", 1.35, 103.82, 0.02),
]
START = np.datetime64("2024-07-05T12:00:00", "ns")
STOP = START + np.timedelta64(24, "h")


@pytest.fixture(scope="module")
def satrecs():
    return [Satrec.twoline2rv(l1, l2) for l1, l2 in TLES]


@pytest.fixture(scope="module")
def skyfield_sats():
    ts = frames.timescale()
    return [EarthSatellite(l1, l2, ts=ts) for l1, l2 in TLES]


def _sites():
    return [wgs84.latlon(s.lat_deg, s.lon_deg, s.alt_km * 1000.0) for s in STATIONS]


def _sf_time(t64):
    return frames.skyfield_time(*timeconv.datetime64_to_jd(np.asarray(t64, "datetime64[ns]")))


def _passes(satrecs, start=START, stop=STOP, **kw) -> Passes:
    ids = [s.satnum for s in satrecs]
    return find_passes(satrec_propagator(satrecs), ids, STATIONS, start, stop, **kw)


def _our_events(p: Passes, norad: int, station: str):
    m = (p.norad_id == norad) & (p.station == station)
    when = np.concatenate([p.rise[m], p.culminate[m], p.set[m]])
    kind = np.repeat([0, 1, 2], m.sum())
    keep = ~np.isnat(when)
    order = np.lexsort((kind[keep], when[keep]))
    return when[keep][order], kind[keep][order]


def _compare_with_find_events(p, satrecs, skyfield_sats, start, stop, min_el):
    t0, t1 = _sf_time([start, stop])
    n_events, worst = 0, 0.0
    for rec, sat in zip(satrecs, skyfield_sats, strict=True):
        for st, site in zip(STATIONS, _sites(), strict=True):
            t, kind = sat.find_events(site, t0, t1, altitude_degrees=min_el)
            ref = np.array(
                [np.datetime64(d.replace(tzinfo=None), "ns") for d in t.utc_datetime()],
                dtype="datetime64[ns]",
            )
            when, ours = _our_events(p, rec.satnum, st.name)
            assert list(ours) == list(kind), (rec.satnum, st.name)
            if len(ref):
                worst = max(worst, np.abs((when - ref).astype(np.int64)).max() / 1e9)
            n_events += len(ref)
    assert worst < EVENT_TOL_S
    return n_events, worst


@pytest.mark.parametrize("min_el", [0.0, 10.0, 30.0])
def test_events_match_skyfield_find_events(satrecs, skyfield_sats, min_el):
    p = _passes(satrecs, min_elevation_deg=min_el)
    n_events, _ = _compare_with_find_events(p, satrecs, skyfield_sats, START, STOP, min_el)
    assert n_events > 30
    assert set(p.norad_id) <= {s.satnum for s in satrecs}


@pytest.fixture(scope="module")
def passes10(satrecs):
    return _passes(satrecs, min_elevation_deg=10.0)


def _skyfield_altitude(sat, site, t64):
    alt, _, _ = (sat - site).at(_sf_time(t64)).altaz()
    return alt.degrees


def test_rise_and_set_are_at_the_threshold(passes10, satrecs, skyfield_sats):
    p = passes10
    for rec, sat in zip(satrecs, skyfield_sats, strict=True):
        for st, site in zip(STATIONS, _sites(), strict=True):
            m = (p.norad_id == rec.satnum) & (p.station == st.name)
            for times in (p.rise[m], p.set[m]):
                times = times[~np.isnat(times)]
                if len(times):
                    alt = _skyfield_altitude(sat, site, times)
                    assert np.abs(alt - 10.0).max() < THRESHOLD_TOL_DEG


def test_max_elevation_is_skyfield_altitude_at_culmination(passes10, satrecs, skyfield_sats):
    p = passes10
    checked = 0
    for rec, sat in zip(satrecs, skyfield_sats, strict=True):
        for st, site in zip(STATIONS, _sites(), strict=True):
            m = (p.norad_id == rec.satnum) & (p.station == st.name) & ~np.isnat(p.culminate)
            if not m.any():
                continue
            t = p.culminate[m]
            alt = _skyfield_altitude(sat, site, t)
            assert np.abs(alt - p.max_elevation_deg[m]).max() < MAX_ELEVATION_TOL_DEG
            # and it is a maximum: half a second either side is lower
            for dt in (-500, 500):
                side = _skyfield_altitude(sat, site, t + np.timedelta64(dt, "ms"))
                assert (side < alt).all()
            checked += m.sum()
    assert checked > 20
    assert p.max_elevation_deg.max() > 60.0  # some high passes in the sample


def test_sunlit_matches_skyfield_is_sunlit(passes10, satrecs, skyfield_sats):
    p = passes10
    eph = frames.ephemeris()
    for rec, sat in zip(satrecs, skyfield_sats, strict=True):
        m = (p.norad_id == rec.satnum) & ~np.isnat(p.culminate)
        if m.any():
            ref = sat.at(_sf_time(p.culminate[m])).is_sunlit(eph)
            assert np.array_equal(p.sunlit[m], ref)
    assert p.sunlit.any() and not p.sunlit.all()


def test_passes_cut_by_the_window(satrecs, skyfield_sats, passes10):
    """A window opening and closing during passes: no rise / no set, like find_events."""
    full = passes10
    iss = (full.norad_id == 25544) & ~np.isnat(full.culminate)
    first, last = np.nonzero(iss)[0][[0, -1]]
    # opens 20 s before the first ISS culmination, closes 20 s after the last one
    start = full.culminate[first] - np.timedelta64(20, "s")
    stop = full.culminate[last] + np.timedelta64(20, "s")
    p = _passes(satrecs, start, stop, min_elevation_deg=10.0)
    _compare_with_find_events(p, satrecs, skyfield_sats, start, stop, 10.0)
    at_start = (p.norad_id == 25544) & (p.station == full.station[first])
    row = np.nonzero(at_start)[0][0]
    assert np.isnat(p.rise[row]) and not np.isnat(p.set[row])
    assert abs((p.culminate[row] - full.culminate[first]).astype(np.int64)) < 1e6  # 1 ms
    at_stop = np.nonzero((p.norad_id == 25544) & (p.station == full.station[last]))[0][-1]
    assert np.isnat(p.set[at_stop]) and not np.isnat(p.rise[at_stop])

    # opening after the culmination: no rise, no culmination, the maximum is at the start
    start2 = full.culminate[first] + np.timedelta64(30, "s")
    p2 = _passes(satrecs, start2, STOP, min_elevation_deg=10.0)
    _compare_with_find_events(p2, satrecs, skyfield_sats, start2, STOP, 10.0)
    row2 = np.nonzero((p2.norad_id == 25544) & (p2.station == full.station[first]))[0][0]
    assert np.isnat(p2.rise[row2]) and np.isnat(p2.culminate[row2])
    site = _sites()[[s.name for s in STATIONS].index(full.station[first])]
    alt0 = _skyfield_altitude(skyfield_sats[0], site, np.array([start2]))
    assert abs(alt0[0] - p2.max_elevation_deg[row2]) < MAX_ELEVATION_TOL_DEG


def test_grazing_pass_shorter_than_a_grid_step(satrecs, skyfield_sats, passes10):
    """A threshold just under a pass's peak: a pass of a few seconds between grid samples."""
    row = int(np.argmax(np.where(passes10.norad_id == 25544, passes10.max_elevation_deg, 0)))
    min_el = float(passes10.max_elevation_deg[row]) - 0.02
    p = _passes(satrecs[:1], min_elevation_deg=min_el, step_s=180.0)
    assert len(p) == 1 and p.station[0] == passes10.station[row]
    duration = (p.set[0] - p.rise[0]).astype(np.int64) / 1e9
    assert 0.0 < duration < 60.0
    _compare_with_find_events(p, satrecs[:1], skyfield_sats[:1], START, STOP, min_el)


def test_grid_step_and_chunking_do_not_change_results(satrecs, passes10):
    fine = _passes(satrecs, min_elevation_deg=10.0, step_s=60.0, chunk_size=1)
    assert len(fine) == len(passes10)
    assert np.array_equal(fine.norad_id, passes10.norad_id)
    for col in ("rise", "culminate", "set"):
        a, b = getattr(fine, col), getattr(passes10, col)
        assert np.array_equal(np.isnat(a), np.isnat(b))
        ok = ~np.isnat(a)
        assert np.abs((a[ok] - b[ok]).astype(np.int64)).max() < 5e6  # 5 ms
    assert np.abs(fine.max_elevation_deg - passes10.max_elevation_deg).max() < MAX_ELEVATION_TOL_DEG
    assert np.array_equal(fine.sunlit, passes10.sunlit)


def test_torch_propagator_and_failed_propagation(satrecs, passes10):
    torch = pytest.importorskip("torch")
    base = satrec_propagator(satrecs)
    ids = [s.satnum for s in satrecs]

    def as_torch(jd, fr, sats):
        r, v = base(jd, fr, sats)
        return torch.from_numpy(r), torch.from_numpy(v)

    p = find_passes(as_torch, ids, STATIONS, START, STOP, min_elevation_deg=10.0)
    assert np.array_equal(p.rise, passes10.rise, equal_nan=True)

    def failing(jd, fr, sats):  # the ISS (index 0) "decays" halfway through the window
        r, v = base(jd, fr, sats)
        if sats.start == 0:
            r[0, len(jd) // 2 :] = np.nan
            v[0, len(jd) // 2 :] = np.nan
        return r, v

    q = find_passes(failing, ids, STATIONS, START, STOP, min_elevation_deg=10.0, chunk_size=2)
    half = START + np.timedelta64(12, "h")
    iss = q.norad_id == 25544
    assert iss.any() and (q.rise[iss][~np.isnat(q.rise[iss])] < half).all()
    others = passes10.norad_id != 25544
    assert np.array_equal(q.rise[~iss], passes10.rise[others], equal_nan=True)


def test_to_arrow_and_errors(passes10, satrecs):
    table = passes10.to_arrow()
    assert table.schema == PASSES_SCHEMA
    assert table.num_rows == len(passes10)
    assert table.column("rise").null_count == int(np.isnat(passes10.rise).sum())
    with pytest.raises(ValueError, match="not earlier"):
        _passes(satrecs, STOP, START)
    with pytest.raises(ValueError, match="expected"):  # more ids than the propagator has
        find_passes(satrec_propagator(satrecs), range(len(satrecs) + 1), STATIONS, START, STOP)
    with pytest.raises(ValueError, match="no ground stations"):
        find_passes(satrec_propagator(satrecs), [1] * len(satrecs), [], START, STOP)
