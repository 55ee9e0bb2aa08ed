"""``starbrain fit-elements --window-hours/--bstar/--bstar-bounds`` and ``starbrain model evaluate
--truth/--from-store`` in process (typer's runner), on ephemerides made by Skyfield's SGP4 and
frames from real Vallado TLEs (tests/models/peer_truth.py)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from starbrain.cli import app
from starbrain.core.errors import StarbrainError
from tests.models.peer_truth import peer_oem, peer_sp3
from tests.models.test_truth_eval import BSTAR_28057, LEO, _manoeuvred_oem
from tests.sources.test_sp3 import IGS

RUNNER = CliRunner()


def _cli(*args: str) -> tuple[int, str, str, BaseException | None]:
    res = RUNNER.invoke(app, list(args))
    return res.exit_code, res.stdout, res.stderr, res.exception


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("peer-cli")
    out = {"oem": tmp / "leo.oem", "sp3": tmp / "gps.sp3", "tmp": tmp}
    out["oem"].write_text(peer_oem(LEO, 72.0, 10.0, "gcrs"))
    out["sp3"].write_text(peer_sp3(28129, "G51", 48.0, 15.0))
    return out


def _omm_bstar(stdout: str) -> float:
    return float(json.loads(stdout)[0]["BSTAR"])


def test_fit_elements_window_hours(tmp_path: Path) -> None:
    """--window-hours 6 fits the states before a 30 km jump to under 1 cm (without the window
    the fit cannot follow the jump: km, tests/models/test_truth_eval.py)."""
    path = _manoeuvred_oem(tmp_path)
    code, _, err, exc = _cli("fit-elements", str(path), "--window-hours", "6")
    assert code == 0, exc
    window_m = float(re.search(r"fit RMS ([\d.]+) m", err).group(1))  # type: ignore[union-attr]
    assert window_m < 0.01


def test_fit_elements_fixed_and_bounded_bstar(tmp_path: Path) -> None:
    """--bstar holds B*; --bstar-bounds keeps the fitted B* inside [LO, HI]; bad values name the
    option."""
    path = _manoeuvred_oem(tmp_path)
    code, out, _, _ = _cli("fit-elements", str(path), "--window-hours", "6", "--bstar", "2e-4",
                           "--format", "omm-json")  # fmt: skip
    assert code == 0 and _omm_bstar(out) == pytest.approx(2e-4, rel=1e-12)
    code, out, _, _ = _cli("fit-elements", str(path), "--window-hours", "6", "--bstar-bounds",
                           "1e-4,3e-4", "--format", "omm-json")  # fmt: skip
    assert code == 0 and 1e-4 <= _omm_bstar(out) <= 3e-4
    code, out, _, _ = _cli("fit-elements", str(path), "--window-hours", "6", "--bstar-bounds",
                           "0,1e-3", "--format", "omm-json")  # fmt: skip
    assert code == 0 and _omm_bstar(out) == pytest.approx(BSTAR_28057, rel=0.05)
    for bad, why in ((["--bstar-bounds", "3e-4"], "expected LO,HI"),
                     (["--bstar-bounds", "3e-4,1e-4"], "need finite LO <= HI"),
                     (["--bstar", "1e-4", "--bstar-bounds", "0,1"], "not both"),
                     (["--window-hours", "0"], "--window-hours must be positive")):  # fmt: skip
        code, _, _, exc = _cli("fit-elements", str(path), *bad)
        assert isinstance(exc, StarbrainError) and why in str(exc), (bad, exc)


def test_model_evaluate_on_files_table_json_and_png(files: dict[str, Path]) -> None:
    """Two OEM objects and one SP3 satellite evaluated in one call; the 2-epoch IGS excerpt and a
    missing file are reported by name; json rows carry the per-horizon numbers."""
    png = files["tmp"] / "eval.png"
    missing = files["tmp"] / "absent.oem"
    args = ["model", "evaluate", "--truth", str(files["oem"]), "--truth", str(files["sp3"]),
            "--truth", str(IGS), "--truth", str(missing), "--fit-hours", "12",
            "--horizons", "1,24,72"]  # fmt: skip
    code, out, err, exc = _cli(*args, "--plot", str(png))
    assert code == 0, (err, exc)
    assert f"{missing}: no such file" in err
    assert f"{IGS}: object G01: a fit needs at least 4 states in the first 12 h (has 2)" in err
    assert "28057 (" in out and "G51 (" in out and "SGP4 fitted to 73 states" in out
    assert "position error vs your truth" in out and "3 d" in out
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_model_evaluate_on_files_as_json(files: dict[str, Path]) -> None:
    args = ["model", "evaluate", "--truth", str(files["oem"]), "--truth", str(files["sp3"]),
            "--fit-hours", "12", "--horizons", "1,24,72"]  # fmt: skip
    code, out, _, _ = _cli(*args, "--format", "json")
    assert code == 0
    rows = json.loads(out)
    assert [r["horizon_h"] for r in rows] == [1.0, 24.0, 72.0]
    assert [r["n_objects"] for r in rows] == [3, 3, 2]  # the SP3 arc ends at 48 h
    assert max(r["sgp4_p95_km"] for r in rows) < 1e-3  # peer SGP4 truth: under 1 m


def test_model_evaluate_from_store_with_a_model(files: dict[str, Path], store_path: Path) -> None:
    """What `ephemeris load` stored, by object id; an untrained registered model is exactly its
    SGP4 prior, so its errors equal SGP4's (ratio 1.00); an id with no ephemeris is named."""
    import torch

    from starbrain.models.orbit_model import OrbitModelConfig, OrbitWorldModel
    from starbrain.models.registry import register_model
    from starbrain.store.database import Store

    code, _, err, _ = _cli("ephemeris", "load", str(files["oem"]), str(files["sp3"]))
    assert code == 0, err
    torch.manual_seed(0)
    with Store(store_path) as store:
        register_model(store, "untrained", OrbitWorldModel(OrbitModelConfig(epochs=1)))
    code, out, err, exc = _cli("model", "evaluate", "--from-store", "28057,G51", "--from-store",
                               "99999", "--model", "untrained", "--fit-hours", "12",
                               "--horizons", "6,24", "--format", "csv")  # fmt: skip
    assert code == 0, (err, exc)
    assert "no ephemeris stored for object 99999" in err
    lines = out.strip().splitlines()
    assert lines[0].split(",")[:2] == ["horizon_h", "n_objects"] and "median_ratio" in lines[0]
    for line in lines[1:]:
        row = dict(zip(lines[0].split(","), line.split(","), strict=True))
        assert row["n_objects"] == "2" and float(row["median_ratio"]) == pytest.approx(1.0, 1e-6)
        assert row["prior"] == "sgp4" and row["n_fell_back"] == "0"  # SGP4 + residual
    assert err.count("model prior sgp4, fell back: no") == 2
    code, _, _, exc = _cli("model", "evaluate", "--from-store", "99999")
    assert isinstance(exc, StarbrainError) and "no object has enough truth" in str(exc)
    code, _, _, exc = _cli("model", "evaluate")
    assert isinstance(exc, StarbrainError) and "give --truth FILE" in str(exc)
