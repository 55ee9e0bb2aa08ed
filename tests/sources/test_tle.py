"""TLE parsing and formatting against python-sgp4's own reader on the official verification set."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from sgp4 import alpha5 as sgp4_alpha5
from sgp4.api import WGS72, Satrec
from sgp4.io import verify_checksum

from starbrain.core import timeconv
from starbrain.sources.catalogs.tle import alpha5_decode, alpha5_encode, format_tle, parse_tle
from tests.conftest import SGP4_VER_BAD_CHECKSUMS

DEG = math.pi / 180.0
XPDOTP = 1440.0 / (2.0 * math.pi)  # rev/day per rad/min, as python-sgp4 uses


def _tle_lines(text: str) -> list[str]:
    return [line[:69] for line in text.splitlines() if line[:2] in ("1 ", "2 ")]


def test_official_file_reports_only_its_three_bad_checksums(sgp4_ver_text: str) -> None:
    result = parse_tle(sgp4_ver_text, "SGP4-VER.TLE")
    assert [(e.line, e.norad_id, e.field) for e in result.errors] == [
        (line, norad, "checksum") for line, norad in SGP4_VER_BAD_CHECKSUMS
    ]
    assert result.n_good == 33 - 3


def test_fields_match_python_sgp4_reader(sgp4_ver_text: str) -> None:
    """Every field of every record equals what python-sgp4's twoline2rv reads (to 1e-12)."""
    result = parse_tle(sgp4_ver_text, "SGP4-VER.TLE", check_checksums=False)
    assert result.n_good == 33 and not result.errors
    lines = _tle_lines(sgp4_ver_text)
    t = result.table.to_pydict()
    jd, fr = timeconv.datetime64_to_jd(result.table.column("epoch").to_numpy())
    for k in range(result.n_good):
        sat = Satrec.twoline2rv(lines[2 * k], lines[2 * k + 1], WGS72)
        assert t["norad_id"][k] == sat.satnum
        # epoch: python-sgp4 rounds to microseconds via days2mdhms; we keep the digits exactly
        assert abs((jd[k] - sat.jdsatepoch) + (fr[k] - sat.jdsatepochF)) * 86400 < 1e-6
        assert t["inclination_deg"][k] * DEG == pytest.approx(sat.inclo, rel=1e-12, abs=1e-15)
        assert t["ra_of_asc_node_deg"][k] * DEG == pytest.approx(sat.nodeo, rel=1e-12, abs=1e-15)
        assert t["arg_of_pericenter_deg"][k] * DEG == pytest.approx(sat.argpo, rel=1e-12, abs=1e-15)
        assert t["mean_anomaly_deg"][k] * DEG == pytest.approx(sat.mo, rel=1e-12, abs=1e-15)
        assert t["eccentricity"][k] == pytest.approx(sat.ecco, rel=1e-12, abs=1e-15)
        assert t["mean_motion_rev_per_day"][k] / XPDOTP == pytest.approx(sat.no_kozai, rel=1e-12)
        assert t["bstar_per_earth_radius"][k] == pytest.approx(sat.bstar, rel=1e-12, abs=1e-18)
        assert t["mean_motion_dot_rev_per_day2"][k] / (XPDOTP * 1440.0) == pytest.approx(
            sat.ndot, rel=1e-12, abs=1e-20
        )
        assert t["mean_motion_ddot_rev_per_day3"][k] / (XPDOTP * 1440.0**2) == pytest.approx(
            sat.nddot, rel=1e-12, abs=1e-24
        )
        assert t["rev_at_epoch"][k] == sat.revnum
        assert t["element_set_no"][k] == sat.elnum
        assert t["classification"][k] == sat.classification


def test_export_reproduces_input_lines_exactly(sgp4_ver_text: str) -> None:
    everything = parse_tle(sgp4_ver_text, "SGP4-VER.TLE", check_checksums=False)
    assert format_tle(everything.table) == _tle_lines(sgp4_ver_text)
    valid = parse_tle(sgp4_ver_text, "SGP4-VER.TLE")
    bad_lines = {line for line, _ in SGP4_VER_BAD_CHECKSUMS}
    expected: list[str] = []
    numbered = [(i, s[:69]) for i, s in enumerate(sgp4_ver_text.splitlines(), 1)]
    pairs = [(i, s) for i, s in numbered if s[:2] in ("1 ", "2 ")]
    for (i1, l1), (_, l2) in zip(pairs[::2], pairs[1::2], strict=True):
        if i1 not in bad_lines:
            expected += [l1, l2]
    assert format_tle(valid.table) == expected


def test_canonical_formatting_is_read_back_identically_by_python_sgp4(sgp4_ver_text: str) -> None:
    """Lines formatted from the fields (not the originals) carry valid checksums and the same
    elements for python-sgp4; columns 1-68 match the file but for the sign written for a zero
    B* ('+0' versus '-0') in two records."""
    parsed = parse_tle(sgp4_ver_text, "SGP4-VER.TLE", check_checksums=False)
    canonical = format_tle(parsed.table, prefer_original=False)
    original = _tle_lines(sgp4_ver_text)
    differing = [k for k in range(len(original)) if canonical[k][:68] != original[k][:68]]
    for k in differing:
        assert original[k][53:61] == " 00000+0" and canonical[k][53:61] == " 00000-0"
    assert len(differing) == 3  # 09998 and 20413 (which the file lists twice)
    for line in canonical:
        verify_checksum(line)
    for k in range(0, len(canonical), 2):
        a = Satrec.twoline2rv(original[k], original[k + 1], WGS72)
        b = Satrec.twoline2rv(canonical[k], canonical[k + 1], WGS72)
        for attr in (
            "satnum",
            "jdsatepoch",
            "jdsatepochF",
            "bstar",
            "ndot",
            "nddot",
            "ecco",
            "argpo",
            "inclo",
            "mo",
            "no_kozai",
            "nodeo",
            "revnum",
            "elnum",
        ):
            assert getattr(a, attr) == pytest.approx(getattr(b, attr), rel=1e-12, abs=1e-15), attr


def _corrupt_file(sgp4_ver_text: str) -> tuple[str, dict[int, str]]:
    """The file's checksum-valid records plus three corrupted ones; returns text and bad lines."""
    keep: list[str] = []
    bad_lines = {line for line, _ in SGP4_VER_BAD_CHECKSUMS}
    lines = sgp4_ver_text.splitlines()
    for i, s in enumerate(lines, 1):
        if i in bad_lines or (i - 1) in bad_lines:
            continue
        keep.append(s)
    iss1 = "1 25544U 98067A   08264.51782528 -.00002182  00000-0 -11606-4 0  2927"
    iss2 = "2 25544  51.6416 247.4627 0006703 130.5360 325.0288 15.72125391563537"
    bad_checksum = iss1[:68] + str((int(iss1[68]) + 1) % 10)
    truncated = iss2[:50]
    letter = iss2[:8] + " 51.6A16" + iss2[16:]
    start = len(keep) + 1
    keep += [
        "ISS (BAD CHECKSUM)",
        bad_checksum,
        iss2,
        "ISS (TRUNCATED)",
        iss1,
        truncated,
        "ISS (LETTER)",
        iss1,
        letter,
    ]
    expected = {start + 1: "checksum", start + 5: "line 2", start + 8: "inclination"}
    return "\n".join(keep) + "\n", expected


def test_three_corrupted_records_are_reported_and_nothing_valid_is_lost(
    sgp4_ver_text: str, tmp_path: Path
) -> None:
    text, expected = _corrupt_file(sgp4_ver_text)
    result = parse_tle(text, "corrupt.tle")
    assert {e.line: e.field for e in result.errors} == expected
    assert result.n_good == 30
    assert all(str(e).startswith("corrupt.tle:") for e in result.errors)


def test_three_line_names_and_alpha5() -> None:
    text = (
        "0 ISS (ZARYA)\n"
        "1 25544U 98067A   08264.51782528 -.00002182  00000-0 -11606-4 0  2927\n"
        "2 25544  51.6416 247.4627 0006703 130.5360 325.0288 15.72125391563537\n"
        "SOME SAT\n"
    )
    alpha = format_tle(parse_tle(text).table, prefer_original=False)
    # renumber to an alpha-5 catalogue number and recompute checksums through the formatter
    t = parse_tle(text).table
    t = t.set_column(0, "norad_id", __import__("pyarrow").array([123456], "int32"))
    lines = format_tle(t, names=True, prefer_original=False)
    assert lines[0] == "0 ISS (ZARYA)" and lines[1][2:7] == "C3456"
    back = parse_tle("\n".join(lines))
    assert back.table.column("norad_id").to_pylist() == [123456]
    assert back.table.column("object_name").to_pylist() == ["ISS (ZARYA)"]
    sat = Satrec.twoline2rv(lines[1], lines[2])
    assert sat.satnum == 123456
    assert alpha[0][:68] == text.splitlines()[1][:68]


@pytest.mark.parametrize("number", [0, 5, 25544, 99999, 100000, 123456, 182345, 339999])
def test_alpha5_matches_python_sgp4(number: int) -> None:
    assert alpha5_encode(number) == sgp4_alpha5.to_alpha5(number)
    assert alpha5_decode(sgp4_alpha5.to_alpha5(number)) == number


def test_orphan_lines_are_reported() -> None:
    text = (
        "1 25544U 98067A   08264.51782528 -.00002182  00000-0 -11606-4 0  2927\n"
        "NOT A LINE TWO\n"
        "2 25544  51.6416 247.4627 0006703 130.5360 325.0288 15.72125391563537\n"
    )
    result = parse_tle(text, "x.tle")
    assert [(e.line, e.reason) for e in result.errors] == [
        (1, "line 1 is not followed by a line 2"),
        (3, "line 2 without a preceding line 1"),
    ]
    assert result.n_good == 0


def test_ranges_and_cross_line_checks() -> None:
    l1 = "1 25544U 98067A   08264.51782528 -.00002182  00000-0 -11606-4 0  292"
    l2 = "2 25545 191.6416 247.4627 0006703 130.5360 325.0288 15.72125391563537"
    from starbrain.sources.catalogs.fixedwidth import checksum_digit

    l1 += str(checksum_digit(l1))
    l2 = l2[:68] + str(checksum_digit(l2))
    result = parse_tle(f"{l1}\n{l2}\n")
    assert [(e.field, e.line) for e in result.errors] == [("catalog_number", 2)]
    l2b = "2 25544 191.6416 247.4627 0006703 130.5360 325.0288 15.72125391563537"
    l2b = l2b[:68] + str(checksum_digit(l2b))
    assert parse_tle(f"{l1}\n{l2b}\n").errors[0].field == "inclination"


def test_epoch_is_exact_to_the_last_digit() -> None:
    """The 8th decimal of the day is 864 microseconds; no float rounding is involved."""
    text = (
        "1 25544U 98067A   08264.51782528 -.00002182  00000-0 -11606-4 0  2927\n"
        "2 25544  51.6416 247.4627 0006703 130.5360 325.0288 15.72125391563537\n"
    )
    epoch = parse_tle(text).table.column("epoch").to_numpy()[0]
    expected = (
        np.datetime64("2008-01-01", "ns")
        + np.timedelta64(263, "D")
        + np.timedelta64(51782528 * 864_000, "ns")
    )
    assert epoch == expected


ISS_LINES = (
    "1 25544U 98067A   08264.51782528 -.00002182  00000-0 -11606-4 0  2927",
    "2 25544  51.6416 247.4627 0006703 130.5360 325.0288 15.72125391563537",
)


@pytest.mark.parametrize("named", [True, False])
def test_byte_order_mark_keeps_the_first_record_and_its_name(
    named: bool, sgp4_ver_text: str, tmp_path: Path
) -> None:
    """A BOM before line 1 used to hide the record (an orphan line 2), and one before a name
    line put U+FEFF into the stored name."""
    lines = _tle_lines(sgp4_ver_text)[:6]
    if named:
        lines = ["0 FIRST", *lines[:2], "SECOND", *lines[2:]]
    text = "\n".join(lines) + "\n"
    for data in (b"\xef\xbb\xbf" + text.encode(), "\ufeff" + text):
        result = parse_tle(data, "bom.tle")
        assert not result.errors and result.table.column("norad_id").to_pylist() == [5, 4632, 6251]
        names = result.table.column("object_name").to_pylist()
        assert names == (["FIRST", "SECOND", None] if named else [None, None, None])
    path = tmp_path / "bom.tle"
    path.write_bytes(b"\xef\xbb\xbf" + text.encode())
    from starbrain.sources.catalogs.catalog import load_catalog

    loaded = load_catalog(path)
    assert loaded.n_good == 3 and not loaded.errors
    assert loaded.table.column("tle_line1").to_pylist()[0] == lines[1 if named else 0]


def test_mean_motion_above_18_rev_per_day_is_rejected() -> None:
    """Above 18 rev/day (an 80-minute period) the semi-major axis is inside the Earth."""
    from starbrain.sources.catalogs.fixedwidth import checksum_digit

    l2 = ISS_LINES[1][:52] + "18.00000001" + ISS_LINES[1][63:68]
    l2 += str(checksum_digit(l2))
    result = parse_tle(f"{ISS_LINES[0]}\n{l2}\n", "fast.tle")
    assert [(e.line, e.field) for e in result.errors] == [(2, "mean_motion")]
    assert "inside the Earth" in result.errors[0].reason
    l2 = ISS_LINES[1][:52] + "17.99999999" + ISS_LINES[1][63:68]
    l2 += str(checksum_digit(l2))
    assert parse_tle(f"{ISS_LINES[0]}\n{l2}\n").n_good == 1


def test_old_mac_line_ends_still_load(tmp_path: Path) -> None:
    """load_catalog no longer translates newlines, so CR-only files are turned into LF there."""
    from starbrain.sources.catalogs.catalog import load_catalog

    path = tmp_path / "mac.tle"
    path.write_bytes(("0 ISS\r" + "\r".join(ISS_LINES) + "\r").encode())
    result = load_catalog(path)
    assert not result.errors and result.table.column("object_name").to_pylist() == ["ISS"]
