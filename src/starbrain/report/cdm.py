"""CCSDS CDM files: one ``.cdm`` (KVN) per conjunction, from the messages the planner returns
(:func:`starbrain.planners.cdm.conjunction_cdms`)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa

from starbrain.planners.cdm import conjunction_cdms

__all__ = ["write_cdms"]


def write_cdms(
    conjunctions: pa.Table,
    directory: str | Path,
    rows: Sequence[int] | None = None,
    **kwargs: Any,
) -> list[Path]:
    """Write one ``.cdm`` file per conjunction (all rows, or ``rows``) into ``directory``
    (created if missing); returns the paths in row order.

    File names are the message ids; ``kwargs`` go to
    :func:`starbrain.planners.cdm.conjunction_cdm`.
    """
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for message_id, text in conjunction_cdms(conjunctions, rows, **kwargs).items():
        path = out / f"{message_id}.cdm"
        path.write_text(text)
        paths.append(path)
    return paths
