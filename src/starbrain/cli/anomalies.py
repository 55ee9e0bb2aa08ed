"""``starbrain anomalies``: train anomaly detectors, detect, report, on any stream.

``--stream`` picks the fleet: ``telemetry`` (launch-vehicle packets, the detectors of
:mod:`starbrain.models.anomaly.detector`); ``vehicle``, ``arm`` and ``compute`` (the stored
stream scored by its registered world model's residual plus limit rules,
:mod:`starbrain.models.anomaly.fleet_detector`, through :mod:`starbrain.cli._fleet_anomalies`);
``elements`` is accepted and says clearly that it is not wired yet."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from starbrain.cli._common import (
    FormatOption,
    OutputFormat,
    _open_store,
    _progress,
    app,
    console,
    err_console,
)
from starbrain.core.errors import StarbrainError

if TYPE_CHECKING:
    import pyarrow as pa

    from starbrain.models.anomaly.data import TelemetryFrame
    from starbrain.models.anomaly.detector import AnomalyDetector

anomalies_app = typer.Typer(
    help="Anomaly detection from the world models' residuals (--stream picks the fleet: "
    "telemetry, vehicle, arm, compute).",
    no_args_is_help=True,
)
app.add_typer(anomalies_app, name="anomalies")

DETECTOR_FILE = "anomaly-detector.pt"


class AnomalyStream(StrEnum):
    telemetry = "telemetry"
    vehicle = "vehicle"
    arm = "arm"
    compute = "compute"
    elements = "elements"


StreamOption = Annotated[
    AnomalyStream,
    typer.Option(
        "--stream",
        help="Which fleet's stream: telemetry (launch vehicle), vehicle, arm, compute, elements.",
        case_sensitive=False,
    ),
]


FLEET_STREAMS = ("vehicle", "arm", "compute")
ModelOption = Annotated[
    str | None,
    typer.Option("--model", help="Fleet streams: the world model (default: the fleet's newest)."),
]
ObjectOption = Annotated[
    str | None, typer.Option("--object", help="Fleet streams: one vehicle, arm or GPU id.")
]
SinceOption = Annotated[
    str | None, typer.Option("--since", help="Fleet streams: rows from this UTC time.")
]
UntilOption = Annotated[
    str | None, typer.Option("--until", help="Fleet streams: rows before this UTC time.")
]


def _dispatch(stream: AnomalyStream, command: str) -> bool:
    """False for the launch-telemetry stream, True for a fleet stream (vehicle, arm, compute);
    ``elements`` raises the one-sentence "not yet" error."""
    if stream is AnomalyStream.telemetry:
        return False
    if stream.value in FLEET_STREAMS:
        return True
    raise StarbrainError(
        f"`starbrain anomalies {command} --stream {stream.value}` is not wired yet: orbit "
        "anomalies come from the elements stream's own detector; --stream telemetry, vehicle, "
        "arm and compute work now"
    )


def _default_detector_path() -> Path:
    from starbrain.config import settings

    return settings().data_dir / "models" / DETECTOR_FILE


def _simulate_frames(
    seeds: list[int], duration: float, rate: float, n_anomalies: int, what: str
) -> list[tuple[TelemetryFrame, pa.Table]]:
    from starbrain.models.anomaly.data import frame_from_flight
    from starbrain.physics.flight_sim import FlightConfig, random_anomalies, simulate_flight

    out = []
    with _progress(what, len(seeds)) as (progress, task):
        for s in seeds:
            anomalies = random_anomalies(s, n_anomalies, duration) if n_anomalies else ()
            f = simulate_flight(FlightConfig(seed=s, duration_s=duration, rate_hz=rate,
                                             anomalies=anomalies))  # fmt: skip
            out.append((frame_from_flight(f), f.labels))
            progress.advance(task)  # type: ignore[arg-type]
    return out


def _load_detector(path: Path | None) -> AnomalyDetector:
    from starbrain.models.anomaly.detector import AnomalyDetector

    return AnomalyDetector.load(path or _default_detector_path())


@anomalies_app.command("train")
def anomalies_train(
    flights: Annotated[int, typer.Option(help="Nominal training flights to simulate.")] = 6,
    calibration: Annotated[
        int, typer.Option(help="Further nominal flights that set the threshold floors.")
    ] = 2,
    seed: Annotated[int, typer.Option(help="Seed of the first training flight.")] = 1000,
    duration: Annotated[float, typer.Option(help="Flight duration (s).")] = 400.0,
    rate: Annotated[float, typer.Option(help="Sample rate (Hz).")] = 20.0,
    epochs: Annotated[int, typer.Option(help="LSTM training epochs.")] = 6,
    output: Annotated[
        Path | None, typer.Option(help="Detector file; default $STARBRAIN_DATA/models/.")
    ] = None,
    register: Annotated[
        bool,
        typer.Option(
            help="Also record the detector in the store's model registry (kind "
            "anomaly-detector/1, the detector file as its weights)."
        ),
    ] = False,
    name: Annotated[
        str | None,
        typer.Option(help="Registry name (default launch-vehicle-anomalies, or STREAM-anomalies)."),
    ] = None,
    stream: StreamOption = AnomalyStream.telemetry,
    model: ModelOption = None,
    obj: ObjectOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Train the detectors on simulated nominal flights (anomalies are never seen in training);
    with --stream vehicle|arm|compute: calibrate the residual scorer and limit rules on the
    stored nominal rows against the fleet's registered world model, and register them."""
    import dataclasses
    import time

    from starbrain.models.anomaly.detector import AnomalyDetector, DetectorConfig

    if _dispatch(stream, "train"):
        from starbrain.cli import _fleet_anomalies

        return _fleet_anomalies.train(stream.value, model, name, obj, since, until, fmt)
    name = name or "launch-vehicle-anomalies"
    if flights < 1 or calibration < 1:
        raise StarbrainError("need at least one training and one calibration flight")
    seeds = list(range(seed, seed + flights + calibration))
    frames = [f for f, _ in _simulate_frames(seeds, duration, rate, 0, "simulating")]
    cfg = DetectorConfig()
    cfg = dataclasses.replace(
        cfg,
        forecaster=dataclasses.replace(cfg.forecaster, epochs=epochs),
        sigma_forecaster=dataclasses.replace(cfg.sigma_forecaster, epochs=epochs),
    )
    started = time.perf_counter()
    n_groups, n_forecasters = 5, 2  # telemanom-lstm and residual-sigma
    with _progress("training", epochs * n_groups * n_forecasters) as (progress, task):
        det = AnomalyDetector.train(
            frames[:flights],
            frames[flights:],
            cfg,
            progress=lambda: progress.advance(task),  # type: ignore[arg-type]
        )
    elapsed = time.perf_counter() - started
    det.metadata.update({"train_seeds": seeds[:flights], "calibration_seeds": seeds[flights:],
                         "duration_s": duration, "rate_hz": rate, "train_s": elapsed})  # fmt: skip
    path = det.save(output or _default_detector_path())
    console.print(
        f"trained {', '.join(det.methods)} on {flights} flights (+{calibration} calibration) "
        f"in {elapsed:.1f} s; saved {path}",
        highlight=False,
    )
    if register:
        _register(det, name)


def _register(det: AnomalyDetector, name: str) -> None:
    import json

    import numpy as np
    import pyarrow as pa

    from starbrain.core import timeconv
    from starbrain.core.schemas.registry import MODELS_SCHEMA
    from starbrain.models.anomaly.detector import KIND

    device = str(det.forecaster.device) if det.forecaster is not None else "cpu"
    row = {
        "name": [name],
        "created": pa.array(np.array([timeconv.utc_now()], "datetime64[ns]"),
                            pa.timestamp("ns", tz="UTC")),
        "kind": [KIND],
        "config_json": [det.config.to_json()],
        "data_fingerprint": [None],
        "data_json": [json.dumps(det.metadata, sort_keys=True, default=str)],
        "metrics_json": [None],
        "device": [device],
        "weights": [det.to_bytes()],
    }  # fmt: skip
    with _open_store() as db:
        db.append("models", pa.Table.from_pydict(row, schema=MODELS_SCHEMA), source=f"model:{name}")
        console.print(f"registered model {name!r} in {db.path}", highlight=False)


@anomalies_app.command("detect")
def anomalies_detect(
    packets: Annotated[
        Path | None, typer.Argument(help="A recorded packet file (launch-vehicle telemetry).")
    ] = None,
    detector: Annotated[Path | None, typer.Option(help="Detector file.")] = None,
    labels: Annotated[
        Path | None, typer.Option(help="Ground-truth labels (from telemetry simulate).")
    ] = None,
    method: Annotated[
        list[str] | None, typer.Option(help="Methods to run (default: all trained).")
    ] = None,
    rules: Annotated[bool, typer.Option(help="Add the packet-gap and flat-line rules.")] = True,
    store: Annotated[bool, typer.Option(help="Append detections to the anomalies stream.")] = True,
    output: Annotated[Path | None, typer.Option(help="Also write them (CSV or .parquet).")] = None,
    fmt: FormatOption = OutputFormat.table,
    stream: StreamOption = AnomalyStream.telemetry,
    name: Annotated[
        str | None, typer.Option(help="Fleet streams: the stored detector (default: newest).")
    ] = None,
    obj: ObjectOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    nats_url: Annotated[str | None, typer.Option(help="Fleet alerts also to NATS.")] = None,
    mqtt_url: Annotated[str | None, typer.Option(help="Fleet alerts also to MQTT.")] = None,
) -> None:
    """Detect anomalies in a packet file; print and store them. With --stream
    vehicle|arm|compute: score the stored rows (--since/--until, --object) with the stored
    detector, store the events and publish each alert on starbrain.alerts.

    csv/json: the anomalies schema (source, parameter, start, end, score, method, detected_at,
    label), ordered by start and method. The table view adds, for residual-sigma, how many
    predicted sigmas out each event went. Fleet streams: object_id, run_id, method, model,
    channel, start, end, sigma, score, link per event."""
    from rich.table import Table

    if _dispatch(stream, "detect"):
        from starbrain.cli import _fleet_anomalies

        return _fleet_anomalies.detect(stream.value, name, obj, since, until, store, fmt,
                                       nats_url, mqtt_url)  # fmt: skip
    if packets is None:
        raise StarbrainError("give a packet file to score (or --stream vehicle|arm|compute)")

    from starbrain.cli._common import _emit, _notes, _write_table
    from starbrain.models.anomaly.data import frame_from_packets
    from starbrain.models.anomaly.detector import detections_table, label_detections

    det = _load_detector(detector)
    frame = frame_from_packets(packets, source=packets.name)
    found = det.detect(frame, methods=method, rules=rules)
    if labels is not None:
        from starbrain.physics.flight_sim import read_labels

        found = label_detections(found, read_labels(labels))
    table = detections_table(found)
    view = Table(title=f"{len(found)} anomalies in {packets.name}")
    for col in ("method", "parameter", "start", "end", "score", "sigma", "label"):
        view.add_column(col)
    for d in sorted(found, key=lambda d: (d.start_ns, d.method)):
        import numpy as np

        view.add_row(
            d.method,
            d.parameter,
            str(np.datetime64(d.start_ns, "ns"))[:23],
            str(np.datetime64(d.end_ns, "ns"))[:23],
            f"{d.score:.3g}",
            "" if d.sigma is None else f"{d.sigma:.1f}",
            d.label or "",
        )
    _emit(table.sort_by([("start", "ascending"), ("method", "ascending")]), fmt, view)
    if output is not None:
        _write_table(table, output, "anomalies")
    if store and table.num_rows:
        with _open_store() as db:
            n = db.append("anomalies", table, source=str(packets)).n_new
            _notes(fmt).print(f"stored {n} anomalies in {db.path}", highlight=False)


@anomalies_app.command("report")
def anomalies_report(
    flights: Annotated[int, typer.Option(help="Held-out flights to simulate.")] = 6,
    seed: Annotated[int, typer.Option(help="Seed of the first held-out flight.")] = 5000,
    per_flight: Annotated[int, typer.Option(help="Random anomalies injected per flight.")] = 7,
    duration: Annotated[float, typer.Option(help="Flight duration (s).")] = 400.0,
    rate: Annotated[float, typer.Option(help="Sample rate (Hz).")] = 20.0,
    detector: Annotated[Path | None, typer.Option(help="Detector file.")] = None,
    output: Annotated[Path | None, typer.Option(help="Write the Markdown tables here.")] = None,
    fmt: FormatOption = OutputFormat.table,
    stream: StreamOption = AnomalyStream.telemetry,
    name: Annotated[
        str | None, typer.Option(help="Fleet streams: only this stored detector's events.")
    ] = None,
) -> None:
    """Event-wise precision, recall and F0.5 per method on held-out simulated flights whose
    anomalies were never seen in training. With --stream vehicle|arm|compute: the stored
    events of the fleet's detectors per method, channel and object.

    csv/json: one row per method (method, precision, recall, f0.5, tp, fp, fn, and
    found_KIND / total_KIND per anomaly kind)."""
    from starbrain.models.anomaly.detector import evaluate

    if _dispatch(stream, "report"):
        from starbrain.cli import _fleet_anomalies

        return _fleet_anomalies.report(stream.value, name, fmt)
    det = _load_detector(detector)
    used = set(det.metadata.get("train_seeds", [])) | set(det.metadata.get("calibration_seeds", []))
    seeds = list(range(seed, seed + flights))
    if used & set(seeds):
        raise StarbrainError(
            f"seeds {sorted(used & set(seeds))} were used in training; pick another --seed"
        )
    data = _simulate_frames(seeds, duration, rate, per_flight, "simulating")
    with _progress("detecting", len(data)) as (progress, task):
        ev = evaluate(det, data, progress=lambda: progress.advance(task))  # type: ignore[arg-type]
    text = (
        f"Held-out evaluation: {ev.n_flights} flights (seeds {seeds[0]}..{seeds[-1]}), "
        f"{ev.n_labels} labelled anomalies, event-wise\n\n{ev.markdown()}\n\n"
        f"Recall by anomaly kind (found/total)\n\n{ev.kinds_markdown()}\n"
    )
    if fmt is OutputFormat.table:
        console.print(text, highlight=False, markup=False, soft_wrap=True)
    else:
        from starbrain.cli._common import _emit

        _emit(ev.rows(), fmt)
    if output is not None:
        output.write_text(text)
        err_console.print(f"wrote {output}")
