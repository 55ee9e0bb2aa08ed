"""Telemetry over UDP: receive, decode and store in DuckDB, against a plain struct loop.

A recorded packet stream (the example launcher's 4 APIDs, 33 parameters, made by
``telemetry_decode.make_stream`` with a fixed seed, written to a file) is sent over 127.0.0.1 in
datagrams of ``--per-datagram`` packets by a sender in a separate process, as fast as it can
(or paced at ``--rate`` datagrams per second).
Each receiver decodes every packet and appends the rows (long layout, one per parameter) to the
telemetry stream of a real DuckDB file through ``Store.append``:

* ours: ``telemetry_io.listen`` as ``starbrain telemetry listen`` runs it: ``UdpListener``
  (asyncio; datagrams queue in memory while a worker thread decodes whole batches with
  ``PacketDecoder``), the CLI's store sink (one append per 100k rows) in another thread;
* peer: a plain loop on a blocking socket: ``recv``, then per packet ``struct.unpack_from`` per
  field (bit fields by ``int.from_bytes`` and shifts), ``binascii.crc_hqx`` for the CRC,
  calibration, rows into Python lists, appended through Arrow with the same ``Store.append``
  every 100k rows.

Rate = packets stored / seconds from the first datagram received to the last row committed;
parameters/s = 8.25 x that (33 parameters over 4 packets). The kernel buffers 4 MiB
(``net.core.rmem_max``); what a receiver cannot take in time is dropped by the kernel and
reported as loss. A receiver that keeps up is limited by the sender, so its rate is a lower bound.
Parameters per CPU-second (the receiving process's user + system time, all its threads) is less
sensitive to other work sharing the cores. Medians of ``--repeats`` runs, ours and the peer
alternating.

Run ``python bench/telemetry_udp.py [--packets N] [--repeats R] [--per-datagram K] [--rate HZ]``.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import multiprocessing.synchronize
import socket
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

sys.path.insert(0, str(Path(__file__).parent))
from starbrain.core.schemas.telemetry import TELEMETRY_SCHEMA
from starbrain.sources.telemetry.packets import PacketSet, load_example_definitions
from starbrain.sources.transport.udp import listen
from starbrain.store.database import Store
from telemetry_decode import PeerDecoder, make_stream

FLUSH_ROWS = 100_000
RCVBUF = 1 << 22


# -- the sender (a separate process) --------------------------------------------------------------
def datagrams_of(stream: bytes, defs: PacketSet, per_datagram: int) -> list[bytes]:
    lengths = {p.apid: p.length for p in defs.packets}
    starts, pos = [], 0
    while pos < len(stream):
        starts.append(pos)
        pos += lengths[(stream[pos] << 8 | stream[pos + 1]) & 0x7FF]
    starts.append(pos)
    return [
        stream[starts[k] : starts[min(k + per_datagram, len(starts) - 1)]]
        for k in range(0, len(starts) - 1, per_datagram)
    ]


def sender(
    path: str,
    per_datagram: int,
    port: int,
    rate_hz: float,
    ready: mp.synchronize.Event,
    go: mp.synchronize.Event,
) -> None:
    """Read the recording, cut it into datagrams, say ``ready``, wait for ``go``, send them all
    (as fast as possible, or ``rate_hz`` datagrams per second)."""
    defs = load_example_definitions()
    datagrams = datagrams_of(Path(path).read_bytes(), defs, per_datagram)
    ready.set()
    go.wait(60)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.connect(("127.0.0.1", port))
        start = time.perf_counter()
        for k, dg in enumerate(datagrams):
            if rate_hz:
                wait = start + k / rate_hz - time.perf_counter()
                if wait > 0:
                    time.sleep(wait)
            sock.send(dg)


def start_sender(
    path: Path, per_datagram: int, port: int, rate_hz: float
) -> tuple[mp.process.BaseProcess, mp.synchronize.Event]:
    """The sender process, started and ready; set the returned event to make it send."""
    ctx = mp.get_context("spawn")
    ready, go = ctx.Event(), ctx.Event()
    proc = ctx.Process(
        target=sender, args=(str(path), per_datagram, port, rate_hz, ready, go), daemon=True
    )
    proc.start()
    if not ready.wait(120):
        raise RuntimeError("the sender process did not start")
    return proc, go


@dataclass
class Result:
    seconds: float
    packets: int
    parameters: int
    loss: float  # fraction of the sent packets never stored
    cpu_s: float  # CPU time of the receiving process (all threads, user + system)

    @property
    def parameters_per_cpu_s(self) -> float:
        return self.parameters / self.cpu_s

    @property
    def packets_per_s(self) -> float:
        return self.packets / self.seconds

    @property
    def parameters_per_s(self) -> float:
        return self.parameters / self.seconds


# -- ours -----------------------------------------------------------------------------------------
def run_ours(
    path: Path, defs: PacketSet, n_packets: int, per_datagram: int, rate_hz: float, db: Store
) -> Result:
    """``telemetry_io.listen`` with the store sink of ``starbrain telemetry listen``."""
    from starbrain.cli.telemetry import _StoreSink

    sink = _StoreSink(db, flush_rows=100_000)
    t_first = t_last = cpu0 = 0.0
    procs: list[mp.process.BaseProcess] = []

    def timed(batch: pa.RecordBatch) -> None:
        nonlocal t_first, t_last
        if not t_first:
            t_first = time.perf_counter()
        sink(batch)
        t_last = time.perf_counter()

    def ready(address: tuple[str, int]) -> None:
        nonlocal cpu0
        proc, go = start_sender(path, per_datagram, address[1], rate_hz)
        procs.append(proc)
        cpu0 = time.process_time()
        go.set()

    report = listen(
        defs, "127.0.0.1", 0, sink=timed, max_packets=n_packets, idle_s=1.0, on_ready=ready
    )
    t = time.perf_counter()
    sink.flush()  # the rows still buffered, as the CLI does at the end
    t_last += time.perf_counter() - t
    cpu = time.process_time() - cpu0
    for proc in procs:
        proc.join(10)
    st = report.stats
    return Result(t_last - t_first, st.packets, st.parameters, 1 - st.packets / n_packets, cpu)


# -- the peer: a plain loop -----------------------------------------------------------------------
class UdpPeer(PeerDecoder):
    """``telemetry_decode.PeerDecoder`` timing untimed packets by the receive clock, with the
    rows handed to the store as Arrow in the stream's schema."""

    def __init__(self, defs: PacketSet) -> None:
        super().__init__(defs, clock=time.time_ns)

    def rows(self) -> int:
        return len(self.cols[0])

    def take_table(self) -> pa.Table:
        times, apids, seqs, names, raws, values = self.cols
        table = pa.table(
            [
                pa.array(times, pa.timestamp("ns", tz="UTC")),
                pa.array(apids, pa.uint16()),
                pa.array(seqs, pa.uint16()),
                pa.array(names, pa.string()).dictionary_encode(),
                pa.array(raws, pa.float64()),
                pa.array(values, pa.float64()),
            ],
            schema=TELEMETRY_SCHEMA,
        )
        self.cols = ([], [], [], [], [], [])
        return table


def run_peer(
    path: Path, defs: PacketSet, n_packets: int, per_datagram: int, rate_hz: float, db: Store
) -> Result:
    peer = UdpPeer(defs)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF)  # as UdpListener asks
        sock.bind(("127.0.0.1", 0))
        proc, go = start_sender(path, per_datagram, sock.getsockname()[1], rate_hz)
        cpu0 = time.process_time()
        go.set()
        sock.settimeout(30.0)  # for the first datagram; then a second without one ends the run
        t_first = t_last = 0.0
        while peer.packets < n_packets:
            try:
                buf = sock.recv(65536)
            except TimeoutError:
                break
            if not t_first:
                t_first = time.perf_counter()
                sock.settimeout(1.0)
            peer.feed(buf)
            if peer.rows() >= FLUSH_ROWS:
                db.append("telemetry", peer.take_table())
                t_last = time.perf_counter()
        if peer.rows():
            db.append("telemetry", peer.take_table())
            t_last = time.perf_counter()
        proc.join(10)
    cpu = time.process_time() - cpu0
    return Result(
        t_last - t_first, peer.packets, peer.parameters, 1 - peer.packets / n_packets, cpu
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--packets", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--per-datagram", type=int, default=20)
    parser.add_argument(
        "--rate", type=float, default=0.0, help="datagrams/s the sender paces at (0: flat out)"
    )
    args = parser.parse_args()
    defs = load_example_definitions()
    stream = make_stream(defs, args.packets)
    n = len(datagrams_of(stream, defs, 1))
    ours: list[Result] = []
    peers: list[Result] = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "recording.bin"
        path.write_bytes(stream)
        for k in range(args.repeats):
            for who, fn, out in (("ours", run_ours, ours), ("peer", run_peer, peers)):
                with Store(Path(tmp) / f"{who}{k}.duckdb") as db:
                    r = fn(path, defs, n, args.per_datagram, args.rate, db)
                    assert db.count("telemetry") == r.parameters, "rows stored != decoded"
                out.append(r)
                print(
                    f"  run {k + 1} {who}: {r.packets:,} packets in {r.seconds:.3f} s, "
                    f"loss {r.loss:.1%}",
                    flush=True,
                )

    def med(rs: list[Result], attr: str) -> float:
        return statistics.median(getattr(r, attr) for r in rs)

    print(
        f"UDP loopback -> decode -> DuckDB file: {n:,} packets ({n * 33 // 4:,} parameters, "
        f"{len(stream) / 1e6:.1f} MB) in datagrams of {args.per_datagram} packets, sent "
        + (f"at {args.rate:,.0f} datagrams/s" if args.rate else "flat out")
        + f", median of {args.repeats} runs"
    )
    print(
        f"{'receiver':52s} {'packets/s':>11s} {'params/s':>12s} {'loss':>6s} {'vs peer':>8s}"
        f" {'params/CPU-s':>13s}"
    )
    ref = med(peers, "packets_per_s")
    for name, rs in (
        ("struct.unpack_from loop -> Arrow -> DuckDB (peer)", peers),
        ("starbrain UdpListener + PacketDecoder -> DuckDB", ours),
    ):
        pps = med(rs, "packets_per_s")
        print(
            f"{name:52s} {pps:11,.0f} {med(rs, 'parameters_per_s'):12,.0f} "
            f"{med(rs, 'loss'):6.1%} {pps / ref:7.1f}x {med(rs, 'parameters_per_cpu_s'):13,.0f}"
        )


if __name__ == "__main__":
    main()
