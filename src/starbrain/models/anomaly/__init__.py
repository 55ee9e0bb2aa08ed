"""Anomaly detection on launch-vehicle telemetry: the world model's residual over its own
predicted sigma (``residual-sigma``) and LSTM forecasters with telemanom's dynamic thresholds,
robust-z and isolation-forest baselines, event-wise evaluation, online scoring."""

from starbrain._lazy import lazy_exports

_EXPORTS = {
    "METHODS": ("detector", "METHODS"),
    "AnomalyDetector": ("detector", "AnomalyDetector"),
    "Detection": ("detector", "Detection"),
    "DetectorConfig": ("detector", "DetectorConfig"),
    "Evaluation": ("detector", "Evaluation"),
    "detections_table": ("detector", "detections_table"),
    "evaluate": ("detector", "evaluate"),
    "EventScores": ("events", "EventScores"),
    "event_scores": ("events", "event_scores"),
    "merge_intervals": ("events", "merge_intervals"),
    "Forecaster": ("forecaster", "Forecaster"),
    "ForecasterConfig": ("forecaster", "ForecasterConfig"),
    "dynamic_threshold": ("thresholds", "dynamic_threshold"),
    "ewma": ("thresholds", "ewma"),
    "RobustZScorer": ("baselines", "RobustZScorer"),
    "IsolationForestScorer": ("baselines", "IsolationForestScorer"),
    "OnlineScorer": ("online", "OnlineScorer"),
    "TelemetryFrame": ("data", "TelemetryFrame"),
    "frame_from_flight": ("data", "frame_from_flight"),
    "frame_from_packets": ("data", "frame_from_packets"),
    "frame_from_tables": ("data", "frame_from_tables"),
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
