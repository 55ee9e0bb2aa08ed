"""GET /api/catalog (summary and a page of objects) and /api/catalog/{norad}."""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from fastapi import APIRouter, Path, Query

from starbrain.console.deps import ERROR_RESPONSES, ApiError, FleetDep, StoreDep
from starbrain.console.fleet import (
    MAX_NAMED_SHELLS,
    Fleet,
    nullable,
    perigee_apogee_km,
)
from starbrain.console.schemas import (
    CatalogObject,
    CatalogObjectDetail,
    CatalogPage,
    CatalogSummary,
    LoadRecord,
)
from starbrain.console.settings import MAX_PAGE
from starbrain.core.timeconv import iso, iso_list
from starbrain.store.database import Store

router = APIRouter(tags=["catalog"], responses=ERROR_RESPONSES)


def _rows(fleet: Fleet, index: np.ndarray) -> list[dict[str, Any]]:
    t = fleet.table.take(pa.array(index, pa.int64()))
    n = t.column("mean_motion_rev_per_day").to_numpy().astype(np.float64)
    e = t.column("eccentricity").to_numpy().astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        period = nullable(1440.0 / n, 3)
    inc = t.column("inclination_deg").to_numpy().astype(np.float64)
    perigee, apogee = (nullable(h, 1) for h in perigee_apogee_km(n, inc, e))
    d = t.to_pydict()
    epochs = iso_list(t.column("epoch").to_numpy())
    return [
        {
            "norad_id": d["norad_id"][k],
            "name": d["object_name"][k],
            "object_id": d["object_id"][k],
            "epoch": epochs[k],
            "inclination_deg": d["inclination_deg"][k],
            "eccentricity": d["eccentricity"][k],
            "mean_motion_rev_per_day": d["mean_motion_rev_per_day"][k],
            "period_min": period[k],
            "perigee_km": perigee[k],
            "apogee_km": apogee[k],
            "bstar_per_earth_radius": d["bstar_per_earth_radius"][k],
            "shell": int(fleet.shell[index[k]]),
            "tle_line1": d["tle_line1"][k],
            "tle_line2": d["tle_line2"][k],
            "source": d["source"][k],
        }
        for k in range(t.num_rows)
    ]


def _summary(fleet: Fleet, store: Store) -> CatalogSummary:
    epochs = fleet.table.column("epoch").to_numpy()
    loads = store.loads(5).to_pylist()
    return CatalogSummary(
        objects=len(fleet),
        element_sets=fleet.element_sets,
        oldest_epoch=iso(epochs.min()) if len(fleet) else None,
        newest_epoch=iso(epochs.max()) if len(fleet) else None,
        shells=fleet.shells,
        recent_loads=[
            LoadRecord(
                loaded_at=iso(np.datetime64(r["loaded_at"], "ns")) or "",
                stream=r["stream"] or "",
                source=r["source"] or "",
                n_rows=r["n_rows"] or 0,
                n_new=r["n_new"] or 0,
                n_errors=r["n_errors"] or 0,
            )
            for r in loads
        ],
    )


@router.get("/api/catalog", response_model=CatalogPage, summary="Catalogue summary and objects")
def catalog(
    fleet: FleetDep,
    store: StoreDep,
    offset: Annotated[int, Query(ge=0, le=10_000_000, description="Rows to skip.")] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE, description="Rows to return.")] = 50,
    search: Annotated[
        str | None,
        Query(max_length=64, description="Name contains this (any case), or a NORAD number."),
    ] = None,
    shell: Annotated[
        int | None, Query(ge=0, le=MAX_NAMED_SHELLS, description="Only this shell id.")
    ] = None,
) -> CatalogPage:
    """Counts, epochs, orbital shells and recent loads, with one page of current element sets
    (sorted by NORAD number, filtered by ``search`` and ``shell``)."""
    keep = np.ones(len(fleet), dtype=bool)
    if search and search.strip():
        text = search.strip()
        if text.isdigit():
            keep &= fleet.norad_id == int(text)
        else:
            names = fleet.table.column("object_name").fill_null("")
            keep &= pc.match_substring(names, text, ignore_case=True).to_numpy(zero_copy_only=False)
    if shell is not None:
        keep &= fleet.shell == shell
    index = np.flatnonzero(keep)
    page = index[offset : offset + limit]
    objects = [CatalogObject.model_validate(r) for r in _rows(fleet, page)]
    return CatalogPage(
        summary=_summary(fleet, store),
        total=int(index.size),
        offset=offset,
        limit=limit,
        objects=objects,
    )


@router.get(
    "/api/catalog/{norad}", response_model=CatalogObjectDetail, summary="One object's elements"
)
def catalog_object(
    norad: Annotated[int, Path(ge=1, le=339_999, description="NORAD catalogue number.")],
    fleet: FleetDep,
    store: StoreDep,
) -> CatalogObjectDetail:
    """The newest element set of one object (with its TLE lines when stored) and the epochs of
    every element set stored for it."""
    index, missing = fleet.index_of([norad])
    if missing:
        raise ApiError(404, f"no element set stored for NORAD {norad}")
    row = _rows(fleet, index)[0]
    history = store.element_history(norad).column("epoch").to_numpy()
    return CatalogObjectDetail.model_validate(
        {**row, "history_epochs": [t for t in iso_list(history) if t]}
    )
