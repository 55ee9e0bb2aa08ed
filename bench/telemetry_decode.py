"""Launch telemetry: CCSDS packets decoded (and stored in DuckDB) against a plain struct loop.

Packets of the example launcher definitions (4 APIDs, 33 parameters of mixed widths, byte orders,
types and calibrations, CRC trailers) are generated with a fixed seed and interleaved. Measured in
one run, median of several repeats:

* peer: a plain Python loop over the packets with ``struct.unpack_from`` per field (bit fields by
  ``int.from_bytes`` and shifts), the C ``binascii.crc_hqx`` CRC, calibration, into Python lists;
* ours: ``starbrain.sources.telemetry.ccsds.decode`` into Arrow (long layout, one row per
  parameter);
* both again with the rows appended to an in-memory DuckDB table (the peer's lists go through
  Arrow first); ours also into a keyed table (``INSERT OR IGNORE`` on apid, parameter, time,
  seq, as ``Store.append`` does for registered streams).

``--udp`` adds the live path: a sender thread on 127.0.0.1 and ``UdpListener`` decoding batches.
Run ``python bench/telemetry_decode.py [--packets N] [--repeats R] [--udp]``.
"""

from __future__ import annotations

import argparse
import asyncio
import binascii
import struct
import time
from collections.abc import Callable

import duckdb
import numpy as np
import pyarrow as pa

from _timing import median_time
from starbrain.sources.telemetry.ccsds import (
    TELEMETRY_KEY,
    PacketDecoder,
    decode,
    encode_packets,
)
from starbrain.sources.telemetry.packets import PacketSet, Parameter, load_example_definitions
from starbrain.sources.transport.udp import UdpListener, send_udp

T0 = np.datetime64("2026-03-01T12:00:00", "ns")


def make_stream(defs: PacketSet, n_packets: int, seed: int = 0) -> bytes:
    """``n_packets`` packets, the APIDs in turn, random raw values over each field's range."""
    rng = np.random.default_rng(seed)
    per = n_packets // len(defs)
    mats = []
    for k, p in enumerate(defs.packets):
        raw = {}
        for q in p.parameters:
            if q.type == "float":
                raw[q.name] = rng.normal(0.0, 1e4, per)
            elif q.enum is not None:
                raw[q.name] = rng.choice(sorted(q.enum), per)
            else:
                lo, hi = q.raw_range()
                raw[q.name] = rng.integers(lo, min(hi, 2**53), per, endpoint=True)
        times = T0 + (np.arange(per) * 10_000_000 + k).astype("timedelta64[ns]")
        mats.append(encode_packets(p, np.arange(per), times=times, raw=raw))
    lengths = [m.shape[1] for m in mats]
    stride = sum(lengths)
    out = np.empty((per, stride), dtype=np.uint8)
    col = 0
    for m, n in zip(mats, lengths, strict=True):
        out[:, col : col + n] = m
        col += n
    return out.tobytes()


# -- the peer: a plain struct loop ----------------------------------------------------------------
def _getter(q: Parameter) -> Callable[[bytes, int], float]:
    o, w = q.bit_offset_in_packet, q.bits
    b0 = o // 8
    endian = "<" if q.endian == "little" else ">"
    if q.type == "float":
        s = struct.Struct(endian + ("f" if w == 32 else "d"))
        if o % 8 == 0:
            return lambda buf, p: s.unpack_from(buf, p + b0)[0]
        bits = struct.Struct(">I" if w == 32 else ">Q")
        nb = (o % 8 + w + 7) // 8
        sh = 8 * nb - o % 8 - w
        mask = (1 << w) - 1
        return lambda buf, p: s.unpack(
            bits.pack(int.from_bytes(buf[p + b0 : p + b0 + nb], "big") >> sh & mask)
        )[0]
    if o % 8 == 0 and w in (8, 16, 32, 64):
        code = {8: "b", 16: "h", 32: "i", 64: "q"}[w]
        s = struct.Struct(endian + (code if q.type == "int" else code.upper()))
        return lambda buf, p: s.unpack_from(buf, p + b0)[0]
    nb = (o % 8 + w + 7) // 8
    sh = 8 * nb - o % 8 - w
    mask = (1 << w) - 1
    order = "little" if q.endian == "little" else "big"
    if q.type == "int":
        sign = 1 << (w - 1)
        return lambda buf, p: (
            ((int.from_bytes(buf[p + b0 : p + b0 + nb], order) >> sh & mask) ^ sign) - sign
        )
    return lambda buf, p: int.from_bytes(buf[p + b0 : p + b0 + nb], order) >> sh & mask


def _calibration(q: Parameter) -> Callable[[float], float] | None:
    c = q.calibration
    if not c:
        return None
    if len(c) == 2:
        c0, c1 = c
        return lambda x: c0 + c1 * x
    return lambda x: sum(ck * x**k for k, ck in enumerate(c))


class PeerDecoder:
    """The peer: a plain loop, ``struct.unpack_from`` per packet header, a getter per field,
    ``binascii.crc_hqx`` for the CRC, calibration, rows into Python lists. ``feed`` takes whole
    packets (a file, or datagrams as they arrive); ``clock()`` times packets without a secondary
    header. Also used by ``telemetry_udp.py``."""

    def __init__(self, defs: PacketSet, clock: Callable[[], int] = lambda: 0) -> None:
        self.header = struct.Struct(">HHH")
        self.coarse_fine = struct.Struct(">IH")
        self.plans = {
            p.apid: (p, [(q.name, _getter(q), _calibration(q)) for q in p.parameters])
            for p in defs.packets
        }
        tc = defs.time
        assert tc is None or (tc.coarse_bytes, tc.fine_bytes) == (4, 2)
        self.timed = tc is not None
        self.epoch, self.leap = (tc.epoch_ns, tc.leap_seconds) if tc else (0, 0)
        self.clock = clock
        self.cols: tuple[list, ...] = ([], [], [], [], [], [])
        self.packets = self.parameters = 0

    def feed(self, buf: bytes) -> None:
        times, apids, seqs, names, raws, values = self.cols
        header, plans = self.header, self.plans
        p, n = 0, len(buf)
        while p + 6 <= n:
            w0, w1, w2 = header.unpack_from(buf, p)
            total = w2 + 7
            plan = plans.get(w0 & 0x7FF)
            if plan is None or p + total > n:
                p += total
                continue
            packet, params = plan
            if packet.crc and binascii.crc_hqx(buf[p : p + total - 2], 0xFFFF) != (
                buf[p + total - 2] << 8 | buf[p + total - 1]
            ):
                p += total
                continue
            if self.timed and packet.secondary_header:
                coarse, fine = self.coarse_fine.unpack_from(buf, p + 6)
                t = (
                    self.epoch
                    + (coarse - self.leap) * 1_000_000_000
                    + ((fine * 1_000_000_000 + 32768) >> 16)
                )
            else:
                t = self.clock()
            apid, seq = w0 & 0x7FF, w1 & 0x3FFF
            for name, get, cal in params:
                raw = get(buf, p)
                times.append(t)
                apids.append(apid)
                seqs.append(seq)
                names.append(name)
                raws.append(raw)
                values.append(cal(raw) if cal else raw)
            self.packets += 1
            self.parameters += len(params)
            p += total


def peer_decode(buf: bytes, defs: PacketSet) -> tuple[list, ...]:
    peer = PeerDecoder(defs)
    peer.feed(buf)
    return peer.cols


def peer_table(cols: tuple[list, ...]) -> pa.Table:
    times, apids, seqs, names, raws, values = cols
    return pa.table(
        {
            "time": pa.array(times, pa.timestamp("ns")),
            "apid": pa.array(apids, pa.uint16()),
            "seq": pa.array(seqs, pa.uint16()),
            "parameter": pa.array(names, pa.string()),
            "raw": pa.array(raws, pa.float64()),
            "value": pa.array(values, pa.float64()),
        }
    )


# -- storing --------------------------------------------------------------------------------------
DDL = (
    "CREATE TABLE telemetry (time TIMESTAMP_NS NOT NULL, apid USMALLINT NOT NULL, "
    "seq USMALLINT NOT NULL, parameter VARCHAR NOT NULL, raw DOUBLE, value DOUBLE{key})"
)


def store(table: pa.Table, keyed: bool = False) -> int:
    """Append to a fresh in-memory DuckDB table, as ``Store.append`` would (UTC stripped)."""
    naive = table.cast(
        pa.schema(
            [
                pa.field(f.name, pa.timestamp("ns"), f.nullable)
                if pa.types.is_timestamp(f.type)
                else f
                for f in table.schema
            ]
        )
    )
    con = duckdb.connect(":memory:")
    key = ", ".join(TELEMETRY_KEY)
    con.execute(DDL.format(key=f", PRIMARY KEY ({key})" if keyed else ""))
    con.register("_batch", naive)
    if keyed:
        sql = f"INSERT OR IGNORE INTO telemetry SELECT DISTINCT ON ({key}) * FROM _batch"
    else:
        sql = "INSERT INTO telemetry SELECT * FROM _batch"
    n = con.execute(sql).fetchone()[0]
    con.close()
    return int(n)


# -- UDP ------------------------------------------------------------------------------------------
def udp_run(defs: PacketSet, stream: bytes, n_packets: int, per_datagram: int, rate_hz: float):
    """Send ``n_packets`` over loopback in datagrams of ``per_datagram`` packets (a sender thread
    paced at ``rate_hz`` datagrams/s) while a ``UdpListener`` decodes; returns (seconds from the
    first send to the last decoded batch, packets, parameters, datagrams dropped)."""
    lengths = {p.apid: p.length for p in defs.packets}
    pos, starts = 0, []
    while pos < len(stream) and len(starts) < n_packets:
        starts.append(pos)
        pos += lengths[(stream[pos] << 8 | stream[pos + 1]) & 0x7FF]
    starts.append(pos)
    datagrams = [
        stream[starts[k] : starts[min(k + per_datagram, len(starts) - 1)]]
        for k in range(0, len(starts) - 1, per_datagram)
    ]

    async def main() -> tuple:
        dec = PacketDecoder(defs, source="udp")
        listener = UdpListener(dec, batch_packets=256, batch_ms=20, max_queue=100_000)
        last = [0.0]

        async def consume() -> None:
            async for _ in listener.batches():
                last[0] = time.perf_counter()
                if dec.stats.packets >= len(starts) - 1:
                    return

        async with listener:
            host, port = listener.address
            consumer = asyncio.create_task(consume())
            t = time.perf_counter()
            await asyncio.get_running_loop().run_in_executor(
                None, lambda: send_udp(datagrams, host, port, rate_hz=rate_hz)
            )
            seen = -1
            while not consumer.done() and seen != dec.stats.packets:  # stop when progress stops
                seen = dec.stats.packets
                await asyncio.sleep(0.25)
            consumer.cancel()
        return last[0] - t, dec.stats.packets, dec.stats.parameters, listener.dropped_datagrams

    return asyncio.run(main())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--packets", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--udp", action="store_true", help="also measure the UDP listener")
    args = parser.parse_args()
    defs = load_example_definitions()
    stream = make_stream(defs, args.packets)

    ours = decode(stream, defs, receive_time=0)
    n_pk, n_par = ours.stats.packets, ours.stats.parameters
    assert ours.stats.n_errors == 0
    peer = peer_decode(stream, defs)
    order = np.argsort(np.asarray(peer[1]), kind="stable")  # ours: one batch per APID
    for col, k in (("raw", 4), ("value", 5)):
        np.testing.assert_allclose(
            ours.table[col].to_numpy(), np.asarray(peer[k], float)[order], rtol=1e-12
        )

    r = args.repeats
    t_peer = median_time(lambda: peer_decode(stream, defs), max(1, r // 2))[0]
    t_peer_store = median_time(lambda: store(peer_table(peer_decode(stream, defs))), 1)[0]
    t_ours = median_time(lambda: decode(stream, defs).table, r)[0]
    t_store = median_time(lambda: store(decode(stream, defs).table), r)[0]
    t_keyed = median_time(lambda: store(decode(stream, defs).table, keyed=True), max(1, r // 2))[0]

    print(
        f"CCSDS decode of {n_pk:,} packets ({n_par:,} parameters, {len(stream) / 1e6:.1f} MB), "
        f"median of {r} runs (peer {max(1, r // 2)})"
    )
    print(f"{'what':62s} {'seconds':>8s} {'packets/s':>11s} {'params/s':>11s} {'vs peer':>8s}")
    rows = [
        ("struct.unpack_from loop into lists (peer)", t_peer, t_peer),
        ("starbrain decode into Arrow", t_ours, t_peer),
        ("struct loop -> Arrow -> DuckDB table (peer)", t_peer_store, t_peer_store),
        ("starbrain decode -> DuckDB table", t_store, t_peer_store),
        ("starbrain decode -> DuckDB keyed table (INSERT OR IGNORE)", t_keyed, t_peer_store),
    ]
    for name, t, ref in rows:
        print(f"{name:62s} {t:8.3f} {n_pk / t:11,.0f} {n_par / t:11,.0f} {ref / t:7.1f}x")

    if args.udp:
        n_udp = min(args.packets, 100_000)
        rate = 20_000
        elapsed, got, params, dropped = udp_run(defs, stream, n_udp, 20, rate)
        print(
            f"UDP loopback, 20 packets per datagram, sender paced at {rate:,} datagrams/s: "
            f"{got:,} of {n_udp:,} packets ({params:,} parameters) decoded in {elapsed:.2f} s "
            f"= {got / elapsed:,.0f} packets/s, {params / elapsed:,.0f} params/s; "
            f"{dropped} datagrams dropped by the queue"
        )


if __name__ == "__main__":
    main()
