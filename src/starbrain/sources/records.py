"""Record types sources produce: typed record errors and load results.

The element-set Arrow schema lives in :mod:`starbrain.core.schemas.elements` (re-exported here
for one release, as is ``StarbrainError`` from :mod:`starbrain.core.errors`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow as pa

from starbrain.core.errors import StarbrainError
from starbrain.core.schemas.elements import ELEMENTS_KEY as ELEMENTS_KEY
from starbrain.core.schemas.elements import ELEMENTS_SCHEMA as ELEMENTS_SCHEMA

__all__ = [
    "ELEMENTS_KEY",
    "ELEMENTS_SCHEMA",
    "LoadResult",
    "RecordError",
    "StarbrainError",
]


@dataclass(frozen=True, slots=True)
class RecordError:
    """One bad input record: where it is and what is wrong with it.

    ``line`` is 1-based in the source file when the format has lines; ``record`` is the 0-based
    index of the record otherwise (JSON, XML). ``field`` names the offending field when known.
    """

    source: str
    reason: str
    line: int | None = None
    record: int | None = None
    field: str | None = None
    norad_id: int | None = None

    def __str__(self) -> str:
        where = self.source
        if self.line is not None:
            where += f":{self.line}"
        elif self.record is not None:
            where += f": record {self.record}"
        what = f"{self.field}: " if self.field else ""
        obj = f" (NORAD {self.norad_id})" if self.norad_id is not None else ""
        return f"{where}: {what}{self.reason}{obj}"


@dataclass(slots=True)
class LoadResult:
    """What a parser returns: every good record as a table, every bad one as a ``RecordError``."""

    table: pa.Table
    errors: list[RecordError] = field(default_factory=list)
    source: str = ""

    @property
    def n_good(self) -> int:
        return self.table.num_rows
