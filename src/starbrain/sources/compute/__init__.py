"""GPU fleet telemetry: the ``compute`` stream schema, the NVML collector, the Prometheus
endpoint (DCGM exporter names) and the data-centre simulator."""

from starbrain._lazy import lazy_exports

_EXPORTS = {
    "COMPUTE_SCHEMA": ("starbrain.core.schemas.compute", "COMPUTE_SCHEMA"),
    "COMPUTE_KEY": ("starbrain.core.schemas.compute", "COMPUTE_KEY"),
    "DCGM_NAMES": ("starbrain.core.schemas.compute", "DCGM_NAMES"),
    "NvmlCollector": ("nvml", "NvmlCollector"),
    "gpu_status": ("nvml", "gpu_status"),
    "rows_to_table": ("nvml", "rows_to_table"),
    "ComputeExporter": ("exporter", "ComputeExporter"),
    "serve_metrics": ("exporter", "serve_metrics"),
    "FleetConfig": ("simulator", "FleetConfig"),
    "Fleet": ("simulator", "Fleet"),
    "Recording": ("simulator", "Recording"),
    "simulate_fleet": ("simulator", "simulate_fleet"),
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
