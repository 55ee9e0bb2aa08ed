"""`starbrain telemetry simulate` and `starbrain anomalies train|detect|report` end to end on a
real store file (in-process through typer's runner, to pay the torch import once)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import starbrain
from starbrain.cli import app
from starbrain.core.errors import StarbrainError
from starbrain.core.schemas.anomalies import ANOMALIES_SCHEMA
from starbrain.store.database import Store


@pytest.mark.usefixtures("store_path")
def test_simulate_train_detect_report(tmp_path: Path, store_path: Path) -> None:
    runner = CliRunner()

    def ok(*args: str) -> str:
        result = runner.invoke(app, list(args), env={"COLUMNS": "200"})
        assert result.exit_code == 0, (args, result.output, result.exception)
        return result.output

    packets = tmp_path / "flight.bin"
    out = ok("telemetry", "simulate", str(packets), "--seed", "9", "--duration", "60",
             "--anomaly", "thrust_loss@30+5=0.25", "--anomaly", "dropout:LV_GNSS@45+2")  # fmt: skip
    assert "2 labelled anomalies" in out and "1200 samples" in out
    labels = tmp_path / "flight.bin.labels.csv"
    assert labels.read_text().count("\n") == 3
    yaml = Path(starbrain.__file__).parent / "sources/telemetry/definitions/launch_vehicle.yaml"
    out = ok("telemetry", "replay", str(packets), "--definitions", str(yaml), "--no-store")
    assert "5960 packets" in out  # 5 x 1200 less 40 GNSS packets

    detector = tmp_path / "det.pt"
    out = ok("anomalies", "train", "--flights", "1", "--calibration", "1", "--duration", "60",
             "--epochs", "1", "--output", str(detector), "--register")  # fmt: skip
    assert "registered model 'launch-vehicle-anomalies'" in out
    out = ok("anomalies", "detect", str(packets), "--detector", str(detector), "--labels",
             str(labels))  # fmt: skip
    assert "thrust_loss" in out and "dropout" in out
    with Store(store_path, read_only=True) as store:
        rows = store.read("anomalies").to_pylist()
        kinds = {r["label"] for r in rows}
        assert {"thrust_loss", "dropout"} <= kinds
        assert any(r["method"] == "rules" and r["parameter"] == "LV_GNSS" for r in rows)
        (model,) = store.read("models").to_pylist()
        assert model["kind"] == "anomaly-detector/1"
    # --format json: the stored rows, the anomalies schema's fields, nothing else on stdout
    args = ["anomalies", "detect", str(packets), "--detector", str(detector), "--labels",
            str(labels), "--no-store", "--format", "json"]  # fmt: skip
    js = runner.invoke(app, args)
    assert js.exit_code == 0, js.output
    found = json.loads(js.stdout)
    assert found and list(found[0]) == ANOMALIES_SCHEMA.names
    assert {r["label"] for r in found} >= {"thrust_loss", "dropout"}

    def key(method: str, parameter: str, start: np.datetime64) -> tuple[str, str, int]:
        return method, parameter, int(start.astype("datetime64[us]").astype(np.int64))

    stored = sorted(key(r["method"], r["parameter"], np.datetime64(r["start"].replace(tzinfo=None)))
                    for r in rows)  # fmt: skip
    assert sorted(key(f["method"], f["parameter"], np.datetime64(f["start"][:-1]))
                  for f in found) == stored  # fmt: skip
    out = ok("anomalies", "report", "--detector", str(detector), "--flights", "1",
             "--per-flight", "2", "--duration", "60")  # fmt: skip
    assert "| telemanom-lstm |" in out and "2 labelled anomalies" in out
    # the same evaluation as rows: the markdown table's numbers, one object per method
    as_json = ok("anomalies", "report", "--detector", str(detector), "--flights", "1",
                 "--per-flight", "2", "--duration", "60", "--format", "json")  # fmt: skip
    report = json.loads(as_json[as_json.index("[") :])
    by_method = {r["method"]: r for r in report}
    lstm = by_method["telemanom-lstm"]
    assert lstm["tp"] + lstm["fn"] == 2  # every labelled anomaly is found or missed
    row = next(line for line in out.splitlines() if line.startswith("| telemanom-lstm |"))
    assert [c.strip() for c in row.strip("|").split("|")][4:] == [
        str(lstm["tp"]),
        str(lstm["fp"]),
        str(lstm["fn"]),
    ]
    assert sum(v for k, v in lstm.items() if k.startswith("total_")) == 2

    bad = runner.invoke(app, ["telemetry", "simulate", str(packets), "--anomaly", "melt@1+1"])
    assert bad.exit_code != 0 and "unknown anomaly kind" in str(bad.exception)


@pytest.mark.parametrize("command", ["train", "report"])
def test_elements_stream_says_not_yet(command: str) -> None:
    """The elements stream is accepted by --stream and gives one clear sentence (a
    StarbrainError, exit 1), not a silent launch-telemetry run."""
    result = CliRunner().invoke(app, ["anomalies", command, "--stream", "elements"])
    assert result.exit_code == 1 and isinstance(result.exception, StarbrainError)
    message = str(result.exception)
    assert "--stream elements` is not wired yet" in message and "\n" not in message


@pytest.mark.usefixtures("store_path")
@pytest.mark.parametrize("stream", ["vehicle", "arm", "compute"])
def test_fleet_streams_need_a_model(stream: str) -> None:
    """A fleet stream with nothing registered says what to train first (one sentence)."""
    result = CliRunner().invoke(app, ["anomalies", "train", "--stream", stream])
    assert result.exit_code == 1 and isinstance(result.exception, StarbrainError)
    assert f"no {stream} world model registered" in str(result.exception)


def test_unknown_stream_is_refused() -> None:
    result = CliRunner().invoke(app, ["anomalies", "train", "--stream", "orbit"])
    assert result.exit_code == 2 and "orbit" in result.output
