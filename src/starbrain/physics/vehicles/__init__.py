"""Ground-vehicle physics: kinematic, dynamic and saturating single-track models (torch)."""

from starbrain._lazy import lazy_exports

_EXPORTS = {
    "KinematicSingleTrack": ("single_track", "KinematicSingleTrack"),
    "DynamicSingleTrack": ("single_track", "DynamicSingleTrack"),
    "SaturatingSingleTrack": ("single_track", "SaturatingSingleTrack"),
    "VehicleParams": ("single_track", "VehicleParams"),
    "THETA_NAMES": ("single_track", "THETA_NAMES"),
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
