"""``starbrain model train`` on the issue #14 world model (numerical-OD prior + residual): its
defaults are ``WorldModelTrainConfig`` (the bench's), it prints the stratified held-out table and
registers the model with its validity domain."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from starbrain.core.errors import StarbrainError
from starbrain.models.orbit_world import WorldModelTrainConfig, train_config
from starbrain.store.database import Store

EXE = Path(sys.executable).with_name("starbrain")
TINY = ("--train-sats", "3", "--test-sats", "2", "--train-epoch", "2012-03-01T00:00:00",
        "--train-epoch", "2014-06-01T00:00:00", "--test-epoch", "2023-03-01T00:00:00",
        "--days", "0.5", "--truth-degree", "4", "--prior-degree", "4", "--epochs", "20",
        "--step-min", "30", "--workers", "1", "--seed", "2")  # fmt: skip


def _captured_config(monkeypatch: pytest.MonkeyPatch, *args: str) -> Any:
    """The config ``model train ARGS`` would run (the run itself replaced by a stub)."""
    import starbrain.cli.model as cli_model
    from starbrain.cli import app

    seen: dict[str, Any] = {}
    monkeypatch.setattr(
        cli_model, "_train_od_model", lambda cfg, name, workers, fmt: seen.update(cfg=cfg)
    )
    out = CliRunner().invoke(app, ["model", "train", *args])
    assert out.exit_code == 0, out.output
    return seen["cfg"]


def test_defaults_are_the_world_model_config(monkeypatch: pytest.MonkeyPatch) -> None:
    """No options: exactly ``WorldModelTrainConfig()``, the object bench/world_model.py runs."""
    assert _captured_config(monkeypatch) == WorldModelTrainConfig()
    assert train_config() == WorldModelTrainConfig()


def test_options_override_the_config(monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = _captured_config(monkeypatch, *TINY)
    assert (cfg.sats_per_train_epoch, cfg.sats_per_test_epoch, cfg.seed) == (3, 2, 2)
    assert cfg.train_epochs == ("2012-03-01T00:00:00", "2014-06-01T00:00:00")
    assert cfg.test_epochs == ("2023-03-01T00:00:00",)
    assert (cfg.days, cfg.fit_days, cfg.truth_degree, cfg.prior_degree) == (0.5, 0.25, 4, 4)
    assert cfg.residual.epochs == 20 and cfg.residual.n_members == 5
    assert cfg.held_out_regimes == WorldModelTrainConfig().held_out_regimes


def test_bench_runs_the_same_config(monkeypatch: pytest.MonkeyPatch) -> None:
    """``python bench/world_model.py`` with no arguments hands run_world_model the defaults."""
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "bench" / "world_model.py"
    spec = importlib.util.spec_from_file_location("bench_world_model", path)
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)

    class Stop(Exception):
        pass

    def fake_run(cfg: WorldModelTrainConfig, **_kw: Any) -> None:
        assert cfg == WorldModelTrainConfig()
        raise Stop

    monkeypatch.setattr(bench, "run_world_model", fake_run)
    monkeypatch.setattr(sys, "argv", ["world_model.py"])
    with pytest.raises(Stop):
        bench.main()


def test_bad_options_are_one_sentence() -> None:
    from starbrain.cli import app

    out = CliRunner().invoke(app, ["model", "train", "--test-epoch", "2000-01-01T00:00:00"])
    assert isinstance(out.exception, StarbrainError)
    assert "every test epoch must be later than every training epoch" in str(out.exception)
    out = CliRunner().invoke(app, ["model", "train", "--days", "30"])
    assert isinstance(out.exception, StarbrainError)
    assert "--days must be in (0, 14]" in str(out.exception)


@pytest.mark.slow  # a real tiny run: truth for 8 satellites x 12 h, OD fits, residual training
def test_tiny_run_prints_the_stratified_table_and_registers(tmp_path: Path) -> None:
    db = tmp_path / "store.duckdb"
    env = {**os.environ, "COLUMNS": "200", "STARBRAIN_DB": str(db), "OMP_NUM_THREADS": "2"}
    command = [str(EXE)] if EXE.exists() else [sys.executable, "-m", "starbrain"]
    out = subprocess.run([*command, "model", "train", *TINY, "--name", "od-tiny", "--format",
                          "json"], cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=600)  # fmt: skip
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)
    assert "registered model od-tiny" in out.stderr and "EGM2008" in out.stderr
    assert "model train: train epoch 2012-03-01 done (1/3)" in out.stderr  # stages logged
    every = [r for r in rows if r["stratum"] == "all"]
    assert [r["horizon_min"] for r in every] == [60.0, 360.0]  # horizons within 12 h
    assert all(r["n_sat"] == 2 for r in every)
    assert {r["stratum"] for r in rows} >= {"family", "altitude", "regime", "epoch", "solar"}
    for r in rows:  # the ratios are the model's over SGP4's, p95 within 5 % is "ok"
        assert r["median_ratio"] == pytest.approx(r["model_median_km"] / r["sgp4_median_km"])
        assert r["p95_ok"] == (r["model_p95_km"] <= 1.05 * r["sgp4_p95_km"])
    with Store(db, read_only=True) as store:
        (row,) = store.read("models").to_pylist()
    assert row["kind"] == "orbit-od-residual/1" and row["name"] == "od-tiny"
    data = json.loads(row["data_json"])
    assert data["train_config"]["sats_per_train_epoch"] == 3
    assert data["domain"]["max_dt_days"] == pytest.approx(0.25)
    truth_fm = data["truth_force_model"]
    assert (truth_fm["gravity_degree"], truth_fm["density_model"]) == (4, "nrlmsise00")
    metrics = json.loads(row["metrics_json"])
    secs = metrics["seconds"]
    assert secs["cpu_s"] > 0 and secs["main_cpu_s"] > 0
    assert secs["total_s"] >= secs["data_wall_s"] + secs["residual_train_s"]
    for got, want in zip(rows, metrics["stratified"], strict=True):
        assert got["model_median_km"] == pytest.approx(want["model_median_km"], rel=1e-12)
    listed = subprocess.run([*command, "model", "list"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=120)  # fmt: skip
    assert listed.returncode == 0 and "od-tiny" in listed.stdout


def test_model_show_describes_an_od_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``model show`` on an OD world model: prior, valid domain, truth physics, config, table."""
    from starbrain.cli import app
    from starbrain.models.registry import register_od_model
    from tests.planners.test_od_propagator import _residual

    model = _residual(0.25)
    rows = [{"stratum": "all", "label": "all", "horizon_min": 4320.0, "n_sat": 3,
             "sgp4_median_km": 2.0, "sgp4_p95_km": 4.0, "prior_median_km": 0.5,
             "prior_p95_km": 1.0, "model_median_km": 0.4, "model_p95_km": 0.9,
             "median_ratio": 0.2, "p95_ratio": 0.225, "p95_ok": True}]  # fmt: skip
    db = tmp_path / "store.duckdb"
    with Store(db) as store:
        register_od_model(store, "od-show", model, train_config={"prior_degree": 8},
                          truth_force_model_json='{"gravity_degree": 12}',
                          metrics={"stratified": rows})  # fmt: skip
    monkeypatch.setenv("STARBRAIN_DB", str(db))
    monkeypatch.setenv("COLUMNS", "250")
    out = CliRunner().invoke(app, ["model", "show", "latest"])
    assert out.exit_code == 0, (out.output, out.exception)
    text = " ".join(out.output.split())
    for want in ("od-show", "orbit-od-residual/1", "prior: numerical-od:test",
                 "valid for orbit regimes: 300-500 km / 0-40 deg", '"gravity_degree": 12',
                 '"prior_degree": 8', "2,000 m", "400 m", "0.200"):  # fmt: skip
        assert want in text, want
