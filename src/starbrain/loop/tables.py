"""Table helpers of the loop's windows: current catalogue, injected-anomaly labels, alert rows."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import numpy as np
import pyarrow as pa

from starbrain.loop.clock import iso
from starbrain.loop.simulators import PowerSimulator, injected_anomalies
from starbrain.store.database import Store

__all__ = ["TelemetryBuffer", "conjunction_rows", "label_injected", "merge_current"]


class TelemetryBuffer:
    """Decoded telemetry batches waiting to be stored in one append (at ``flush_rows`` rows or on
    :meth:`flush`); ``stored["telemetry"]`` counts the rows stored."""

    def __init__(self, store: Store, stored: Counter[str], flush_rows: int) -> None:
        self.store, self.stored, self.flush_rows = store, stored, flush_rows
        self.batches: list[pa.RecordBatch] = []
        self.rows = 0
        self.lock = asyncio.Lock()

    async def add(self, batches: list[pa.RecordBatch]) -> None:
        self.batches.extend(b for b in batches if b.num_rows)
        self.rows += sum(b.num_rows for b in batches)
        if self.rows >= self.flush_rows:
            await self.flush()

    async def flush(self) -> int:
        async with self.lock:
            if not self.batches:
                return 0
            batches, self.batches, self.rows = self.batches, [], 0
            table = pa.Table.from_batches(batches)
            await asyncio.to_thread(self.store.append, "telemetry", table)
            self.stored["telemetry"] += table.num_rows
            return table.num_rows


def merge_current(previous: pa.Table | None, new: pa.Table) -> pa.Table:
    """The newest element set per object after ``new`` arrived (as the store's current view)."""
    import pyarrow.compute as pc

    if previous is None or previous.num_rows == 0:
        both = new
    else:
        both = pa.concat_tables([previous, new.cast(previous.schema)])
    ids = both.column("norad_id").to_numpy()
    epochs = both.column("epoch").to_numpy().astype("datetime64[ns]").astype(np.int64)
    order = np.lexsort((-epochs, ids))  # per object, newest first
    first = np.ones(order.size, dtype=bool)
    first[1:] = ids[order][1:] != ids[order][:-1]
    current = both.take(pa.array(order[first]))
    return current.take(pc.sort_indices(current, [("norad_id", "ascending")]))


def label_injected(
    found: pa.Table, sim: PowerSimulator, a: np.datetime64, b: np.datetime64
) -> pa.Table:
    """Label the detections on the simulator's battery temperature that overlap an excursion it
    injected (the truth a simulated source knows)."""
    margin = np.timedelta64(int(sim.anomaly_duration_s * 2e9), "ns")
    windows = injected_anomalies(
        a - margin, b + margin, sim.anomaly_every_s, sim.anomaly_duration_s
    )
    starts = found.column("start").to_numpy().astype("datetime64[ns]")
    ends = found.column("end").to_numpy().astype("datetime64[ns]")
    params = found.column("parameter").to_pylist()
    sources = found.column("source").to_pylist()
    labels = found.column("label").to_pylist()
    for i in range(found.num_rows):
        if sources[i] == sim.source and params[i] == "battery_temperature":
            if any(s0 <= ends[i] and starts[i] <= e0 for s0, e0 in windows):
                labels[i] = "battery-temperature-excursion"
    return found.set_column(
        found.schema.get_field_index("label"),
        found.schema.field("label"),
        pa.array(labels, pa.string()),
    )


def conjunction_rows(table: pa.Table) -> list[dict[str, Any]]:
    """The rows of a conjunctions table as JSON-ready messages (ids, TCA in ISO and ns, miss in
    km, relative speed in km/s, Pc)."""
    if table.num_rows == 0:
        return []
    tca = table.column("tca").to_numpy().astype("datetime64[ns]")
    return [
        {
            "norad_id_1": int(n1),
            "norad_id_2": int(n2),
            "tca": iso(t),
            "tca_ns": int(t.astype(np.int64)),
            "miss_km": round(float(m), 4),
            "relative_speed_kmps": round(float(v), 4),
            "pc": float(p),
        }
        for n1, n2, t, m, v, p in zip(
            table.column("norad_id_1").to_pylist(),
            table.column("norad_id_2").to_pylist(),
            tca,
            table.column("miss_distance_km").to_pylist(),
            table.column("relative_speed_kmps").to_pylist(),
            table.column("collision_probability").to_pylist(),
            strict=True,
        )
    ]
