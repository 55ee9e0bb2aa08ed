"""The embedded DuckDB store: create stream tables, append Arrow batches atomically, query, export.

Every append is one transaction over an Arrow table registered with DuckDB (a plain ``INSERT``
for append-only streams such as telemetry), so rows go in as columns (never one by one) and a
reader never sees a half-written batch. For keyed streams (element sets, ephemerides, ...) each
offered row is one of: *new* (its key is not stored), a *duplicate* (same key and same values as
the stored row, or as the first row of the batch with that key: loading the same file twice adds
nothing) or a *conflict* (same key, other values). Conflicts are counted and named in the
:class:`AppendResult`; ``on_conflict="keep"`` (the default) keeps the stored row, and inside one
batch the first row in input order; ``on_conflict="replace"`` stores the offered row instead,
and inside one batch the last row in input order (rows applied in order). Which columns count
as "values" is the stream's ``compare`` (provenance such as the file name does not).

Several writes join one transaction inside ``with store.transaction(): ...``.

Locks: DuckDB lets one process write a file, or several read it, never both. Opening a store
another process holds retries for up to ``BUSY_TIMEOUT_S`` (2 s) and then raises
:class:`StoreBusyError` (a :class:`StarbrainError` saying the store is busy; the console answers
it with 503 and ``Retry-After``). Timestamps are UTC ``timestamp[ns]``: stored as TIMESTAMP_NS and
given their UTC time zone back on the way out, so Arrow tables round-trip unchanged.
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from starbrain.config import settings
from starbrain.core.errors import StarbrainError
from starbrain.store.streams import STREAMS, Stream, duckdb_type

__all__ = ["BUSY_TIMEOUT_S", "AppendResult", "OnConflict", "Store", "StoreBusyError"]

BUSY_TIMEOUT_S = 2.0  # how long opening a store another process holds is retried
OnConflict = Literal["keep", "replace"]


class StoreBusyError(StarbrainError):
    """The store file is locked by another process (DuckDB: one writer, or readers, per file).
    ``retry_after_s``: a sensible wait before trying again, in seconds."""

    retry_after_s = 1


@dataclass(frozen=True, slots=True)
class AppendResult:
    """What one append did. Every offered row is new, a duplicate or a conflict:
    ``n_rows == n_new + n_duplicate + n_conflict``.

    ``n_new``: rows stored under a key that was not stored before. ``n_duplicate``: rows
    identical (in the stream's ``compare`` columns) to the stored row with their key, or to an
    earlier row of the batch. ``n_conflict``: rows with a stored (or earlier) row's key but other
    values; ``conflicts`` lists their distinct keys (dicts of key columns, input order).
    ``n_replaced``: stored rows overwritten (``on_conflict="replace"`` only). Append-only streams
    store every row: ``n_new == n_rows``.
    """

    stream: str
    n_rows: int  # rows offered
    n_new: int  # rows stored under a new key
    n_conflict: int = 0
    conflicts: tuple[dict[str, Any], ...] = ()
    n_replaced: int = 0

    @property
    def n_duplicate(self) -> int:
        return self.n_rows - self.n_new - self.n_conflict

    @property
    def n_stored(self) -> int:
        """Rows written (new plus replaced)."""
        return self.n_new + self.n_replaced

    def conflict_names(self, limit: int = 5) -> str:
        """The first ``limit`` conflicting keys as text ("norad_id 25544, epoch
        2008-09-20T12:25:40.104192Z; ..."; UTC times in ISO 8601), "+ N more" after them."""

        def show(v: Any) -> str:
            if hasattr(v, "isoformat"):
                return str(v.isoformat()).replace("+00:00", "Z")
            return str(v)

        shown = [
            ", ".join(f"{k} {show(v)}" for k, v in key.items()) for key in self.conflicts[:limit]
        ]
        more = len(self.conflicts) - len(shown)
        return "; ".join(shown) + (f" (+ {more} more)" if more > 0 else "")


def _to_arrow(relation: Any) -> pa.Table:
    fetch = getattr(relation, "to_arrow_table", None) or relation.arrow  # DuckDB >= 2 / < 2
    return fetch()


def _scalar(row: tuple[Any, ...] | None) -> Any:
    if row is None:  # DuckDB always answers INSERT and count(*) with one row
        raise RuntimeError("DuckDB returned no row")
    return row[0]


def _strip_tz(table: pa.Table) -> pa.Table:
    """UTC timestamps -> naive timestamps of the same instants, for TIMESTAMP_NS columns."""
    fields = [
        pa.field(f.name, pa.timestamp(f.type.unit), f.nullable)
        if pa.types.is_timestamp(f.type) and f.type.tz is not None
        else f
        for f in table.schema
    ]
    return table.cast(pa.schema(fields))


def _lock_holder(message: str) -> str:
    """'process /usr/bin/python (PID 123)' from DuckDB's lock error, or 'another process'."""
    m = re.search(r"Conflicting lock is held in (.+?) \(PID (\d+)\)", message)
    return f"process {m.group(1)} (PID {m.group(2)})" if m else "another process"


def _connect(path: Path, read_only: bool, busy_timeout_s: float) -> duckdb.DuckDBPyConnection:
    """Connect, retrying for ``busy_timeout_s`` while another process holds the file's lock."""
    deadline = time.monotonic() + max(0.0, busy_timeout_s)
    delay = 0.02
    while True:
        try:
            return duckdb.connect(str(path), read_only=read_only)
        except duckdb.ConnectionException as exc:
            # this process already has the file open for writing: share that database
            if read_only and "different configuration" in str(exc):
                return duckdb.connect(str(path))
            raise StarbrainError(
                f"cannot open the store {path}: {str(exc).splitlines()[0]}"
            ) from exc
        except duckdb.IOException as exc:
            text = str(exc)
            if "lock" not in text.lower():
                raise StarbrainError(
                    f"cannot open the store {path}: {text.splitlines()[0]}"
                ) from exc
            left = deadline - time.monotonic()
            if left <= 0:
                raise StoreBusyError(
                    f"cannot open the store {path}: it is busy, {_lock_holder(text)} holds its "
                    f"lock (waited {busy_timeout_s:g} s; one process may write a store, or "
                    "several read it); try again when that process has finished"
                ) from exc
            time.sleep(min(delay, left))
            delay = min(2 * delay, 0.2)


class Store:
    """A DuckDB file holding every stream. Use as a context manager or call ``close()``.

    ``path`` defaults to ``settings().db_path`` (``STARBRAIN_DB``); ``":memory:"`` works for
    throw-away stores. Methods are safe to call from several threads: each uses its own cursor
    (its own transaction), except inside :meth:`transaction`, where the calling thread's writes
    share one.

    ``read_only=True`` (what commands that only read use) lets other readers in while it is open;
    a store file that does not exist yet is created (empty) first. While another process holds
    the file (a writer, or for a writer any reader) opening retries for ``busy_timeout_s``
    (default ``BUSY_TIMEOUT_S``) and then raises :class:`StoreBusyError`. A read-only open in a
    process that already has the file open for writing shares that connection.
    """

    def __init__(
        self,
        path: str | Path | None = None,
        read_only: bool = False,
        busy_timeout_s: float | None = None,
    ) -> None:
        self.path = Path(path) if path is not None else settings().db_path
        wait = BUSY_TIMEOUT_S if busy_timeout_s is None else busy_timeout_s
        memory = str(self.path) == ":memory:"
        if not memory and not read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        if not memory and read_only and not self.path.exists():
            Store(self.path, busy_timeout_s=wait).close()  # create the file and its tables
        self._con = _connect(self.path, read_only and not memory, wait)
        self.read_only = read_only
        self._lock = threading.Lock()
        self._tx = threading.local()
        if not read_only:
            self._create_tables()

    # -- lifecycle ------------------------------------------------------------------------------
    def close(self) -> None:
        self._con.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _cursor(self) -> Iterator[duckdb.DuckDBPyConnection]:
        tx = getattr(self._tx, "cur", None)
        if tx is not None:  # inside this thread's transaction
            yield tx
            return
        with self._lock:
            cur = self._con.cursor()
        try:
            yield cur
        finally:
            cur.close()

    @contextmanager
    def _atomic(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A cursor in a transaction: this thread's open one, or a new one committed on exit."""
        tx = getattr(self._tx, "cur", None)
        if tx is not None:
            yield tx
            return
        with self._cursor() as cur:
            cur.execute("BEGIN TRANSACTION")
            try:
                yield cur
                cur.execute("COMMIT")
            except BaseException:
                cur.execute("ROLLBACK")
                raise

    @contextmanager
    def transaction(self) -> Iterator[Store]:
        """One transaction for every write this thread makes inside the block (:meth:`append`,
        :meth:`insert_arrow`, :meth:`execute`, :meth:`execute_atomic`; reads see them):
        committed when the block ends, rolled back, all of it, if it raises. Nested blocks join
        the outer one. Other threads keep their own transactions and see nothing until commit.
        """
        if getattr(self._tx, "cur", None) is not None:
            yield self
            return
        with self._lock:
            cur = self._con.cursor()
        try:
            cur.execute("BEGIN TRANSACTION")
            self._tx.cur = cur
            try:
                yield self
            except BaseException:
                self._tx.cur = None
                cur.execute("ROLLBACK")
                raise
            self._tx.cur = None
            cur.execute("COMMIT")
        finally:
            self._tx.cur = None
            cur.close()

    def _create_tables(self) -> None:
        with self._cursor() as cur:
            for stream in STREAMS.values():
                cols = ", ".join(
                    f'"{f.name}" {duckdb_type(f.type)}{"" if f.nullable else " NOT NULL"}'
                    for f in stream.schema
                )
                key = ", ".join(f'"{k}"' for k in stream.key)
                pk = f", PRIMARY KEY ({key})" if stream.unique else ""
                cur.execute(f"CREATE TABLE IF NOT EXISTS {stream.name} ({cols}{pk})")
                if stream.time_column:
                    ids = ", ".join(f'"{k}"' for k in stream.key if k != stream.time_column)
                    cur.execute(
                        f"CREATE VIEW IF NOT EXISTS {stream.name}_current AS SELECT * FROM "
                        f"{stream.name} QUALIFY row_number() OVER (PARTITION BY {ids} "
                        f'ORDER BY "{stream.time_column}" DESC) = 1'
                    )
            cur.execute(
                "CREATE TABLE IF NOT EXISTS loads (loaded_at TIMESTAMP_NS DEFAULT now(), "
                "stream VARCHAR, source VARCHAR, n_rows BIGINT, n_new BIGINT, n_errors BIGINT)"
            )

    @staticmethod
    def stream(name: str) -> Stream:
        try:
            return STREAMS[name]
        except KeyError:
            raise StarbrainError(
                f"no stream named {name!r}; streams are {', '.join(STREAMS)}"
            ) from None

    # -- writing --------------------------------------------------------------------------------
    def append(
        self,
        stream_name: str,
        table: pa.Table,
        source: str | None = None,
        n_errors: int = 0,
        on_conflict: OnConflict = "keep",
    ) -> AppendResult:
        """Append an Arrow table to a stream in one transaction (the caller's, inside
        :meth:`transaction`). For keyed streams a row whose key is stored is a duplicate
        (same values: skipped) or a conflict (other values: ``on_conflict="keep"`` skips it,
        ``"replace"`` overwrites the stored row); see the module docstring and
        :class:`AppendResult`. ``source`` (a file name) records the load in ``loads``."""
        if on_conflict not in ("keep", "replace"):
            raise StarbrainError(f"on_conflict must be 'keep' or 'replace', not {on_conflict!r}")
        stream = self.stream(stream_name)
        missing = set(stream.schema.names) - set(table.schema.names)
        if missing:
            raise StarbrainError(
                f"cannot append to {stream.name}: missing columns {', '.join(sorted(missing))}"
            )
        batch = _strip_tz(table.select(stream.schema.names).cast(stream.schema))
        result = AppendResult(stream.name, table.num_rows, table.num_rows)
        with self._atomic() as cur:
            if stream.unique:
                batch = batch.append_column("_rn", pa.array(np.arange(batch.num_rows)))
            cur.register("_batch", batch)
            try:
                if stream.unique:
                    result = self._append_keyed(cur, stream, table, on_conflict)
                else:
                    cur.execute(f"INSERT INTO {stream.name} SELECT * FROM _batch")
                if source is not None:
                    cur.execute(
                        "INSERT INTO loads (stream, source, n_rows, n_new, n_errors) "
                        "VALUES (?, ?, ?, ?, ?)",
                        [stream.name, source, table.num_rows, result.n_stored, n_errors],
                    )
            finally:
                with contextlib.suppress(duckdb.Error):  # fails once a statement has failed
                    cur.unregister("_batch")
        return result

    @staticmethod
    def _append_keyed(
        cur: duckdb.DuckDBPyConnection, stream: Stream, table: pa.Table, on_conflict: OnConflict
    ) -> AppendResult:
        """Classify ``_batch`` (with its input order ``_rn``) against the stored rows and the
        batch itself, then insert (or replace) the winners."""
        key = ", ".join(f'"{k}"' for k in stream.key)
        cols = ", ".join(f'"{c}"' for c in stream.schema.names)

        def same(a: str, b: str) -> str:
            return " AND ".join(
                [f'{a}."{c}" IS NOT DISTINCT FROM {b}."{c}"' for c in stream.compared] or ["true"]
            )

        on = lambda a, b: " AND ".join(f'{a}."{k}" = {b}."{k}"' for k in stream.key)  # noqa: E731
        k0 = stream.key[0]
        sql = (
            f"WITH r AS (SELECT *, row_number() OVER (PARTITION BY {key} ORDER BY _rn) AS _k, "
            f"count(*) OVER (PARTITION BY {key}) AS _n FROM _batch), "
            "f AS (SELECT * FROM r WHERE _k = 1) "
            f'SELECT r._rn AS rn, r._k AS k, r._n AS n, s."{k0}" IS NOT NULL AS stored, '
            f'CASE WHEN s."{k0}" IS NOT NULL THEN ({same("r", "s")}) ELSE ({same("r", "f")}) '
            f"END AS same FROM r JOIN f ON {on('r', 'f')} "
            f"LEFT JOIN {stream.name} s ON {on('r', 's')} ORDER BY r._rn"
        )
        c = _to_arrow(cur.sql(sql))
        rn = c.column("rn").to_numpy()
        k = c.column("k").to_numpy()
        n = c.column("n").to_numpy()
        stored = c.column("stored").to_numpy(zero_copy_only=False).astype(bool)
        identical = c.column("same").to_numpy(zero_copy_only=False).astype(bool)
        conflict = ~identical
        if on_conflict == "keep":
            win = (k == 1) & ~stored
            n_replaced = 0
        else:  # the last row of each key, unless it is what is stored already
            win = (k == n) & ~(stored & identical)
            n_replaced = int((win & stored).sum())
        if win.any():
            verb = "INSERT" if on_conflict == "keep" else "INSERT OR REPLACE"
            cur.execute(
                f"{verb} INTO {stream.name} SELECT {cols} FROM _batch "
                "WHERE _rn IN (SELECT unnest(?))",
                [rn[win].tolist()],
            )
        n_new = int((win & ~stored).sum())
        conflicts: list[dict[str, Any]] = []
        if conflict.any():
            rows = table.select(list(stream.key)).take(pa.array(rn[conflict])).to_pylist()
            seen: set[tuple[Any, ...]] = set()
            for row in rows:
                t = tuple(row.values())
                if t not in seen:
                    seen.add(t)
                    conflicts.append(row)
        return AppendResult(
            stream.name, table.num_rows, n_new, int(conflict.sum()), tuple(conflicts), n_replaced
        )

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> None:
        """Run one SQL statement, for tables a layer keeps outside the registered streams (the
        loop's checkpoint, for one). Streams are written with :meth:`append` only. Inside
        :meth:`transaction` it joins that transaction."""
        with self._cursor() as cur:
            cur.execute(sql, list(params) if params else [])

    def execute_atomic(
        self, statements: Sequence[tuple[str, Sequence[Any]]], tables: dict[str, pa.Table]
    ) -> list[Any]:
        """Run SQL statements in one transaction, with Arrow ``tables`` registered under their
        names (UTC timestamps stripped, as stored); returns each statement's first value (None
        for no row). For layers that write a stream and their own tables together (the
        telemetry file ledger); all or nothing."""
        out: list[Any] = []
        with self._atomic() as cur:
            for name, table in tables.items():
                cur.register(name, _strip_tz(table))
            try:
                for sql, params in statements:
                    row = cur.execute(sql, list(params)).fetchone()
                    out.append(row[0] if row else None)
            finally:
                for name in tables:
                    with contextlib.suppress(duckdb.Error):
                        cur.unregister(name)
        return out

    def insert_arrow(self, table_name: str, table: pa.Table) -> int:
        """Append an Arrow table to an existing plain table (columns in table order) in one
        statement; returns the rows inserted. For tables outside the registered streams.
        Inside :meth:`transaction` it joins that transaction."""
        with self._cursor() as cur:
            cur.register("_rows", table)
            try:
                cur.execute(f'INSERT INTO "{table_name}" SELECT * FROM _rows')
            finally:
                cur.unregister("_rows")
        return table.num_rows

    # -- reading --------------------------------------------------------------------------------
    def query(self, sql: str, params: Sequence[Any] | None = None) -> pa.Table:
        """Run SQL and return an Arrow table (timestamps as stored: naive, UTC)."""
        with self._cursor() as cur:
            return _to_arrow(cur.sql(sql, params=list(params) if params else None))

    def count(self, stream_name: str, current: bool = False) -> int:
        stream = self.stream(stream_name)
        name = f"{stream.name}_current" if current else stream.name
        with self._cursor() as cur:
            return int(_scalar(cur.execute(f"SELECT count(*) FROM {name}").fetchone()))

    def read(
        self,
        stream_name: str,
        current: bool = False,
        where: str | None = None,
        params: Sequence[Any] | None = None,
        limit: int | None = None,
    ) -> pa.Table:
        """Rows of a stream as an Arrow table in the stream's schema.

        ``current=True`` keeps only the newest row per object (by the stream's time column).
        ``where`` is an SQL condition with ``?`` placeholders bound from ``params``.
        """
        stream = self.stream(stream_name)
        name = f"{stream.name}_current" if current else stream.name
        order = ", ".join(f'"{k}"' for k in stream.key)
        sql = f"SELECT * FROM {name}"
        if where:
            sql += f" WHERE {where}"
        sql += f" ORDER BY {order}"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return self.query(sql, params).cast(stream.schema)

    def current_elements(self, norad_ids: Sequence[int] | None = None) -> pa.Table:
        """The newest element set of every object (or of the given catalogue numbers)."""
        if norad_ids is None:
            return self.read("elements", current=True)
        return self.read(
            "elements",
            current=True,
            where="norad_id IN (SELECT unnest(?))",
            params=[list(map(int, norad_ids))],
        )

    def element_history(self, norad_id: int) -> pa.Table:
        """Every stored element set of one object, oldest first."""
        return self.read("elements", where="norad_id = ?", params=[int(norad_id)])

    def loads(self, limit: int = 20) -> pa.Table:
        """The most recent loads (time, stream, source, rows offered, new, errors)."""
        return self.query(f"SELECT * FROM loads ORDER BY loaded_at DESC LIMIT {int(limit)}")

    def export_parquet(self, stream_name: str, path: str | Path, current: bool = False) -> int:
        """Write a stream to a Parquet file in its Arrow schema (streamed); returns rows written."""
        stream = self.stream(stream_name)
        name = f"{stream.name}_current" if current else stream.name
        order = ", ".join(f'"{k}"' for k in stream.key)
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        n = 0
        with self._cursor() as cur:
            rel = cur.sql(f"SELECT * FROM {name} ORDER BY {order}")
            reader_fn: Any = getattr(rel, "to_arrow_reader", None) or rel.record_batch
            reader = reader_fn(100_000)
            with pq.ParquetWriter(path, stream.schema) as writer:
                for batch in reader:
                    typed = pa.Table.from_batches([batch]).cast(stream.schema)
                    writer.write_table(typed)
                    n += typed.num_rows
        return n
