"""The `starbrain` command as a user runs it: a real process, a real store file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from starbrain.store.database import Store
from tests.loop.test_demo_fleets import ALL_FLEETS
from tests.sources.test_tle import _corrupt_file

EXE = Path(sys.executable).with_name("starbrain")


def run(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "COLUMNS": "200", **(env or {})}
    command = [str(EXE)] if EXE.exists() else [sys.executable, "-m", "starbrain"]
    return subprocess.run(
        [*command, *args], cwd=cwd, env=full_env, capture_output=True, text=True, timeout=120
    )


def test_version_and_help(tmp_path: Path) -> None:
    out = run("version", cwd=tmp_path)
    assert out.returncode == 0 and out.stdout.startswith("starbrain ")
    for sub in (
        [],
        ["catalog"],
        ["catalog", "load"],
        ["catalog", "show"],
        ["catalog", "export"],
        ["constellation", "generate"],
        ["demo"],
    ):
        assert run(*sub, "--help", cwd=tmp_path).returncode == 0, sub


def test_corrupted_file_loads_the_good_and_reports_the_three_bad(
    tmp_path: Path, store_path: Path, sgp4_ver_text: str
) -> None:
    text, expected = _corrupt_file(sgp4_ver_text)
    path = tmp_path / "corrupt.tle"
    path.write_text(text)
    out = run("catalog", "load", str(path), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    reported = [line for line in out.stderr.splitlines() if "bad record" in line]
    assert len(reported) == 3
    for line_no, field in expected.items():
        assert any(f"corrupt.tle:{line_no}: {field}" in r for r in reported), (line_no, reported)
    assert "30 valid, 29 new, 1 duplicate, 3 bad" in out.stdout
    with Store(store_path, read_only=True) as store:
        assert store.count("elements") == 29  # 20413 is listed twice in the file


def test_strict_writes_nothing_and_fails(
    tmp_path: Path, store_path: Path, sgp4_ver_text: str
) -> None:
    text, _ = _corrupt_file(sgp4_ver_text)
    path = tmp_path / "corrupt.tle"
    path.write_text(text)
    out = run("catalog", "load", str(path), "--strict", cwd=tmp_path)
    assert out.returncode == 1
    assert "3 bad record(s) and --strict: nothing was written" in out.stderr
    assert "Traceback" not in out.stderr
    assert not store_path.exists() or Store(store_path, read_only=True).count("elements") == 0


def test_export_reproduces_the_loaded_lines(
    tmp_path: Path, store_path: Path, sgp4_ver_path: Path
) -> None:
    assert run("catalog", "load", str(sgp4_ver_path), "--no-checksum", cwd=tmp_path).returncode == 0
    out = run("catalog", "export", "--format", "tle", cwd=tmp_path)
    assert out.returncode == 0
    expected = [s[:69] for s in sgp4_ver_path.read_text().splitlines() if s[:2] in ("1 ", "2 ")]
    # the store orders by catalogue number and holds 20413 once
    pairs = sorted(
        {(expected[k], expected[k + 1]) for k in range(0, len(expected), 2)},
        key=lambda p: int(p[0][2:7]),
    )
    assert out.stdout.splitlines() == [line for pair in pairs for line in pair]
    js = run("catalog", "export", "--format", "omm-json", "--norad", "5", cwd=tmp_path)
    assert '"NORAD_CAT_ID": 5' in js.stdout


def test_errors_are_one_sentence_unless_debug(tmp_path: Path, store_path: Path) -> None:
    out = run("catalog", "load", str(tmp_path / "missing.tle"), cwd=tmp_path)
    assert out.returncode == 1
    assert out.stderr.strip() == f"error: {tmp_path / 'missing.tle'}: no such file"
    dbg = run("--debug", "catalog", "load", str(tmp_path / "missing.tle"), cwd=tmp_path)
    assert dbg.returncode == 1 and "Traceback" in dbg.stderr
    empty = tmp_path / "empty.tle"
    empty.write_text("nothing here\n")
    out = run("catalog", "load", str(empty), cwd=tmp_path)
    assert out.returncode == 1 and "no valid records" in out.stderr


def test_constellation_generate_writes_valid_files(tmp_path: Path, store_path: Path) -> None:
    out = run(
        "constellation",
        "generate",
        "--altitude-km",
        "1200",
        "--inclination-deg",
        "87.9",
        "--planes",
        "12",
        "--per-plane",
        "10",
        "--epoch",
        "2026-01-01",
        "--format",
        "omm-json",
        "-o",
        str(tmp_path / "c.json"),
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    loaded = run("catalog", "load", str(tmp_path / "c.json"), cwd=tmp_path)
    assert "120 valid, 0 new, 120 duplicate, 0 bad" in loaded.stdout
    bad = run("constellation", "generate", "--altitude-km", "550", cwd=tmp_path)
    assert bad.returncode == 1 and "give --preset starlink-gen1, or all of" in bad.stderr


@pytest.mark.parametrize("_", [1])
def test_demo_runs_and_reruns_idempotently(tmp_path: Path, store_path: Path, _: int) -> None:
    first = run("demo", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "4408 valid, 0 bad, values identical" in first.stdout
    assert "4408 new element sets" in first.stdout
    assert "0 errors" in first.stdout and "agrees with python-sgp4" in first.stdout
    # every fleet has its line in the fleets table (the fleet column never wraps)
    for fleet in ALL_FLEETS:
        assert f"│ {fleet} " in first.stdout, fleet
    second = run("demo", cwd=tmp_path)
    assert "0 new element sets (4408 already stored)" in second.stdout


def test_mars_windows_and_porkchop(tmp_path: Path) -> None:
    out = run("mars", "windows", "--from", "2028", "--to", "2028", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    rows = [line for line in out.stdout.splitlines() if "2028-1" in line]
    assert len(rows) == 2  # the type I and type II minima of the 2028 opportunity
    png, html = tmp_path / "pc.png", tmp_path / "pc.html"
    out = run(
        "mars",
        "porkchop",
        "--window",
        "2028",
        "--step-days",
        "8",
        "-o",
        str(png),
        "--html",
        str(html),
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and html.stat().st_size > 10_000
    bad = run("mars", "windows", "--from", "2030", "--to", "2028", cwd=tmp_path)
    assert bad.returncode == 1 and "is before" in bad.stderr


def test_telemetry_replay_stores_and_counts_malformed_packets(
    tmp_path: Path, store_path: Path
) -> None:
    from starbrain.sources.telemetry.packets import load_example_definitions
    from tests.sources.telemetry_helpers import generate, round_robin

    defs = load_example_definitions()
    packets = round_robin(generate(defs, 40, seed=3))
    with_crc = next(k for k, p in enumerate(defs.packets) if p.crc)
    expected_values = sum(len(p.parameters) for p in defs.packets) * 40
    expected_values -= len(defs.packets[with_crc].parameters)
    corrupted = bytearray(packets[with_crc])
    corrupted[-1] ^= 0xFF  # breaks its CRC-16 trailer
    packets[with_crc] = bytes(corrupted)
    unknown = bytearray(packets[0])
    unknown[0:2] = (0x0800 | 0x07FE).to_bytes(2, "big")  # APID 2046: not defined
    path = tmp_path / "flight.bin"
    path.write_bytes(b"".join([*packets, bytes(unknown)]))
    out = run("telemetry", "replay", str(path), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert f"stored {expected_values} parameter values" in out.stdout
    assert "unknown_apid 1" in out.stdout and "crc 1" in out.stdout
    with Store(store_path, read_only=True) as store:
        assert store.count("telemetry") == expected_values


def test_propagate_matches_python_sgp4_and_skyfield(
    tmp_path: Path, store_path: Path, sgp4_ver_path: Path
) -> None:
    """CSV states equal python-sgp4's; ITRF states equal Skyfield's ITRS positions (1 m)."""
    import numpy as np
    import pyarrow.csv as pcsv
    from sgp4.api import Satrec, jday
    from skyfield.api import EarthSatellite
    from skyfield.framelib import itrs

    iss = [
        "1 25544U 98067A   26328.50000000  .00016717  00000-0  30016-3 0  9994",
        "2 25544  51.6393 114.3422 0006944 101.2341 258.9436 15.50184391484337",
    ]
    tle = tmp_path / "iss.tle"
    tle.write_text("\n".join(iss) + "\n")
    assert run("catalog", "load", str(tle), "--no-checksum", cwd=tmp_path).returncode == 0
    args = [
        "propagate",
        "--norad",
        "25544",
        "--from",
        "2026-11-25T12:00",
        "--to",
        "2026-11-25T13:00",
        "--step",
        "600",
    ]
    out = run(*args, "-o", str(tmp_path / "s.csv"), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    states = pcsv.read_csv(tmp_path / "s.csv")
    r = np.column_stack([states.column(c).to_numpy() for c in ("x_km", "y_km", "z_km")])
    sat = Satrec.twoline2rv(*iss)
    for k in range(7):
        e, r_ref, _ = sat.sgp4(*jday(2026, 11, 25, 12, 10 * k, 0))
        assert e == 0 and np.abs(r[k] - r_ref).max() < 1e-6  # km: 1 mm
    out = run(
        *args, "--frame", "itrf", "--format", "oem", "-o", str(tmp_path / "s.oem"), cwd=tmp_path
    )
    assert out.returncode == 0, out.stderr
    body = [
        line.split()
        for line in (tmp_path / "s.oem").read_text().splitlines()
        if line.startswith("2026-")
    ]
    assert len(body) == 7
    # Skyfield on the same Earth-orientation table (skyfield-data's finals2000A.all): past the
    # table's end (2026-08-29) different tables extrapolate UT1 differently (~20 m here).
    from starbrain.physics.frames import timescale

    ts = timescale()
    t = ts.utc(2026, 11, 25, 12, np.arange(7) * 10)
    ref = EarthSatellite(*iss, ts=ts).at(t).frame_xyz(itrs).km.T
    got = np.array([[float(x) for x in row[1:4]] for row in body])
    assert np.abs(got - ref).max() < 1e-3  # km
    missing = run("propagate", "--norad", "99999", cwd=tmp_path)
    assert missing.returncode == 1 and "no element sets stored for NORAD 99999" in missing.stderr


def test_passes_command_matches_skyfield(tmp_path: Path, store_path: Path) -> None:
    import numpy as np
    import pyarrow.csv as pcsv
    from skyfield.api import EarthSatellite, load, wgs84

    iss = [
        "1 25544U 98067A   26328.50000000  .00016717  00000-0  30016-3 0  9994",
        "2 25544  51.6393 114.3422 0006944 101.2341 258.9436 15.50184391484337",
    ]
    tle = tmp_path / "iss.tle"
    tle.write_text("\n".join(iss) + "\n")
    run("catalog", "load", str(tle), "--no-checksum", cwd=tmp_path)
    out = run(
        "passes",
        "--station",
        "Tokyo:35.68,139.77,40",
        "--from",
        "2026-11-25T00:00",
        "--hours",
        "24",
        "--min-elevation",
        "10",
        "-o",
        str(tmp_path / "p.csv"),
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    ours = pcsv.read_csv(tmp_path / "p.csv")
    ts = load.timescale(builtin=True)
    sat = EarthSatellite(*iss, ts=ts)
    tokyo = wgs84.latlon(35.68, 139.77, 40)
    t, events = sat.find_events(tokyo, ts.utc(2026, 11, 25), ts.utc(2026, 11, 26), 10.0)
    rises = [ti.utc_datetime().timestamp() for ti, e in zip(t, events, strict=True) if e == 0]
    rise = ours.column("rise").drop_null().to_numpy().astype("datetime64[ns]").astype(np.int64)
    got = list(rise / 1e9)
    assert len(got) == len(rises) > 0
    assert np.abs(np.array(got) - np.array(rises)).max() < 1.0  # seconds
    bad = run("passes", "--station", "Tokyo", cwd=tmp_path)
    assert bad.returncode == 1 and "is not NAME:LAT,LON[,ALT_M]" in bad.stderr


def test_landing_and_ascent_commands(tmp_path: Path) -> None:
    import json

    out = run("landing", "solve", "--out", str(tmp_path / "land"), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    result = json.loads((tmp_path / "land" / "landing.json").read_text())
    # Acikmese & Ploen (2007) Mars example (free final time): ~399.5 kg, see test_landing.py
    assert (
        "optimal" in out.stdout and abs(float(out.stdout.split("fuel ")[1].split()[0]) - 399.4) < 4
    )
    assert result
    out = run("ascent", "optimize", "--out", str(tmp_path / "asc"), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "asc" / "ascent_trajectory.png").stat().st_size > 1000
    bad = run("landing", "solve", "--r0", "1,2", cwd=tmp_path)
    assert bad.returncode == 1 and "--r0 must be 3 comma-separated numbers" in bad.stderr


def test_conjunction_screen_show_and_cdm(tmp_path: Path, store_path: Path) -> None:
    gen = run(
        "constellation",
        "generate",
        "--altitude-km",
        "550",
        "--inclination-deg",
        "53",
        "--planes",
        "10",
        "--per-plane",
        "10",
        "--epoch",
        "2026-11-25",
        cwd=tmp_path,
    )
    assert gen.returncode == 0, gen.stderr
    deb = run("constellation", "debris", "--count", "300", "--epoch", "2026-11-25", cwd=tmp_path)
    assert deb.returncode == 0, deb.stderr
    out = run(
        "conjunctions",
        "screen",
        "--from",
        "2026-11-25",
        "--days",
        "1",
        "--cdm-dir",
        str(tmp_path / "cdm"),
        "--cdm-min-pc",
        "0",
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    n = int(out.stdout.split(" conjunctions")[0].split()[-1])
    assert n > 0 and len(list((tmp_path / "cdm").iterdir())) == n
    with Store(store_path, read_only=True) as store:
        assert store.count("conjunctions") == n
    shown = run("conjunctions", "show", "--limit", "2", "--sort", "miss", cwd=tmp_path)
    assert shown.returncode == 0 and f"2 of {n} conjunctions" in shown.stdout
    cdm = run("conjunctions", "show", "--cdm", "0", cwd=tmp_path)
    assert cdm.stdout.startswith("CCSDS_CDM_VERS") and "MISS_DISTANCE" in cdm.stdout
    bad = run("conjunctions", "show", "--sort", "size", cwd=tmp_path)
    assert bad.returncode == 1 and "cannot sort by 'size'" in bad.stderr


def test_fit_elements_recovers_an_sgp4_arc(tmp_path: Path, store_path: Path) -> None:
    """An OEM written from a TLE by `propagate` is fitted back to within 10 m (issue bar)."""
    from sgp4.api import Satrec

    iss = [
        "1 25544U 98067A   26328.50000000  .00016717  00000-0  30016-3 0  9994",
        "2 25544  51.6393 114.3422 0006944 101.2341 258.9436 15.50184391484337",
    ]
    (tmp_path / "iss.tle").write_text("\n".join(iss) + "\n")
    run("catalog", "load", str(tmp_path / "iss.tle"), "--no-checksum", cwd=tmp_path)
    oem = tmp_path / "iss.oem"
    out = run(
        "propagate",
        "--norad",
        "25544",
        "--from",
        "2026-11-24T12:00",
        "--to",
        "2026-11-25T12:00",
        "--step",
        "300",
        "--format",
        "oem",
        "-o",
        str(oem),
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    fit = run("fit-elements", str(oem), cwd=tmp_path)
    assert fit.returncode == 0, fit.stderr
    rms_m = float(fit.stderr.split("fit RMS ")[1].split()[0])
    assert rms_m < 10.0
    line1, line2 = fit.stdout.splitlines()[:2]
    assert Satrec.twoline2rv(line1, line2).satnum == 25544
    bad = run("fit-elements", str(tmp_path / "missing.oem"), cwd=tmp_path)
    assert bad.returncode == 1 and "no such file" in bad.stderr
