"""CCSDS OEM reading and writing, KVN and XML, against the standard's own example.

Reference: CCSDS 502.0-B-2 (Orbit Data Messages), Figure 5-1, the Mars Global Surveyor OEM; the
numbers asserted below are the figure's, to the digit. Leap seconds are checked against Skyfield.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from starbrain.core.errors import StarbrainError
from starbrain.sources.ephemerides.oem import (
    EPHEMERIS_SCHEMA,
    load_ephemeris,
    normalise_frame,
    read_oem,
    segments_from_table,
    segments_to_table,
    sniff_ephemeris_format,
    to_utc,
    write_oem,
    write_oem_segments,
    write_oem_xml,
)
from starbrain.store.database import Store

DATA = Path(__file__).resolve().parents[1] / "data" / "oem"
KVN = DATA / "ccsds_502_fig5_1.oem"
XML = DATA / "ccsds_502_fig5_1.xml"

# CCSDS 502.0-B-2 Figure 5-1: (epoch, x, y, z [km], x_dot, y_dot, z_dot [km/s])
FIG_5_1 = [
    ("1996-12-18T12:00:00.331", 2789.619, -280.045, -1746.755, 4.73372, -2.49586, -1.04195),
    ("1996-12-18T12:01:00.331", 2783.419, -308.143, -1877.071, 5.18604, -2.42124, -1.99608),
    ("1996-12-18T12:02:00.331", 2776.033, -336.859, -2008.682, 5.63678, -2.33951, -1.94687),
    ("1996-12-28T21:29:07.267", -2432.166, -63.042, 1742.754, 7.33702, -3.495867, -1.041945),
    ("1996-12-28T21:59:02.267", -2445.234, -878.141, 1873.073, 1.86043, -3.421256, -0.996366),
    ("1996-12-28T22:00:02.267", -2458.079, -683.858, 2007.684, 6.36786, -3.339563, -0.946654),
]


@pytest.mark.parametrize("path", [KVN, XML], ids=["kvn", "xml"])
def test_standard_example_reads_to_the_digit(path: Path) -> None:
    segments, errors = read_oem(path.read_text(), path.name)
    assert errors == []  # the covariance block in each file is skipped, not an error
    assert [s.times.size for s in segments] == [3, 3]
    times = np.concatenate([s.times for s in segments])
    np.testing.assert_array_equal(times, np.array([r[0] for r in FIG_5_1], "datetime64[ns]"))
    states = np.concatenate([np.hstack([s.r_km, s.v_kmps]) for s in segments])
    np.testing.assert_array_equal(states, np.array([r[1:] for r in FIG_5_1]))  # exact
    first, second = segments
    assert (first.object_name, first.object_id) == ("MARS GLOBAL SURVEYOR", "1996-062A")
    assert first.center == "MARS BARYCENTER" and first.time_system == "UTC"
    # the second segment is written J2000 in the samples: the alias is normalised, kept in meta
    assert first.frame == second.frame == "EME2000"
    assert second.meta["REF_FRAME"] == "J2000" and second.meta["INTERPOLATION_DEGREE"] == "7"


def test_kvn_and_xml_of_the_same_message_agree_exactly() -> None:
    a, _ = read_oem(KVN.read_text())
    b, _ = read_oem(XML.read_text())
    for sa, sb in zip(a, b, strict=True):
        np.testing.assert_array_equal(sa.times, sb.times)
        np.testing.assert_array_equal(sa.r_km, sb.r_km)
        np.testing.assert_array_equal(sa.v_kmps, sb.v_kmps)
        assert (sa.object_id, sa.frame, sa.center) == (sb.object_id, sb.frame, sb.center)


def test_kvn_to_xml_to_kvn_is_identical() -> None:
    segments, _ = read_oem(KVN.read_text())
    kvn1 = write_oem_segments(segments, "kvn", created="2026-01-01T00:00:00")
    xml = write_oem_segments(read_oem(kvn1)[0], "xml", created="2026-01-01T00:00:00")
    assert sniff_ephemeris_format(xml) == "oem-xml"
    kvn2 = write_oem_segments(read_oem(xml)[0], "kvn", created="2026-01-01T00:00:00")
    assert kvn2 == kvn1
    assert "1996-12-18T12:00:00.331 2789.619 -280.045 -1746.755 4.73372 -2.49586 -1.04195" in kvn1
    back, errors = read_oem(xml)
    assert errors == []
    for s0, s1 in zip(segments, back, strict=True):
        np.testing.assert_array_equal(s0.times, s1.times)
        np.testing.assert_array_equal(s0.r_km, s1.r_km)
        np.testing.assert_array_equal(s0.v_kmps, s1.v_kmps)


def test_array_writers_kvn_and_xml_carry_the_same_states() -> None:
    rng = np.random.default_rng(7)
    times = np.datetime64("2024-03-01T00:00:00", "ns") + np.arange(5) * np.timedelta64(60, "s")
    r = rng.normal(0, 7000, (2, 5, 3))
    v = rng.normal(0, 7, (2, 5, 3))
    r[1, 2] = np.nan  # a failed propagation is left out
    kw = {"object_names": ["A", "B"], "object_ids": ["1", "2"], "frame": "gcrs"}
    from_kvn, e1 = read_oem(write_oem(times, r, v, **kw))
    from_xml, e2 = read_oem(write_oem_xml(times, r, v, **kw))
    assert e1 == e2 == []
    assert [s.times.size for s in from_xml] == [5, 4]
    for a, b in zip(from_kvn, from_xml, strict=True):
        assert a.frame == b.frame == "GCRF"
        np.testing.assert_array_equal(a.r_km, b.r_km)
        np.testing.assert_array_equal(a.v_kmps, b.v_kmps)
    np.testing.assert_allclose(from_xml[0].r_km, r[0], atol=5e-7)  # written to the millimetre


def _corrupt_xml() -> tuple[str, dict[int, str]]:
    lines = XML.read_text().splitlines()

    def at(text: str, nth: int = 0) -> int:
        return [i for i, s in enumerate(lines) if text in s][nth]

    bad = {}
    i = at("<EPOCH>1996-12-18T12:01:00.331")
    lines[i] = lines[i].replace("12:01:00.331", "12:61:00.331")
    bad[i + 1] = "epoch"
    i = at("<Y_DOT>-2.33951")
    lines[i] = lines[i].replace("-2.33951", "-2.3x951")
    bad[i + 1] = "y_dot"
    i = at("<Z>1873.073</Z>")
    lines[i] = lines[i].replace("1873.073", "")
    bad[i + 1] = "z"
    return "\n".join(lines), bad


def test_xml_with_three_corrupt_states_loads_the_rest_and_names_them() -> None:
    text, bad = _corrupt_xml()
    segments, errors = read_oem(text, "mgs.xml")
    assert [s.times.size for s in segments] == [1, 2]
    assert {e.line: e.field for e in errors} == bad and len(errors) == 3
    assert any(str(e).startswith(f"mgs.xml:{min(bad)}: epoch: ") for e in errors)


def test_kvn_with_three_corrupt_lines_loads_the_rest_and_names_them() -> None:
    lines = KVN.read_text().splitlines()
    data = [i for i, s in enumerate(lines) if s.startswith("1996-12-")]
    lines[data[0]] = lines[data[0]].replace("4.73372", "4.7e3e72")
    lines[data[2]] = lines[data[2]].replace("1996-12-18", "1996-13-18")
    lines[data[4]] = lines[data[4]].rsplit(" ", 1)[0]  # 6 columns
    segments, errors = read_oem("\n".join(lines), "mgs.oem")
    assert sum(s.times.size for s in segments) == 3
    assert [(e.line, e.field) for e in errors] == [
        (data[0] + 1, "x_dot"), (data[2] + 1, "epoch"), (data[4] + 1, None),
    ]  # fmt: skip


def test_xml_state_without_an_element_is_named() -> None:
    lines = XML.read_text().splitlines()
    i = next(k for k, s in enumerate(lines) if "<Y_DOT>-2.42124</Y_DOT>" in s)
    del lines[i]
    segments, errors = read_oem("\n".join(lines), "mgs.xml")
    assert [s.times.size for s in segments] == [2, 3]
    assert [(e.line, e.field, e.reason) for e in errors] == [
        (i - 5, "y_dot", "stateVector has no Y_DOT")  # the line of its <stateVector>
    ]


def test_malformed_xml_is_one_error_with_its_line() -> None:
    text = XML.read_text().replace("</stateVector>", "</stateVectr>", 1)
    segments, errors = read_oem(text, "x.xml")
    assert segments == [] and len(errors) == 1
    assert errors[0].reason.startswith("not well-formed XML") and errors[0].line is not None


@pytest.mark.parametrize(
    ("written", "stored"),
    [
        ("J2000", "EME2000"), ("EME2000", "EME2000"), ("icrf", "ICRF"), ("GCRF", "GCRF"),
        ("TEME", "TEME"), ("ITRF", "ITRF"), ("ITRF93", "ITRF"), ("ITRF-93", "ITRF"),
        ("ITRF2000", "ITRF"), ("ITRF2014", "ITRF"), ("ITRF2020", "ITRF"), ("IGS14", "ITRF"),
        ("IGb14", "ITRF"), ("IGS20", "ITRF"), ("ITR20", "ITRF"), ("WGS84", "ITRF"),
        ("RTN", "RTN"),
    ],
)  # fmt: skip
def test_frame_aliases(written: str, stored: str) -> None:
    assert normalise_frame(written) == stored


@pytest.mark.parametrize("scale", ["GPS", "TAI", "TT", "BDT"])
def test_time_scales_to_utc_match_skyfield(scale: str) -> None:
    """Across the 2015, 2016 and 2017 leap seconds; Skyfield's own TAI->UTC is the reference."""
    from skyfield.api import load

    ts = load.timescale(builtin=True)
    t = np.datetime64("2015-06-30T23:00:00", "ns") + np.arange(0, 3 * 365 * 86400, 3607 * 7) * (
        np.timedelta64(1, "s")
    )
    utc = to_utc(t, scale)
    # scale -> TAI by the fixed offsets of the scale definitions (IS-GPS-200, BDS-SIS-ICD, IAU)
    shift = {"GPS": 19.0, "TAI": 0.0, "TT": -32.184, "BDT": 33.0}[scale]
    sec = (t - np.datetime64("2000-01-01T12:00:00", "ns")) / np.timedelta64(1, "s") + shift
    ref = ts.tai_jd(2451545.0, sec / 86400.0).utc_datetime()
    ref64 = np.array([np.datetime64(d.replace(tzinfo=None), "ns") for d in ref])
    assert np.abs((utc - ref64) / np.timedelta64(1, "ns")).max() < 2_000  # 2 us: float JD
    np.testing.assert_array_equal(to_utc(t, "UTC"), t)
    with pytest.raises(ValueError, match="time system TCB is not supported"):
        to_utc(t, "TCB")


def test_gps_minus_utc_is_18_s_in_2017() -> None:
    """IERS Bulletin C 52: from 2017-01-01, TAI-UTC = 37 s, so GPS-UTC = 18 s (17 s before)."""
    t = np.array(["2017-02-14T00:00:18", "2016-12-31T12:00:17"], "datetime64[ns]")
    expected = np.array(["2017-02-14T00:00:00", "2016-12-31T12:00:00"], "datetime64[ns]")
    np.testing.assert_array_equal(to_utc(t, "GPS"), expected)


def test_non_utc_and_ordinal_epochs_are_converted() -> None:
    text = (
        "CCSDS_OEM_VERS = 2.0\nMETA_START\nOBJECT_NAME = G\nOBJECT_ID = 1\nCENTER_NAME = EARTH\n"
        "REF_FRAME = ITRF-93\nTIME_SYSTEM = GPS\nMETA_STOP\n"
        "2017-045T00:00:18 26000 0 0 0 3.9 0\n2017-02-14T00:01:18Z 26000 234 0 0 3.9 0\n"
        "META_START\nOBJECT_NAME = M\nTIME_SYSTEM = MET\nMETA_STOP\n0 1 2 3 4 5 6\n"
    )
    segments, errors = read_oem(text, "g.oem")
    assert [e.field for e in errors] == ["TIME_SYSTEM"]
    (seg,) = segments
    assert seg.frame == "ITRF" and seg.time_system == "GPS"
    np.testing.assert_array_equal(
        seg.times, np.array(["2017-02-14T00:00:00", "2017-02-14T00:01:00"], "datetime64[ns]")
    )


def test_table_round_trip_and_store_append(store_path: Path) -> None:
    result = load_ephemeris(XML)
    assert result.errors == [] and result.table.schema == EPHEMERIS_SCHEMA
    assert result.table.num_rows == 6
    assert set(result.table.column("frame").to_pylist()) == {"EME2000"}
    with Store(store_path) as store:
        first = store.append("ephemeris", result.table, source=result.source)
        again = store.append("ephemeris", load_ephemeris(XML).table, source=result.source)
        kvn = load_ephemeris(KVN)
        other = store.append("ephemeris", kvn.table, source=kvn.source)
        assert (first.n_new, again.n_new, other.n_new) == (6, 0, 6)
        back = store.read("ephemeris", where="source = ?", params=[str(XML)])
    (seg,) = segments_from_table(back)  # one object, frame and file: one segment
    np.testing.assert_array_equal(
        np.hstack([seg.r_km, seg.v_kmps]), np.array([r[1:] for r in FIG_5_1])
    )
    assert segments_to_table([seg], str(XML)).equals(back)


def test_sniffing_and_unknown_files(tmp_path: Path) -> None:
    assert sniff_ephemeris_format(KVN.read_text()) == "oem"
    assert sniff_ephemeris_format(XML.read_text()) == "oem-xml"
    assert sniff_ephemeris_format("<omm></omm>") is None
    junk = tmp_path / "junk.txt"
    junk.write_text("hello\n")
    with pytest.raises(StarbrainError, match=r"not an OEM .* or SP3 file"):
        load_ephemeris(junk)
    with pytest.raises(StarbrainError, match="no such file"):
        load_ephemeris(tmp_path / "missing.oem")
    with pytest.raises(ValueError, match="states without velocity"):
        seg = read_oem(KVN.read_text())[0][0]
        seg.v_kmps[0, 1] = np.nan
        write_oem_segments([seg])


def test_large_files_read_in_bulk_and_a_bad_line_costs_only_itself() -> None:
    n = 10_000
    times = np.datetime64("2024-01-01", "ns") + np.arange(n) * np.timedelta64(10, "s")
    rng = np.random.default_rng(3)
    r, v = rng.normal(0, 7000, (1, n, 3)), rng.normal(0, 7, (1, n, 3))
    kvn = write_oem(times, r, v, ["A"], ["1"])
    xml = write_oem_xml(times, r, v, ["A"], ["1"])
    start = time.process_time()
    (a,), e1 = read_oem(kvn)
    (b,), e2 = read_oem(xml)
    cpu = time.process_time() - start
    assert e1 == e2 == [] and a.times.size == b.times.size == n
    np.testing.assert_array_equal(a.r_km, b.r_km)
    np.testing.assert_allclose(a.r_km, r[0], atol=5e-7)
    assert cpu < 2.0, cpu  # ~0.2 s on the development machine
    lines = kvn.splitlines()
    k = next(i for i, s in enumerate(lines) if s.startswith("2024-01-01T10:00:00"))
    lines[k] = lines[k].replace("2024-01-01T10", "2024-01-01T1O")
    (c,), errors = read_oem("\n".join(lines))
    assert c.times.size == n - 1 and [(e.line, e.field) for e in errors] == [(k + 1, "epoch")]


# --- issue #12: metadata is never guessed; impossible values are errors; times never wrap -------


def _kvn(meta: str, data: str) -> str:
    return f"CCSDS_OEM_VERS = 2.0\nMETA_START\n{meta}META_STOP\n{data}"


GOOD_META = (
    "OBJECT_NAME = SAT\nOBJECT_ID = 2024-001A\nCENTER_NAME = EARTH\nREF_FRAME = GCRF\n"
    "TIME_SYSTEM = UTC\n"
)
GOOD_STATE = "2024-01-01T00:00:00 7000 0 0 0 7.5 0\n"


@pytest.mark.parametrize(
    ("drop", "replace", "field", "reason"),
    [
        ("REF_FRAME", None, "REF_FRAME", "no REF_FRAME"),
        ("OBJECT_ID", None, "OBJECT_ID", "no OBJECT_ID"),
        ("CENTER_NAME", None, "CENTER_NAME", "no CENTER_NAME"),
        ("TIME_SYSTEM", None, "TIME_SYSTEM", "no TIME_SYSTEM"),
        ("REF_FRAME", "REF_FRAME = MY_FRAME", "REF_FRAME", "reference frame 'MY_FRAME' is not"),
        ("REF_FRAME", "REF_FRAME = RTN", "REF_FRAME", "reference frame 'RTN' is not"),
        ("OBJECT_ID", "OBJECT_ID =   ", "OBJECT_ID", "no OBJECT_ID"),
    ],
)
def test_missing_or_unknown_metadata_drops_the_segment_with_one_error(
    drop: str, replace: str | None, field: str, reason: str
) -> None:
    meta = "".join(
        (replace + "\n" if replace else "") if line.startswith(drop) else line + "\n"
        for line in GOOD_META.splitlines()
    )
    text = _kvn(meta, GOOD_STATE) + "META_START\n" + GOOD_META + "META_STOP\n" + GOOD_STATE
    segments, errors = read_oem(text, "m.oem")
    assert [(e.line, e.field) for e in errors] == [(2, field)]
    assert errors[0].reason.startswith("segment 'SAT' (1 state) is dropped: " + reason)
    (seg,) = segments  # the second, complete segment loads
    assert (seg.object_id, seg.frame, seg.center, seg.time_system) == (
        "2024-001A", "GCRF", "EARTH", "UTC",
    )  # fmt: skip


def test_missing_metadata_in_xml_is_named_too() -> None:
    text = XML.read_text().replace("<REF_FRAME>EME2000</REF_FRAME>", "", 1)
    text = text.replace("<OBJECT_ID>1996-062A</OBJECT_ID>", "", 1)
    segments, errors = read_oem(text, "mgs.xml")
    assert [s.times.size for s in segments] == [3]
    assert [e.field for e in errors] == ["REF_FRAME"]
    assert errors[0].reason.endswith("is dropped: no REF_FRAME; no OBJECT_ID")


@pytest.mark.parametrize(
    ("stamp", "reason"),
    [
        ("2023-000T00:00:00", "day of year 000 is not in 001 to 365 (2023)"),
        ("2023-366T00:00:00", "day of year 366 is not in 001 to 365 (2023)"),
        ("2024-999T00:00:00", "day of year 999 is not in 001 to 366 (2024)"),
        ("1500-01-01T00:00:00", "'1500-01-01T00:00:00' is outside the times starbrain can store"),
        ("3000-01-01T00:00:00Z", "'3000-01-01T00:00:00Z' is outside the times starbrain can"),
        ("1500-032T00:00:00", "'1500-032T00:00:00' is outside the times starbrain can store"),
        ("now", "not a CCSDS time"),
        ("2024-01-01T00:00:00+01:00", "not a CCSDS time"),
        ("\u0662024-01-01T00:00:00", "not a CCSDS time"),
    ],
)
@pytest.mark.parametrize("n_states", [1, 50], ids=["alone", "in-bulk"])
def test_bad_epochs_are_per_record_errors(stamp: str, reason: str, n_states: int) -> None:
    """Day 000/999 must not roll into the neighbouring year, nor 1500 wrap to 2085."""
    t0 = np.datetime64("2024-02-01T00:00:00", "ns")
    good = [f"{t0 + np.timedelta64(60 * k, 's')} 7000 0 0 0 7.5 0" for k in range(n_states)]
    data = [f"{stamp} 7000 0 0 0 7.5 0", *good]
    segments, errors = read_oem(_kvn(GOOD_META, "\n".join(data) + "\n"), "t.oem")
    assert [(e.line, e.field) for e in errors] == [(9, "epoch")]
    assert reason in errors[0].reason
    (seg,) = segments
    assert seg.times.size == n_states and seg.times[0] == t0  # nothing wrapped into the file


def test_ordinal_day_366_of_a_leap_year_is_december_31() -> None:
    (seg,), errors = read_oem(_kvn(GOOD_META, "2024-366T12:00:00 7000 0 0 0 7.5 0\n"))
    assert errors == [] and seg.times[0] == np.datetime64("2024-12-31T12:00:00", "ns")


@pytest.mark.parametrize(
    ("values", "field", "reason"),
    [
        ("1e308 0 0 0 7.5 0", "x", "position component 1e+308 km is beyond +-1e+12 km"),
        ("7000 -2e12 0 0 7.5 0", "y", "position component -2e+12 km is beyond"),
        (
            "7000 0 0 0 299792.458 0",
            "y_dot",
            "speed 299792.458 km/s is not below the speed of light",
        ),
        ("7000 0 0 250000 0 250000", "x_dot", "speed 353553.391 km/s is not below the speed of"),
        ("7000 0 0 0 7.5 1e300", "z_dot", "speed >= 1e+300 km/s is not below the speed"),
        ("7000 0 1e999 0 7.5 0", "z", "too large to be a number: '1e999'"),
        ("7000 0 nan 0 7.5 0", "z", "not a number: 'nan'"),
        ("7_000 0 0 0 7.5 0", "x", "not a number: '7_000'"),
        ("\u0667000 0 0 0 7.5 0", "x", "not a number: '\u0667000'"),
    ],
)
@pytest.mark.parametrize("n_states", [1, 50], ids=["alone", "in-bulk"])
def test_impossible_or_non_numeric_states_are_rejected_with_a_reason(
    values: str, field: str, reason: str, n_states: int
) -> None:
    t0 = np.datetime64("2024-02-01T00:00:00", "ns")
    good = [f"{t0 + np.timedelta64(60 * k, 's')} 7000 0 0 0 7.5 0" for k in range(n_states)]
    data = ["2024-01-31T00:00:00 " + values, *good]
    segments, errors = read_oem(_kvn(GOOD_META, "\n".join(data) + "\n"), "s.oem")
    assert [(e.line, e.field) for e in errors] == [(9, field)]
    assert errors[0].reason.startswith(reason)
    (seg,) = segments
    assert seg.times.size == n_states


def test_a_geostationary_and_a_voyager_like_state_are_accepted() -> None:
    """The bounds are generous: GEO (42 164 km, 3.07 km/s) and 170 au from the Sun at 17 km/s."""
    data = "2024-01-01T00:00:00 42164 0 0 0 3.0747 0\n2024-01-01T00:01:00 2.54e10 0 0 17 0 0\n"
    (seg,), errors = read_oem(_kvn(GOOD_META.replace("EARTH", "SUN"), data))
    assert errors == [] and seg.r_km[1, 0] == 2.54e10


@pytest.mark.parametrize("path", [KVN, XML], ids=["kvn", "xml"])
def test_a_byte_order_mark_is_dropped_plain_and_gzipped(path: Path, tmp_path: Path) -> None:
    import gzip

    text = "\ufeff" + path.read_text()
    segments, errors = read_oem(text)
    assert errors == [] and [s.times.size for s in segments] == [3, 3]
    plain, gz = tmp_path / path.name, tmp_path / (path.name + ".gz")
    plain.write_text(text, encoding="utf-8")
    gz.write_bytes(gzip.compress(text.encode("utf-8")))
    for p in (plain, gz):
        result = load_ephemeris(p)
        assert result.errors == [] and result.n_good == 6, p


def test_a_file_that_is_not_kvn_at_all_is_one_starbrain_error(tmp_path: Path) -> None:
    sp3 = Path(__file__).resolve().parents[1] / "data" / "sp3" / "igs19362.sp3"
    with pytest.raises(StarbrainError, match=r"igs19362\.sp3: not an OEM in KVN form"):
        load_ephemeris(sp3, "oem")  # not 100 'data line outside a segment' errors
    crlf = tmp_path / "crlf.oem"
    crlf.write_bytes(KVN.read_bytes().replace(b"\n", b"\r\n"))
    assert load_ephemeris(crlf, "oem").n_good == 6
