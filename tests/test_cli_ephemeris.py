"""`starbrain ephemeris` as a user runs it: a real process, a real store file, real sample files."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from starbrain.sources.ephemerides.oem import read_oem, write_oem_xml
from starbrain.store.database import Store
from tests.sources.test_oem import FIG_5_1, KVN, XML
from tests.sources.test_sp3 import IGS, SP3D, _corrupt_igs
from tests.test_cli import run


def test_load_show_export(tmp_path: Path, store_path: Path) -> None:
    out = run("ephemeris", "load", str(KVN), str(XML), str(IGS), str(SP3D), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert f"{IGS}: 64 states of 32 objects, 64 new, 0 duplicate, 0 bad" in out.stdout
    assert f"{XML}: 6 states of 1 objects, 6 new, 0 duplicate, 0 bad" in out.stdout
    with Store(store_path, read_only=True) as store:
        assert store.count("ephemeris") == 6 + 6 + 64 + 2

    show = run("ephemeris", "show", cwd=tmp_path)
    assert show.returncode == 0 and "78 ephemeris states" in show.stdout
    one = run("ephemeris", "show", "--object", "G01", cwd=tmp_path)
    assert one.returncode == 0 and "G01: 3 states" in one.stdout
    assert "2.029888036" in one.stdout  # SP3-d example 1: 20298.880364 dm/s

    target = tmp_path / "out" / "mgs.xml"
    exp = run(
        "ephemeris", "export", "--object", "1996-062A", "--format", "oem-xml",
        "--source", str(KVN), str(target), cwd=tmp_path,
    )  # fmt: skip
    assert exp.returncode == 0, exp.stderr
    (seg,) = read_oem(target.read_text())[0]
    assert seg.frame == "EME2000" and seg.center == "MARS BARYCENTER"
    np.testing.assert_array_equal(
        np.hstack([seg.r_km, seg.v_kmps]), np.array([r[1:] for r in FIG_5_1])
    )
    no_vel = run("ephemeris", "export", "--object", "G05", str(tmp_path / "g05.oem"), cwd=tmp_path)
    assert no_vel.returncode == 1 and "have no velocity" in no_vel.stderr


def test_corrupt_file_reports_three_bad_and_strict_writes_nothing(
    tmp_path: Path, store_path: Path
) -> None:
    text, bad = _corrupt_igs()
    path = tmp_path / "bad.sp3"
    path.write_text(text)
    strict = run("ephemeris", "load", "--strict", str(path), cwd=tmp_path)
    assert strict.returncode == 1 and "3 bad record(s) and --strict" in strict.stderr
    with Store(store_path) as store:
        assert store.count("ephemeris") == 0
    out = run("ephemeris", "load", str(path), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    reported = [s for s in out.stderr.splitlines() if "bad record" in s]
    assert len(reported) == 3
    for line, field in bad.items():
        assert any(f"bad.sp3:{line}: {field}: " in r for r in reported), (line, reported)
    assert "61 states of 32 objects, 61 new, 0 duplicate, 3 bad" in out.stdout


def test_fit_elements_reads_oem_xml(tmp_path: Path) -> None:
    """An OEM XML written from python-sgp4 states (TEME) is fitted back to metres."""
    from sgp4.api import Satrec

    sat = Satrec.twoline2rv(  # the ISS example of CelesTrak's TLE format documentation
        "1 25544U 98067A   08264.51782528 -.00002182  00000-0 -11606-4 0  2927",
        "2 25544  51.6416 247.4627 0006703 130.5360 325.0288 15.72125391563537",
    )
    minutes = np.arange(0.0, 180.0, 5.0)
    jd = np.full(minutes.shape, sat.jdsatepoch)
    fr = sat.jdsatepochF + minutes / 1440.0
    err, r, v = sat.sgp4_array(jd, fr)
    assert (err == 0).all()
    epoch = np.datetime64("1949-12-31T00:00:00", "ns") + np.timedelta64(
        round((sat.jdsatepoch - 2433281.5 + sat.jdsatepochF) * 86400e9), "ns"
    )
    times = epoch + (minutes * 60e9).astype("timedelta64[ns]")
    path = tmp_path / "arc.xml"
    path.write_text(write_oem_xml(times, r[None], v[None], ["SAT"], [str(sat.satnum)]))
    out = run("fit-elements", str(path), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    rms_m = float(re.search(r"fit RMS ([0-9.]+) m", out.stderr)[1])  # type: ignore[index]
    assert rms_m < 1.0, out.stderr
    # the fit gives back the TLE the states came from, to the printed digits
    line2 = out.stdout.splitlines()[1]
    assert line2[:51] == "2 25544  51.6416 247.4627 0006703 130.5360 325.0288"


def test_unreadable_inputs_are_one_sentence_not_a_traceback(
    tmp_path: Path, store_path: Path
) -> None:
    """Issue #12: '#c' with --format sp3 raised IndexError; corrupt gzip raised zlib.error; a
    file expanding past STARBRAIN_MAX_DECOMPRESSED_MB was read whole."""
    import gzip

    hash_c = tmp_path / "short.sp3"
    hash_c.write_text("#c\n")
    bad_gz = tmp_path / "bad.sp3.gz"
    blob = bytearray(gzip.compress(IGS.read_bytes()))
    blob[10:14] = bytes(b ^ 0xA5 for b in blob[10:14])  # break the first deflate block
    bad_gz.write_bytes(bytes(blob))
    bomb = tmp_path / "bomb.sp3.gz"
    bomb.write_bytes(gzip.compress(IGS.read_bytes() * 200))  # 1.1 MB of SP3 text
    cases = [
        (["--format", "sp3", str(hash_c)], f"{hash_c}: not an SP3 file", {}),
        ([str(bad_gz)], f"{bad_gz}: the gzip data is corrupt", {}),
        ([str(bomb)], "expands to more than 1 MiB", {"STARBRAIN_MAX_DECOMPRESSED_MB": "1"}),
    ]
    for args, message, env in cases:
        out = run("ephemeris", "load", *args, cwd=tmp_path, env=env)
        assert out.returncode == 1, (args, out.stderr)
        assert message in out.stderr and "Traceback" not in out.stderr, out.stderr
    with Store(store_path) as store:
        assert store.count("ephemeris") == 0
    ok = run("ephemeris", "load", str(bomb), cwd=tmp_path)  # under the 1024 MiB default
    assert ok.returncode == 0, ok.stderr
