"""Embedded DuckDB store: Arrow schemas per stream, bulk appends, queries, Parquet export."""
