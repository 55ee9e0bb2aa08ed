"""GET /api/conjunctions (the current conjunctions of
:func:`starbrain.store.queries.latest_conjunctions`, sorted and filtered) and
/api/conjunctions/{norad_id_1}/{norad_id_2}/{tca_ns} (everything about one of them)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

import pyarrow as pa
from fastapi import APIRouter, Path, Query, Request

from starbrain.console.deps import ERROR_RESPONSES, ApiError, StoreDep, compute
from starbrain.console.schemas import (
    ConjunctionDetail,
    ConjunctionObject,
    ConjunctionRow,
    ConjunctionsResponse,
)
from starbrain.console.settings import MAX_PAGE
from starbrain.core.timeconv import iso_ns
from starbrain.store import queries
from starbrain.store.database import Store

router = APIRouter(tags=["conjunctions"], responses=ERROR_RESPONSES)

# TCA bounds as integer nanoseconds since 1970: 1957-10-04 .. 2053-09-01, as every request time
MIN_TCA_NS = -386_380_800 * 10**9
MAX_TCA_NS = 2_640_211_200 * 10**9


class Sort(StrEnum):
    pc = "pc"
    miss = "miss"
    tca = "tca"


_ORDER: dict[Sort, list[tuple[str, str]]] = {
    Sort.pc: [("collision_probability", "descending"), ("miss_distance_km", "ascending")],
    Sort.miss: [("miss_distance_km", "ascending"), ("tca", "ascending")],
    Sort.tca: [("tca", "ascending"), ("miss_distance_km", "ascending")],
}


def _ns(column: Any) -> list[int]:
    """A timestamp column -> integer nanoseconds since 1970 (UTC)."""
    return [int(v) for v in column.cast(pa.timestamp("ns")).cast(pa.int64()).to_pylist()]


def _rows(
    store: Store, sort: Sort, norad: int | None, min_pc: float, max_miss: float, limit: int,
    offset: int,
) -> tuple[int, list[ConjunctionRow]]:  # fmt: skip
    current = queries.latest_conjunctions(
        store, norad_id=norad, min_pc=min_pc, max_miss_km=max_miss
    )
    page = current.sort_by(_ORDER[sort]).slice(offset, limit)
    tca_ns, screened_ns = _ns(page["tca"]), _ns(page["screened_at"])
    return current.num_rows, [
        ConjunctionRow(
            norad_id_1=r["norad_id_1"],
            norad_id_2=r["norad_id_2"],
            name_1=r["object_name_1"],
            name_2=r["object_name_2"],
            tca=iso_ns(t) or "",
            tca_ns=t,
            id=f"{r['norad_id_1']}/{r['norad_id_2']}/{t}",
            miss_distance_km=round(float(r["miss_distance_km"]), 6),
            relative_speed_kmps=round(float(r["relative_speed_kmps"]), 6),
            collision_probability=float(r["collision_probability"]),
            screened_at=iso_ns(at) or "",
        )
        for r, t, at in zip(
            page.select(
                [
                    "norad_id_1",
                    "norad_id_2",
                    "object_name_1",
                    "object_name_2",
                    "miss_distance_km",
                    "relative_speed_kmps",
                    "collision_probability",
                ]
            ).to_pylist(),
            tca_ns,
            screened_ns,
            strict=True,
        )
    ]


@router.get("/api/conjunctions", response_model=ConjunctionsResponse, summary="Conjunctions")
async def conjunctions(
    request: Request,
    store: StoreDep,
    sort: Annotated[Sort, Query(description="pc: highest first; miss: closest; tca.")] = Sort.pc,
    norad: Annotated[
        int | None, Query(ge=1, le=339_999, description="Only those involving this object.")
    ] = None,
    min_pc: Annotated[float, Query(ge=0.0, le=1.0, description="Lowest Pc.")] = 0.0,
    max_miss_km: Annotated[float, Query(gt=0.0, le=1000.0, description="Largest miss.")] = 1000.0,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> ConjunctionsResponse:
    """The current conjunctions of the stored screenings (``starbrain conjunctions screen`` or
    the live loop), as ``starbrain conjunctions show`` lists them: each encounter (pair, TCA
    within 5 minutes) as the newest screening covering its time found it; a pair that screening
    no longer finds is gone. Miss distance (km), relative speed (km/s) and collision
    probability (Foster 2-D, default covariances)."""
    total, rows = await compute(
        request, _rows, store, sort, norad, min_pc, max_miss_km, limit, offset
    )
    return ConjunctionsResponse(total=total, sort=sort.value, conjunctions=rows)


def _detail(store: Store, n1: int, n2: int, tca_ns: int) -> ConjunctionDetail | None:
    found = queries.conjunction(store, n1, n2, tca_ns)
    if found.num_rows == 0:
        return None
    times = [f.name for f in found.schema if pa.types.is_timestamp(f.type)]
    r = found.drop_columns(times).to_pylist()[0]
    r |= {
        f"{name}_ns": None if v is None else int(v)
        for name in times
        for v in found[name].cast(pa.timestamp("ns")).cast(pa.int64()).to_pylist()
    }

    def obj(k: int) -> ConjunctionObject:
        return ConjunctionObject(
            norad_id=r[f"norad_id_{k}"],
            name=r[f"object_name_{k}"],
            epoch=iso_ns(r[f"epoch_{k}_ns"]),
            position_km=[float(r[f"{c}{k}_km"]) for c in "xyz"],
            velocity_kmps=[float(r[f"v{c}{k}_kmps"]) for c in "xyz"],
            covariance_rtn_km2=[
                float(r[f"cov{k}_{c}_km2"]) for c in ("rr", "tr", "tt", "nr", "nt", "nn")
            ],
        )

    return ConjunctionDetail(
        tca=iso_ns(r["tca_ns"]) or "",
        tca_ns=int(r["tca_ns"]),
        miss_distance_km=float(r["miss_distance_km"]),
        relative_speed_kmps=float(r["relative_speed_kmps"]),
        miss_rtn_km=[float(r[f"miss_{c}_km"]) for c in "rtn"],
        relative_velocity_rtn_kmps=[float(r[f"relative_velocity_{c}_kmps"]) for c in "rtn"],
        collision_probability=float(r["collision_probability"]),
        pc_method=r["pc_method"],
        hard_body_radius_m=float(r["hard_body_radius_km"]) * 1000.0,
        covariance_source=r["covariance_source"],
        screening_threshold_km=float(r["screening_threshold_km"]),
        screen_start=iso_ns(r["screen_start_ns"]),
        screen_stop=iso_ns(r["screen_stop_ns"]),
        screened_at=iso_ns(r["screened_at_ns"]) or "",
        object_1=obj(1),
        object_2=obj(2),
    )


@router.get(
    "/api/conjunctions/{norad_id_1}/{norad_id_2}/{tca_ns}",
    response_model=ConjunctionDetail,
    summary="One conjunction",
)
async def conjunction(
    request: Request,
    store: StoreDep,
    norad_id_1: Annotated[int, Path(ge=1, le=339_999)],
    norad_id_2: Annotated[int, Path(ge=1, le=339_999)],
    tca_ns: Annotated[
        int, Path(ge=MIN_TCA_NS, le=MAX_TCA_NS, description="TCA, ns since 1970 (UTC).")
    ],
) -> ConjunctionDetail:
    """One conjunction (the newest screening of it): miss vector and relative velocity in
    object 1's RTN frame, Pc and its method, both objects' TEME states and RTN covariances."""
    found = await compute(request, _detail, store, norad_id_1, norad_id_2, tca_ns)
    if found is None:
        raise ApiError(
            404, f"no conjunction of NORAD {norad_id_1} and {norad_id_2} at TCA {tca_ns} ns"
        )
    return found
