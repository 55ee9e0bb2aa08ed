"""``starbrain route`` as a user runs it: a real process, a CSV file read back."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

EXE = Path(sys.executable).with_name("starbrain")


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    command = [str(EXE)] if EXE.exists() else [sys.executable, "-m", "starbrain"]
    return subprocess.run(
        [*command, *args],
        cwd=cwd,
        env={**os.environ, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_route_prints_the_summary_and_writes_every_snapshot(tmp_path: Path) -> None:
    out_csv = tmp_path / "route.csv"
    args = ["--from", "Manila", "--to", "Dalian", "--hours", "0.005", "--shell", "1"]
    args += ["--start", "2026-01-01T00:00:00", "--output", str(out_csv)]
    out = run("route", *args, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "Manila -> Dalian" in out.stdout and "1584 satellites" in out.stdout
    assert "180 snapshots every 100 ms" in out.stdout
    assert "wrote 180 snapshots" in out.stderr
    with out_csv.open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 180
    rtt = np.array([float(r["rtt_ms"]) for r in rows])
    # the printed summary is the file's: min / median / max to 0.01 ms
    line = next(x for x in out.stdout.splitlines() if x.startswith("RTT min / median / max"))
    printed = [float(x) for x in line.split(":")[1].split("ms")[0].split("/")]
    np.testing.assert_allclose(printed, [rtt.min(), np.median(rtt), rtt.max()], atol=0.006)
    # Manila - Dalian is 2,704 km: fibre at c / 1.4682 takes 26.48 ms there and back
    assert "great circle 2704 km: fibre RTT 26.48 ms" in out.stdout
    assert 18.04 < rtt.min() and rtt.max() < 40.0


def test_route_errors_are_one_sentence(tmp_path: Path) -> None:
    out = run("route", "--from", "Atlantis", "--to", "Dalian", cwd=tmp_path)
    assert out.returncode == 1
    assert "error:" in out.stderr and "neither a known city" in out.stderr
    assert "Traceback" not in out.stderr
    out = run("route", "--from", "Tokyo", "--to", "Paris", "--shell", "9", cwd=tmp_path)
    assert out.returncode == 1 and "no shell 9" in out.stderr


# --------------------------------------------------------------------------------------------
# Hypatia's Kuiper-630, through the three ways in: its preset, its TLE file, the catalogue

HYPATIA = Path(__file__).parent / "data" / "hypatia-kuiper630"


def _hypatia_rtt_ms(n: int) -> np.ndarray:
    """Hypatia's Manila -> Dalian RTT (ms) for its first ``n`` 100 ms snapshots."""
    data = np.loadtxt(HYPATIA / "networkx_rtt_1173_to_1241.txt", delimiter=",")
    assert np.array_equal(data[:n, 0], np.arange(n) * 1e8)
    return data[:n, 1] / 1e6


def _rtt_column(path: Path) -> np.ndarray:
    with path.open() as f:
        return np.array([float(r["rtt_ms"]) for r in csv.DictReader(f)])


def test_route_hypatia_preset_matches_hypatias_rtt(tmp_path: Path) -> None:
    out_csv = tmp_path / "kuiper.csv"
    args = ["--preset", "hypatia-kuiper-630", "--from", "Manila", "--to", "Dalian"]
    out = run("route", *args, "--seconds", "30", "-o", str(out_csv), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "Hypatia's Kuiper-630 (1156 satellites, +Grid ISLs), 300 snapshots" in out.stdout
    assert "from 2000-01-01T00:00:00Z, GSL range <= 1260 km, cities on WGS72" in out.stdout
    assert "path changes: 2" in out.stdout  # Hypatia: at 18.0 s and 27.6 s
    rtt = _rtt_column(out_csv)
    ref = _hypatia_rtt_ms(300)
    ok = np.ones(300, dtype=bool)
    ok[275] = False  # our change to Hypatia's 27.6 s path comes one snapshot early (27.5 s)
    np.testing.assert_allclose(rtt[ok], ref[ok], rtol=0, atol=2e-3)  # 2 us (0.1 ms asked)
    assert abs(rtt[275] - ref[275]) > 10.0  # there the two measure different paths


RULE = ["--max-gsl-km", "1260", "--ellipsoid", "wgs72", "--seconds", "2"]
PAIR = ["--from", "Manila", "--to", "Dalian"]


def _tle_files(tmp_path: Path) -> None:
    from starbrain.planners.routing_networks import hypatia_tles

    text = hypatia_tles()
    (tmp_path / "tles.txt").write_text(text)  # with Hypatia's "34 34" first line
    (tmp_path / "bare.txt").write_text(text.split("\n", 1)[1])


def test_route_over_a_tle_file(tmp_path: Path) -> None:
    _tle_files(tmp_path)
    out = run("route", *PAIR, "--tle", "tles.txt", *RULE, "-o", "a.csv", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "tles.txt (1156 satellites" in out.stdout and "GSL range <= 1260 km" in out.stdout
    rtt = _rtt_column(tmp_path / "a.csv")
    np.testing.assert_allclose(rtt, _hypatia_rtt_ms(20), rtol=0, atol=2e-3)


def test_route_over_the_catalogue(tmp_path: Path) -> None:
    """The catalogue, in NORAD order 1..1156 (Hypatia's ids + 1), laid out again by orbit."""
    _tle_files(tmp_path)
    env_db = {"STARBRAIN_DB": str(tmp_path / "sb.duckdb")}
    loaded = subprocess.run(
        [*_command(), "catalog", "load", "bare.txt"],
        cwd=tmp_path,
        env={**os.environ, **env_db},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert loaded.returncode == 0, loaded.stderr
    args = ["--catalog", "--norad", "1-1156", "--grid", "34x34", *RULE, "-o", "b.csv"]
    out = subprocess.run(
        [*_command(), "route", *PAIR, *args],
        cwd=tmp_path,
        env={**os.environ, **env_db, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    assert "catalogue (1156 satellites" in out.stdout
    rtt = _rtt_column(tmp_path / "b.csv")
    np.testing.assert_allclose(rtt, _hypatia_rtt_ms(20), rtol=0, atol=2e-3)


def test_route_network_errors_are_one_sentence(tmp_path: Path) -> None:
    _tle_files(tmp_path)
    pair = PAIR
    out = run("route", *pair, "--tle", "bare.txt", cwd=tmp_path)
    assert out.returncode == 1 and "say how its satellites form a grid" in out.stderr
    out = run("route", *pair, "--tle", "bare.txt", "--grid", "30x30", cwd=tmp_path)
    assert out.returncode == 1 and "but a 30x30 grid needs 900" in out.stderr
    out = run("route", *pair, "--catalog", cwd=tmp_path)
    assert out.returncode == 1 and "--catalog needs --norad" in out.stderr
    out = run("route", *pair, "--catalog", "--norad", "9-3", "--grid", "1x7", cwd=tmp_path)
    assert out.returncode == 1 and "--norad must be catalogue numbers" in out.stderr
    out = run("route", *pair, "--max-gsl-km", "-3", cwd=tmp_path)
    assert out.returncode == 1 and "maximum GSL length" in out.stderr
    assert "Traceback" not in out.stderr


def _command() -> list[str]:
    return [str(EXE)] if EXE.exists() else [sys.executable, "-m", "starbrain"]
