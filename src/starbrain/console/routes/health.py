"""GET /api/health: liveness, version and the size of the served catalogue."""

from __future__ import annotations

from fastapi import APIRouter

from starbrain import __version__
from starbrain.console.deps import ERROR_RESPONSES, FleetDep, SettingsDep
from starbrain.console.schemas import Health
from starbrain.core import timeconv
from starbrain.core.timeconv import iso

router = APIRouter(tags=["health"], responses=ERROR_RESPONSES)


@router.get("/api/health", response_model=Health, summary="Service health")
def health(fleet: FleetDep, settings: SettingsDep) -> Health:
    """The service is up; the store it reads and how many objects it serves."""
    return Health(
        version=__version__,
        time_utc=iso(timeconv.utc_now()) or "",
        store=str(settings.store_path),
        objects=len(fleet),
        element_sets=fleet.element_sets,
        auth=settings.token is not None,
    )
