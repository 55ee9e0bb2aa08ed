"""``starbrain model train|list|show|evaluate`` and ``starbrain predict`` as a user runs them:
real processes on a real store file, with a tiny model trained by the CLI itself."""

from __future__ import annotations

import csv
import json
import math
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from starbrain.store.database import Store

EXE = Path(sys.executable).with_name("starbrain")


def run(*args: str, cwd: Path, db: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200", "STARBRAIN_DB": str(db), "OMP_NUM_THREADS": "2"}
    command = [str(EXE)] if EXE.exists() else [sys.executable, "-m", "starbrain"]
    return subprocess.run(
        [*command, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    """A store with a tiny model (24 satellites x 1 day, 6 held out, 40 epochs) and the
    training sample's element sets stored as the catalogue."""
    from starbrain.models.truth import sample_elements

    tmp = tmp_path_factory.mktemp("cli-model")
    db = tmp / "store.duckdb"
    out = run("model", "train", "--prior", "sgp4", "--satellites", "24", "--days", "1",
              "--epochs", "40", "--held-out", "0.25", "--deep-fraction", "0", "--step-min", "30",
              "--seed", "3", "--name", "tiny", "--plot", str(tmp / "train.png"),
              cwd=tmp, db=db)  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "registered model tiny" in out.stdout and "6 held out" in out.stdout
    assert "held-out all" in out.stdout and "1 d" in out.stdout
    assert (tmp / "train.png").read_bytes()[:4] == b"\x89PNG"
    with Store(db) as store:
        store.append("elements", sample_elements(24, seed=3), source="test")
    yield tmp, db


def test_model_list_and_show(trained: tuple[Path, Path]) -> None:
    tmp, db = trained
    out = run("model", "list", cwd=tmp, db=db)
    assert out.returncode == 0, out.stderr
    assert "tiny" in out.stdout and "orbit-sgp4-residual/2" in out.stdout
    out = run("model", "show", "latest", cwd=tmp, db=db)
    assert out.returncode == 0, out.stderr
    for text in ("tiny", "training data fingerprint:", "truth force model:", '"drag": true',
                 "18 satellites", "SGP4 median", "model median"):  # fmt: skip
        assert text in out.stdout, text
    with Store(db, read_only=True) as store:
        row = store.read("models").to_pylist()[0]
    config = json.loads(row["config_json"])
    assert config["epochs"] == 40 and config["horizon_min"] == 1440.0
    recipe = json.loads(row["data_json"])["recipe"]
    assert recipe["satellites"] == 24 and len(recipe["held_out"]) == 6
    out = run("model", "show", "nope", cwd=tmp, db=db)
    assert out.returncode == 1 and "no model named 'nope'" in out.stderr


def test_model_evaluate_reproduces_the_registered_metrics(trained: tuple[Path, Path]) -> None:
    """Evaluating regenerates the held-out truth from the recorded recipe: the table must
    match the metrics registered at training time (same satellites, same physics)."""
    tmp, db = trained
    png = tmp / "eval.png"
    out = run("model", "evaluate", "tiny", "--plot", str(png), cwd=tmp, db=db)
    assert out.returncode == 0, out.stderr
    assert png.read_bytes()[:4] == b"\x89PNG"
    with Store(db, read_only=True) as store:
        metrics = json.loads(store.read("models").to_pylist()[0]["metrics_json"])
    for r in metrics["held_out"]["all"]:
        assert f"{r['sgp4_median_km'] * 1e3:,.0f} m" in out.stdout
        assert f"{r['model_median_km'] * 1e3:,.0f} m" in out.stdout


@pytest.mark.slow  # ~50 s: the evaluation regenerates the held-out truth
def test_model_list_and_evaluate_as_json(trained: tuple[Path, Path]) -> None:
    """``--format json``: the registry's fields on standard output, the notes on standard error;
    the evaluation's rows carry the metrics registered at training time (same held-out truth)."""
    tmp, db = trained
    out = run("model", "list", "--format", "json", cwd=tmp, db=db)
    assert out.returncode == 0, out.stderr
    (listed,) = json.loads(out.stdout)
    assert listed["name"] == "tiny" and listed["kind"] == "orbit-sgp4-residual/2"
    assert listed["created"].endswith("Z") and listed["n_train"] == 18
    out = run("model", "evaluate", "tiny", "--format", "json", cwd=tmp, db=db)
    assert out.returncode == 0, out.stderr
    assert "model tiny" in out.stderr
    rows = json.loads(out.stdout)
    with Store(db, read_only=True) as store:
        metrics = json.loads(store.read("models").to_pylist()[0]["metrics_json"])
    registered = metrics["held_out"]["all"]
    got = [r for r in rows if r["group"] == "all"]
    assert [r["horizon_min"] for r in got] == [r["horizon_min"] for r in registered]
    for g, want in zip(got, registered, strict=True):
        assert set(g) == {"group", *want}
        for key in ("sgp4_median_km", "model_median_km", "sgp4_p95_km"):
            assert g[key] == pytest.approx(want[key], abs=5e-4), key  # 0.5 m


def test_predict_with_sgp4_matches_python_sgp4(trained: tuple[Path, Path]) -> None:
    """`--model sgp4` is plain SGP4: compared with Vallado's code in python-sgp4 (sgp4init on
    the same elements) to 1 mm."""
    from sgp4.api import WGS72, Satrec

    from starbrain.models.truth import sample_elements

    tmp, db = trained
    csv_path = tmp / "sgp4.csv"
    out = run("predict", "--norad", "300001", "--hours", "6", "--step-min", "60", "--model",
              "sgp4", "--output", str(csv_path), cwd=tmp, db=db)  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "model used: SGP4 alone" in out.stderr
    rows = list(csv.DictReader(csv_path.open()))
    assert len(rows) == 7
    el = sample_elements(24, seed=3).slice(0, 1).to_pylist()[0]
    sat = Satrec()
    epoch = np.datetime64(el["epoch"].replace(tzinfo=None), "ns")
    epoch_days = (epoch - np.datetime64("1949-12-31T00:00:00", "ns")) / np.timedelta64(1, "D")
    sat.sgp4init(
        WGS72, "i", 300001, epoch_days, el["bstar_per_earth_radius"], 0.0, 0.0,
        el["eccentricity"], math.radians(el["arg_of_pericenter_deg"]),
        math.radians(el["inclination_deg"]), math.radians(el["mean_anomaly_deg"]),
        el["mean_motion_rev_per_day"] * 2 * math.pi / 1440.0,
        math.radians(el["ra_of_asc_node_deg"]),
    )  # fmt: skip
    for row in rows:
        e, r, _ = sat.sgp4_tsince(float(row["minutes_since_epoch"]))
        assert e == 0
        got = [float(row[f"{c}_km"]) for c in "xyz"]
        np.testing.assert_allclose(got, r, atol=1e-6)


def test_predict_with_the_model_says_which_and_stays_near_sgp4(trained: tuple[Path, Path]) -> None:
    tmp, db = trained
    paths = {m: tmp / f"{m}.csv" for m in ("latest", "sgp4")}
    for m, path in paths.items():
        out = run("predict", "--norad", "300002", "--hours", "24", "--model", m, "--output",
                  str(path), cwd=tmp, db=db)  # fmt: skip
        assert out.returncode == 0, out.stderr
        assert ("world model 'tiny'" if m == "latest" else "SGP4 alone") in out.stderr
    out = run("predict", "--norad", "300002", "--hours", "24", cwd=tmp, db=db)  # default latest
    assert "model used: world model 'tiny' (registered" in out.stderr
    assert "NORAD 300002" in out.stdout

    def load(path: Path) -> np.ndarray:
        rows = list(csv.DictReader(path.open()))
        return np.array([[float(r[f"{c}_km"]) for c in "xyz"] for r in rows])

    a, b = load(paths["latest"]), load(paths["sgp4"])
    d = np.linalg.norm(a - b, axis=1)
    assert d[0] < 1e-9  # every correction is zero at the epoch
    assert 0 < d.max() < 20.0  # a learned correction, of the size of SGP4's 1-day error
    out = run("predict", "--norad", "999", cwd=tmp, db=db)
    assert out.returncode == 1 and "no element sets stored for NORAD 999" in out.stderr
