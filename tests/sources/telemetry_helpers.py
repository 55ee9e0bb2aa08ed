"""Generated CCSDS packet streams for the telemetry tests (fixed seeds, example definitions)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from starbrain.sources.telemetry.ccsds import encode_packets
from starbrain.sources.telemetry.packets import PacketDef, PacketSet

T0 = np.datetime64("2026-03-01T12:00:00", "ns")


@dataclass
class Generated:
    packet: PacketDef
    rows: np.ndarray  # (n, length) encoded packets
    raw: dict[str, np.ndarray]  # raw value per parameter
    times: np.ndarray | None  # datetime64[ns] per packet, None without a secondary header


def random_raw(packet: PacketDef, n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Raw values covering each field's whole range (exactly representable in float64)."""
    raw: dict[str, np.ndarray] = {}
    for q in packet.parameters:
        if q.type == "float":
            x = rng.normal(0.0, 1e5, n) * 10.0 ** rng.integers(-20, 20, n)
            raw[q.name] = x.astype(np.float32 if q.bits == 32 else np.float64)
        elif q.enum is not None:
            raw[q.name] = rng.choice(sorted(q.enum), n)
        elif q.bits > 53:
            # 53 significant bits shifted to the top of the field, and small values.
            top = rng.integers(0, 2**53, n, dtype=np.int64).astype(np.uint64)
            top = top << np.uint64(q.bits - 53)
            top[::2] = rng.integers(0, 2**20, (n + 1) // 2)
            raw[q.name] = top
        else:
            lo, hi = q.raw_range()
            v = rng.integers(lo, hi, n, endpoint=True)
            v[:2] = [lo, hi][: min(2, n)]  # the extremes always appear
            raw[q.name] = v
    return raw


def generate(
    defs: PacketSet, n: int, seed: int = 0, first_seq: int = 0, dt_ms: int = 20
) -> dict[int, Generated]:
    rng = np.random.default_rng(seed)
    out = {}
    for k, p in enumerate(defs.packets):
        raw = random_raw(p, n, rng)
        times = None
        if p.secondary_header:
            times = T0 + (np.arange(n) * dt_ms * 1_000_000 + k * 1_000_000).astype(
                "timedelta64[ns]"
            )
        rows = encode_packets(p, first_seq + np.arange(n), times=times, raw=raw)
        out[p.apid] = Generated(p, rows, raw, times)
    return out


def round_robin(gen: dict[int, Generated]) -> list[bytes]:
    """Packets of every APID, one of each in turn, as a list of packets."""
    rows = [g.rows for g in gen.values()]
    n = max(r.shape[0] for r in rows)
    return [r[i].tobytes() for i in range(n) for r in rows if i < r.shape[0]]
