"""The loop's own tables in the store: per-task checkpoints and the log of published messages.

``loop_state``: one row per task, ``done_until`` the simulated time up to which the task has
processed its windows (a restart continues from there, so no window is processed twice).
``loop_events``: every message the loop published (subject, simulated time, JSON), so the
console can show the history and nothing published is lost with the process.
Timestamps are TIMESTAMP_NS holding UTC, as in every stream of the store.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pyarrow as pa

from starbrain.core import timeconv
from starbrain.store import queries
from starbrain.store.database import Store

__all__ = ["EVENTS_TABLE", "STATE_TABLE", "Checkpoint", "ensure_tables", "has_table"]

STATE_TABLE = queries.LOOP_STATE_TABLE
EVENTS_TABLE = queries.LOOP_EVENTS_TABLE
has_table = queries.has_table  # whether the store holds a table or view of that name
ensure_tables = queries.ensure_loop_tables  # create both tables when missing


class Checkpoint:
    """Reads and writes the loop's checkpoint and message log in ``store``."""

    def __init__(self, store: Store) -> None:
        self.store = store
        ensure_tables(store)

    def load(self) -> dict[str, np.datetime64]:
        """``{task: done_until}`` (UTC datetime64[ns]) of every task that has run."""
        return queries.loop_done_until(self.store)

    def save(self, task: str, done_until: np.datetime64) -> None:
        queries.save_loop_task(self.store, task, done_until)

    def log(self, messages: list[dict[str, Any]]) -> None:
        """Append published messages (each with ``subject`` and ``sim_time``) in one batch."""
        if not messages:
            return
        now = timeconv.utc_now().astype("datetime64[ns]")
        sim = np.array(
            [np.datetime64(str(m.get("sim_time", "")).rstrip("Z") or "NaT", "ns") for m in messages]
        )
        table = pa.table(
            {
                "sim_time": pa.array(sim, pa.timestamp("ns")),
                "published_at": pa.array(np.full(len(messages), now), pa.timestamp("ns")),
                "subject": [str(m["subject"]) for m in messages],
                "payload": [json.dumps(m, separators=(",", ":"), default=str) for m in messages],
            }
        )
        self.store.insert_arrow(EVENTS_TABLE, table)
