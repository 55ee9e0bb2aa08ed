"""The fixed wire formats of a CCSDS space packet (CCSDS 133.0-B-2): the 6-byte primary header,
the CRC-16-CCITT trailer and CUC (CCSDS 301.0-B) time codes.

Re-exported by ``starbrain.sources.telemetry.ccsds``.
"""

from __future__ import annotations

import binascii
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from starbrain.sources.telemetry.packets import (
    PRIMARY_HEADER_BYTES,
    TimeCode,
)

# 14-bit packet sequence count: counts run modulo this
SEQ_MODULO = 1 << 14


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
