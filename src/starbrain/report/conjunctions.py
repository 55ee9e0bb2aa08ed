"""What a person reads of a screening: a plain-text table of conjunctions (:func:`show`, moved
from :mod:`starbrain.planners.conjunctions`, which returns typed tables and writes no text)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from starbrain.planners.conjunctions import select_conjunctions

__all__ = ["show"]


def show(
    conjunctions: pa.Table,
    *,
    sort: str = "pc",
    limit: int | None = 20,
    norad_id: int | None = None,
    min_pc: float | None = None,
    max_miss_km: float | None = None,
) -> str:
    """A plain-text table of conjunctions, most probable first (``sort``: pc, miss or tca).

    ``norad_id`` keeps the conjunctions involving that object; ``min_pc`` and ``max_miss_km``
    filter on probability and miss distance.
    """

    t = select_conjunctions(
        conjunctions, sort=sort, norad_id=norad_id, min_pc=min_pc, max_miss_km=max_miss_km
    )
    n_all = t.num_rows
    if limit is not None:
        t = t.slice(0, limit)
    head = (
        f"{'TCA (UTC)':<23} {'object 1':<22} {'object 2':<22} {'miss m':>9} "
        f"{'R m':>8} {'T m':>9} {'N m':>8} {'v km/s':>6} {'Pc':>9}"
    )
    lines = [head, "-" * len(head)]
    d = t.drop_columns([f.name for f in t.schema if pa.types.is_timestamp(f.type)]).to_pydict()
    tca = np.asarray(t["tca"].to_numpy(zero_copy_only=False)).astype("datetime64[ms]")
    for k in range(t.num_rows):
        o1 = f"{d['norad_id_1'][k]} {d['object_name_1'][k] or ''}"[:22]
        o2 = f"{d['norad_id_2'][k]} {d['object_name_2'][k] or ''}"[:22]
        lines.append(
            f"{str(tca[k]).replace('T', ' '):<23} {o1:<22} {o2:<22} "
            f"{d['miss_distance_km'][k] * 1e3:>9.1f} {d['miss_r_km'][k] * 1e3:>8.1f} "
            f"{d['miss_t_km'][k] * 1e3:>9.1f} {d['miss_n_km'][k] * 1e3:>8.1f} "
            f"{d['relative_speed_kmps'][k]:>6.2f} {d['collision_probability'][k]:>9.2e}"
        )
    shown = f"{t.num_rows} of {n_all}" if t.num_rows < n_all else f"{n_all}"
    lines.append(f"{shown} conjunctions")
    return "\n".join(lines)
