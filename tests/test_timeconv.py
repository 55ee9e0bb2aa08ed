"""Time conversions against python-sgp4's jday and Skyfield's timescale."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from sgp4.api import jday
from skyfield.api import load

from starbrain.core import timeconv


def test_split_jd_matches_python_sgp4_jday() -> None:
    t = dt.datetime(2024, 2, 29, 13, 45, 7, 250000)
    jd, fr = timeconv.datetime64_to_jd(t)
    ref_jd, ref_fr = jday(2024, 2, 29, 13, 45, 7.25)
    assert jd == ref_jd and fr == pytest.approx(ref_fr, abs=1e-15)


def test_jd_round_trip_is_exact_to_the_nanosecond() -> None:
    rng = np.random.default_rng(1)
    ns = rng.integers(-(10**18), 2 * 10**18, size=10_000)
    t = np.datetime64(0, "ns") + ns.astype("timedelta64[ns]")
    back = timeconv.jd_to_datetime64(*timeconv.datetime64_to_jd(t))
    assert np.abs((back - t).astype(np.int64)).max() <= 1  # float day fraction: <= 1 ns


def test_jd_agrees_with_skyfield_utc() -> None:
    """UTC Julian date + TAI-UTC (37 s since 2017) is Skyfield's TAI Julian date, to 1 us."""
    ts = load.timescale(builtin=True)
    t = ts.utc(2026, 11, 25, 7, 36, 14.5)
    jd, fr = timeconv.datetime64_to_jd("2026-11-25T07:36:14.5")
    assert (jd - t.whole) + (fr + 37.0 / 86400 - t.tai_fraction) == pytest.approx(
        0, abs=1e-6 / 86400
    )


def test_tle_epoch_conversions() -> None:
    t = timeconv.tle_epoch_to_datetime64(0, 179.78495062)
    assert abs((t - np.datetime64("2000-06-27T18:50:19.733568", "ns")).astype(int)) < 1000
    assert timeconv.tle_epoch_to_datetime64(57, 1.0) == np.datetime64("1957-01-01", "ns")
    yy, doy, ns = timeconv.datetime64_to_tle_epoch(np.datetime64("2024-12-31T12:00", "ns"))
    assert (int(yy), int(doy), int(ns)) == (24, 366, 43_200 * 10**9)


def test_parsing_is_strict_and_utc() -> None:
    assert timeconv.to_datetime64("2026-01-01T01:00:00+01:00") == np.datetime64("2026-01-01", "ns")
    assert timeconv.to_datetime64("2026-01-01T00:00:00Z") == np.datetime64("2026-01-01", "ns")
    with pytest.raises(ValueError, match="cannot read 'next tuesday'"):
        timeconv.to_datetime64("next tuesday")
    assert timeconv.minutes_since("2026-01-01T01:30", "2026-01-01") == 90.0


def test_string_arrays_and_single_instants() -> None:
    got = timeconv.to_datetime64(np.array([["2026-01-01", "2026-01-02T12:00"]]))
    assert got.shape == (1, 2) and got[0, 1] == np.datetime64("2026-01-02T12:00", "ns")
    assert timeconv.to_instant("2026-01-01Z") == np.datetime64("2026-01-01", "ns")
    with pytest.raises(ValueError, match="start must be a single time, not 2 of them"):
        timeconv.to_instant(["2026-01-01", "2026-01-02"], "start")


@pytest.mark.parametrize(
    "value",
    [
        "3000-01-01",  # NumPy alone stores this as 1830-11-23T00:50:52.58
        "1500-01-01T00:00:00",  # ... and this as 2084-07-20
        "1677-12-31T23:59:59Z",
        "2262-01-01T00:00:00+00:00",
        dt.datetime(3000, 1, 1),
        dt.date(1500, 1, 1),
        np.datetime64("3000-01-01"),
        np.array(["2024-01-01", "1500-06-01"], "datetime64[s]"),
    ],
    ids=str,
)
def test_times_outside_datetime64_ns_are_rejected_not_wrapped(value: object) -> None:
    with pytest.raises(ValueError, match=r"is outside the times starbrain can store \(1678-01-01"):
        timeconv.to_datetime64(value)


def test_the_first_and_last_storable_instants_are_exact() -> None:
    """1678-01-01 and 2261-12-31T23:59:59.999999999 are kept to the nanosecond (the reference
    is Python's own datetime arithmetic, independent of NumPy's)."""
    epoch = dt.datetime(1970, 1, 1)
    first = (dt.datetime(1678, 1, 1) - epoch) // dt.timedelta(microseconds=1) * 1000
    last = (dt.datetime(2261, 12, 31, 23, 59, 59, 999999) - epoch) // dt.timedelta(
        microseconds=1
    ) * 1000 + 999
    got = timeconv.to_datetime64(["1678-01-01", "2261-12-31T23:59:59.999999999"])
    assert got.astype(np.int64).tolist() == [first, last]
    assert np.isnat(timeconv.to_datetime64(np.array(["NaT"], "datetime64[s]"))[0])


def test_julian_dates_outside_the_range_are_rejected_and_nan_is_nat() -> None:
    # 3000-01-01T00:00 is JD 2816787.5: J2000.0 (2000-01-01T12:00) is JD 2451545.0 and the
    # Gregorian calendar has 365 243 days from 2000-01-01 to 3000-01-01
    with pytest.raises(ValueError, match=r"Julian date 2816787\.5 is outside"):
        timeconv.jd_to_datetime64(2816787.5)
    t = timeconv.jd_to_datetime64(np.array([2451545.0, np.nan]))
    assert t[0] == np.datetime64("2000-01-01T12:00", "ns") and np.isnat(t[1])


def test_iso_writers_match_python_datetime() -> None:
    """``iso``, ``iso_ns``, ``iso_list``, ``naive_utc`` and ``to_ns`` against the standard
    library's own UTC arithmetic (``datetime`` + ``timedelta``, ``isoformat``), on random
    instants over the storable range; NaT and None give None."""
    import datetime as dt

    rng = np.random.default_rng(13)
    lo = timeconv.to_ns("1678-01-01")
    hi = timeconv.to_ns("2261-12-31T23:59:59")
    ns = rng.integers(int(lo), int(hi), 200)
    base = dt.datetime(1970, 1, 1)
    for n in ns.tolist():
        want = base + dt.timedelta(microseconds=n // 1000)  # floor, as datetime64 casts do
        assert timeconv.naive_utc(np.datetime64(n, "ns")) == want
        ms = want.replace(microsecond=want.microsecond // 1000 * 1000)
        text = ms.isoformat(timespec="milliseconds") + "Z"
        assert timeconv.iso(np.datetime64(n, "ns")) == text
        assert timeconv.iso_ns(n) == text
    times = ns.astype("datetime64[ns]")
    assert timeconv.iso_list(times) == [timeconv.iso(t) for t in times]
    np.testing.assert_array_equal(timeconv.to_ns(times), ns)
    assert timeconv.iso("2024-07-05T12:00:00.5") == "2024-07-05T12:00:00.500Z"
    assert timeconv.iso(np.datetime64("NaT", "ns")) is None and timeconv.iso(None) is None
    assert timeconv.iso_ns(None) is None
    assert timeconv.iso_list(np.array(["NaT", "2024-01-01"], "datetime64[ns]")) == [
        None,
        "2024-01-01T00:00:00.000Z",
    ]
    assert timeconv.NS_PER_S * 86_400 == timeconv.NS_PER_DAY


def test_no_module_keeps_its_own_time_helper() -> None:
    """Issue #13: ``core/timeconv.py`` is the one converter; no module of the console, the loop,
    the planners or the models defines its own ISO writer, naive-datetime helper, nanosecond
    converter or nanoseconds-per-second (file formats with their own time syntax, such as the
    CCSDS writers in ``sources/``, are not ISO-with-Z writers and are not scanned)."""
    import re
    from pathlib import Path

    root = Path(timeconv.__file__).resolve().parents[1]
    pattern = re.compile(
        r"^(def (_?iso(_ns|_list)?|_naive|_to_ns)\(.*\n(    \"\"\".*\n)?    return (?!timeconv)"
        r"|NS\w* = 1_?000_?000_?000\b)",
        re.MULTILINE,
    )
    found = [
        f"{p.relative_to(root)}: {m.group(0).splitlines()[0]}"
        for sub in ("console", "loop", "planners", "models")
        for p in sorted((root / sub).rglob("*.py"))
        for m in pattern.finditer(p.read_text())
    ]
    assert found == []
