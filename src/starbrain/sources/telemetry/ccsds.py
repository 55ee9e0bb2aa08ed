"""CCSDS Space Packets (CCSDS 133.0-B-2): headers, CUC time, CRC-16-CCITT, decoder and encoder.

The decoder turns a byte stream of packets into Arrow record batches. Framing walks the headers
(one step per packet; a valid header is one lookup in a 65536-entry table of the first two header
bytes); then packets are grouped by APID, gathered into an ``(n_packets, packet_len)`` byte
matrix and every parameter of every packet of that APID is extracted at once: each parameter's
8-byte window is gathered as one big-endian ``uint64`` and shifted, so the whole ``(n, P)`` block
takes a handful of NumPy operations whatever the widths, offsets and byte orders.

Long layout, one row per parameter value (``TELEMETRY_SCHEMA``; rows are packet-major, one batch
per APID per call)::

    time       timestamp[ns, UTC]  packet time (secondary-header CUC), else the receive time
    apid       uint16
    seq        uint16              14-bit packet sequence count
    parameter  dictionary<int32, string>  parameter name (unique within its APID)
    raw        float64             decoded raw value; integers are exact up to 2**53
    value      float64             engineering value: polynomial calibration of raw (SI units)

Wide layout (``layout="wide"``): one batch per APID with ``time, apid, seq`` and one float64
engineering-value column per parameter (its unit in the field metadata).

Malformed input never stops a stream: unknown APIDs (counted per packet while the length fields
chain from one plausible header to the next), wrong lengths, bad headers (re-synchronised by
scanning for the next valid header), CRC failures, sequence-count gaps and truncated packets are
counted in ``DecodeStats``, the first ``max_errors`` kept with their byte offsets.

A packet that repeats one already decoded from the stream (same APID, sequence count and packet
time) is a duplicate: dropped and counted in ``DecodeStats.duplicates``, never a sequence gap. A
sequence count that steps back (by less than half the 14-bit range) is a late or repeated packet,
not a gap of 16383: only forward steps of more than one count as missing packets.

Where the parts live (the public names re-exported here): the primary header, CRC and CUC time
codes in ``ccsds_header``, framing in ``ccsds_framing``, sequence and repeat tracking in
``ccsds_sequence``, errors and statistics in ``ccsds_stats``, encoding in ``ccsds_encode``; this
module keeps the telemetry schema, the per-APID layout and the decoder.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Literal

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from starbrain.core.errors import StarbrainError
from starbrain.core.schemas.telemetry import PARAMETER_TYPE as PARAMETER_TYPE
from starbrain.core.schemas.telemetry import TELEMETRY_KEY as TELEMETRY_KEY
from starbrain.core.schemas.telemetry import TELEMETRY_SCHEMA as TELEMETRY_SCHEMA
from starbrain.core.timeconv import to_datetime64, utc_now
from starbrain.sources.telemetry.ccsds_encode import encode_packets, interleave
from starbrain.sources.telemetry.ccsds_framing import PacketFramer
from starbrain.sources.telemetry.ccsds_header import SEQ_MODULO as SEQ_MODULO
from starbrain.sources.telemetry.ccsds_header import (
    PrimaryHeader,
    crc16_ccitt,
    crc16_ccitt_rows,
    cuc_decode,
    cuc_encode,
    pack_primary_header,
    unpack_primary_header,
)
from starbrain.sources.telemetry.ccsds_sequence import SequenceTracker
from starbrain.sources.telemetry.ccsds_stats import DecodeStats, PacketError
from starbrain.sources.telemetry.ccsds_stats import ErrorKind as ErrorKind
from starbrain.sources.telemetry.packets import (
    CRC_BYTES,
    PRIMARY_HEADER_BYTES,
    PacketDef,
    PacketSet,
)

__all__ = [
    "PARAMETER_TYPE",
    "TELEMETRY_KEY",
    "TELEMETRY_SCHEMA",
    "DecodeResult",
    "DecodeStats",
    "PacketDecoder",
    "PacketError",
    "PrimaryHeader",
    "crc16_ccitt",
    "crc16_ccitt_rows",
    "cuc_decode",
    "cuc_encode",
    "decode",
    "encode_packets",
    "interleave",
    "pack_primary_header",
    "unpack_primary_header",
]

_TIME_TYPE = pa.timestamp("ns", tz="UTC")


# -- per-APID layout, precomputed once ------------------------------------------------------------
class _Layout:
    """Everything needed to decode (and encode) one APID as array operations."""

    def __init__(self, packet: PacketDef, names: Mapping[str, int]) -> None:
        self.packet = packet
        self.length = L = packet.length
        self.width = max(L, 8)  # rows are padded to 8 bytes so every window lies inside them
        params = packet.parameters
        P = len(params)
        idx = np.zeros((P, 8), dtype=np.intp)
        lshift = np.zeros(P, dtype=np.uint64)
        rshift = np.zeros(P, dtype=np.uint64)
        self.nine: list[tuple[int, int, int, int]] = []  # (column, first byte, bit, width)
        for j, q in enumerate(params):
            o, w = q.bit_offset_in_packet, q.bits
            b0 = o // 8
            rshift[j] = 64 - w
            if q.endian == "little":
                k = w // 8
                idx[j, :k] = np.arange(b0 + k - 1, b0 - 1, -1)
                idx[j, k:] = b0
            else:
                s = o - 8 * b0
                if s + w > 64:  # a field of 57..64 bits that straddles 9 bytes
                    idx[j] = np.arange(b0, b0 + 8)
                    self.nine.append((j, b0, s, w))
                    continue
                ws = max(0, min(b0, self.width - 8))  # keep the window inside the row
                idx[j] = np.arange(ws, ws + 8)
                lshift[j] = o - 8 * ws
        self.idx = idx.ravel()
        self.lshift, self.rshift = lshift, rshift
        kinds = np.array([q.type if q.type != "float" else f"f{q.bits}" for q in params])
        self.uint_cols = np.flatnonzero(kinds == "uint")
        self.int_cols = np.flatnonzero(kinds == "int")
        self.int_shift = (64 - np.array([q.bits for q in params], dtype=np.uint64))[self.int_cols]
        self.f32_cols = np.flatnonzero(kinds == "f32")
        self.f64_cols = np.flatnonzero(kinds == "f64")
        by_degree: dict[int, list[int]] = {}
        for j, q in enumerate(params):
            if q.calibration:
                by_degree.setdefault(len(q.calibration), []).append(j)
        self.cal_groups = [
            (np.array(cols), np.array([params[j].calibration for j in cols], dtype=np.float64))
            for cols in by_degree.values()
        ]
        self.dict_idx = np.array([names[q.name] for q in params], dtype=np.int32)
        self.n_params = P
        tc = packet.time
        self.time_bytes = (tc.coarse_bytes, tc.fine_bytes) if tc else None
        self.wide_schema = pa.schema(
            [
                TELEMETRY_SCHEMA.field("time"),
                TELEMETRY_SCHEMA.field("apid"),
                TELEMETRY_SCHEMA.field("seq"),
            ]
            + [
                pa.field(q.name, pa.float64(), metadata={"unit": q.unit} if q.unit else None)
                for q in params
            ],
            metadata={"packet": packet.name, "apid": str(packet.apid)},
        )

    # decoding -----------------------------------------------------------------------------------
    def bit_fields(self, m: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint64]:
        """Every parameter's bits (right-aligned, unsigned) for every row of ``m`` (n, width)."""
        windows = np.ascontiguousarray(m[:, self.idx]).view(">u8").astype(np.uint64)  # (n, P)
        raw = (windows << self.lshift) >> self.rshift
        for j, b0, s, w in self.nine:
            k = np.uint64(s + w - 64)
            mask = np.uint64((1 << w) - 1)
            tail = m[:, b0 + 8].astype(np.uint64) >> np.uint64(72 - s - w)
            raw[:, j] = ((windows[:, j] << k) | tail) & mask
        return raw

    def extract(self, m: npt.NDArray[np.uint8]) -> npt.NDArray[np.float64]:
        """Raw values of every parameter of every row of ``m`` (n, width) as float64 (n, P)."""
        raw = self.bit_fields(m)
        out = np.empty((m.shape[0], self.n_params), dtype=np.float64)
        if self.uint_cols.size:
            out[:, self.uint_cols] = raw[:, self.uint_cols]
        if self.int_cols.size:
            sh = self.int_shift
            out[:, self.int_cols] = (raw[:, self.int_cols] << sh).view(np.int64) >> sh.astype(
                np.int64
            )
        if self.f32_cols.size:
            out[:, self.f32_cols] = raw[:, self.f32_cols].astype(np.uint32).view(np.float32)
        if self.f64_cols.size:
            out[:, self.f64_cols] = raw[:, self.f64_cols].view(np.float64)
        return out

    def calibrate(self, raw: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        if not self.cal_groups:
            return raw
        value = raw.copy()
        for cols, coeffs in self.cal_groups:
            x = raw[:, cols]
            v = np.broadcast_to(coeffs[:, -1], x.shape).copy()
            for d in range(coeffs.shape[1] - 2, -1, -1):
                v *= x
                v += coeffs[:, d]
            value[:, cols] = v
        return value

    def times(self, m: npt.NDArray[np.uint8]) -> npt.NDArray[np.int64] | None:
        if self.time_bytes is None:
            return None
        cb, fb = self.time_bytes
        coarse = np.zeros(m.shape[0], dtype=np.int64)
        for k in range(cb):
            coarse = (coarse << 8) | m[:, PRIMARY_HEADER_BYTES + k]
        fine = np.zeros(m.shape[0], dtype=np.int64)
        for k in range(fb):
            fine = (fine << 8) | m[:, PRIMARY_HEADER_BYTES + cb + k]
        assert self.packet.time is not None
        return cuc_decode(coarse, fine, self.packet.time)


# -- the decoder ----------------------------------------------------------------------------------
def _time_ns(value: Any) -> int:
    """A receive time (None: now; int: ns since 1970; else anything ``to_datetime64`` reads)."""
    if value is None:
        value = utc_now()
    elif isinstance(value, int | np.integer):
        return int(value)
    return int(np.asarray(to_datetime64(value)).astype("datetime64[ns]").astype(np.int64))


def _timestamps(t: npt.NDArray[np.int64]) -> pa.Array:
    t = np.ascontiguousarray(t, dtype=np.int64)
    return pa.Array.from_buffers(_TIME_TYPE, len(t), [None, pa.py_buffer(t)])


class PacketDecoder:
    """A streaming decoder of one packet source (a file, a socket) with its own statistics.

    ``feed(data)`` decodes every complete packet and keeps an incomplete one at the end for the
    next call; ``flush()`` ends the stream (what is left is a truncated packet).
    ``feed_datagrams`` decodes datagrams that each hold whole packets. Each call returns Arrow
    record batches, one per APID present, in the long layout (``TELEMETRY_SCHEMA``) or,
    with ``layout="wide"``, one column per parameter.

    With ``drop_duplicates`` (the default) a timed packet whose APID, sequence count and packet
    time equal those of one of the last 16384 packets of its APID is dropped and counted.
    """

    def __init__(
        self,
        definitions: PacketSet,
        *,
        source: str = "",
        layout: Literal["long", "wide"] = "long",
        max_errors: int = 100,
        check_sequence: bool = True,
        drop_duplicates: bool = True,
    ) -> None:
        if layout not in ("long", "wide"):
            raise ValueError(f"layout must be 'long' or 'wide', got {layout!r}")
        self.definitions = definitions
        self.layout = layout
        self.check_sequence = check_sequence
        self.drop_duplicates = drop_duplicates
        self.stats = DecodeStats(source=source, max_errors=max_errors)
        self.dictionary = pa.array(definitions.parameter_names, type=pa.string())
        names = {n: i for i, n in enumerate(definitions.parameter_names)}
        self._layouts = {p.apid: _Layout(p, names) for p in definitions.packets}
        self._framer = PacketFramer(definitions, self.stats)
        self._tail = b""
        self._offset = 0  # stream offset of the first byte of the tail
        self._sequence = SequenceTracker(self.stats)  # sequence gaps and repeats per APID

    @property
    def pending_bytes(self) -> int:
        """Bytes held back waiting for the rest of a packet."""
        return len(self._tail)

    # public API ---------------------------------------------------------------------------------
    def feed(
        self, data: bytes | bytearray | memoryview, *, receive_time: Any = None
    ) -> list[pa.RecordBatch]:
        """Decode the complete packets in ``data`` (after what was held back); keep the rest."""
        mv = memoryview(data).cast("B") if not isinstance(data, bytes) else data
        self.stats.bytes += len(mv)
        buf = self._tail + bytes(mv) if self._tail else mv
        base = self._offset
        starts, p = self._framer.frame(buf, 0, len(buf), final=False, base=base)
        self._tail = bytes(buf[p:])
        self._offset = base + p
        return self._decode(buf, starts, base, receive_time)

    def flush(self, *, receive_time: Any = None) -> list[pa.RecordBatch]:
        """End of stream: decode what can be decoded of the held-back bytes, count the rest as a
        truncated packet."""
        if not self._tail:
            return []
        buf, base = self._tail, self._offset
        starts, p = self._framer.frame(buf, 0, len(buf), final=True, base=base)
        if p < len(buf):
            self._framer.truncated(buf, p, len(buf), base)
        self._tail, self._offset = b"", base + len(buf)
        return self._decode(buf, starts, base, receive_time)

    def feed_datagrams(
        self, datagrams: Sequence[bytes | bytearray | memoryview], *, receive_time: Any = None
    ) -> list[pa.RecordBatch]:
        """Decode datagrams that each carry whole packets (a packet never spans two datagrams:
        an incomplete one at the end of a datagram is counted as truncated)."""
        buf = b"".join(datagrams)
        self.stats.bytes += len(buf)
        base = self._offset
        starts: list[int] = []
        s = 0
        for dg in datagrams:
            e = s + len(dg)
            got, p = self._framer.frame(buf, s, e, final=True, base=base)
            starts.extend(got)
            if p < e:
                self._framer.truncated(buf, p, e, base)
            s = e
        self._offset = base + len(buf)
        return self._decode(buf, starts, base, receive_time)

    # decoding -----------------------------------------------------------------------------------
    def _decode(
        self, buf: Any, starts_list: list[int], base: int, receive_time: Any
    ) -> list[pa.RecordBatch]:
        if not starts_list:
            return []
        npb = np.frombuffer(buf, dtype=np.uint8)
        starts = np.asarray(starts_list, dtype=np.intp)
        apids = (npb[starts].astype(np.int64) << 8 | npb[starts + 1]) & 0x7FF
        t_recv = _time_ns(receive_time)
        batches = []
        present = np.unique(apids)
        for apid in present.tolist():
            sel = starts if present.size == 1 else starts[apids == apid]
            batch = self._decode_apid(npb, sel, int(apid), base, t_recv)
            if batch is not None:
                batches.append(batch)
        return batches

    def _decode_apid(
        self,
        npb: npt.NDArray[np.uint8],
        starts: npt.NDArray[np.intp],
        apid: int,
        base: int,
        t_recv: int,
    ) -> pa.RecordBatch | None:
        """One APID's packets (at byte ``starts`` of ``npb``, stream offset ``base``) as one
        record batch; None when every packet was dropped (CRC failure or repeat)."""
        lay = self._layouts[apid]
        m = _packet_matrix(lay, npb, starts)
        seq = ((m[:, 2].astype(np.uint16) & 0x3F) << 8) | m[:, 3]
        t = lay.times(m)
        drop = self._crc_failures(lay, m, seq, starts, apid, base)  # CRC failures and repeats
        dup = self._repeats(lay, seq, t, drop, apid)
        if self.check_sequence:  # CRC failures were received: they are not gaps; repeats are
            if dup is None:
                self._sequence.check(apid, seq, starts, base)
            else:
                self._sequence.check(apid, seq[~dup], starts[~dup], base)
        if dup is not None:
            drop = dup if drop is None else drop | dup
        if drop is not None:
            keep = ~drop
            m, seq = m[keep], seq[keep]
            if t is not None:
                t = t[keep]
        n = m.shape[0]
        if n == 0:
            return None
        if t is None:
            t = np.full(n, t_recv, dtype=np.int64)
        st = self.stats
        st.packets += n
        st.parameters += n * lay.n_params
        st.by_apid[apid] = st.by_apid.get(apid, 0) + n
        return self._batch(lay, apid, m, seq, t)

    def _crc_failures(
        self,
        lay: _Layout,
        m: npt.NDArray[np.uint8],
        seq: npt.NDArray[Any],
        starts: npt.NDArray[np.intp],
        apid: int,
        base: int,
    ) -> npt.NDArray[np.bool_] | None:
        """Mask of the packets whose CRC-16-CCITT does not match their trailer, counted and
        reported (the first ``max_errors``); None when the packet has no CRC or none failed."""
        if not lay.packet.crc:
            return None
        L = lay.length
        got = m[:, L - 2].astype(np.uint16) << 8 | m[:, L - 1]
        bad = np.flatnonzero(crc16_ccitt_rows(m[:, : L - CRC_BYTES]) != got)
        if not bad.size:
            return None
        st = self.stats
        for k in bad[: max(0, st.max_errors - len(st.errors))].tolist():
            st.errors.append(
                PacketError(
                    "crc",
                    base + int(starts[k]),
                    "CRC-16-CCITT does not match the trailer",
                    st.source,
                    apid,
                    int(seq[k]),
                )
            )
        st.crc += int(bad.size)
        st.skipped_bytes += int(bad.size) * L
        drop = np.zeros(len(starts), dtype=bool)
        drop[bad] = True
        return drop

    def _repeats(
        self,
        lay: _Layout,
        seq: npt.NDArray[Any],
        t: npt.NDArray[np.int64] | None,
        drop: npt.NDArray[np.bool_] | None,
        apid: int,
    ) -> npt.NDArray[np.bool_] | None:
        """Mask of the timed packets, among those not already dropped, that repeat one decoded
        before (counted as duplicates); None when there are none or they are not checked."""
        if t is None or not self.drop_duplicates:
            return None
        ok = np.flatnonzero(~drop) if drop is not None else None
        d = (
            self._sequence.duplicates(apid, seq, t)
            if ok is None
            else (self._sequence.duplicates(apid, seq[ok], t[ok]) if ok.size else None)
        )
        if d is None:
            return None
        dup = np.zeros(len(seq), dtype=bool)
        dup[ok if ok is not None else slice(None)] = d
        self.stats.duplicates += int(d.sum())
        self.stats.skipped_bytes += int(d.sum()) * lay.length
        return dup

    def _batch(
        self,
        lay: _Layout,
        apid: int,
        m: npt.NDArray[np.uint8],
        seq: npt.NDArray[Any],
        t: npt.NDArray[np.int64],
    ) -> pa.RecordBatch:
        """The kept packets ``m`` (n, width) of one APID as a record batch: the long layout
        (``TELEMETRY_SCHEMA``, n * P rows) or the wide one (n rows, a column per parameter)."""
        raw = lay.extract(m)
        value = lay.calibrate(raw)
        n, P = m.shape[0], lay.n_params
        if self.layout == "wide":
            cols = [_timestamps(t), pa.array(np.full(n, apid, dtype=np.uint16)), pa.array(seq)]
            cols += [pa.array(c) for c in np.ascontiguousarray(value.T)]
            return pa.RecordBatch.from_arrays(cols, schema=lay.wide_schema)
        indices = pa.array(np.tile(lay.dict_idx, n))
        return pa.RecordBatch.from_arrays(
            [
                _timestamps(np.repeat(t, P)),
                pa.array(np.full(n * P, apid, dtype=np.uint16)),
                pa.array(np.repeat(seq, P)),
                pa.DictionaryArray.from_arrays(indices, self.dictionary, safe=False),
                pa.array(raw.ravel()),
                pa.array(value.ravel()),
            ],
            schema=TELEMETRY_SCHEMA,
        )


def _packet_matrix(
    lay: _Layout, npb: npt.NDArray[np.uint8], starts: npt.NDArray[np.intp]
) -> npt.NDArray[np.uint8]:
    """The packets of one APID as an ``(n, lay.width)`` byte matrix: a view of the stream when
    the layout reads no byte past the packet's end, else a copy zero-padded to the width."""
    L = lay.length
    rows = np.lib.stride_tricks.sliding_window_view(npb, L)[starts]
    if lay.width > L:
        m = np.zeros((len(starts), lay.width), dtype=np.uint8)
        m[:, :L] = rows
        return m
    return rows


# -- one-shot decoding ----------------------------------------------------------------------------
@dataclass(slots=True)
class DecodeResult:
    """Every batch decoded from one source, and its statistics."""

    batches: list[pa.RecordBatch]
    stats: DecodeStats

    @property
    def errors(self) -> list[PacketError]:
        return self.stats.errors

    @property
    def table(self) -> pa.Table:
        """The long-layout table (all APIDs, in decoding order)."""
        if any(b.schema != TELEMETRY_SCHEMA for b in self.batches):
            raise StarbrainError("this result was decoded in the wide layout; use .tables")
        return pa.Table.from_batches(self.batches, schema=TELEMETRY_SCHEMA)

    @property
    def tables(self) -> dict[str, pa.Table]:
        """Wide-layout tables by packet name."""
        groups: dict[str, list[pa.RecordBatch]] = {}
        for b in self.batches:
            meta = b.schema.metadata or {}
            name = meta.get(b"packet", b"").decode()
            if not name:
                raise StarbrainError("this result was decoded in the long layout; use .table")
            groups.setdefault(name, []).append(b)
        return {k: pa.Table.from_batches(v) for k, v in groups.items()}


def decode(
    data: bytes | bytearray | memoryview | BinaryIO | str | Path,
    definitions: PacketSet,
    *,
    source: str = "",
    layout: Literal["long", "wide"] = "long",
    receive_time: Any = None,
    max_errors: int = 100,
) -> DecodeResult:
    """Decode a complete byte stream of packets: bytes, a binary file object or a file path
    (read in 1 MiB chunks). An incomplete last packet counts as truncated."""
    if isinstance(data, str | Path):
        path = Path(data)
        try:
            with path.open("rb") as f:
                return decode(
                    f,
                    definitions,
                    source=source or str(path),
                    layout=layout,
                    receive_time=receive_time,
                    max_errors=max_errors,
                )
        except OSError as exc:
            raise StarbrainError(f"cannot read telemetry file {path}: {exc.strerror}") from exc
    dec = PacketDecoder(definitions, source=source, layout=layout, max_errors=max_errors)
    if isinstance(data, bytes | bytearray | memoryview):
        batches = dec.feed(data, receive_time=receive_time)
    else:
        batches = []
        while chunk := data.read(1 << 20):
            batches += dec.feed(chunk, receive_time=receive_time)
    batches += dec.flush(receive_time=receive_time)
    return DecodeResult(batches, dec.stats)
