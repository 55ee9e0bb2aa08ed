"""The ``compute`` stream: one row per GPU per sample (NVML on a real GPU, or the fleet
simulator), with the DCGM exporter's metric names and units.

Every measured column carries, in its field metadata, its unit and the DCGM field it corresponds
to (``dcgm``), so the Prometheus endpoint exports it under the name Grafana dashboards built for
``dcgm-exporter`` already query. Units follow dcgm-exporter's ``etc/default-counters.csv``:
power in W, energy in mJ since driver load (a counter), temperatures in deg C, clocks in MHz,
utilisation in percent. Throttle reasons are NVML's ``nvmlClocksEventReason*`` bitmask
(``DCGM_FI_DEV_CLOCK_THROTTLE_REASONS``, renamed ``DCGM_FI_DEV_CLOCKS_EVENT_REASONS`` in DCGM 3.2+).

The facility columns (inlet temperature, coolant flow) are not GPU metrics: the simulator fills
them, a real node leaves them null unless a BMC/CDU reader provides them.
"""

from __future__ import annotations

import pyarrow as pa

from starbrain.core.schemas._fields import measured

__all__ = [
    "COMPUTE_KEY",
    "COMPUTE_SCHEMA",
    "DCGM_NAMES",
    "THROTTLE_GPU_IDLE",
    "THROTTLE_HW_SLOWDOWN",
    "THROTTLE_HW_THERMAL",
    "THROTTLE_SW_POWER_CAP",
    "THROTTLE_SW_THERMAL",
]

# NVML / DCGM clocks-event reason bits (nvml.h, dcgm_fields.h)
THROTTLE_GPU_IDLE = 0x1
THROTTLE_SW_POWER_CAP = 0x4
THROTTLE_HW_SLOWDOWN = 0x8
THROTTLE_SW_THERMAL = 0x20
THROTTLE_HW_THERMAL = 0x40


def _m(name: str, typ: pa.DataType, unit: str, dcgm: str, what: str) -> pa.Field:
    return measured(name, unit, what, type_=typ, dcgm=dcgm)


COMPUTE_SCHEMA = pa.schema(
    [
        pa.field("gpu_id", pa.string(), nullable=False),  # UUID on NVML, rack/node/index in sim
        pa.field("time", pa.timestamp("ns", tz="UTC"), nullable=False),
        pa.field("node_id", pa.string()),
        pa.field("rack_id", pa.string()),
        pa.field("job_id", pa.string()),  # the job the GPU ran at ``time`` (null: idle/unknown)
        _m("power_w", pa.float64(), "W", "DCGM_FI_DEV_POWER_USAGE", "instantaneous board power"),
        _m(
            "energy_mj",
            pa.float64(),
            "mJ",
            "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION",
            "energy counter since driver load",
        ),
        _m("gpu_temp_c", pa.float64(), "degC", "DCGM_FI_DEV_GPU_TEMP", "GPU die temperature"),
        _m("memory_temp_c", pa.float64(), "degC", "DCGM_FI_DEV_MEMORY_TEMP", "HBM temperature"),
        _m("sm_clock_mhz", pa.float64(), "MHz", "DCGM_FI_DEV_SM_CLOCK", "SM clock"),
        _m("mem_clock_mhz", pa.float64(), "MHz", "DCGM_FI_DEV_MEM_CLOCK", "memory clock"),
        _m("gpu_util_pct", pa.float64(), "%", "DCGM_FI_DEV_GPU_UTIL", "GPU utilisation"),
        _m(
            "throttle_reasons",
            pa.uint64(),
            "bitmask",
            "DCGM_FI_DEV_CLOCK_THROTTLE_REASONS",
            "NVML clocks-event reasons",
        ),
        _m(
            "power_limit_w",
            pa.float64(),
            "W",
            "DCGM_FI_DEV_POWER_MGMT_LIMIT",
            "enforced power limit",
        ),
        measured("inlet_temp_c", "degC", "coolant/air inlet temperature at the GPU (facility)"),
        measured(
            "coolant_flow_lpm", "L/min", "coolant flow through the GPU's cold plate (facility)"
        ),
        pa.field("source", pa.string()),  # "nvml", "sim:<config>", ...
    ],
    metadata={"stream": "compute", "key": "gpu_id,time"},
)
COMPUTE_KEY = ("gpu_id", "time")

# column -> DCGM exporter metric name, for the columns that have one
DCGM_NAMES: dict[str, str] = {
    f.name: f.metadata[b"dcgm"].decode()
    for f in COMPUTE_SCHEMA
    if f.metadata is not None and b"dcgm" in f.metadata
}
