"""Telemetry sources: file replay (fast and paced by packet time) and the UDP listener receiving
real datagrams on 127.0.0.1."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pyarrow as pa
import pytest

from starbrain.core.errors import StarbrainError
from starbrain.sources.telemetry.ccsds import TELEMETRY_SCHEMA, PacketDecoder
from starbrain.sources.telemetry.packets import PacketSet, load_example_definitions
from starbrain.sources.transport.replay import replay, replay_file
from starbrain.sources.transport.udp import UdpListener, listen, send_udp
from tests.sources.telemetry_helpers import generate, round_robin


@pytest.fixture(scope="module")
def defs() -> PacketSet:
    return load_example_definitions()


@pytest.fixture(scope="module")
def packets(defs: PacketSet) -> list[bytes]:
    return round_robin(generate(defs, 100, seed=1, dt_ms=20))  # 2 s of packet time


def test_replay_as_fast_as_possible(defs: PacketSet, packets: list[bytes], tmp_path: Path):
    path = tmp_path / "flight.bin"
    path.write_bytes(b"".join(packets) + b"\x00\x01")  # two stray bytes at the end
    got: list[pa.RecordBatch] = []
    stats = replay(path, defs, sink=got.append)
    assert stats.packets == 400 and stats.truncated == 1 and stats.source == str(path)
    assert sum(b.num_rows for b in got) == 100 * defs.n_parameters
    dec = PacketDecoder(defs)
    small = list(replay_file(path, dec, chunk_bytes=1000))  # packets straddle chunks
    assert sum(b.num_rows for b in small) == 100 * defs.n_parameters
    assert dec.stats.truncated == 1 and dec.stats.packets == 400
    with pytest.raises(StarbrainError, match="cannot read telemetry file"):
        replay(tmp_path / "missing.bin", defs)


def test_replay_paced_by_packet_time(defs: PacketSet, packets: list[bytes], tmp_path: Path):
    path = tmp_path / "flight.bin"
    path.write_bytes(b"".join(packets))
    now = [100.0]
    sleeps: list[float] = []

    def sleep(s: float) -> None:
        sleeps.append(s)
        now[0] += s

    dec = PacketDecoder(defs)
    released = []
    for batch in replay_file(
        path, dec, realtime=True, speed=2.0, tick_s=0.25, clock=lambda: now[0], sleep=sleep
    ):
        released.append((now[0], batch))
    assert dec.stats.packets == 400
    # 2 s of packets at twice real time, released in 0.25 s windows of packet time.
    assert sum(sleeps) == pytest.approx(1.0, abs=0.13)
    assert len(sleeps) == 8
    timed = [(t, b) for t, b in released if b.column("apid")[0].as_py() != 0x103]
    first = min(b.column("time")[0].value for _, b in timed)
    for wall, batch in timed:  # never released before its packet time
        latest = max(batch.column("time").cast(pa.int64()).to_pylist())
        assert wall - 100.0 >= (latest - first) / 1e9 / 2.0 - 1e-9


def test_udp_listener_receives_real_datagrams(defs: PacketSet, packets: list[bytes]):
    async def main() -> tuple[list[pa.RecordBatch], UdpListener]:
        listener = UdpListener(PacketDecoder(defs, source="udp"), batch_packets=64, batch_ms=20)
        batches: list[pa.RecordBatch] = []
        async with listener:
            host, port = listener.address
            assert host == "127.0.0.1" and port > 0
            datagrams = [b"".join(packets[k : k + 2]) for k in range(0, 400, 2)]  # 2 each
            loop = asyncio.get_running_loop()
            sender = loop.run_in_executor(None, send_udp, datagrams, host, port)
            async for got in listener.batches():
                batches += got
                if listener.stats.packets >= 400:
                    break
            assert await sender == 200
        return batches, listener

    batches, listener = asyncio.run(asyncio.wait_for(main(), 20))
    assert listener.datagrams == 200 and listener.dropped_datagrams == 0
    assert listener.stats.n_errors == 0, listener.stats.errors
    table = pa.Table.from_batches(batches, schema=TELEMETRY_SCHEMA)
    assert table.num_rows == 100 * defs.n_parameters
    assert sorted(set(table["apid"].to_pylist())) == [0x100, 0x101, 0x102, 0x103]


def test_listen_until_max_packets(defs: PacketSet, packets: list[bytes]):
    rows = []

    def ready(address: tuple[str, int]) -> None:
        threading.Thread(target=send_udp, args=(packets[:40], *address), daemon=True).start()

    report = listen(
        defs,
        "127.0.0.1",
        0,
        sink=lambda b: rows.append(b.num_rows),
        max_packets=40,
        duration_s=15,
        batch_ms=10,
        on_ready=ready,
    )
    assert report.stats.packets == 40
    assert sum(rows) == 10 * defs.n_parameters
    assert report.stats.n_errors == 0


def test_full_queue_drops_and_counts(defs: PacketSet, packets: list[bytes]):
    async def main() -> UdpListener:
        listener = UdpListener(PacketDecoder(defs), max_queue=10)
        async with listener:
            await asyncio.get_running_loop().run_in_executor(
                None, send_udp, packets[:50], *listener.address
            )
            for _ in range(100):  # nobody consumes: the queue fills up
                if listener.datagrams == 50:
                    break
                await asyncio.sleep(0.01)
        return listener

    listener = asyncio.run(main())
    assert listener.datagrams == 50
    assert listener.dropped_datagrams == 40


def test_listener_stays_on_loopback(defs: PacketSet):
    with pytest.raises(StarbrainError, match="loopback"):
        UdpListener(PacketDecoder(defs), host="0.0.0.0")


# -- which definitions a file was made with -------------------------------------------------------
def test_definitions_detected_from_the_apids_in_the_file(defs: PacketSet, tmp_path: Path):
    from starbrain.physics.flight_sim import launch_vehicle_definitions
    from starbrain.sources.telemetry.packets import bundled_definitions
    from starbrain.sources.transport.replay import (
        definitions_sidecar,
        resolve_definitions,
        scan_apids,
    )

    assert set(bundled_definitions()) >= {"example_launcher", "launch_vehicle"}
    lv = launch_vehicle_definitions()
    lv_file = tmp_path / "lv.bin"
    lv_file.write_bytes(b"".join(round_robin(generate(lv, 30, seed=2))))
    assert scan_apids(lv_file) == dict.fromkeys(range(0x200, 0x205), 30)
    choice = resolve_definitions(lv_file)
    assert choice.definitions.name == "launch_vehicle"
    assert "every APID seen in the file" in choice.how
    assert choice.tried == ("example_launcher", "launch_vehicle")
    assert replay(lv_file).packets == 150  # replay() without definitions detects them too

    # partly covered: the best set is chosen and the APIDs it lacks are named
    stranger = encode_packets_for(0x2AA, 5)
    mixed = tmp_path / "mixed.bin"
    mixed.write_bytes(b"".join(packets_example(defs)) + stranger)
    choice = resolve_definitions(mixed)
    assert choice.definitions.name == "example_launcher" and "not 0x2aa" in choice.how

    # covered by none: the example launcher, saying so
    alien = tmp_path / "alien.bin"
    alien.write_bytes(stranger)
    choice = resolve_definitions(alien)
    assert choice.definitions.name == "example_launcher" and "no bundled set defines" in choice.how

    # a recorded sidecar wins over detection, given definitions over both
    definitions_sidecar(alien).write_text(lv_yaml())
    assert resolve_definitions(alien).definitions.name == "launch_vehicle"
    assert "recorded in" in resolve_definitions(alien).how
    assert resolve_definitions(alien, defs).definitions is defs


def encode_packets_for(apid: int, n: int) -> bytes:
    """``n`` unsegmented TM packets of an APID nobody defines (12 data bytes each)."""
    from starbrain.sources.telemetry.ccsds import pack_primary_header

    return b"".join(pack_primary_header(apid, k, 11) + bytes(12) for k in range(n))


def packets_example(defs: PacketSet) -> list[bytes]:
    return round_robin(generate(defs, 10, seed=3))


def lv_yaml() -> str:
    from starbrain.sources.telemetry.packets import bundled_definitions

    return bundled_definitions()["launch_vehicle"].read_text()


def test_simulated_flight_file_records_its_definitions(tmp_path: Path):
    from starbrain.physics.flight_sim import FlightConfig, simulate_flight
    from starbrain.sources.transport.replay import definitions_sidecar

    flight = simulate_flight(FlightConfig(duration_s=20, rate_hz=5))
    path = tmp_path / "flight.bin"
    flight.write(path)
    assert definitions_sidecar(path).read_text() == lv_yaml()
    stats = replay(path)
    assert stats.packets == int(flight.present.sum()) == 500
    assert stats.n_errors == 0 and stats.duplicates == 0


def test_the_old_module_paths_forward_to_sources_transport_for_one_release():
    """sources.telemetry_io and sources.brokers (deprecated) hand out the very objects of
    sources.transport, and say so for a name that does not exist."""
    from starbrain.sources import brokers, telemetry_io, transport
    from starbrain.sources.transport import policy, tcp, udp
    from starbrain.sources.transport import replay as replay_module

    assert telemetry_io.replay is replay_module.replay is replay
    assert telemetry_io.UdpListener is udp.UdpListener
    assert telemetry_io.listen_tcp is tcp.listen_tcp
    assert brokers.subscribe is transport.subscribe
    assert brokers.NatsSubscription is transport.NatsSubscription
    assert brokers.DEFAULT_WINDOW == policy.DEFAULT_WINDOW == 16384
    with pytest.raises(AttributeError, match=r"telemetry_io.*no_such_name"):
        telemetry_io.no_such_name  # noqa: B018
    with pytest.raises(AttributeError, match=r"brokers.*no_such_name"):
        brokers.no_such_name  # noqa: B018
