"""The README tour `telemetry simulate flight.bin` then `telemetry replay flight.bin`, as a user
runs it: the replay finds the definitions the file was made with, stores every value once, and a
second replay stores nothing and says so. The tour's replays run as real processes on a real
store file; the simulation and the variations run in-process (typer's runner) to pay the
imports once."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from starbrain.cli import app
from starbrain.core.errors import StarbrainError
from starbrain.store.database import Store
from tests.test_cli import run

# 20 s at 10 Hz: 200 samples of each of the 5 packets, 50 parameters in all
# (launch_vehicle.yaml), so 200 * 50 values and 1000 packets.
SAMPLES, PARAMETERS, PACKETS = 200, 50, 5
SIMULATE = ("telemetry", "simulate", "flight.bin", "--duration", "20", "--rate", "10")


def _count(store_path: Path) -> int:
    with Store(store_path, read_only=True) as store:
        return store.count("telemetry")


# -- in-process variations ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("flight")
    result = CliRunner().invoke(app, [*SIMULATE[:2], str(folder / "flight.bin"), *SIMULATE[3:]])
    assert result.exit_code == 0, result.output
    return folder


@pytest.fixture
def flight(simulated: Path, tmp_path: Path, store_path: Path) -> Path:
    for name in ("flight.bin", "flight.bin.definitions.yaml"):
        shutil.copy(simulated / name, tmp_path / name)
    return tmp_path / "flight.bin"


def _replay(*args: str) -> str:
    result = CliRunner().invoke(app, ["telemetry", "replay", *args], env={"COLUMNS": "200"})
    assert result.exit_code == 0, (result.output, result.exception)
    return result.output


def test_readme_tour_replay_stores_once(flight: Path, store_path: Path) -> None:
    tmp_path = flight.parent
    assert (tmp_path / "flight.bin.definitions.yaml").is_file()

    first = run("telemetry", "replay", "flight.bin", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "recorded in flight.bin.definitions.yaml" in first.stdout
    assert f"stored {SAMPLES * PARAMETERS} parameter values" in first.stdout
    assert f"{SAMPLES * PACKETS} packets" in first.stdout
    assert "unknown_apid" not in first.stdout and "missing_packets" not in first.stdout
    assert _count(store_path) == SAMPLES * PARAMETERS

    again = run("telemetry", "replay", "flight.bin", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert "flight.bin was already stored" in again.stdout
    assert "nothing new stored" in again.stdout
    assert "missing_packets" not in again.stdout and "stored 0" not in again.stdout
    assert _count(store_path) == SAMPLES * PARAMETERS


def test_same_bytes_under_another_name_are_already_stored(flight: Path, store_path: Path) -> None:
    _replay(str(flight))
    copy = flight.with_name("copy.bin")
    copy.write_bytes(flight.read_bytes())
    out = _replay(str(copy))
    assert f"already stored as {flight}" in out
    assert _count(store_path) == SAMPLES * PARAMETERS


def test_replay_without_the_sidecar_detects_the_bundled_definitions(
    flight: Path, store_path: Path
) -> None:
    flight.with_name("flight.bin.definitions.yaml").unlink()
    out = _replay(str(flight))
    assert "definitions launch_vehicle (bundled" in out
    assert "every APID seen in the file" in out
    assert _count(store_path) == SAMPLES * PARAMETERS


def test_nothing_stored_fails_and_says_why(flight: Path, store_path: Path) -> None:
    from starbrain.sources.telemetry.packets import example_definitions_path

    result = CliRunner().invoke(
        app,
        ["telemetry", "replay", str(flight), "--definitions", str(example_definitions_path())],
        env={"COLUMNS": "200"},
    )
    assert result.exit_code != 0 and isinstance(result.exception, StarbrainError)
    assert f"unknown_apid {SAMPLES * PACKETS}" in result.output  # one per packet
    why = str(result.exception)
    assert f"stored nothing from {flight}" in why
    assert "0x200 (200 packets)" in why and "0x204 (200 packets)" in why
    assert "example_launcher defines 0x100, 0x101, 0x102, 0x103" in why
    assert _count(store_path) == 0
    # the failed replay left no ledger row: the right definitions still store the file
    _replay(str(flight))
    assert _count(store_path) == SAMPLES * PARAMETERS


def test_file_holding_its_packets_twice(flight: Path, store_path: Path) -> None:
    """A recording concatenated with itself: each packet stored once, the repeats dropped as
    duplicates, not read as 16383-packet sequence gaps."""
    twice = flight.with_name("twice.bin")
    twice.write_bytes(flight.read_bytes() * 2)
    out = _replay(str(twice), "--definitions", str(flight.with_name("flight.bin.definitions.yaml")))
    assert f"stored {SAMPLES * PARAMETERS} parameter values" in out
    assert f"duplicates {SAMPLES * PACKETS}" in out
    assert "missing_packets" not in out and "seq_gaps" not in out
    assert _count(store_path) == SAMPLES * PARAMETERS
