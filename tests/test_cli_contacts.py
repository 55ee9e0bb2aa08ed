"""``starbrain contacts plan``: in-process through Typer's runner (fast) and as a real process
(slow), on a real store file, the written plans validated by the independent checker."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pytest
from typer.testing import CliRunner

from starbrain.cli import app
from starbrain.core.errors import StarbrainError
from starbrain.planners.contacts import ContactStation, Fleet, check_plan, contact_problem
from starbrain.planners.passes import KNOWN_STATIONS, GroundStation, sgp4_propagator
from starbrain.sources.generators.constellation import WalkerShell, generate
from starbrain.store.database import Store
from tests.test_cli import run

START = np.datetime64("2024-07-05T12:00", "ns")


def _check_written(path: Path, store_path: Path, n_sat: int) -> dict[str, float]:
    """Every method's plan in the file passes check_plan (elevations re-propagated)."""
    plans = pcsv.read_csv(path)
    assert set(plans.column("method").to_pylist()) == {"greedy", "milp"}
    with Store(store_path) as store:
        elements = store.current_elements()
    assert elements.num_rows == n_sat
    sites = [KNOWN_STATIONS["svalbard"], GroundStation("Turin", 45.07, 7.69, 0.24)]
    stations = [ContactStation(s, 1, 10.0, 100.0, 120.0) for s in sites]
    problem = contact_problem(
        sgp4_propagator(elements),
        Fleet.uniform(elements.column("norad_id").to_numpy(), 20_000.0),
        stations,
        START,
        START + np.timedelta64(6, "h"),
    )
    delivered = {}
    for method in ("greedy", "milp"):
        plan = plans.filter(pc.equal(plans.column("method"), method)).drop_columns(["method"])
        utc = pa.timestamp("ns", tz="UTC")
        plan = plan.set_column(3, "start", plan.column("start").cast(utc))
        plan = plan.set_column(4, "end", plan.column("end").cast(utc))
        assert plan.num_rows > 0
        assert check_plan(plan, problem, sgp4_propagator(elements)) == [], method
        delivered[method] = pc.sum(plan.column("data_mbit")).as_py()
    assert delivered["milp"] >= delivered["greedy"] - 1e-6
    return delivered


def test_contacts_plan_in_process(tmp_path: Path, store_path: Path) -> None:
    shell = WalkerShell(550.0, 70.0, 2, 3, phasing=1)
    with Store(store_path) as store:
        store.append("elements", generate([shell], epoch="2024-07-05"), source="test")
    args = ["contacts", "plan", "--station", "Svalbard", "--station", "Turin:45.07,7.69,240",
            "--setup-s", "120", "--demand-mbit", "20000", "--hours", "6",
            "--from", "2024-07-05T12:00", "--time-limit", "20"]  # fmt: skip
    out = CliRunner().invoke(app, [*args, "-o", str(tmp_path / "plan.csv")])
    assert out.exit_code == 0, out.output
    assert "MILP gain over greedy" in out.output
    _check_written(tmp_path / "plan.csv", store_path, 6)
    bad = CliRunner().invoke(app, ["contacts", "plan", "--station", "Atlantis"])
    assert isinstance(bad.exception, StarbrainError)
    assert "neither a known station" in str(bad.exception)


@pytest.mark.slow
def test_contacts_plan_writes_valid_plans(tmp_path: Path, store_path: Path) -> None:
    gen = run(
        "constellation", "generate", "--altitude-km", "550", "--inclination-deg", "70",
        "--planes", "3", "--per-plane", "4", "--epoch", "2024-07-05",
        "-o", str(tmp_path / "c.tle"), cwd=tmp_path,
    )  # fmt: skip
    assert gen.returncode == 0, gen.stderr  # generating also stores the element sets
    out = run(
        "contacts", "plan", "--station", "Svalbard", "--station", "Turin:45.07,7.69,240",
        "--antennas", "1", "--setup-s", "120", "--demand-mbit", "20000", "--hours", "6",
        "--from", "2024-07-05T12:00", "--time-limit", "20", "-o", str(tmp_path / "plan.csv"),
        cwd=tmp_path,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "MILP gain over greedy" in out.stdout and "milp" in out.stdout
    _check_written(tmp_path / "plan.csv", store_path, 12)
    bad = run("contacts", "plan", "--station", "Atlantis", cwd=tmp_path)
    assert bad.returncode == 1 and "neither a known station" in bad.stderr
