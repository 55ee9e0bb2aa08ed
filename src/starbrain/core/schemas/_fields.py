"""Field builders the schema modules share (pyarrow only)."""

from __future__ import annotations

import pyarrow as pa

UTC_NS = pa.timestamp("ns", tz="UTC")


def measured(
    name: str,
    unit: str,
    what: str,
    nullable: bool = True,
    *,
    type_: pa.DataType | None = None,
    dcgm: str | None = None,
) -> pa.Field:
    """A measured column (float64 unless ``type_``) with its unit, description and, for GPU
    metrics, the DCGM field it corresponds to in the field metadata."""
    metadata = {"unit": unit} | ({"dcgm": dcgm} if dcgm else {}) | {"doc": what}
    return pa.field(name, type_ or pa.float64(), nullable=nullable, metadata=metadata)
