"""The embedded DuckDB store: create stream tables, append Arrow batches atomically, query, export.

Every append is one transaction of ``INSERT OR IGNORE ... SELECT DISTINCT ON (key)`` from an Arrow
table registered with DuckDB (a plain ``INSERT`` for append-only streams such as telemetry), so
rows go in as columns (never one by one), a row whose key is already stored is skipped (loading
the same file twice adds nothing), and a reader never sees a
half-written batch. Timestamps are UTC ``timestamp[ns]``: stored as TIMESTAMP_NS and given their
UTC time zone back on the way out, so Arrow tables round-trip unchanged.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from starbrain.config import settings
from starbrain.core.errors import StarbrainError
from starbrain.store.streams import STREAMS, Stream, duckdb_type

__all__ = ["AppendResult", "Store"]


@dataclass(frozen=True, slots=True)
class AppendResult:
    stream: str
    n_rows: int  # rows offered
    n_new: int  # rows stored (the rest were already there or repeated in the batch)

    @property
    def n_duplicate(self) -> int:
        return self.n_rows - self.n_new


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


class Store:
    """A DuckDB file holding every stream. Use as a context manager or call ``close()``.

    ``path`` defaults to ``settings().db_path`` (``STARBRAIN_DB``); ``":memory:"`` works for
    throw-away stores. Methods are safe to call from several threads: each uses its own cursor.
    """

    def __init__(self, path: str | Path | None = None, read_only: bool = False) -> None:
        self.path = Path(path) if path is not None else settings().db_path
        if str(self.path) != ":memory:" and not read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._con = duckdb.connect(str(self.path), read_only=read_only)
        except duckdb.IOException as exc:
            raise StarbrainError(
                f"cannot open the store {self.path}: {str(exc).splitlines()[0]} "
                "(is another starbrain process writing to it?)"
            ) from exc
        self._lock = threading.Lock()
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
        with self._lock:
            cur = self._con.cursor()
        try:
            yield cur
        finally:
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
        self, stream_name: str, table: pa.Table, source: str | None = None, n_errors: int = 0
    ) -> AppendResult:
        """Append an Arrow table to a stream in one transaction. For unique streams, rows whose
        key is already stored (or repeated in the batch) are skipped."""
        stream = self.stream(stream_name)
        missing = set(stream.schema.names) - set(table.schema.names)
        if missing:
            raise StarbrainError(
                f"cannot append to {stream.name}: missing columns {', '.join(sorted(missing))}"
            )
        batch = _strip_tz(table.select(stream.schema.names).cast(stream.schema))
        key = ", ".join(f'"{k}"' for k in stream.key)
        with self._cursor() as cur:
            cur.register("_batch", batch)
            cur.execute("BEGIN TRANSACTION")
            try:
                sql = (
                    f"INSERT OR IGNORE INTO {stream.name} SELECT DISTINCT ON ({key}) * FROM _batch"
                    if stream.unique
                    else f"INSERT INTO {stream.name} SELECT * FROM _batch"
                )
                n_new = _scalar(cur.execute(sql).fetchone())
                if source is not None:
                    cur.execute(
                        "INSERT INTO loads (stream, source, n_rows, n_new, n_errors) "
                        "VALUES (?, ?, ?, ?, ?)",
                        [stream.name, source, table.num_rows, n_new, n_errors],
                    )
                cur.execute("COMMIT")
            except Exception:
                cur.execute("ROLLBACK")
                raise
            finally:
                cur.unregister("_batch")
        return AppendResult(stream.name, table.num_rows, int(n_new))

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> None:
        """Run one SQL statement, for tables a layer keeps outside the registered streams (the
        loop's checkpoint, for one). Streams are written with :meth:`append` only."""
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
        with self._cursor() as cur:
            for name, table in tables.items():
                cur.register(name, _strip_tz(table))
            cur.execute("BEGIN TRANSACTION")
            try:
                for sql, params in statements:
                    row = cur.execute(sql, list(params)).fetchone()
                    out.append(row[0] if row else None)
                cur.execute("COMMIT")
            except Exception:
                cur.execute("ROLLBACK")
                raise
            finally:
                for name in tables:
                    cur.unregister(name)
        return out

    def insert_arrow(self, table_name: str, table: pa.Table) -> int:
        """Append an Arrow table to an existing plain table (columns in table order) in one
        statement; returns the rows inserted. For tables outside the registered streams."""
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
