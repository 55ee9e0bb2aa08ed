"""The TCP telemetry listener over real loopback sockets: packets split across writes in every
way, several clients at once (each framed on its own), malformed input counted per connection,
back-pressure without loss."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pyarrow as pa
import pytest

from starbrain.core.errors import StarbrainError
from starbrain.sources.telemetry.ccsds import TELEMETRY_SCHEMA, decode, pack_primary_header
from starbrain.sources.telemetry.packets import PacketSet, load_example_definitions
from starbrain.sources.transport.tcp import (
    TcpListener,
    listen_tcp,
    merge_stats,
    parse_host_port,
    send_tcp,
)
from starbrain.store.database import Store
from tests.sources.telemetry_helpers import generate, round_robin


def _send_until_closed(chunks: list[bytes], address: tuple[str, int]) -> None:
    """send_tcp for a listener that is meant to hang up early: the reset is the expected end."""
    with contextlib.suppress(ConnectionResetError, BrokenPipeError):
        send_tcp(chunks, *address)


@pytest.fixture(scope="module")
def defs() -> PacketSet:
    return load_example_definitions()


def rows(batches: list[pa.RecordBatch]) -> pa.Table:
    t = pa.Table.from_batches(batches, schema=TELEMETRY_SCHEMA)
    # several clients send packets with the same APID and sequence count: sorting on every
    # column but time makes the order independent of how their connections interleaved
    keys = [(c, "ascending") for c in ("apid", "seq", "parameter", "raw", "value")]
    return t.cast(
        pa.schema(
            [f if f.name != "parameter" else pa.field("parameter", pa.string()) for f in t.schema]
        )
    ).sort_by(keys)


def random_splits(data: bytes, rng: np.random.Generator, max_len: int = 40) -> list[bytes]:
    """``data`` cut into pieces of 1..max_len bytes (so headers and length fields split too)."""
    cuts = np.cumsum(rng.integers(1, max_len, len(data)))
    cuts = cuts[cuts < len(data)]
    return [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]


def serve(
    listener: TcpListener, clients: list[list[bytes]], pause_s: float = 0.0, delay_s: float = 0.0
) -> list[pa.RecordBatch]:
    """Run ``listener``, send each client's chunks over its own connection (in threads, all at
    once), collect every decoded batch until all connections ended."""

    async def main() -> list[pa.RecordBatch]:
        got: list[pa.RecordBatch] = []
        async with listener:
            host, port = listener.address
            loop = asyncio.get_running_loop()
            senders = [
                loop.run_in_executor(None, lambda c=c: send_tcp(c, host, port, pause_s=pause_s))
                for c in clients
            ]
            done = asyncio.gather(*senders)

            async def stop_when_done() -> None:
                await done
                while listener.active or len(listener.connections) < len(clients):
                    await asyncio.sleep(0.01)
                await listener.close()

            closer = asyncio.ensure_future(stop_when_done())
            async for batches in listener.batches():
                got += batches
                if delay_s:
                    await asyncio.sleep(delay_s)  # a slow consumer
            await closer
        return got

    return asyncio.run(asyncio.wait_for(main(), 60))


def test_split_writes_decode_exactly(defs: PacketSet):
    stream = b"".join(round_robin(generate(defs, 100, seed=21)))
    chunks = random_splits(stream, np.random.default_rng(0))
    assert len(chunks) > 500 and any(len(c) < 6 for c in chunks)
    listener = TcpListener(defs, batch_ms=5)
    got = serve(listener, [chunks], pause_s=0.0002)
    (conn,) = listener.connections
    assert conn.n_errors == 0, conn.errors
    assert conn.packets == 400 and conn.bytes == len(stream)
    ref = decode(stream, defs)  # the whole stream at once
    assert rows(got).drop_columns(["time"]).equals(rows(ref.batches).drop_columns(["time"]))
    timed = [b for b in got if b.column("apid")[0].as_py() != 0x103]  # packet times kept
    ref_timed = [b for b in ref.batches if b.column("apid")[0].as_py() != 0x103]
    assert rows(timed).equals(rows(ref_timed))


def test_many_clients_are_framed_separately_with_backpressure(defs: PacketSet):
    streams = [b"".join(round_robin(generate(defs, 300, seed=30 + k))) for k in range(3)]
    clients = [[s[i : i + 1000] for i in range(0, len(s), 1000)] for s in streams]
    # One decoded read may wait at a time and the consumer is slow: readers must wait, not drop.
    listener = TcpListener(defs, max_queue=1, read_bytes=4096, batch_rows=1)
    got = serve(listener, clients, delay_s=0.002)
    assert len(listener.connections) == 3
    for st in listener.connections:  # streams interleaved in one decoder would break framing
        assert st.packets == 1200 and st.n_errors == 0, st.errors
        assert st.source.startswith("tcp://127.0.0.1:")
    assert listener.stats.packets == 3600
    want = rows([b for s in streams for b in decode(s, defs).batches]).drop_columns(["time"])
    assert rows(got).drop_columns(["time"]).equals(want)


def test_malformed_input_counted_per_connection(defs: PacketSet):
    gen = generate(defs, 60, seed=5)
    packets = round_robin(gen)  # index 4 * k + (0 NAV, 1 PROPULSION, 2 POWER, 3 EVENT)
    bad_len = bytearray(gen[0x102].rows[10].tobytes() + b"\0\0\0\0")  # POWER 10: 4 bytes long
    bad_len[4:6] = (len(bad_len) - 7).to_bytes(2, "big")
    packets[4 * 10 + 2] = bytes(bad_len)
    crc = bytearray(gen[0x101].rows[20].tobytes())  # PROPULSION 20: a bit flipped
    crc[20] ^= 0x10
    packets[4 * 20 + 1] = bytes(crc)
    del packets[4 * 31 + 3]  # EVENT 30 and 31 never sent
    del packets[4 * 30 + 3]
    packets.insert(4 * 45, bytes([0xE7]) + bytes(range(100, 112)))  # not a Space Packet
    packets.insert(4 * 5, pack_primary_header(0x2AA, 0, 13) + bytes(range(14)))  # unknown APID
    damaged = b"".join(packets)
    cut = b"".join(round_robin(generate(defs, 3, seed=9)))[:-7]  # the last packet cut short
    rng = np.random.default_rng(1)
    listener = TcpListener(defs, batch_ms=5)
    got = serve(listener, [random_splits(damaged, rng, 200), [cut[:50], cut[50:]]])
    by_source = sorted(listener.connections, key=lambda s: s.bytes, reverse=True)
    first, second = by_source
    counts = {
        k: getattr(first, k)
        for k in ("unknown_apid", "bad_length", "bad_header", "crc", "seq_gaps", "truncated")
    }
    assert counts == {
        "unknown_apid": 1,
        "bad_length": 1,
        "bad_header": 1,
        "crc": 1,
        "seq_gaps": 2,  # POWER 10, EVENT 30-31
        "truncated": 0,
    }, first.errors
    assert first.missing_packets == 3 and first.packets == 240 - 4
    assert second.truncated == 1 and second.packets == 11 and second.n_errors == 1
    assert listener.stats.n_errors == first.n_errors + 1
    assert first.source != second.source
    # every good packet arrived: as the one-shot decoder reads the same damaged bytes
    want = rows(decode(damaged, defs).batches + decode(cut, defs).batches)
    assert rows(got).drop_columns(["time"]).equals(want.drop_columns(["time"]))


def test_listen_tcp_into_the_store(defs: PacketSet, tmp_path):
    stream = b"".join(round_robin(generate(defs, 50, seed=7)))

    def ready(address: tuple[str, int]) -> None:
        threading.Thread(target=send_tcp, args=([stream], *address), daemon=True).start()

    with Store(tmp_path / "store.duckdb") as db:
        started = time.monotonic()
        report = listen_tcp(
            defs,
            "127.0.0.1",
            0,
            sink=lambda b: db.append("telemetry", pa.Table.from_batches([b])),
            max_packets=200,
            duration_s=20,
            on_ready=ready,
        )
        assert time.monotonic() - started < 10
        assert report.stats.packets == 200 and not report.interrupted
        assert db.count("telemetry") == 50 * defs.n_parameters


def test_helpers_and_loopback_only(defs: PacketSet):
    assert parse_host_port("127.0.0.1:7000", 1) == ("127.0.0.1", 7000)
    assert parse_host_port(":7000", 1) == ("127.0.0.1", 7000)
    assert parse_host_port("[::1]:7000", 1) == ("::1", 7000)
    assert parse_host_port("localhost", 10016) == ("localhost", 10016)
    with pytest.raises(StarbrainError, match="HOST:PORT"):
        parse_host_port("127.0.0.1:http", 1)
    with pytest.raises(StarbrainError, match="loopback"):
        TcpListener(defs, host="0.0.0.0")
    a = decode(b"".join(round_robin(generate(defs, 5, seed=1))), defs).stats
    b = decode(pack_primary_header(0x2AA, 0, 13) + bytes(14), defs).stats
    total = merge_stats([a, b], "both")
    assert (total.packets, total.unknown_apid, total.by_apid[0x100]) == (20, 1, 5)
    assert total.bytes == a.bytes + b.bytes and len(total.errors) == 1


def test_cli_listen_tcp_ctrl_c_stores_and_prints_stats(defs: PacketSet, tmp_path, store_path):
    """``starbrain telemetry listen --tcp``: Ctrl-C (SIGINT) stores what arrived, prints stats."""
    from tests.servers import free_port, wait_for_port
    from tests.test_cli import EXE

    port = free_port()
    packets = round_robin(generate(defs, 30, seed=4))
    packets.insert(7, pack_primary_header(0x2AA, 0, 13) + bytes(range(14)))
    cmd = [str(EXE)] if EXE.exists() else [sys.executable, "-m", "starbrain"]
    env = {**os.environ, "COLUMNS": "200"}
    proc = subprocess.Popen(
        [*cmd, "telemetry", "listen", "--tcp", f"127.0.0.1:{port}", "--duration", "60"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for_port(port, 30, proc)  # type: ignore[arg-type]
        send_tcp([b"".join(packets)], "127.0.0.1", port)
        time.sleep(3.0)  # decoded and stored within a few ms; the margin is for a busy machine
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert "interrupted" in err
    assert "120 packets" in out and "unknown_apid 1" in out
    assert f"stored {30 * defs.n_parameters} parameter values" in out
    with Store(store_path, read_only=True) as db:
        assert db.count("telemetry") == 30 * defs.n_parameters


def test_listen_tcp_stops_at_max_packets_with_a_full_queue(defs: PacketSet):
    """Stopping early while connections still push (queue full) neither hangs nor raises."""
    stream = b"".join(round_robin(generate(defs, 500, seed=8)))
    got: list[int] = []

    def ready(address: tuple[str, int]) -> None:
        chunks = [stream[i : i + 512] for i in range(0, len(stream), 512)]
        threading.Thread(target=_send_until_closed, args=(chunks, address), daemon=True).start()

    started = time.monotonic()
    listener_report = listen_tcp(
        defs,
        "127.0.0.1",
        0,
        sink=lambda b: got.append(b.num_rows),
        max_packets=100,
        batch_rows=1,
        duration_s=20,
        on_ready=ready,
    )
    assert time.monotonic() - started < 10
    assert 100 <= listener_report.stats.packets <= 2000
    st = listener_report.stats
    assert sum(got) > 0 and st.n_errors == st.truncated <= 1  # cut mid-packet when stopped


def test_udp_and_tcp_stop_when_idle_and_surface_sink_errors(defs: PacketSet):
    """``idle_s`` ends a listener once the stream stops; a failing sink stops it with its error
    instead of hanging (the sink runs in a worker thread)."""
    from starbrain.sources.transport.udp import listen, send_udp

    packets = round_robin(generate(defs, 10, seed=2))

    def udp_ready(address: tuple[str, int]) -> None:
        threading.Thread(target=send_udp, args=(packets, *address), daemon=True).start()

    started = time.monotonic()
    report = listen(defs, "127.0.0.1", 0, idle_s=1.0, duration_s=20, on_ready=udp_ready)
    assert report.stats.packets == 40 and time.monotonic() - started < 10

    def tcp_ready(address: tuple[str, int]) -> None:
        threading.Thread(target=send_tcp, args=([b"".join(packets)], *address), daemon=True).start()

    def broken(batch: pa.RecordBatch) -> None:
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        listen_tcp(defs, "127.0.0.1", 0, sink=broken, idle_s=1.0, duration_s=20, on_ready=tcp_ready)
