"""The ``models`` stream: the world-model registry, one row per trained model (see
:mod:`starbrain.models.registry` and :mod:`starbrain.models.dynamics.registry`)."""

from __future__ import annotations

import pyarrow as pa

__all__ = ["MODELS_KEY", "MODELS_SCHEMA"]

MODELS_SCHEMA = pa.schema(
    [
        pa.field("name", pa.string(), nullable=False),
        pa.field("created", pa.timestamp("ns", tz="UTC"), nullable=False),
        pa.field("kind", pa.string()),  # e.g. "orbit-sgp4-residual/1"
        pa.field("config_json", pa.string()),
        pa.field("data_fingerprint", pa.string()),  # sha256 of the training truth
        pa.field("data_json", pa.string()),  # how the training truth was made
        pa.field("metrics_json", pa.string()),  # evaluation rows, training history summary
        pa.field("device", pa.string()),
        pa.field("weights", pa.binary()),  # torch.save(state_dict)
    ],
    metadata={"stream": "models", "key": "name,created"},
)
MODELS_KEY = ("name", "created")
