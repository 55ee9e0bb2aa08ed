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
from starbrain.store.database import Store

__all__ = ["EVENTS_TABLE", "STATE_TABLE", "Checkpoint", "ensure_tables", "has_table"]

STATE_TABLE = "loop_state"
EVENTS_TABLE = "loop_events"
_DDL = (
    f"CREATE TABLE IF NOT EXISTS {STATE_TABLE} (task VARCHAR PRIMARY KEY, "
    "done_until TIMESTAMP_NS NOT NULL, runs BIGINT NOT NULL, updated_at TIMESTAMP_NS NOT NULL)",
    f"CREATE TABLE IF NOT EXISTS {EVENTS_TABLE} (sim_time TIMESTAMP_NS, published_at "
    "TIMESTAMP_NS NOT NULL, subject VARCHAR NOT NULL, payload VARCHAR NOT NULL)",
)


def _execute(store: Store, sql: str, params: list[Any] | None = None) -> None:
    # these two small tables belong to the loop, not to a registered stream
    store.execute(sql, params)


def has_table(store: Store, name: str) -> bool:
    """Whether the store holds a table or view called ``name``."""
    t = store.query(
        "SELECT count(*) AS n FROM information_schema.tables WHERE table_name = ?", [name]
    )
    return bool(t.column("n")[0].as_py())


def ensure_tables(store: Store) -> None:
    for sql in _DDL:
        _execute(store, sql)


_naive = timeconv.naive_utc  # a UTC instant for DuckDB's TIMESTAMP_NS parameters (us)


class Checkpoint:
    """Reads and writes the loop's checkpoint and message log in ``store``."""

    def __init__(self, store: Store) -> None:
        self.store = store
        ensure_tables(store)

    def load(self) -> dict[str, np.datetime64]:
        """``{task: done_until}`` (UTC datetime64[ns]) of every task that has run."""
        t = self.store.query(f"SELECT task, epoch_ns(done_until) AS ns FROM {STATE_TABLE}")
        return {
            task: np.datetime64(int(ns), "ns")
            for task, ns in zip(
                t.column("task").to_pylist(), t.column("ns").to_pylist(), strict=True
            )
        }

    def save(self, task: str, done_until: np.datetime64) -> None:
        ns = int(done_until.astype("datetime64[ns]").astype(np.int64))
        now = int(timeconv.utc_now().astype("datetime64[ns]").astype(np.int64))
        _execute(
            self.store,
            f"INSERT INTO {STATE_TABLE} VALUES (?, make_timestamp_ns(?), 1, make_timestamp_ns(?)) "
            "ON CONFLICT (task) DO UPDATE SET done_until = excluded.done_until, "
            "runs = runs + 1, updated_at = excluded.updated_at",
            [task, ns, now],
        )

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
