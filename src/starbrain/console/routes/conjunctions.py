"""GET /api/conjunctions (the stored screenings' conjunctions, sorted and filtered) and
/api/conjunctions/{norad_id_1}/{norad_id_2}/{tca_ns} (everything about one of them)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

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
from starbrain.store.database import Store

router = APIRouter(tags=["conjunctions"], responses=ERROR_RESPONSES)

# TCA bounds as integer nanoseconds since 1970: 1957-10-04 .. 2053-09-01, as every request time
MIN_TCA_NS = -386_380_800 * 10**9
MAX_TCA_NS = 2_640_211_200 * 10**9


class Sort(StrEnum):
    pc = "pc"
    miss = "miss"
    tca = "tca"


_ORDER = {
    Sort.pc: "collision_probability DESC, miss_distance_km",
    Sort.miss: "miss_distance_km, tca",
    Sort.tca: "tca, miss_distance_km",
}
_LATEST = (
    "SELECT * FROM conjunctions QUALIFY row_number() OVER "
    "(PARTITION BY norad_id_1, norad_id_2, tca ORDER BY screened_at DESC) = 1"
)


def _rows(
    store: Store, sort: Sort, norad: int | None, min_pc: float, max_miss: float, limit: int,
    offset: int,
) -> tuple[int, list[ConjunctionRow]]:  # fmt: skip
    where = "collision_probability >= ? AND miss_distance_km <= ?"
    params: list[Any] = [min_pc, max_miss]
    if norad is not None:
        where += " AND (norad_id_1 = ? OR norad_id_2 = ?)"
        params += [norad, norad]
    t = store.query(
        f"SELECT norad_id_1, norad_id_2, object_name_1, object_name_2, epoch_ns(tca) AS tca_ns, "
        "miss_distance_km, relative_speed_kmps, collision_probability, "
        "epoch_ns(screened_at) AS screened_ns, count(*) OVER () AS total "
        f"FROM ({_LATEST}) WHERE {where} ORDER BY {_ORDER[sort]} LIMIT ? OFFSET ?",
        [*params, limit, offset],
    )
    rows = t.to_pylist()
    total = int(rows[0]["total"]) if rows else 0
    if not rows and offset:
        n = store.query(f"SELECT count(*) AS n FROM ({_LATEST}) WHERE {where}", params)
        total = int(n.column("n")[0].as_py())
    return total, [
        ConjunctionRow(
            norad_id_1=r["norad_id_1"],
            norad_id_2=r["norad_id_2"],
            name_1=r["object_name_1"],
            name_2=r["object_name_2"],
            tca=iso_ns(r["tca_ns"]) or "",
            tca_ns=int(r["tca_ns"]),
            id=f"{r['norad_id_1']}/{r['norad_id_2']}/{int(r['tca_ns'])}",
            miss_distance_km=round(float(r["miss_distance_km"]), 6),
            relative_speed_kmps=round(float(r["relative_speed_kmps"]), 6),
            collision_probability=float(r["collision_probability"]),
            screened_at=iso_ns(r["screened_ns"]) or "",
        )
        for r in rows
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
    """Conjunctions from the stored screenings (``starbrain conjunctions screen`` or the live
    loop), the newest screening of each pair and TCA: miss distance (km), relative speed
    (km/s) and collision probability (Foster 2-D, default covariances)."""
    total, rows = await compute(
        request, _rows, store, sort, norad, min_pc, max_miss_km, limit, offset
    )
    return ConjunctionsResponse(total=total, sort=sort.value, conjunctions=rows)


def _detail(store: Store, n1: int, n2: int, tca_ns: int) -> ConjunctionDetail | None:
    t = store.query(
        "SELECT *, epoch_ns(tca) AS tca_ns_, epoch_ns(screened_at) AS screened_ns, "
        "epoch_ns(epoch_1) AS epoch_1_ns, epoch_ns(epoch_2) AS epoch_2_ns, "
        "epoch_ns(screen_start) AS start_ns, epoch_ns(screen_stop) AS stop_ns "
        "FROM conjunctions WHERE norad_id_1 = ? AND norad_id_2 = ? AND epoch_ns(tca) = ? "
        "ORDER BY screened_at DESC LIMIT 1",
        [n1, n2, tca_ns],
    )
    if t.num_rows == 0:
        return None
    r = t.to_pylist()[0]

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
        tca=iso_ns(r["tca_ns_"]) or "",
        tca_ns=int(r["tca_ns_"]),
        miss_distance_km=float(r["miss_distance_km"]),
        relative_speed_kmps=float(r["relative_speed_kmps"]),
        miss_rtn_km=[float(r[f"miss_{c}_km"]) for c in "rtn"],
        relative_velocity_rtn_kmps=[float(r[f"relative_velocity_{c}_kmps"]) for c in "rtn"],
        collision_probability=float(r["collision_probability"]),
        pc_method=r["pc_method"],
        hard_body_radius_m=float(r["hard_body_radius_km"]) * 1000.0,
        covariance_source=r["covariance_source"],
        screening_threshold_km=float(r["screening_threshold_km"]),
        screen_start=iso_ns(r["start_ns"]),
        screen_stop=iso_ns(r["stop_ns"]),
        screened_at=iso_ns(r["screened_ns"]) or "",
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
