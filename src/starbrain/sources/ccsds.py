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
"""

from __future__ import annotations

import binascii
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Literal

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from starbrain.core.errors import StarbrainError
from starbrain.core.timeconv import to_datetime64, utc_now
from starbrain.sources.packets import (
    CRC_BYTES,
    IDLE_APID,
    PRIMARY_HEADER_BYTES,
    PacketDef,
    PacketSet,
    Parameter,
    TimeCode,
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

SEQ_MODULO = 1 << 14
PARAMETER_TYPE = pa.dictionary(pa.int32(), pa.string())
_TIME_TYPE = pa.timestamp("ns", tz="UTC")
TELEMETRY_SCHEMA = pa.schema(
    [
        pa.field("time", _TIME_TYPE, nullable=False),
        pa.field("apid", pa.uint16(), nullable=False),
        pa.field("seq", pa.uint16(), nullable=False),
        pa.field("parameter", PARAMETER_TYPE, nullable=False),
        pa.field("raw", pa.float64()),
        pa.field("value", pa.float64()),
    ],
    metadata={"stream": "telemetry", "key": "apid,parameter,time,seq"},
)
TELEMETRY_KEY = ("apid", "parameter", "time", "seq")

ErrorKind = Literal["unknown_apid", "bad_length", "bad_header", "crc", "seq_gap", "truncated"]
# Headers of unknown APIDs followed (length field to length field) before their length is trusted.
_CHAIN_HOPS = 3
# Packet keys (time, sequence count) remembered per APID to recognise repeated packets.
_RECENT_PACKETS = SEQ_MODULO


# -- primary header -------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class PrimaryHeader:
    """The 6-byte Space Packet primary header (CCSDS 133.0-B-2 §4.1.3)."""

    version: int  # 3 bits, 0 for Space Packets
    packet_type: int  # 1 bit: 0 telemetry, 1 telecommand
    secondary_header: bool  # 1 bit
    apid: int  # 11 bits
    sequence_flags: int  # 2 bits: 3 = unsegmented
    sequence_count: int  # 14 bits
    data_length: int  # 16 bits: octets in the packet data field minus 1

    @property
    def packet_length(self) -> int:
        return self.data_length + 1 + PRIMARY_HEADER_BYTES


def pack_primary_header(
    apid: int,
    sequence_count: int,
    data_length: int,
    *,
    packet_type: int = 0,
    secondary_header: bool = False,
    sequence_flags: int = 3,
    version: int = 0,
) -> bytes:
    """The primary header as 6 bytes; ``data_length`` is the data field length in octets - 1."""
    for name, v, bits in (
        ("apid", apid, 11),
        ("sequence_count", sequence_count, 14),
        ("data_length", data_length, 16),
        ("packet_type", packet_type, 1),
        ("sequence_flags", sequence_flags, 2),
        ("version", version, 3),
    ):
        if not 0 <= v < 1 << bits:
            raise ValueError(f"{name} {v} does not fit in {bits} bits")
    w0 = version << 13 | packet_type << 12 | int(secondary_header) << 11 | apid
    w1 = sequence_flags << 14 | sequence_count
    return bytes((w0 >> 8, w0 & 0xFF, w1 >> 8, w1 & 0xFF, data_length >> 8, data_length & 0xFF))


def unpack_primary_header(data: bytes | bytearray | memoryview) -> PrimaryHeader:
    """Read the primary header at the start of ``data`` (at least 6 bytes)."""
    if len(data) < PRIMARY_HEADER_BYTES:
        raise ValueError(f"a primary header is 6 bytes, got {len(data)}")
    b = bytes(data[:PRIMARY_HEADER_BYTES])
    w0, w1, w2 = b[0] << 8 | b[1], b[2] << 8 | b[3], b[4] << 8 | b[5]
    return PrimaryHeader(
        w0 >> 13, w0 >> 12 & 1, bool(w0 >> 11 & 1), w0 & 0x7FF, w1 >> 14, w1 & 0x3FFF, w2
    )


# -- CRC-16-CCITT ---------------------------------------------------------------------------------
def _crc_table() -> npt.NDArray[np.uint16]:
    table = np.zeros(256, dtype=np.uint16)
    for i in range(256):
        c = i << 8
        for _ in range(8):
            c = (c << 1) ^ 0x1021 if c & 0x8000 else c << 1
        table[i] = c & 0xFFFF
    return table


_CRC_TABLE = _crc_table()


def crc16_ccitt(data: bytes | bytearray | memoryview, init: int = 0xFFFF) -> int:
    """CRC-16-CCITT as the CCSDS packet error control uses it: polynomial 0x1021, initial value
    0xFFFF, no reflection, no final XOR (``b"123456789"`` -> 0x29B1)."""
    return binascii.crc_hqx(bytes(data), init)


def crc16_ccitt_rows(rows: npt.NDArray[np.uint8], init: int = 0xFFFF) -> npt.NDArray[np.uint16]:
    """CRC-16-CCITT of each row of an ``(n, k)`` byte matrix, one table step per column."""
    cols = np.ascontiguousarray(np.asarray(rows, dtype=np.uint8).T)
    crc = np.full(cols.shape[1], init, dtype=np.uint16)
    tmp = np.empty_like(crc)
    for col in cols:
        np.right_shift(crc, 8, out=tmp)
        np.bitwise_xor(tmp, col, out=tmp)
        looked = _CRC_TABLE[tmp]
        np.left_shift(crc, 8, out=crc)
        np.bitwise_xor(crc, looked, out=crc)
    return crc


# -- CUC time -------------------------------------------------------------------------------------
def cuc_decode(coarse: npt.ArrayLike, fine: npt.ArrayLike, tc: TimeCode) -> npt.NDArray[np.int64]:
    """CUC coarse and fine counts -> UTC ns since 1970, the fraction rounded to the nearest ns."""
    coarse = np.asarray(coarse, dtype=np.int64)
    fine = np.asarray(fine, dtype=np.int64)
    shift = 8 * tc.fine_bytes
    frac_ns = (fine * 1_000_000_000 + ((1 << shift) >> 1)) >> shift if shift else 0
    return tc.epoch_ns + (coarse - tc.leap_seconds) * 1_000_000_000 + frac_ns


def cuc_encode(
    times_ns: npt.ArrayLike, tc: TimeCode
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """UTC ns since 1970 -> CUC (coarse, fine) counts, the fraction rounded to the nearest count.
    Raises ``ValueError`` for times before the epoch or past what ``coarse_bytes`` can count."""
    t = np.asarray(times_ns)
    if np.issubdtype(t.dtype, np.datetime64):
        t = t.astype("datetime64[ns]").astype(np.int64)
    d = t.astype(np.int64) - tc.epoch_ns + tc.leap_seconds * 1_000_000_000
    coarse, frac = np.divmod(d, 1_000_000_000)
    shift = 8 * tc.fine_bytes
    fine = ((frac << shift) + 500_000_000) // 1_000_000_000
    carry = fine >> shift
    coarse, fine = coarse + carry, fine - (carry << shift)
    if d.size and (coarse.min() < 0 or coarse.max() >= 1 << (8 * tc.coarse_bytes)):
        raise ValueError(f"time outside what a {tc.coarse_bytes}-byte CUC counts from {tc.epoch}")
    return coarse, fine


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


# -- errors and statistics ------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class PacketError:
    """One malformed packet or stream event, at a byte offset counted from the stream's start."""

    kind: ErrorKind
    offset: int
    reason: str
    source: str = ""
    apid: int | None = None
    seq: int | None = None

    def __str__(self) -> str:
        where = f"{self.source}: " if self.source else ""
        apid = (
            f" (APID {self.apid:#x}" + (f", seq {self.seq})" if self.seq is not None else ")")
            if self.apid is not None
            else ""
        )
        return f"{where}byte {self.offset}: {self.kind}: {self.reason}{apid}"


@dataclass(slots=True)
class DecodeStats:
    """Counters of one decoded source, and its first ``max_errors`` errors."""

    source: str = ""
    max_errors: int = 100
    bytes: int = 0  # bytes fed
    packets: int = 0  # packets decoded into rows
    parameters: int = 0  # parameter values decoded (long-layout rows)
    by_apid: dict[int, int] = field(default_factory=dict)  # packets decoded per APID
    idle_packets: int = 0
    unknown_apid: int = 0
    unknown_by_apid: dict[int, int] = field(default_factory=dict)  # unknown_apid per APID
    bad_length: int = 0
    bad_header: int = 0  # headers that made no sense; the decoder re-synchronised
    skipped_bytes: int = 0  # bytes not part of any decoded packet
    crc: int = 0
    seq_gaps: int = 0
    missing_packets: int = 0  # packets the sequence counts say were lost
    truncated: int = 0
    duplicates: int = 0  # repeats of decoded packets (APID, sequence count, time): dropped
    errors: list[PacketError] = field(default_factory=list)

    @property
    def n_errors(self) -> int:
        """Malformed packets and stream events (sequence gaps included)."""
        return (
            self.unknown_apid
            + self.bad_length
            + self.bad_header
            + self.crc
            + self.seq_gaps
            + self.truncated
        )

    def add(
        self,
        kind: ErrorKind,
        offset: int,
        reason: str,
        apid: int | None = None,
        seq: int | None = None,
        count: int = 1,
    ) -> None:
        counter = "seq_gaps" if kind == "seq_gap" else kind
        setattr(self, counter, getattr(self, counter) + count)
        if len(self.errors) < self.max_errors:
            self.errors.append(PacketError(kind, offset, reason, self.source, apid, seq))

    def summary(self) -> str:
        parts = [f"{self.packets} packets", f"{self.parameters} parameters"]
        for name in (
            "unknown_apid",
            "bad_length",
            "bad_header",
            "crc",
            "seq_gaps",
            "missing_packets",
            "truncated",
            "duplicates",
            "idle_packets",
            "skipped_bytes",
        ):
            v = getattr(self, name)
            if v:
                parts.append(f"{name} {v}")
        return f"{self.source or 'telemetry'}: " + ", ".join(parts)


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
        # Expected packet length for each possible first two header bytes (version 0 only):
        # 0 = not a defined packet, -1 = an idle packet (any length).
        lut = np.zeros(1 << 16, dtype=np.int64)
        for p in definitions.packets:
            lut[p.header_key] = p.length
        for ptype in (0, 1):
            lut[ptype << 12 | IDLE_APID] = -1
        self._lut_np = lut
        self._lut = lut.tolist()
        self._length_fields = np.where(lut > 0, lut - 7, -1).tolist()
        self._known_apids = {p.apid for p in definitions.packets}
        self._tail = b""
        self._offset = 0  # stream offset of the first byte of the tail
        self._last_seq: dict[int, int] = {}
        self._last_time: dict[int, int] = {}  # per APID: the latest packet time decoded
        self._recent: dict[int, tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]] = {}

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
        starts, p = self._frame(buf, 0, len(buf), final=False, base=base)
        self._tail = bytes(buf[p:])
        self._offset = base + p
        return self._decode(buf, starts, base, receive_time)

    def flush(self, *, receive_time: Any = None) -> list[pa.RecordBatch]:
        """End of stream: decode what can be decoded of the held-back bytes, count the rest as a
        truncated packet."""
        if not self._tail:
            return []
        buf, base = self._tail, self._offset
        starts, p = self._frame(buf, 0, len(buf), final=True, base=base)
        if p < len(buf):
            self._truncated(buf, p, len(buf), base)
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
            got, p = self._frame(buf, s, e, final=True, base=base)
            starts.extend(got)
            if p < e:
                self._truncated(buf, p, e, base)
            s = e
        self._offset = base + len(buf)
        return self._decode(buf, starts, base, receive_time)

    # framing ------------------------------------------------------------------------------------
    def _frame(
        self, b: Any, start: int, end: int, *, final: bool, base: int
    ) -> tuple[list[int], int]:
        """Walk packet headers from ``start``; return the starts of well-formed packets and the
        position where the walk stopped (an incomplete packet, or ``end``)."""
        fields = self._length_fields
        starts: list[int] = []
        append = starts.append
        p = start
        last = end - PRIMARY_HEADER_BYTES
        npb: npt.NDArray[np.uint8] | None = None
        while p <= last:
            # The hot loop: one table lookup on the first two header bytes gives the length
            # field a defined packet must carry.
            want = fields[b[p] << 8 | b[p + 1]]
            if want == (b[p + 4] << 8 | b[p + 5]):
                q = p + want + 7
                if q > end:
                    break
                append(p)
                p = q
                continue
            key = b[p] << 8 | b[p + 1]
            total = (b[p + 4] << 8 | b[p + 5]) + 7
            if npb is None:
                npb = np.frombuffer(b, dtype=np.uint8)
            q = self._recover(b, npb, p, key, total, end, final, base)
            if q is None:
                break
            p = q
        return starts, p

    def _plausible_at(self, b: Any, q: int, end: int, final: bool) -> bool | None:
        """Does a packet start at ``q``? None: cannot tell yet (more bytes are coming)."""
        if q == end:
            return True
        if q > end or end - q < PRIMARY_HEADER_BYTES:
            return None if not final else q < end
        want = self._lut[b[q] << 8 | b[q + 1]]
        return want == -1 or want == (b[q + 4] << 8 | b[q + 5]) + 7

    def _chain_plausible(self, b: Any, q: int, end: int, final: bool) -> bool | None:
        """After a packet of an unknown APID ending at ``q``: do the length fields lead, within
        ``_CHAIN_HOPS`` headers of unsegmented version-0 packets, to a defined or idle packet or
        the end of the stream? (So a stream of packets nobody defined is counted per packet,
        while random bytes, which rarely look like such a chain, are re-synchronised.)"""
        for _ in range(_CHAIN_HOPS):
            here = self._plausible_at(b, q, end, final)
            if here is None or here:
                return here
            if b[q] >> 5 != 0 or b[q + 2] >> 6 != 3:  # not version 0, not unsegmented
                return False
            q += (b[q + 4] << 8 | b[q + 5]) + 7
        return True

    def _recover(
        self,
        b: Any,
        npb: npt.NDArray[np.uint8],
        p: int,
        key: int,
        total: int,
        end: int,
        final: bool,
        base: int,
    ) -> int | None:
        """Classify the bad header at ``p`` and return where to continue (None: wait for more)."""
        st = self.stats
        version, apid = key >> 13, key & 0x7FF
        if version != 0:
            trusted: bool | None = False
        elif apid in self._known_apids or apid == IDLE_APID:
            trusted = self._plausible_at(b, p + total, end, final)
        else:
            trusted = self._chain_plausible(b, p + total, end, final)
        if trusted is None:
            return None
        if version == 0 and apid == IDLE_APID and trusted:
            st.idle_packets += 1
            st.skipped_bytes += total
            return p + total
        if version == 0 and apid in self._known_apids:
            want = self._layouts[apid].packet
            kind: ErrorKind = "bad_length" if want.header_key == key else "bad_header"
            reason = (
                f"packet length {total} bytes, the definition of {want.name} says {want.length}"
                if kind == "bad_length"
                else f"header flags (type, secondary header) do not match {want.name}"
            )
        elif version == 0:
            kind, reason = "unknown_apid", f"no packet definition for APID {apid:#x}"
            st.unknown_by_apid[apid] = st.unknown_by_apid.get(apid, 0) + 1
        else:
            kind, reason = "bad_header", f"packet version {version}, not a Space Packet header"
        if trusted:
            st.add(
                kind,
                base + p,
                reason + f"; skipped {total} bytes",
                apid=apid if version == 0 else None,
                seq=(b[p + 2] << 8 | b[p + 3]) & 0x3FFF,
            )
            st.skipped_bytes += total
            return p + total
        # The length cannot be trusted: scan for the next header that looks right.
        q = self._resync(npb, p + 1, end)
        if q is None:
            # Keep the last 5 bytes when more are coming: they may begin the next good header.
            q = end if final else max(p + 1, end - (PRIMARY_HEADER_BYTES - 1))
        st.add(
            kind,
            base + p,
            reason + f"; lost sync, skipped {q - p} bytes to the next valid header",
            apid=apid if version == 0 else None,
        )
        st.skipped_bytes += q - p
        return q

    def _resync(self, npb: npt.NDArray[np.uint8], frm: int, end: int) -> int | None:
        """First offset >= ``frm`` where a defined packet's header (type, flags, APID and length
        all as defined) starts, or None."""
        window = 1 << 16
        s = frm
        while end - s >= PRIMARY_HEADER_BYTES:
            e = min(end, s + window + PRIMARY_HEADER_BYTES - 1)
            v = npb[s:e].astype(np.int64)
            n = len(v) - (PRIMARY_HEADER_BYTES - 1)
            keys = v[:n] << 8 | v[1 : n + 1]
            totals = (v[4 : n + 4] << 8 | v[5 : n + 5]) + 7
            hit = np.flatnonzero(self._lut_np[keys] == totals)
            if hit.size:
                return s + int(hit[0])
            s += n
        return None

    def _truncated(self, b: Any, p: int, e: int, base: int) -> None:
        n = e - p
        if n >= PRIMARY_HEADER_BYTES:
            key = b[p] << 8 | b[p + 1]
            total = (b[p + 4] << 8 | b[p + 5]) + 7
            reason = f"{n} of {total} bytes of a packet at the end of the stream"
            apid = key & 0x7FF if key >> 13 == 0 else None
        else:
            reason, apid = f"{n} bytes at the end of the stream, less than a packet header", None
        self.stats.add("truncated", base + p, reason, apid=apid)
        self.stats.skipped_bytes += n

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
        lay = self._layouts[apid]
        L = lay.length
        rows = np.lib.stride_tricks.sliding_window_view(npb, L)[starts]
        if lay.width > L:
            m = np.zeros((len(starts), lay.width), dtype=np.uint8)
            m[:, :L] = rows
        else:
            m = rows
        seq = ((m[:, 2].astype(np.uint16) & 0x3F) << 8) | m[:, 3]
        st = self.stats
        t = lay.times(m)
        drop: npt.NDArray[np.bool_] | None = None  # CRC failures and repeats
        if lay.packet.crc:
            got = m[:, L - 2].astype(np.uint16) << 8 | m[:, L - 1]
            bad = np.flatnonzero(crc16_ccitt_rows(m[:, : L - CRC_BYTES]) != got)
            if bad.size:
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
        dup: npt.NDArray[np.bool_] | None = None
        if t is not None and self.drop_duplicates:
            ok = np.flatnonzero(~drop) if drop is not None else None
            d = (
                self._duplicates(apid, seq, t)
                if ok is None
                else (self._duplicates(apid, seq[ok], t[ok]) if ok.size else None)
            )
            if d is not None:
                dup = np.zeros(len(starts), dtype=bool)
                dup[ok if ok is not None else slice(None)] = d
                st.duplicates += int(d.sum())
                st.skipped_bytes += int(d.sum()) * L
        if self.check_sequence:  # CRC failures were received: they are not gaps; repeats are
            if dup is None:
                self._check_sequence(apid, seq, starts, base)
            else:
                self._check_sequence(apid, seq[~dup], starts[~dup], base)
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
        raw = lay.extract(m)
        value = lay.calibrate(raw)
        if t is None:
            t = np.full(n, t_recv, dtype=np.int64)
        P = lay.n_params
        st.packets += n
        st.parameters += n * P
        st.by_apid[apid] = st.by_apid.get(apid, 0) + n
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

    def _duplicates(
        self, apid: int, seq: npt.NDArray[Any], t: npt.NDArray[np.int64]
    ) -> npt.NDArray[np.bool_] | None:
        """Which of these packets repeat one decoded before (same sequence count and time,
        among the last ``_RECENT_PACKETS`` of the APID, or earlier in this batch); None: none.
        Packets in increasing time after the latest one seen take one comparison."""
        s = seq.astype(np.int64)
        last = self._last_time.get(apid)
        past_t, past_s = self._recent.get(apid, (np.zeros(0, np.int64), np.zeros(0, np.int64)))
        fresh = (last is None or t[0] > last) and bool(np.all(t[1:] > t[:-1]))
        dup: npt.NDArray[np.bool_] | None = None
        if not fresh:
            all_t = np.concatenate((past_t, t))
            all_s = np.concatenate((past_s, s))
            order = np.arange(-len(past_t), len(t))  # earlier packets first among equals
            k = np.lexsort((order, all_s, all_t))
            same = (all_t[k][1:] == all_t[k][:-1]) & (all_s[k][1:] == all_s[k][:-1])
            later = order[k][1:][same]
            if later.size:
                dup = np.zeros(len(t), dtype=bool)
                dup[later] = True  # the second of two equal keys is always in this batch
        keep_t, keep_s = (t, s) if dup is None else (t[~dup], s[~dup])
        self._last_time[apid] = max(int(t.max()), last if last is not None else int(t.max()))
        self._recent[apid] = (
            np.concatenate((past_t, keep_t))[-_RECENT_PACKETS:],
            np.concatenate((past_s, keep_s))[-_RECENT_PACKETS:],
        )
        return dup

    def _check_sequence(
        self, apid: int, seq: npt.NDArray[Any], starts: npt.NDArray[np.intp], base: int
    ) -> None:
        """Count forward jumps of the sequence count as gaps (``d - 1`` packets missing). A count
        that repeats or steps back by less than half the range is a late packet: a gap event,
        no packets missing, and the expected count does not move back."""
        if not len(seq):
            return
        s = seq.astype(np.int64)
        prev = self._last_seq.get(apid)
        before = np.concatenate(([prev], s[:-1])) if prev is not None else s[:-1]
        after = s if prev is not None else s[1:]
        first = 0 if prev is not None else 1
        d = (after - before) % SEQ_MODULO
        half = SEQ_MODULO // 2
        if np.any((d == 0) | (d >= half)):
            self._check_sequence_slow(apid, s, starts, base, prev)
            return
        self._last_seq[apid] = int(s[-1])
        gaps = np.flatnonzero(d != 1)
        if not gaps.size:
            return
        st = self.stats
        st.seq_gaps += int(gaps.size)
        st.missing_packets += int((d[gaps] - 1).sum())
        for g in gaps[: max(0, st.max_errors - len(st.errors))].tolist():
            k = g + first
            self._gap_error(
                apid,
                int(s[k]),
                (int(before[g]) + 1) % SEQ_MODULO,
                int(d[g]) - 1,
                base + int(starts[k]),
            )

    def _check_sequence_slow(
        self,
        apid: int,
        s: npt.NDArray[np.int64],
        starts: npt.NDArray[np.intp],
        base: int,
        prev: int | None,
    ) -> None:
        """``_check_sequence`` for a batch with late or repeated counts, packet by packet."""
        st = self.stats
        half = SEQ_MODULO // 2
        for k, count in enumerate(s.tolist()):
            if prev is None:
                prev = count
                continue
            d = (count - prev) % SEQ_MODULO
            if d == 1:
                prev = count
                continue
            st.seq_gaps += 1
            late = d == 0 or d >= half
            if not late:
                st.missing_packets += d - 1
            if len(st.errors) < st.max_errors:
                self._gap_error(
                    apid,
                    count,
                    (prev + 1) % SEQ_MODULO,
                    -1 if late else d - 1,
                    base + int(starts[k]),
                )
            if not late:
                prev = count
        if prev is not None:
            self._last_seq[apid] = prev

    def _gap_error(self, apid: int, count: int, expected: int, missing: int, offset: int) -> None:
        st = self.stats
        what = "late or repeated, not a gap" if missing < 0 else f"{missing} packets missing"
        st.errors.append(
            PacketError(
                "seq_gap",
                offset,
                f"sequence count {count}, expected {expected} ({what})",
                st.source,
                apid,
                count,
            )
        )


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


# -- encoding (tests and simulators) --------------------------------------------------------------
def _to_raw(q: Parameter, values: Any) -> npt.NDArray[Any]:
    """Engineering values (or enum labels) -> raw values of parameter ``q``."""
    v = np.asarray(values)
    if q.enum is not None and v.dtype.kind in "OUS":
        inverse = {label: k for k, label in q.enum.items()}
        try:
            return np.array([inverse[str(x)] for x in v.ravel()], dtype=np.int64).reshape(v.shape)
        except KeyError as exc:
            raise ValueError(
                f"{q.name}: {exc.args[0]!r} is not one of its labels {sorted(inverse)}"
            ) from None
    v = v.astype(np.float64)
    c = q.calibration
    if len(c) >= 2:
        x = (v - c[0]) / c[1] if c[1] else np.zeros_like(v)
        if len(c) > 2:  # Newton's method from the linear guess
            dc = [k * c[k] for k in range(1, len(c))]
            for _ in range(50):
                f = np.polynomial.polynomial.polyval(x, c) - v
                df = np.polynomial.polynomial.polyval(x, dc)
                x = x - np.divide(f, df, out=np.zeros_like(f), where=df != 0)
        v = x
    return v if q.type == "float" else np.rint(v).astype(np.int64)


def _raw_bits(q: Parameter, raw: Any, n: int) -> npt.NDArray[np.uint64]:
    """Raw values -> their ``q.bits``-bit patterns as uint64, checking they fit."""
    r = np.broadcast_to(np.asarray(raw), (n,))
    if q.type == "float":
        if q.bits == 32:
            return r.astype(np.float32).view(np.uint32).astype(np.uint64)
        return np.ascontiguousarray(r.astype(np.float64)).view(np.uint64)
    if r.dtype.kind == "f":
        if not np.all(np.isfinite(r)) or np.any(r != np.rint(r)):
            raise ValueError(f"{q.name}: raw values of a {q.type} must be whole numbers")
        r = r.astype(np.int64) if q.type == "int" or q.bits < 64 else r.astype(np.uint64)
    lo, hi = q.raw_range()
    if r.size and (r.min() < lo or r.max() > hi):
        raise ValueError(
            f"{q.name}: raw values {r.min()}..{r.max()} do not fit a {q.bits}-bit "
            f"{q.type} ({lo}..{hi})"
        )
    mask = np.uint64((1 << q.bits) - 1)
    return (
        r.astype(np.int64).astype(np.uint64) & mask
        if r.dtype.kind == "i"
        else (r.astype(np.uint64) & mask)
    )


def encode_packets(
    packet: PacketDef,
    seq: npt.ArrayLike,
    *,
    times: Any = None,
    values: Mapping[str, Any] | None = None,
    raw: Mapping[str, Any] | None = None,
    sequence_flags: int = 3,
) -> npt.NDArray[np.uint8]:
    """Encode ``len(seq)`` packets of one APID; returns an ``(n, packet.length)`` byte matrix
    (``.tobytes()`` is the stream).

    Each parameter takes its raw values from ``raw`` if named there, else its engineering values
    from ``values`` (inverted through its calibration: exactly for linear ones, by Newton's method
    and rounding to the nearest count otherwise; enum labels are accepted), else 0. ``times``
    (UTC datetime64 or ns since 1970) is required when the packet has a secondary header.
    Sequence counts are taken modulo 2**14.
    """
    raw = dict(raw or {})
    values = dict(values or {})
    unknown = (set(raw) | set(values)) - {q.name for q in packet.parameters}
    if unknown:
        raise ValueError(f"packet {packet.name} has no parameters {', '.join(sorted(unknown))}")
    s = np.asarray(seq, dtype=np.int64) % SEQ_MODULO
    n, L = len(s), packet.length
    m = np.zeros((n, L + 9), dtype=np.uint8)
    key = packet.header_key
    m[:, 0], m[:, 1] = key >> 8, key & 0xFF
    m[:, 2] = (sequence_flags << 6) | (s >> 8)
    m[:, 3] = s & 0xFF
    m[:, 4], m[:, 5] = (L - 7) >> 8, (L - 7) & 0xFF
    if packet.secondary_header:
        if times is None:
            raise ValueError(f"packet {packet.name} has a secondary header: give times")
        tc = packet.time
        assert tc is not None
        coarse, fine = cuc_encode(np.broadcast_to(np.asarray(times), (n,)), tc)
        for k in range(tc.coarse_bytes):
            m[:, PRIMARY_HEADER_BYTES + k] = (coarse >> (8 * (tc.coarse_bytes - 1 - k))) & 0xFF
        for k in range(tc.fine_bytes):
            m[:, PRIMARY_HEADER_BYTES + tc.coarse_bytes + k] = (
                fine >> (8 * (tc.fine_bytes - 1 - k))
            ) & 0xFF
    for q in packet.parameters:
        if q.name in raw:
            r = raw[q.name]
        elif q.name in values:
            r = _to_raw(q, values[q.name])
        else:
            r = 0
        bits = _raw_bits(q, r, n)
        o, w = q.bit_offset_in_packet, q.bits
        b0, sh = o // 8, o % 8
        if q.endian == "little":
            k = w // 8
            m[:, b0 : b0 + k] |= bits.astype("<u8").view(np.uint8).reshape(n, 8)[:, :k]
        elif sh + w <= 64:
            placed = (bits << np.uint64(64 - w)) >> np.uint64(sh)
            m[:, b0 : b0 + 8] |= placed.astype(">u8").view(np.uint8).reshape(n, 8)
        else:
            hi = bits >> np.uint64(sh + w - 64)
            lo = (bits << np.uint64(72 - sh - w)) & np.uint64(0xFF)
            m[:, b0 : b0 + 8] |= hi.astype(">u8").view(np.uint8).reshape(n, 8)
            m[:, b0 + 8] |= lo.astype(np.uint8)
    out = np.ascontiguousarray(m[:, :L])
    if packet.crc:
        crc = crc16_ccitt_rows(out[:, : L - CRC_BYTES])
        out[:, L - 2], out[:, L - 1] = crc >> 8, crc & 0xFF
    return out


def interleave(matrices: Iterable[npt.NDArray[np.uint8]]) -> bytes:
    """Packets of several APIDs as one stream, taken round-robin (first rows of each, then the
    second rows, ...); matrices may have different row counts and lengths."""
    mats = [np.asarray(x) for x in matrices]
    order = sorted(
        ((i, k) for k, mat in enumerate(mats) for i in range(mat.shape[0])),
    )
    return b"".join(mats[k][i].tobytes() for i, k in order)
