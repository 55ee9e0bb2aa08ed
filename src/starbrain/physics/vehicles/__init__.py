"""Ground-vehicle physics: kinematic and dynamic single-track models (torch, batched)."""

from starbrain._lazy import lazy_exports

_EXPORTS = {
    "KinematicSingleTrack": ("single_track", "KinematicSingleTrack"),
    "DynamicSingleTrack": ("single_track", "DynamicSingleTrack"),
    "VehicleParams": ("single_track", "VehicleParams"),
    "THETA_NAMES": ("single_track", "THETA_NAMES"),
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
