"""Ground-vehicle logs: the ``vehicle`` stream schema, the comma2k19 reader, the fleet simulator."""

from starbrain._lazy import lazy_exports

_EXPORTS = {
    "VEHICLE_SCHEMA": ("starbrain.core.schemas.vehicle", "VEHICLE_SCHEMA"),
    "VEHICLE_KEY": ("starbrain.core.schemas.vehicle", "VEHICLE_KEY"),
    "read_comma2k19": ("comma2k19", "read_comma2k19"),
    "simulate_log": ("simulator", "simulate_log"),
    "simulate_fleet": ("simulator", "simulate_fleet"),
    "FLEET": ("simulator", "FLEET"),
    "DRIVERS": ("simulator", "DRIVERS"),
    "FRICTIONS": ("simulator", "FRICTIONS"),
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
