"""World models: physics prior plus learned residual, detectors, training, registry."""

from starbrain._lazy import lazy_exports

_EXPORTS = {
    "sample_elements": ("truth", "sample_elements"),
    "generate_truth": ("truth", "generate_truth"),
    "TruthSet": ("truth", "TruthSet"),
    "orbit_class": ("truth", "orbit_class"),
    "fit_elements": ("fitting", "fit_elements"),
    "fit_oem": ("fitting", "fit_oem"),
    "FitResult": ("fitting", "FitResult"),
    "OrbitModelConfig": ("orbit_model", "OrbitModelConfig"),
    "OrbitWorldModel": ("orbit_model", "OrbitWorldModel"),
    "fit_priors": ("orbit_model", "fit_priors"),
    "train_orbit_model": ("orbit_model", "train_orbit_model"),
    "predict": ("orbit_model", "predict"),
    "evaluate_orbit_model": ("evaluation", "evaluate_orbit_model"),
    "register_model": ("registry", "register_model"),
    "list_models": ("registry", "list_models"),
    "load_model": ("registry", "load_model"),
    # anomaly detection (launch-vehicle telemetry)
    "AnomalyDetector": ("anomaly.detector", "AnomalyDetector"),
    "evaluate_anomaly_detector": ("anomaly.detector", "evaluate"),
    "OnlineScorer": ("anomaly.online", "OnlineScorer"),
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
