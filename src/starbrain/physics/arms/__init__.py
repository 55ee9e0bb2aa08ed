"""Robot-arm physics: the two-link SCARA arm's torch rigid-body prior (batched, differentiable)
and the push task's quasi-static puck contact prior."""

from starbrain._lazy import lazy_exports

_EXPORTS = {
    "ScaraPrior": ("scara", "ScaraPrior"),
    "THETA_NAMES": ("scara", "THETA_NAMES"),
    "ee_position": ("scara", "ee_position"),
    "inverse_kinematics": ("scara", "inverse_kinematics"),
    "push_puck": ("puck", "push_puck"),
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
