"""The screening's results: :class:`Conjunctions` (arrays, and the ``CONJUNCTIONS_SCHEMA`` table)
and :class:`ScreeningStats`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from starbrain.core import timeconv
from starbrain.core.schemas.decisions import (
    CONJUNCTIONS_SCHEMA,
    COVARIANCE_COLUMNS,
    STATE_COLUMNS,
)
from starbrain.planners.conjunctions.common import _TRI, _TS, FloatArray, IntArray


@dataclass(slots=True)
class ScreeningStats:
    """What each stage of a screening kept, and how long it took (wall seconds)."""

    n_objects: int = 0
    n_pairs: int = 0  # pairs screened (all pairs, or those with a primary)
    n_pairs_radial: int = 0  # pairs whose radial bands over the whole span overlap
    n_steps: int = 0
    step_s: float = 0.0
    pair_radius_km: float = 0.0  # D of the time filter
    n_grid_candidates: int = 0  # (pair, grid time) within D
    n_linear: int = 0  # after the rectilinear filter
    n_brackets: int = 0  # distinct (pair, interval) brackets
    n_refined: int = 0  # brackets refined with SGP4
    n_conjunctions: int = 0
    n_invalid_objects: int = 0  # objects with SGP4 errors somewhere in the span
    propagator: str = "sgp4"  # what moved the objects (see .propagator)
    n_shards: int = 1  # pieces of the window screened on their own
    seconds: dict[str, float] = field(default_factory=dict)

    def summary(self) -> str:
        t = ", ".join(f"{k} {v:.1f} s" for k, v in self.seconds.items())
        return (
            f"{self.n_objects} objects, {self.n_pairs:,} pairs ({self.n_pairs_radial:,} after the "
            f"apogee/perigee filter), {self.n_steps} steps of {self.step_s:g} s, "
            f"{self.n_grid_candidates:,} grid candidates -> {self.n_linear:,} -> "
            f"{self.n_brackets:,} brackets -> {self.n_refined:,} refined -> "
            f"{self.n_conjunctions} conjunctions; propagator {self.propagator}, "
            f"{self.n_shards} shard{'s' if self.n_shards != 1 else ''}; {t} (shard times summed)"
        )


@dataclass(slots=True)
class Conjunctions:
    """Conjunctions found by :func:`screen_conjunctions`, one row each, sorted by TCA.

    Arrays ``(n,)`` unless noted: ``index_1``, ``index_2`` (rows of the input table; object 1 is
    the primary when primaries were given, else the earlier row), ``norad_id_1``,
    ``norad_id_2``, ``tca`` (UTC ``datetime64[ns]``), ``miss_km``, ``relative_speed_kmps``,
    ``miss_rtn_km`` and ``relative_velocity_rtn_kmps`` ``(n, 3)`` (object 2 relative to object 1,
    object 1's RTN), ``r1_km``, ``v1_kmps``, ``r2_km``, ``v2_kmps`` ``(n, 3)`` (TEME at TCA),
    ``cov1_rtn_km2``, ``cov2_rtn_km2`` ``(n, 3, 3)``, ``hard_body_radius_km``, ``pc``.
    """

    index_1: IntArray
    index_2: IntArray
    norad_id_1: IntArray
    norad_id_2: IntArray
    name_1: npt.NDArray[np.object_]
    name_2: npt.NDArray[np.object_]
    epoch_1: npt.NDArray[np.datetime64]
    epoch_2: npt.NDArray[np.datetime64]
    tca: npt.NDArray[np.datetime64]
    miss_km: FloatArray
    relative_speed_kmps: FloatArray
    miss_rtn_km: FloatArray
    relative_velocity_rtn_kmps: FloatArray
    r1_km: FloatArray
    v1_kmps: FloatArray
    r2_km: FloatArray
    v2_kmps: FloatArray
    cov1_rtn_km2: FloatArray
    cov2_rtn_km2: FloatArray
    hard_body_radius_km: FloatArray
    pc: FloatArray
    threshold_km: float
    start: np.datetime64
    stop: np.datetime64
    covariance_source: str
    stats: ScreeningStats
    screened_at: np.datetime64 = field(default_factory=timeconv.utc_now)

    def __len__(self) -> int:
        return len(self.norad_id_1)

    def to_arrow(self) -> pa.Table:
        """The conjunctions as a table with schema ``CONJUNCTIONS_SCHEMA``."""
        n = len(self)
        states = np.concatenate([self.r1_km, self.v1_kmps, self.r2_km, self.v2_kmps], axis=1)
        covs = [c[:, i, j] for c in (self.cov1_rtn_km2, self.cov2_rtn_km2) for i, j in _TRI]

        def ts(values: Any) -> pa.Array:
            return pa.array(np.asarray(values, "datetime64[ns]"), pa.timestamp("ns")).cast(_TS)

        cols: dict[str, Any] = {
            "norad_id_1": pa.array(self.norad_id_1, pa.int32()),
            "norad_id_2": pa.array(self.norad_id_2, pa.int32()),
            "object_name_1": pa.array(list(self.name_1), pa.string()),
            "object_name_2": pa.array(list(self.name_2), pa.string()),
            "tca": ts(self.tca),
            "miss_distance_km": self.miss_km,
            "relative_speed_kmps": self.relative_speed_kmps,
            "miss_r_km": self.miss_rtn_km[:, 0],
            "miss_t_km": self.miss_rtn_km[:, 1],
            "miss_n_km": self.miss_rtn_km[:, 2],
            "relative_velocity_r_kmps": self.relative_velocity_rtn_kmps[:, 0],
            "relative_velocity_t_kmps": self.relative_velocity_rtn_kmps[:, 1],
            "relative_velocity_n_kmps": self.relative_velocity_rtn_kmps[:, 2],
            **{name: states[:, k] for k, name in enumerate(STATE_COLUMNS)},
            **dict(zip(COVARIANCE_COLUMNS, covs, strict=True)),
            "hard_body_radius_km": self.hard_body_radius_km,
            "collision_probability": self.pc,
            "pc_method": pa.array(["foster-2d"] * n, pa.string()),
            "covariance_source": pa.array([self.covariance_source] * n, pa.string()),
            "epoch_1": ts(self.epoch_1),
            "epoch_2": ts(self.epoch_2),
            "screening_threshold_km": np.full(n, self.threshold_km),
            "screen_start": ts(np.full(n, self.start)),
            "screen_stop": ts(np.full(n, self.stop)),
            "screened_at": ts(np.full(n, self.screened_at)),
        }
        return pa.table(cols, schema=CONJUNCTIONS_SCHEMA)
