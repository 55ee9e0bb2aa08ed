"""Bus alerts from stored anomaly rows: model, channel, sigmas out and console link."""

from __future__ import annotations

import numpy as np

from starbrain.loop.detectors import alert_payloads
from starbrain.models.anomaly.detector import Detection, detections_table

T0 = int(np.datetime64("2026-01-01T12:00:30.250", "ns").astype(np.int64))


def test_alert_payloads_name_model_channel_sigmas_and_link() -> None:
    dets = [
        Detection("sim-7", "thrust", T0, T0 + 2 * 10**9, 8.5, "residual-sigma", "thrust_loss", 8.5),
        Detection("sim-7", "lox_level", T0, T0 + 10**9, 3.0, "robust-z"),
    ]
    a, b = alert_payloads(detections_table(dets, detected_at="2026-01-01T13:00:00"))
    assert a["model"] == "lstm-variance-forecaster" and a["channel"] == "thrust"
    assert a["sigma"] == 8.5 and a["label"] == "thrust_loss"
    assert a["start"] == "2026-01-01T12:00:30.250Z" and a["end"] == "2026-01-01T12:00:32.250Z"
    assert a["link"] == "/#telemetry?flight=sim-7&t=2026-01-01T12:00:30.250Z&channel=thrust"
    # a method without an uncertainty says so (None), and names itself as the model
    assert b["model"] == "robust-z" and b["sigma"] is None and b["score"] == 3.0
    assert len(alert_payloads(detections_table(dets * 15), limit=20)) == 20
