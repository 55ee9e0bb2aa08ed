"""``starbrain compute``: simulate into the store, schedule as csv/json, and collect's no-GPU
sentence (no GPU on the machines these tests run on)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from starbrain.cli import app
from starbrain.sources.compute import gpu_status
from starbrain.store import Store


def test_simulate_loads_the_compute_stream(store_path: Path) -> None:
    out = CliRunner().invoke(
        app, ["compute", "simulate", "--racks", "1", "--minutes", "0.5", "--load",
              "--format", "json"],
    )  # fmt: skip
    assert out.exit_code == 0, out.output
    rows = json.loads(out.stdout[out.stdout.index("[") :])
    assert rows[0]["gpus"] == 32 and 20 < rows[0]["mean_gpu_temp_c"] < 90
    with Store(store_path) as store:
        assert store.read("compute").num_rows == 30 * 32


def test_schedule_csv_has_the_four_policies_and_starbrain_under_budget() -> None:
    out = CliRunner().invoke(
        app, ["compute", "schedule", "--jobs", "40", "--gpus", "4000",
              "--ramp-frac-per-min", "0.25", "--format", "csv"],
    )  # fmt: skip
    assert out.exit_code == 0, out.output
    rows = list(csv.DictReader(io.StringIO(out.stdout)))
    assert [r["policy"] for r in rows] == ["nocap", "uniform60", "zeus", "starbrain"]
    assert float(rows[3]["energy_mwh"]) < float(rows[0]["energy_mwh"])


def test_schedule_placed_baselines_stay_within_the_budget() -> None:
    out = CliRunner().invoke(
        app, ["compute", "schedule", "--jobs", "60", "--gpus", "4000", "--placed",
              "--ramp-frac-per-min", "0.25", "--format", "json"],
    )  # fmt: skip
    assert out.exit_code == 0, out.output
    rows = json.loads(out.stdout[out.stdout.index("[") :])
    assert [(r["policy"], r["start"]) for r in rows] == [
        ("nocap", "now"), ("uniform60", "now"), ("zeus", "now"), ("nocap", "placed"),
        ("uniform60", "placed"), ("zeus", "placed"), ("starbrain", "placed"),
    ]  # fmt: skip
    budget = 0.55 * rows[0]["peak_site_mw"]  # no cap, all now: the uncapped draw
    assert rows[0]["peak_site_mw"] > budget
    assert all(r["peak_site_mw"] <= budget * (1 + 1e-9) for r in rows[3:])


def test_collect_without_a_gpu_is_one_sentence_and_exit_1() -> None:
    if gpu_status()[0]:
        return  # a GPU machine: nothing to check here
    from starbrain.core.errors import StarbrainError

    out = CliRunner().invoke(app, ["compute", "collect", "--seconds", "1"])
    # the StarbrainError that starbrain.cli.main prints as one line and exits 1 on
    assert out.exit_code == 1 and isinstance(out.exception, StarbrainError)
    assert "no NVIDIA driver" in str(out.exception)


@pytest.mark.slow
def test_train_prints_the_60s_forecast_table() -> None:
    out = CliRunner().invoke(app, ["compute", "train", "--minutes", "8", "--format", "json"])
    assert out.exit_code == 0, out.output
    rows = {r["stratum"]: r for r in json.loads(out.stdout)}
    assert set(rows) == {"all", "healthy", "pump"}
    # measured: 1.02 (model) vs 3.19 (single-node RC) deg C overall
    assert rows["all"]["rmse_model_c"] < 0.5 * rows["all"]["rmse_rc_c"]
