"""Idempotent replay of packet files into the store: a ledger of the files stored and per-packet
de-duplication, so replaying a file again stores nothing new.

Two tables beside the streams:

* ``telemetry_files``: one row per packet file stored, keyed by the SHA-256 of its content and
  the definitions it was decoded with: path, bytes, recording, definitions name, packets
  decoded, repeats dropped, parameter values stored, when. A file already in the ledger is not
  decoded again (the same bytes under another name or path included).
* ``telemetry_packets``: ``(recording, apid, seq, time)`` of every packet stored from a file,
  written in the same transaction as its parameter values. The recording is the SHA-256 (128
  bits) of the file's first 64 KiB, so a recording that was interrupted, cut short or has grown
  since keeps its identity while a different flight does not. Packets of a recording already
  stored (same APID, sequence count and packet time) are skipped, which makes an interrupted
  replay resumable and a replay with corrected definitions store only what is new. The check
  costs one anti-join per flush, and is skipped altogether while the recording has no packets in
  the store (the first replay of a file).

Packets without a secondary header carry their receive time instead of a packet time; the ledger
still keeps a whole file from being stored twice, but a resumed replay stores them again.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from starbrain.core.errors import StarbrainError
from starbrain.core.schemas.telemetry import TELEMETRY_SCHEMA
from starbrain.sources.telemetry.ccsds import DecodeStats
from starbrain.sources.telemetry.packets import PacketSet

if TYPE_CHECKING:
    from starbrain.store.database import Store

__all__ = ["FileDigest", "FileReplaySink", "StoredFile", "definitions_id", "file_digest"]

RECORDING_PREFIX_BYTES = 1 << 16

_DDL = (
    "CREATE TABLE IF NOT EXISTS telemetry_files (sha256 VARCHAR NOT NULL, "
    "definitions_id VARCHAR NOT NULL, path VARCHAR, bytes BIGINT, recording VARCHAR, "
    "definitions VARCHAR, packets BIGINT, duplicates BIGINT, values_stored BIGINT, "
    "loaded_at TIMESTAMP DEFAULT now(), PRIMARY KEY (sha256, definitions_id))",
    "CREATE TABLE IF NOT EXISTS telemetry_packets (recording VARCHAR NOT NULL, "
    "apid USMALLINT NOT NULL, seq USMALLINT NOT NULL, time TIMESTAMP_NS NOT NULL)",
)
_KEYS_SCHEMA = pa.schema(
    [
        TELEMETRY_SCHEMA.field("apid"),
        TELEMETRY_SCHEMA.field("seq"),
        TELEMETRY_SCHEMA.field("time"),
    ]
)
_NOT_STORED = (
    "(SELECT apid, seq, time FROM _keys k ANTI JOIN (SELECT apid, seq, time FROM "
    "telemetry_packets WHERE recording = ?) p ON k.apid = p.apid AND k.seq = p.seq "
    "AND k.time = p.time)"
)


@dataclass(frozen=True, slots=True)
class FileDigest:
    sha256: str  # of the whole file, hex
    recording: str  # SHA-256 of the first 64 KiB, first 32 hex digits
    bytes: int


def file_digest(path: str | Path) -> FileDigest:
    """The content hash and recording identity of a packet file (read in 1 MiB chunks)."""
    path = Path(path)
    whole, head = hashlib.sha256(), hashlib.sha256()
    n = 0
    try:
        with path.open("rb") as f:
            while chunk := f.read(1 << 20):
                if n < RECORDING_PREFIX_BYTES:
                    head.update(chunk[: RECORDING_PREFIX_BYTES - n])
                whole.update(chunk)
                n += len(chunk)
    except OSError as exc:
        raise StarbrainError(f"cannot read telemetry file {path}: {exc.strerror}") from exc
    return FileDigest(whole.hexdigest(), head.hexdigest()[:32], n)


def definitions_id(definitions: PacketSet) -> str:
    """A fingerprint of packet layouts (APIDs, lengths, parameters, time code)."""
    return hashlib.sha256(repr(definitions.packets).encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class StoredFile:
    """A ledger row: a file stored before."""

    path: str
    packets: int
    values_stored: int
    loaded_at: Any  # datetime (UTC)

    def sentence(self, path: str | Path) -> str:
        when = f"{self.loaded_at:%Y-%m-%d %H:%M:%S} UTC" if self.loaded_at else "before"
        same = "" if str(Path(path).resolve()) == self.path else f" as {self.path}"
        return (
            f"{path} was already stored{same} on {when} ({self.packets} packets, "
            f"{self.values_stored} parameter values) with these definitions: nothing new stored"
        )


class FileReplaySink:
    """Receives the decoded batches of one file and stores each parameter value of a packet not
    yet stored from the same recording, in transactions of about ``flush_rows`` rows; records the
    file in the ledger at ``finish``.

        sink = FileReplaySink(store, path, definitions)
        if sink.previous is None:
            stats = replay(path, definitions, sink=sink)
            sink.finish(stats)
    """

    def __init__(
        self, store: Store, path: str | Path, definitions: PacketSet, flush_rows: int = 500_000
    ) -> None:
        self.store, self.path, self.flush_rows = store, Path(path), flush_rows
        self.definitions = definitions
        self.digest = file_digest(self.path)
        self.definitions_id = definitions_id(definitions)
        self._n_params = {p.apid: len(p.parameters) for p in definitions.packets}
        for sql in _DDL:
            store.execute(sql)
        self.previous = self._lookup()
        # The first replay of a recording has nothing to compare with: skip the anti-join.
        self._check = bool(
            store.query(
                "SELECT count(*) AS n FROM (SELECT 1 FROM telemetry_packets WHERE recording = ? "
                "LIMIT 1)",
                [self.digest.recording],
            )["n"][0].as_py()
        )
        self.pending: list[pa.RecordBatch] = []
        self.rows = 0
        self.stored = 0  # parameter values stored
        self.packets_stored = 0
        self.packets_seen = 0
        self.finished = False

    @property
    def packets_already_stored(self) -> int:
        """Packets of this recording that were in the store already (skipped)."""
        return self.packets_seen - self.packets_stored

    def _lookup(self) -> StoredFile | None:
        got = self.store.query(
            "SELECT path, packets, values_stored, loaded_at FROM telemetry_files "
            "WHERE sha256 = ? AND definitions_id = ?",
            [self.digest.sha256, self.definitions_id],
        ).to_pylist()
        return StoredFile(**got[0]) if got else None

    def __call__(self, batch: pa.RecordBatch) -> None:
        if batch.schema != TELEMETRY_SCHEMA:
            raise StarbrainError("file replay stores the long layout only")
        self.pending.append(batch)
        self.rows += batch.num_rows
        if self.rows >= self.flush_rows:
            self.flush()

    def _keys(self) -> pa.Table:
        """(apid, seq, time) of each packet of the pending batches: the first row of each."""
        parts = []
        for b in self.pending:
            if b.num_rows == 0:
                continue
            step = self._n_params[b.column("apid")[0].as_py()]
            first = pa.array(np.arange(0, b.num_rows, step))
            parts.append(pa.Table.from_batches([b]).select(["apid", "seq", "time"]).take(first))
        if not parts:
            return _KEYS_SCHEMA.empty_table()
        return pa.concat_tables(parts)

    def flush(self) -> None:
        if not self.pending:
            return
        rows = pa.Table.from_batches(self.pending, schema=TELEMETRY_SCHEMA)
        keys = self._keys()
        rec = self.digest.recording
        if self._check:
            statements: list[tuple[str, list[Any]]] = [
                (
                    "INSERT INTO telemetry SELECT r.* FROM _rows r SEMI JOIN "
                    f"{_NOT_STORED} n ON r.apid = n.apid AND r.seq = n.seq AND r.time = n.time",
                    [rec],
                ),
                (f"INSERT INTO telemetry_packets SELECT ?, * FROM {_NOT_STORED}", [rec, rec]),
            ]
        else:
            statements = [
                ("INSERT INTO telemetry SELECT * FROM _rows", []),
                ("INSERT INTO telemetry_packets SELECT ?, apid, seq, time FROM _keys", [rec]),
            ]
        n_values, n_packets = self.store.execute_atomic(statements, {"_rows": rows, "_keys": keys})
        self.stored += int(n_values)
        self.packets_stored += int(n_packets)
        self.packets_seen += keys.num_rows
        self.pending, self.rows = [], 0

    def finish(self, stats: DecodeStats) -> None:
        """Store what is pending and, when any packet was decoded, record the file as stored
        (in one transaction)."""
        self.finished = True
        if stats.packets == 0:  # nothing this definition set could read: leave the file
            self.flush()
            return
        with self.store.transaction():
            self.flush()
            self._record(stats)

    def _record(self, stats: DecodeStats) -> None:
        self.store.execute(
            "INSERT OR REPLACE INTO telemetry_files (sha256, definitions_id, path, bytes, "
            "recording, definitions, packets, duplicates, values_stored) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                self.digest.sha256,
                self.definitions_id,
                str(self.path.resolve()),
                self.digest.bytes,
                self.digest.recording,
                self.definitions.name,
                stats.packets,
                stats.duplicates,
                self.stored,
            ],
        )
