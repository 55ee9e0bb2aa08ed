"""Types, constants and the propagated population shared by the screening modules."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from starbrain.physics import earth
from starbrain.physics.sgp4 import Sgp4Elements

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

_TS = pa.timestamp("ns", tz="UTC")
_TRI = ((0, 0), (1, 0), (1, 1), (2, 0), (2, 1), (2, 2))  # CDM order: CR_R CT_R CT_T CN_R CN_T CN_N


_MU = earth.GM_KM3_S2
_HERMITE_MARGIN_KM = 0.05  # cubic Hermite error over 60 s in LEO is ~1 m; generous
_VELOCITY_SLOP_KMPS = 1e-3  # |SGP4 velocity - d(position)/dt| < 0.3 m/s; bound 1 m/s
_FD_STEP_S = 0.01  # central difference step for the range-rate in the refinement
_TCA_TOL_S = 1e-5
_PREPASS_STEP_S = 300.0
_DENSE_MAX = 400_000  # primaries x objects below which the time filter is dense


@dataclass(slots=True)
class _Population:
    elements: Sgp4Elements
    epoch_ns: IntArray
    norad: IntArray
    names: npt.NDArray[np.object_]

    @classmethod
    def from_table(cls, table: pa.Table, device: Any) -> _Population:
        epoch = np.asarray(table.column("epoch").to_numpy(zero_copy_only=False))
        names = table.column("object_name").to_pylist()
        return cls(
            elements=Sgp4Elements.from_table(table, device=device or "cpu"),
            epoch_ns=epoch.astype("datetime64[ns]").astype(np.int64),
            norad=np.asarray(table.column("norad_id").to_numpy(), dtype=np.int64),
            names=np.array([s if s is not None else "" for s in names], dtype=object),
        )

    def __len__(self) -> int:
        return len(self.norad)

    def tsince_min(self, idx: IntArray | None, t0_ns: int, offsets_s: FloatArray) -> FloatArray:
        """Minutes since each object's epoch at ``t0 + offsets_s``: (n_sel, n_time)."""
        ep = self.epoch_ns if idx is None else self.epoch_ns[idx]
        base = (t0_ns - ep).astype(np.float64) / 60e9
        return base[:, None] + np.asarray(offsets_s, dtype=np.float64) / 60.0
