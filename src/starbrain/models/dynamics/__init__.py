"""Domain-neutral world models: a physics prior plus a probabilistic residual ensemble, with
uncertainty, OOD fallback, parameter estimation, evaluation by stratum, drift and registry."""

from starbrain._lazy import lazy_exports

_EXPORTS = {
    "PhysicsPrior": ("prior", "PhysicsPrior"),
    "IdentityPrior": ("prior", "IdentityPrior"),
    "CallablePrior": ("prior", "CallablePrior"),
    "ResidualEnsemble": ("ensemble", "ResidualEnsemble"),
    "Trajectories": ("data", "Trajectories"),
    "WorldModel": ("world_model", "WorldModel"),
    "WorldModelConfig": ("world_model", "WorldModelConfig"),
    "Prediction": ("world_model", "Prediction"),
    "FitConfig": ("training", "FitConfig"),
    "FitHistory": ("training", "FitHistory"),
    "fit_world_model": ("training", "fit_world_model"),
    "ThetaEstimate": ("estimation", "ThetaEstimate"),
    "estimate_theta": ("estimation", "estimate_theta"),
    "evaluate": ("evaluation", "evaluate"),
    "drift_check": ("evaluation", "drift_check"),
    "DriftReport": ("evaluation", "DriftReport"),
    "register_world_model": ("registry", "register_world_model"),
    "load_world_model": ("registry", "load_world_model"),
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
