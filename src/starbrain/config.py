"""Settings: where data lives, which device computes, read from environment variables.

* ``STARBRAIN_DATA``: data directory (default ``./starbrain-data``);
* ``STARBRAIN_DB``: the DuckDB file (default ``$STARBRAIN_DATA/starbrain.duckdb``);
* ``STARBRAIN_DEVICE``: torch device for physics and models (default: ``cuda`` when available,
  else ``cpu``);
* ``STARBRAIN_TOKEN``: the web console's access token (required to serve beyond loopback);
* ``STARBRAIN_MAX_DECOMPRESSED_MB``: the most MiB a compressed input (a ``.gz``/``.bz2``/``.xz``
  file, a gzip- or deflate-encoded HTTP body) may expand to before reading stops with an error
  (default 1024, i.e. 1 GiB: far above any real catalogue or ephemeris file, small enough that a
  decompression bomb cannot exhaust a laptop's memory).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from starbrain.core.errors import StarbrainError

__all__ = ["DEFAULT_MAX_DECOMPRESSED_MB", "Settings", "settings"]

DEFAULT_MAX_DECOMPRESSED_MB = 1024.0


@dataclass(frozen=True, slots=True)
class Settings:
    data_dir: Path
    db_path: Path
    device: str | None  # None: choose automatically
    token: str | None = None  # console bearer token; None: loopback only, no authentication
    max_decompressed_mb: float = DEFAULT_MAX_DECOMPRESSED_MB  # MiB a compressed input may give


def _max_decompressed_mb() -> float:
    raw = os.environ.get("STARBRAIN_MAX_DECOMPRESSED_MB", "").strip()
    if not raw:
        return DEFAULT_MAX_DECOMPRESSED_MB
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not (value > 0 and value < float("inf")):
        raise StarbrainError(
            f"STARBRAIN_MAX_DECOMPRESSED_MB must be a positive number of MiB, not {raw!r}"
        )
    return value


def settings() -> Settings:
    """Current settings from the environment (read on each call, so tests can override)."""
    data_dir = Path(os.environ.get("STARBRAIN_DATA", "starbrain-data"))
    db = os.environ.get("STARBRAIN_DB")
    return Settings(
        data_dir=data_dir,
        db_path=Path(db) if db else data_dir / "starbrain.duckdb",
        device=os.environ.get("STARBRAIN_DEVICE") or None,
        token=os.environ.get("STARBRAIN_TOKEN") or None,
        max_decompressed_mb=_max_decompressed_mb(),
    )
