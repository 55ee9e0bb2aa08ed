"""Encoding engineering values into CCSDS space packets (for tests and simulators), and
interleaving packet streams. Re-exported by ``starbrain.sources.telemetry.ccsds``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from starbrain.sources.telemetry.ccsds_header import (
    SEQ_MODULO,
    crc16_ccitt_rows,
    cuc_encode,
)
from starbrain.sources.telemetry.packets import (
    CRC_BYTES,
    PRIMARY_HEADER_BYTES,
    PacketDef,
    Parameter,
)


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
