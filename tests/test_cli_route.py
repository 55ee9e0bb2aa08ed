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
