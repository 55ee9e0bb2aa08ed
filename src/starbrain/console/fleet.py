"""The catalogue the console serves: current element sets cached with their SGP4 state, orbital
shells, and geodetic positions (batched SGP4 -> TEME -> ITRF -> WGS-84 geodetic).

The store is opened only when needed (``StoreProvider``), read-only and briefly, so the CLI can
keep loading catalogues into the same DuckDB file while the console runs; :class:`FleetCache`
re-reads the current element sets when the stored element-set count changes.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from starbrain.console.schemas import ShellSummary
from starbrain.core import timeconv
from starbrain.core.constants import WGS72_RADIUS_KM
from starbrain.core.timeconv import iso, iso_list  # re-exported: the routes' time writers
from starbrain.store.database import Store

__all__ = [
    "Fleet",
    "FleetCache",
    "StoreProvider",
    "classify_shells",
    "geodetic",
    "iso",
    "iso_list",
    "nullable",
    "utc_ns",
]

MAX_NAMED_SHELLS = 11  # the rest share one "other" colour


def utc_ns(t: Any) -> np.datetime64:
    """One time (anything ``timeconv.to_datetime64`` reads) -> a UTC ``datetime64[ns]`` scalar."""
    value: Any = np.asarray(timeconv.to_datetime64(t), dtype="datetime64[ns]")[()]
    return value


def nullable(values: npt.ArrayLike, decimals: int) -> list[Any]:
    """Floats rounded for JSON, NaN/inf -> None (JSON has no NaN). Works on any shape."""
    a = np.round(np.asarray(values, dtype=np.float64), decimals)
    if a.ndim > 1:
        return [nullable(row, decimals) for row in a]
    return [x if math.isfinite(x) else None for x in a.tolist()]


class StoreProvider:
    """Opens the store for a request: a shared handle (injected, or ``:memory:``) or a short-lived
    read-only connection to the file, so other processes can write between requests."""

    def __init__(self, path: str | Path, shared: Store | None = None) -> None:
        self.path = Path(path)
        if shared is None and str(path) == ":memory:":
            shared = Store(":memory:")
        elif shared is None and not self.path.exists():
            Store(self.path).close()  # create the file and its tables once
        self.shared = shared

    @contextmanager
    def open(self) -> Iterator[Store]:
        if self.shared is not None:
            yield self.shared
            return
        with Store(self.path, read_only=True) as store:
            yield store

    def close(self) -> None:
        if self.shared is not None and str(self.path) == ":memory:":
            self.shared.close()


def perigee_apogee_km(
    mean_motion_rev_per_day: npt.ArrayLike,
    inclination_deg: npt.ArrayLike,
    eccentricity: npt.ArrayLike,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Perigee and apogee heights (km) as SGP4 sees them: its mean semi-major axis (the TLE's
    Kozai mean motion un-Kozai'd, as python-sgp4's ``Satrec.altp``/``alta``) times ``1 -/+ e``,
    less the WGS-72 radius; the same convention as the shells' altitude, so a 570 km circular
    shell reads 570 km (a two-body WGS-84 height read 572 km). NaN where n <= 0."""
    from starbrain.sources.generators.constellation import mean_altitude_km

    e = np.asarray(eccentricity, dtype=np.float64)
    a = mean_altitude_km(mean_motion_rev_per_day, np.radians(inclination_deg), e) + WGS72_RADIUS_KM
    return a * (1.0 - e) - WGS72_RADIUS_KM, a * (1.0 + e) - WGS72_RADIUS_KM


def classify_shells(
    inclination_deg: npt.ArrayLike,
    mean_motion_rev_per_day: npt.ArrayLike,
    max_named: int = MAX_NAMED_SHELLS,
    eccentricity: npt.ArrayLike = 0.0,
) -> tuple[npt.NDArray[np.int16], list[ShellSummary]]:
    """Group objects by inclination (1 deg) and mean altitude (10 km): the ``max_named`` most
    populated groups get ids 0.., every other object the id ``max_named`` ("other").

    Altitude is the constellation's
    (:func:`starbrain.sources.generators.constellation.mean_altitude_km`:
    SGP4's mean semi-major axis minus the WGS-72 radius), so a shell generated at 570 km is
    labelled 570 km."""
    from starbrain.sources.generators.constellation import mean_altitude_km

    inc = np.asarray(inclination_deg, dtype=np.float64)
    alt = mean_altitude_km(mean_motion_rev_per_day, np.radians(inc), eccentricity)
    if inc.size == 0:
        return np.zeros(0, np.int16), []
    key = np.rint(inc).astype(np.int64) * 100_000 + np.rint(np.nan_to_num(alt) / 10).astype(
        np.int64
    )
    uniq, inverse, counts = np.unique(key, return_inverse=True, return_counts=True)
    order = np.argsort(-counts, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    shell = np.minimum(rank[inverse], max_named).astype(np.int16)
    shells = []
    for sid in range(min(uniq.size, max_named)):
        sel = shell == sid
        a, i = float(np.nanmean(alt[sel])), float(inc[sel].mean())
        shells.append(
            ShellSummary(
                id=sid,
                label=f"{a:.0f} km · {i:.1f}°",
                count=int(sel.sum()),
                altitude_km=round(a, 1),
                inclination_deg=round(i, 2),
            )
        )
    if uniq.size > max_named:
        n_other = int((shell == max_named).sum())
        shells.append(
            ShellSummary(
                id=max_named,
                label="other",
                count=n_other,
                altitude_km=None,
                inclination_deg=None,
            )
        )
    return shell, shells


@dataclass(frozen=True)
class Fleet:
    """Every object's current element set (sorted by NORAD number) and what is derived from it."""

    table: pa.Table
    norad_id: npt.NDArray[np.int64]
    names: list[str | None]
    shell: npt.NDArray[np.int16]
    shells: list[ShellSummary]
    state: Any  # Sgp4State of every object (None when the catalogue is empty)
    element_sets: int  # stored element sets, every epoch: the cache's change marker

    def __len__(self) -> int:
        return int(self.norad_id.size)

    def index_of(self, norad_ids: npt.ArrayLike) -> tuple[npt.NDArray[np.int64], list[int]]:
        """Row indices of the given NORAD numbers, and those that are not stored."""
        ids = np.asarray(norad_ids, dtype=np.int64).reshape(-1)
        pos = np.searchsorted(self.norad_id, ids)
        pos_c = np.minimum(pos, max(len(self) - 1, 0))
        found = (pos < len(self)) & (self.norad_id[pos_c] == ids) if len(self) else ids < 0
        return pos_c[found].astype(np.int64), sorted(set(ids[~found].tolist()))


def _build_fleet(table: pa.Table, element_sets: int, device: str | None) -> Fleet:
    from starbrain.physics.sgp4 import Sgp4Elements, sgp4_init

    ids = table.column("norad_id").to_numpy().astype(np.int64)
    order = np.argsort(ids, kind="stable")
    if not np.array_equal(order, np.arange(ids.size)):
        table = table.take(pa.array(order))
        ids = ids[order]
    shell, shells = classify_shells(
        table.column("inclination_deg").to_numpy(),
        table.column("mean_motion_rev_per_day").to_numpy(),
        eccentricity=table.column("eccentricity").to_numpy(),
    )
    state = sgp4_init(Sgp4Elements.from_table(table, device=device)) if len(ids) else None
    return Fleet(
        table=table,
        norad_id=ids,
        names=table.column("object_name").to_pylist(),
        shell=shell,
        shells=shells,
        state=state,
        element_sets=element_sets,
    )


class FleetCache:
    """The current :class:`Fleet`, rebuilt when the store's element-set count changes (checked at
    most every ``refresh_s`` seconds). Thread-safe; requests share one instance."""

    def __init__(self, stores: StoreProvider, refresh_s: float = 5.0, device: str | None = None):
        self.stores, self.refresh_s, self.device = stores, refresh_s, device
        self._fleet: Fleet | None = None
        self._checked = -math.inf
        self._lock = threading.Lock()

    def get(self) -> Fleet:
        with self._lock:
            now = time.monotonic()
            if self._fleet is not None and now - self._checked < self.refresh_s:
                return self._fleet
            with self.stores.open() as store:
                n_sets = store.count("elements")
                if self._fleet is None or self._fleet.element_sets != n_sets:
                    self._fleet = _build_fleet(store.current_elements(), n_sets, self.device)
            self._checked = now
            return self._fleet


def geodetic(
    fleet: Fleet, index: npt.NDArray[np.int64] | None, times: npt.ArrayLike, device: str | None
) -> tuple[npt.NDArray[Any], ...]:
    """WGS-84 ``(lat_deg, lon_deg, alt_km, sgp4_error)`` of the fleet's objects ``index`` (all
    when None) at UTC ``times``; each shaped ``(n_obj, n_time)``, NaN where SGP4 failed."""
    from starbrain.physics.earth import itrf_to_geodetic
    from starbrain.physics.frames import teme_to_itrf
    from starbrain.physics.sgp4 import propagate

    t = np.atleast_1d(np.asarray(timeconv.to_datetime64(times), dtype="datetime64[ns]"))
    n = len(fleet) if index is None else int(index.size)
    if n == 0:
        empty = np.zeros((0, t.size))
        return empty, empty, empty, empty.astype(np.uint8)
    jd, fr = timeconv.datetime64_to_jd(t)
    source = fleet.state if index is None else fleet.table.take(pa.array(index))
    r, _, err = propagate(source, jd, fr, device=device)
    r_itrf, _ = teme_to_itrf(r, None, jd, fr)
    lat, lon, alt = itrf_to_geodetic(np.asarray(r_itrf))
    bad = (err != 0) & (err != 6)  # 6: decayed, the state is still returned
    lat, lon, alt = (
        np.where(bad, np.nan, np.asarray(x, dtype=np.float64)) for x in (lat, lon, alt)
    )
    return np.degrees(lat), np.degrees(lon), alt, err
