"""Embedded DuckDB store: Arrow schemas per stream, bulk appends, queries, Parquet export."""

from starbrain._lazy import lazy_exports

_EXPORTS = {
    "Store": ("database", "Store"),
    "AppendResult": ("database", "AppendResult"),
    "STREAMS": ("streams", "STREAMS"),
    "Stream": ("streams", "Stream"),
    "CONJUNCTIONS_SCHEMA": ("starbrain.core.schemas.decisions", "CONJUNCTIONS_SCHEMA"),
    "MANOEUVRES_SCHEMA": ("starbrain.core.schemas.decisions", "MANOEUVRES_SCHEMA"),
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
