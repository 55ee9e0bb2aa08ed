"""SP3-c and SP3-d reading against real files and the IGS format documents.

References: ``igs19362.sp3`` is an excerpt of the IGS final orbit product for GPS week 1936 day 2
(2017-02-14), as shipped in georinex's test data; ``sp3d_example1.sp3`` is example 1 of the IGS
SP3-d format document (Hilla 2016). The numbers are checked against a plain line-by-line parse of
the format's fixed columns written here independently of the reader's column-wise NumPy path,
and against values printed in the format document.
"""

from __future__ import annotations

import gzip
import time
from pathlib import Path

import numpy as np
import pytest

from starbrain.core.errors import StarbrainError
from starbrain.sources.ephemerides.oem import EPHEMERIS_SCHEMA, load_ephemeris
from starbrain.sources.ephemerides.sp3 import read_sp3

DATA = Path(__file__).resolve().parents[1] / "data" / "sp3"
IGS = DATA / "igs19362.sp3"
SP3D = DATA / "sp3d_example1.sp3"
GPS_MINUS_UTC_2017 = np.timedelta64(18, "s")  # IERS Bulletin C 52: TAI-UTC 37 s, GPS = TAI - 19 s
GPS_MINUS_UTC_2001 = np.timedelta64(13, "s")  # TAI-UTC 32 s from 1999-01-01


def _plain_parse(text: str) -> list[tuple[str, np.datetime64, float, float, float]]:
    """Reference: every P record as (sat, epoch in GPS time, x, y, z) by the SP3-c column table
    (epoch: year 4-7, month 9-10, day 12-13, hour 15-16, minute 18-19, second 21-31; P record:
    vehicle 2-4, x 5-18, y 19-32, z 33-46; columns 1-based)."""
    out = []
    epoch = np.datetime64("NaT", "ns")
    for line in text.splitlines():
        if line.startswith("* "):
            cols = ((3, 7), (8, 10), (11, 13), (14, 16), (17, 19))
            y, mo, d, h, mi = (int(line[a:b]) for a, b in cols)
            sec = float(line[20:31])
            epoch = np.datetime64(
                f"{y:04d}-{mo:02d}-{d:02d}T{h:02d}:{mi:02d}", "ns"
            ) + np.timedelta64(round(sec * 1e9), "ns")
        elif line.startswith("P"):
            out.append(
                (line[1:4], epoch, float(line[4:18]), float(line[18:32]), float(line[32:46]))
            )
    return out


def test_igs_final_orbit_matches_a_plain_fixed_column_parse() -> None:
    text = IGS.read_text()
    sp3 = read_sp3(text, "igs19362.sp3")
    assert sp3.errors == [] and sp3.n_absent == 0
    assert (sp3.version, sp3.has_velocity, sp3.time_system) == ("c", False, "GPS")
    assert (sp3.frame_as_written, sp3.agency) == ("IGS14", "IGS")
    assert sp3.satellites == [f"G{k:02d}" for k in range(1, 33)]
    table = sp3.table
    assert table.schema == EPHEMERIS_SCHEMA and table.num_rows == 64
    ref = _plain_parse(text)
    assert table.column("object_id").to_pylist() == [r[0] for r in ref]
    t = table.column("time").to_numpy().astype("datetime64[ns]")
    np.testing.assert_array_equal(t + GPS_MINUS_UTC_2017, np.array([r[1] for r in ref]))
    xyz = np.column_stack([table.column(c).to_numpy() for c in "xyz"])
    np.testing.assert_array_equal(xyz, np.array([r[2:] for r in ref]))  # exact, same decimals
    assert table.column("vx").null_count == 64
    assert set(table.column("frame").to_pylist()) == {"ITRF"}
    assert set(table.column("center").to_pylist()) == {"EARTH"}
    # GPS orbit radius ~26 560 km: a sanity check that the columns are not shifted
    np.testing.assert_allclose(np.linalg.norm(xyz, axis=1), 26_560, rtol=0.03)  # e < 0.03


def test_sp3d_example_velocities_in_km_per_s() -> None:
    sp3 = read_sp3(SP3D.read_text(), "sp3d.sp3")
    assert sp3.errors == []
    assert (sp3.version, sp3.has_velocity, sp3.frame_as_written) == ("d", True, "IGS97")
    assert len(sp3.satellites) == 26
    d = sp3.table.to_pydict()
    assert d["object_id"] == ["G01", "G02"]  # EP / EV correlation records are skipped
    # the format document's values: P in km, V in dm/s
    assert (d["x"][0], d["y"][0], d["z"][0]) == (-11044.8058, -10475.67235, 21929.4182)
    np.testing.assert_allclose(
        [d["vx"][0], d["vy"][0], d["vz"][0]],
        [20298.880364e-4, -18462.044804e-4, 1381.387685e-4],
        rtol=1e-15,
    )
    np.testing.assert_allclose(d["vy"][1], -25832.652567e-4, rtol=1e-15)
    t = sp3.table.column("time").to_numpy().astype("datetime64[ns]")
    assert t[0] == np.datetime64("2001-08-08T00:00:00", "ns") - GPS_MINUS_UTC_2001


def test_absent_values_are_skipped_not_errors() -> None:
    lines = SP3D.read_text().splitlines()
    i = next(k for k, s in enumerate(lines) if s.startswith("PG02"))
    lines[i] = "PG02      0.000000      0.000000      0.000000 999999.999999"
    j = next(k for k, s in enumerate(lines) if s.startswith("VG01"))
    lines[j] = "VG01      0.000000      0.000000      0.000000 999999.999999"
    sp3 = read_sp3("\n".join(lines))
    assert sp3.errors == [] and sp3.n_absent == 1
    assert sp3.table.column("object_id").to_pylist() == ["G01"]
    assert sp3.table.column("vx").to_pylist() == [None]


def _corrupt_igs() -> tuple[str, dict[int, str]]:
    lines = IGS.read_text().splitlines()
    bad = {}
    i = next(k for k, s in enumerate(lines) if s.startswith("PG07"))
    lines[i] = lines[i][:4] + "  -4018.8x5318" + lines[i][18:]
    bad[i + 1] = "x"
    i = [k for k, s in enumerate(lines) if s.startswith("PG19")][1]
    lines[i] = lines[i][:32]  # truncated: no z
    bad[i + 1] = "z"
    i = next(k for k, s in enumerate(lines) if s.startswith("PG30"))
    lines[i] = lines[i][:18] + " -6809.7426O3 " + lines[i][32:]
    bad[i + 1] = "y"
    return "\n".join(lines) + "\n", bad


def test_three_corrupt_records_load_the_rest_and_are_named() -> None:
    text, bad = _corrupt_igs()
    sp3 = read_sp3(text, "bad.sp3")
    assert {e.line: e.field for e in sp3.errors} == bad and len(sp3.errors) == 3
    assert sp3.table.num_rows == 61
    assert str(sp3.errors[0]) == f"bad.sp3:{min(bad)}: x: not a number: '-4018.8x5318'"
    # nothing valid is lost: every other record is there with its exact value
    good = {(r[0], r[1]): r[2:] for r in _plain_parse(IGS.read_text())}
    t = sp3.table.column("time").to_numpy().astype("datetime64[ns]") + GPS_MINUS_UTC_2017
    for k, sat in enumerate(sp3.table.column("object_id").to_pylist()):
        assert good[(sat, t[k])][0] == sp3.table.column("x")[k].as_py()


def test_an_unreadable_epoch_line_says_what_it_costs() -> None:
    lines = IGS.read_text().splitlines()
    i = [k for k, s in enumerate(lines) if s.startswith("*")][1]
    lines[i] = "*  2017 13 14  0 15  0.00000000"
    sp3 = read_sp3("\n".join(lines), "e.sp3")
    assert sp3.table.num_rows == 32
    assert [(e.line, e.field) for e in sp3.errors] == [(i + 1, "epoch")]
    assert sp3.errors[0].reason.endswith("its 32 records are skipped")


@pytest.mark.parametrize(("system", "offset_s"), [("UTC", 0), ("TAI", 37), ("GPS", 18)])
def test_time_system_from_the_pc_line(system: str, offset_s: int) -> None:
    text = IGS.read_text().replace("%c G  cc GPS", f"%c G  cc {system}", 1)
    sp3 = read_sp3(text)
    assert sp3.time_system == system
    t = sp3.table.column("time").to_numpy().astype("datetime64[ns]")[0]
    assert t == np.datetime64("2017-02-14T00:00:00", "ns") - np.timedelta64(offset_s, "s")


def test_unknown_time_system_and_not_sp3() -> None:
    sp3 = read_sp3(IGS.read_text().replace("%c G  cc GPS", "%c G  cc XYZ", 1), "x.sp3")
    assert sp3.table.num_rows == 0
    assert [(e.line, e.field) for e in sp3.errors] == [(13, "time system")]
    with pytest.raises(StarbrainError, match=r"h\.sp3: not an SP3 file \(its first line 'hello'"):
        read_sp3("hello\n", "h.sp3")


def test_load_ephemeris_sniffs_sp3_plain_or_gzipped(tmp_path: Path) -> None:
    result = load_ephemeris(IGS)
    assert result.n_good == 64 and result.errors == [] and result.source == str(IGS)
    gz = tmp_path / "igs19362.sp3.gz"
    gz.write_bytes(gzip.compress(IGS.read_bytes()))
    assert (
        load_ephemeris(gz)
        .table.drop_columns(["source"])
        .equals(result.table.drop_columns(["source"]))
    )


def _big_file(n_epochs: int) -> str:
    lines = IGS.read_text().splitlines()
    header, block = lines[:22], lines[23:55]
    out = list(header)
    t0 = np.datetime64("2017-02-14T00:00:00", "s")
    for k in range(n_epochs):
        s = str(t0 + np.timedelta64(900 * k, "s"))
        out.append(
            f"*  {s[:4]} {s[5:7]:>2} {s[8:10]:>2} {s[11:13]:>2} {s[14:16]:>2} {s[17:19]}.00000000"
        )
        out += block
    return "\n".join(out) + "\nEOF\n"


def test_a_100k_line_file_reads_in_bulk() -> None:
    text = _big_file(3000)  # 99 022 lines, 96 000 states
    start = time.process_time()
    sp3 = read_sp3(text)
    cpu = time.process_time() - start
    assert sp3.table.num_rows == 96_000 and sp3.errors == []
    t = sp3.table.column("time").to_numpy()
    assert (np.diff(t[::32]) == np.timedelta64(900, "s")).all()
    assert cpu < 1.5, cpu  # ~0.2 s CPU on the development machine


# --- issue #12: one bad field is one error; the rest of the file loads --------------------------


def _igs_lines() -> list[str]:
    return IGS.read_text().splitlines()


def _row(lines: list[str], prefix: str, nth: int = 0) -> int:
    return [k for k, s in enumerate(lines) if s.startswith(prefix)][nth]


@pytest.mark.parametrize(
    "sat",
    ["G1x", " 1x", "60.", "G\u0661\u0662", "G\u00b21", "G00", "g01"],
    ids=["G1x", "1x", "60.", "arabic-indic", "superscript", "G00", "lower-case"],
)
def test_a_bad_satellite_id_in_a_p_record_is_one_error(sat: str) -> None:
    lines = _igs_lines()
    i = _row(lines, "PG05")
    lines[i] = "P" + sat + lines[i][4:]
    sp3 = read_sp3("\n".join(lines), "s.sp3")
    assert [(e.line, e.field) for e in sp3.errors] == [(i + 1, "satellite")]
    assert sp3.errors[0].reason == f"not a satellite id: {sat!r}"
    assert sp3.table.num_rows == 63  # the other 63 states are there
    assert sp3.table.column("object_id").to_pylist().count("G05") == 1  # the second epoch's


def test_a_bad_satellite_id_in_the_header_is_one_error() -> None:
    lines = _igs_lines()
    lines[2] = lines[2].replace("G03", " 3x").replace("G09", "60.")
    sp3 = read_sp3("\n".join(lines), "h.sp3")
    assert [(e.line, e.field, e.reason) for e in sp3.errors] == [
        (3, "satellite", "not a satellite id: ' 3x'"),
        (3, "satellite", "not a satellite id: '60.'"),
    ]
    assert len(sp3.satellites) == 30 and "G03" not in sp3.satellites
    assert sp3.table.num_rows == 64  # the records themselves are fine


def test_sp3a_style_ids_without_a_letter_are_gps() -> None:
    lines = _igs_lines()
    i = _row(lines, "PG05")
    lines[i] = "P  5" + lines[i][4:]
    lines[2] = lines[2].replace("G05", "  5")
    sp3 = read_sp3("\n".join(lines))
    assert sp3.errors == [] and sp3.satellites[4] == "G05"
    assert sp3.table.column("object_id").to_pylist().count("G05") == 2


@pytest.mark.parametrize("first", ["#c", "#", "#cX2017", "#e P", "hello"])
def test_a_file_that_is_not_sp3_is_one_starbrain_error(first: str, tmp_path: Path) -> None:
    path = tmp_path / "x.sp3"
    path.write_text(first + "\n" + "\n".join(_igs_lines()[1:]) + "\n")
    with pytest.raises(StarbrainError, match=r"x\.sp3: not an SP3 file \(its first line"):
        load_ephemeris(path, "sp3")


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        ("           nan", "not a number: 'nan'"),
        ("          -inf", "not a number: '-inf'"),
        ("     9_950.635", "not a number: '9_950.635'"),
        ("     \u0669\u0669\u0665\u0660.6354", "not a number: '\u0669\u0669\u0665\u0660.6354'"),
        ("        1e999 ", "too large to be a number: '1e999'"),
        ("        1e308 ", "position component 1e+308 km is beyond +-1e+12 km"),
    ],
    ids=["nan", "inf", "underscore", "arabic-indic", "1e999", "1e308"],
)
def test_non_numbers_and_impossible_positions_are_reported_not_dropped(
    token: str, reason: str
) -> None:
    lines = _igs_lines()
    i = _row(lines, "PG01", 1)
    assert len(token) == 14
    lines[i] = lines[i][:4] + token + lines[i][18:]
    sp3 = read_sp3("\n".join(lines), "n.sp3")
    assert [(e.line, e.field) for e in sp3.errors] == [(i + 1, "x")]
    assert sp3.errors[0].reason.startswith(reason)
    assert sp3.table.num_rows == 63


def test_a_velocity_at_or_above_light_speed_is_reported_and_left_null() -> None:
    lines = SP3D.read_text().splitlines()
    i = _row(lines, "VG02")
    # 3e9 dm/s = 300 000 km/s > c = 299 792.458 km/s
    lines[i] = lines[i][:4] + "  -9481.923808 3000000000.00" + lines[i][32:]
    sp3 = read_sp3("\n".join(lines), "v.sp3")
    assert [(e.line, e.field) for e in sp3.errors] == [(i + 1, "vy")]
    assert "not below the speed of light (299792.458 km/s)" in sp3.errors[0].reason
    assert sp3.table.column("object_id").to_pylist() == ["G01", "G02"]
    assert sp3.table.column("vx").to_pylist()[1] is None
    assert sp3.table.column("x").to_pylist()[1] == -12593.5935  # the position is kept


@pytest.mark.parametrize("year", ["1500", "3000", "2\u0660\u0661\u0667"])
def test_an_epoch_outside_1678_2261_is_rejected_not_wrapped(year: str) -> None:
    lines = _igs_lines()
    i = _row(lines, "*", 1)
    lines[i] = f"*  {year}  2 14  0 15  0.00000000"
    sp3 = read_sp3("\n".join(lines), "e.sp3")
    assert [(e.line, e.field) for e in sp3.errors] == [(i + 1, "epoch")]
    assert sp3.errors[0].reason.endswith("its 32 records are skipped")
    assert sp3.table.num_rows == 32
    t = sp3.table.column("time").to_numpy()
    assert (t < np.datetime64("2017-02-15")).all() and (t > np.datetime64("2017-02-13")).all()


def test_absent_clock_keeps_the_state() -> None:
    """SP3-c: a clock of 999999.999999 is "bad or absent"; clocks are not stored, so the state
    with a good position is kept, with the file's position to the digit."""
    lines = _igs_lines()
    i = _row(lines, "PG03")
    lines[i] = lines[i][:46] + " 999999.999999" + lines[i][60:]
    sp3 = read_sp3("\n".join(lines))
    assert sp3.errors == [] and sp3.n_absent == 0 and sp3.table.num_rows == 64
    assert sp3.table.column("x").to_pylist()[2] == 1110.563354


def test_a_byte_order_mark_is_dropped_plain_and_gzipped(tmp_path: Path) -> None:
    bom = "\ufeff" + IGS.read_text()
    assert read_sp3(bom).table.num_rows == 64
    plain, gz = tmp_path / "bom.sp3", tmp_path / "bom.sp3.gz"
    plain.write_text(bom, encoding="utf-8")
    gz.write_bytes(gzip.compress(bom.encode("utf-8")))
    for path in (plain, gz):
        for fmt in ("auto", "sp3"):
            result = load_ephemeris(path, fmt)
            assert result.errors == [] and result.n_good == 64, (path, fmt)
