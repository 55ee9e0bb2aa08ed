"""Settings: where data lives, which device computes, read from environment variables.

* ``STARBRAIN_DATA``: data directory (default ``./starbrain-data``);
* ``STARBRAIN_DB``: the DuckDB file (default ``$STARBRAIN_DATA/starbrain.duckdb``);
* ``STARBRAIN_DEVICE``: torch device for physics and models (default: ``cuda`` when available,
  else ``cpu``);
* ``STARBRAIN_TOKEN``: the web console's access token (required to serve beyond loopback).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Settings", "settings"]


@dataclass(frozen=True, slots=True)
class Settings:
    data_dir: Path
    db_path: Path
    device: str | None  # None: choose automatically
    token: str | None = None  # console bearer token; None: loopback only, no authentication


def settings() -> Settings:
    """Current settings from the environment (read on each call, so tests can override)."""
    data_dir = Path(os.environ.get("STARBRAIN_DATA", "starbrain-data"))
    db = os.environ.get("STARBRAIN_DB")
    return Settings(
        data_dir=data_dir,
        db_path=Path(db) if db else data_dir / "starbrain.duckdb",
        device=os.environ.get("STARBRAIN_DEVICE") or None,
        token=os.environ.get("STARBRAIN_TOKEN") or None,
    )
