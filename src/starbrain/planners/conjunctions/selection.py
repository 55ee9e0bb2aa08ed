"""Filtering and sorting a stored conjunctions table."""

from __future__ import annotations

import pyarrow as pa

_SORT_KEYS = {
    "pc": ("collision_probability", "descending"),
    "miss": ("miss_distance_km", "ascending"),
    "tca": ("tca", "ascending"),
}


def select_conjunctions(
    conjunctions: pa.Table,
    *,
    sort: str = "pc",
    norad_id: int | None = None,
    min_pc: float | None = None,
    max_miss_km: float | None = None,
) -> pa.Table:
    """The conjunctions involving ``norad_id`` (all when None), with Pc at least ``min_pc`` and
    miss at most ``max_miss_km``, sorted by ``sort`` ("pc" highest first, "miss", "tca")."""
    import pyarrow.compute as pc

    if sort not in _SORT_KEYS:
        raise ValueError(f"cannot sort by {sort!r}: choose one of {', '.join(_SORT_KEYS)}")
    t = conjunctions
    if norad_id is not None:
        t = t.filter(
            pc.or_(pc.equal(t["norad_id_1"], norad_id), pc.equal(t["norad_id_2"], norad_id))
        )
    if min_pc is not None:
        t = t.filter(pc.greater_equal(t["collision_probability"], min_pc))
    if max_miss_km is not None:
        t = t.filter(pc.less_equal(t["miss_distance_km"], max_miss_km))
    return t.sort_by([_SORT_KEYS[sort]])
