"""The fault table the fleet simulators write beside their data (see
:mod:`starbrain.sources.faults`): one row per injected fault and object, the ground truth an
anomaly benchmark scores against; times ``timestamp[ns, UTC]``, closed interval ``[start, end]``."""

from __future__ import annotations

import pyarrow as pa

__all__ = ["FAULT_KEY", "FAULT_SCHEMA"]

FAULT_SCHEMA = pa.schema(
    [
        pa.field("stream", pa.string(), nullable=False),  # vehicle, arm, compute, orbit
        pa.field("object_id", pa.string(), nullable=False),  # vehicle_id, arm_id, gpu_id, norad
        pa.field("run_id", pa.string()),  # log_id, episode, recording or arc
        pa.field("kind", pa.string(), nullable=False),
        pa.field("start", pa.timestamp("ns", tz="UTC"), nullable=False),
        pa.field("end", pa.timestamp("ns", tz="UTC"), nullable=False),
        pa.field("magnitude", pa.float64()),  # kind-specific, in the simulator's stated unit
        pa.field("channel", pa.string()),  # the touched sensor column or joint, when one
        pa.field("source", pa.string()),  # the simulator configuration
    ],
    metadata={"stream": "faults", "key": "stream,object_id,run_id,start"},
)
FAULT_KEY = ("stream", "object_id", "run_id", "start")
