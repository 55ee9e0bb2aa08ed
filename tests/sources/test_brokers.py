"""Telemetry over real brokers: nats-server (JetStream) and mosquitto started on loopback by the
fixtures in tests/conftest.py. The brokers are killed / restarted mid-stream and the DuckDB
store must hold every packet exactly once; malformed packets are counted and never stop the
stream."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pyarrow as pa
import pytest

from starbrain.core.errors import StarbrainError
from starbrain.sources.telemetry.ccsds import TELEMETRY_SCHEMA, PacketDecoder, pack_primary_header
from starbrain.sources.telemetry.packets import PacketSet, load_example_definitions
from starbrain.sources.transport import (
    BrokerReport,
    RecentKeys,
    message_key,
    publish,
    stream_name_for,
    subscribe,
)
from starbrain.store.database import Store
from tests.servers import MosquittoServer, NatsServer
from tests.sources.telemetry_helpers import Generated, generate, round_robin

pytestmark = pytest.mark.broker


@pytest.fixture(scope="module")
def defs() -> PacketSet:
    return load_example_definitions()


# -- shared with test_tcp.py ----------------------------------------------------------------------
def malformed_messages(gen: dict[int, Generated]) -> tuple[list[bytes], int]:
    """The round-robin packets (one per message) with every kind of damage; returns the
    messages and how many good packets they hold. Expected counts: ``EXPECTED_BROKER``."""
    packets = round_robin(gen)  # 4 APIDs in turn: index 4 * k + (0 NAV, 1 PROP, 2 POWER, 3 EVENT)
    bad_len = bytearray(gen[0x102].rows[10].tobytes() + b"\0\0\0\0")  # POWER 10, 4 bytes long
    bad_len[4:6] = (len(bad_len) - 7).to_bytes(2, "big")
    packets[4 * 10 + 2] = bytes(bad_len)
    crc = bytearray(gen[0x101].rows[20].tobytes())  # PROPULSION 20, one bit flipped
    crc[20] ^= 0x10
    packets[4 * 20 + 1] = bytes(crc)
    packets[4 * 40] = packets[4 * 40][:-3]  # NAV 40 cut short
    del packets[4 * 31 + 3]  # EVENT 30 and 31 never sent: a gap of 2
    del packets[4 * 30 + 3]
    stranger = pack_primary_header(0x2AA, 0, 13) + bytes(range(14))
    packets.insert(4 * 5, stranger)
    n_good = len(round_robin(gen)) - 5
    return packets, n_good


EXPECTED_BROKER = {
    "unknown_apid": 1,
    "bad_length": 1,
    "bad_header": 0,
    "crc": 1,
    "truncated": 1,
    "seq_gaps": 3,  # POWER 10, EVENT 30-31, NAV 40
    "missing_packets": 4,
}


def counters(report_stats: Any) -> dict[str, int]:
    return {k: getattr(report_stats, k) for k in EXPECTED_BROKER}


def packet_rows(table: pa.Table) -> pa.Table:
    """(apid, seq, parameter, raw) sorted, the packet-time-independent content of a table."""
    t = table.select(["apid", "seq", "parameter", "raw"]).cast(
        pa.schema(
            [
                ("apid", pa.uint16()),
                ("seq", pa.uint16()),
                ("parameter", pa.string()),
                ("raw", pa.float64()),
            ]
        )
    )
    return t.sort_by([("apid", "ascending"), ("seq", "ascending"), ("parameter", "ascending")])


def assert_exactly_once(db: Store, packets: list[bytes], defs: PacketSet) -> None:
    """Every packet decoded from the messages ``packets`` is in the store once: the same set of
    (APID, sequence count), the same raw value of every parameter, no row twice."""
    dec = PacketDecoder(defs)  # each message holds whole packets, as a datagram does
    want = packet_rows(pa.Table.from_batches(dec.feed_datagrams(packets), schema=TELEMETRY_SCHEMA))
    got = packet_rows(db.read("telemetry"))
    dup = db.query(
        "SELECT apid, seq, parameter, count(*) AS n FROM telemetry "
        "GROUP BY ALL HAVING count(*) > 1 LIMIT 5"
    )
    assert dup.num_rows == 0, f"stored twice: {dup.to_pylist()}"
    want_ids = set(zip(want["apid"].to_pylist(), want["seq"].to_pylist(), strict=True))
    got_ids = set(zip(got["apid"].to_pylist(), got["seq"].to_pylist(), strict=True))
    assert got_ids == want_ids, f"missing {sorted(want_ids - got_ids)[:10]}"
    assert got.num_rows == want.num_rows
    assert got.equals(want)


def store_sink(db: Store) -> Callable[[list[pa.RecordBatch]], None]:
    def sink(batches: list[pa.RecordBatch]) -> None:
        time.sleep(0.005)  # a slow store, so the broker has a backlog when it dies
        db.append("telemetry", pa.Table.from_batches(batches, schema=TELEMETRY_SCHEMA))

    return sink


class Subscriber(threading.Thread):
    """``subscribe`` running in a thread until ``max_packets``."""

    def __init__(self, url: str, subject: str, defs: PacketSet, db: Store, n: int, **kw: Any):
        super().__init__(daemon=True)
        self.ready = threading.Event()
        self.report: BrokerReport | None = None
        self.error: BaseException | None = None
        self.kw = dict(
            definitions=defs,
            sink=store_sink(db),
            max_packets=n,
            duration_s=60,
            on_ready=self.ready.set,
            **kw,
        )
        self.url, self.subject = url, subject

    def run(self) -> None:
        try:
            self.report = subscribe(self.url, self.subject, **self.kw)
        except BaseException as exc:
            self.error = exc
            self.ready.set()

    def result(self, timeout: float = 60) -> BrokerReport:
        self.join(timeout)
        assert not self.is_alive(), "the subscriber did not finish"
        if self.error is not None:
            raise self.error
        assert self.report is not None
        return self.report


def restart_during(
    server: NatsServer | MosquittoServer, at: int, *, crash: bool, down_s: float = 0.3
) -> Callable[[int], None]:
    """An ``on_published`` hook that takes the server down after message ``at`` and brings it
    back ``down_s`` later from another thread while the publisher keeps retrying."""

    def hook(i: int) -> None:
        if i == at:
            if crash:
                server.kill()
            else:
                server.stop()
            threading.Timer(down_s, server.start).start()

    return hook


# -- unit: the duplicate window -------------------------------------------------------------------
def test_recent_keys_forget_oldest_first():
    r = RecentKeys(3)
    for k in (1, 2, 3, 1, 4):  # 1 is refreshed, so 2 is the oldest when 4 arrives
        r.add(k)
    assert 2 not in r and {1, 3, 4} <= {k for k in (1, 3, 4) if k in r} and len(r) == 3
    assert message_key(b"abc") == message_key(b"abc") != message_key(b"abd")
    assert stream_name_for("tm.flight.*") == "TELEMETRY_TM_FLIGHT__"
    with pytest.raises(StarbrainError, match="nats:// or mqtt://"):
        subscribe("redis://127.0.0.1:6379", "x")


# -- NATS JetStream -------------------------------------------------------------------------------
def test_nats_kill_and_restart_loses_nothing(nats_server: NatsServer, defs: PacketSet, tmp_path):
    packets = round_robin(generate(defs, 250, seed=11))  # 1000 packets, one per message
    with Store(tmp_path / "store.duckdb") as db:
        sub = Subscriber(
            nats_server.url, "tm.flight", defs, db, len(packets), ack_wait_s=1.0, batch_messages=50
        )
        sub.start()
        assert sub.ready.wait(20) and sub.error is None
        hook = restart_during(nats_server, 400, crash=True)
        n = publish(nats_server.url, "tm.flight", packets, on_published=hook)
        assert n == len(packets)
        report = sub.result()
        assert nats_server.starts == 2
        assert report.stats.packets == len(packets)
        assert report.stats.n_errors == report.stats.seq_gaps  # nothing malformed
        assert report.connects >= 2 and report.errors  # lost the connection, reconnected
        assert_exactly_once(db, packets, defs)


def malformed_through(
    url: str, subject: str, defs: PacketSet, db: Store, seed: int
) -> tuple[BrokerReport, list[bytes], int]:
    """Publish good and malformed messages through a broker to a subscriber storing in ``db``;
    the malformed ones are counted as EXPECTED_BROKER says and the stream goes on."""
    messages, n_good = malformed_messages(generate(defs, 60, seed=seed))
    sub = Subscriber(url, subject, defs, db, n_good)
    sub.start()
    assert sub.ready.wait(20) and sub.error is None
    publish(url, subject, messages)
    report = sub.result()
    assert counters(report.stats) == EXPECTED_BROKER, report.stats.errors
    return report, messages, n_good


def test_nats_malformed_packets_are_counted(nats_server: NatsServer, defs: PacketSet, tmp_path):
    with Store(tmp_path / "store.duckdb") as db:
        report, messages, n_good = malformed_through(nats_server.url, "tm.bad", defs, db, 5)
        assert report.stats.packets == n_good and report.duplicates == 0
        assert report.stats.source == f"{nats_server.url}/tm.bad"
        assert {e.kind for e in report.stats.errors} >= {"crc", "truncated", "unknown_apid"}
        assert_exactly_once(db, messages, defs)


def test_nats_redelivery_after_subscriber_restart(nats_server: NatsServer, defs, tmp_path):
    """Messages published while no subscriber runs wait in the stream for the durable consumer;
    a repeated payload (a publisher retrying without a message id) is stored once."""
    packets = round_robin(generate(defs, 30, seed=2))
    url = nats_server.url
    with Store(tmp_path / "store.duckdb") as db:
        publish(url, "tm.late", packets[:60])
        first = subscribe(url, "tm.late", defs, sink=store_sink(db), max_packets=60, duration_s=30)
        assert first.stats.packets == 60
        publish(url, "tm.late", packets[60:] + packets[-5:], msg_id_prefix="retry")
        second = subscribe(url, "tm.late", defs, sink=store_sink(db), max_packets=60, duration_s=30)
        assert second.stats.packets == 60 and second.duplicates == 5
        assert_exactly_once(db, packets, defs)


# -- MQTT -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("crash", [True, False], ids=["sigkill", "sigterm"])
def test_mqtt_restart_loses_nothing(crash: bool, mosquitto_server: MosquittoServer, defs, tmp_path):
    """mosquitto killed (SIGKILL) or stopped (SIGTERM) mid-stream while it holds a backlog for a
    slow subscriber, restarted on the same database: every packet is stored once. It survives
    the kill because it saves after every change (``tests/servers.py``) and the publisher sends
    again what was acknowledged just before (mosquitto acknowledges before saving: without that
    replay, 1 of 600 messages was lost in 4 of 6 runs)."""
    packets = round_robin(generate(defs, 150, seed=12))  # 600 packets
    with Store(tmp_path / "store.duckdb") as db:
        sub = Subscriber(
            mosquitto_server.url, "tm/flight", defs, db, len(packets), batch_messages=50
        )
        sub.start()
        assert sub.ready.wait(20) and sub.error is None
        hook = restart_during(mosquitto_server, 250, crash=crash)
        publish(mosquitto_server.url, "tm/flight", packets, on_published=hook)
        report = sub.result()
        assert mosquitto_server.starts == 2
        assert report.stats.packets == len(packets)
        assert report.connects >= 2 and report.errors
        assert report.duplicates > 0  # the broker held unacknowledged messages and redelivered
        assert_exactly_once(db, packets, defs)


def test_mqtt_malformed_packets_are_counted(mosquitto_server: MosquittoServer, defs, tmp_path):
    with Store(tmp_path / "store.duckdb") as db:
        report, messages, n_good = malformed_through(mosquitto_server.url, "tm/bad", defs, db, 6)
        assert report.stats.packets == n_good
        assert_exactly_once(db, messages, defs)


def test_mqtt_queues_while_subscriber_is_away(mosquitto_server: MosquittoServer, defs, tmp_path):
    """A persistent session: what is published while we are disconnected waits for us."""
    packets = round_robin(generate(defs, 25, seed=3))
    url = mosquitto_server.url
    with Store(tmp_path / "store.duckdb") as db:
        sink = store_sink(db)
        first = subscribe(
            url,
            "tm/away",
            defs,
            sink=sink,
            max_packets=40,
            duration_s=30,
            on_ready=lambda: threading.Thread(
                target=publish, args=(url, "tm/away", packets[:40]), daemon=True
            ).start(),
        )
        assert first.stats.packets == 40
        publish(url, "tm/away", packets[40:])  # nobody subscribed now
        second = subscribe(url, "tm/away", defs, sink=sink, max_packets=60, duration_s=30)
        assert second.stats.packets == 60
        assert_exactly_once(db, packets, defs)
    assert first.stats.by_apid == {0x100: 10, 0x101: 10, 0x102: 10, 0x103: 10}


@pytest.mark.parametrize("broker", ["nats", "mqtt"])
def test_cli_listen_from_broker(
    broker: str, request: pytest.FixtureRequest, defs: PacketSet, tmp_path, store_path
):
    """``starbrain telemetry listen --nats URL --subject S`` / ``--mqtt URL --topic T``."""
    from tests.test_cli import run

    packets = round_robin(generate(defs, 10, seed=8))
    packets.insert(3, pack_primary_header(0x2AA, 0, 13) + bytes(range(14)))
    if broker == "nats":
        url = request.getfixturevalue("nats_server").url
        publish(url, "tm.cli", packets)  # waits in the stream for the durable consumer
        args = ["--nats", url, "--subject", "tm.cli"]
    else:
        url = request.getfixturevalue("mosquitto_server").url
        # the session must exist before publishing for mosquitto to queue for it
        # (long enough for the broker's CONNACK and SUBACK on a loaded machine: with 0.2 s the
        # priming client sometimes left before its subscription existed, and nothing was queued)
        primed = subscribe(url, "tm/cli", defs, duration_s=3.0)
        assert primed.connects >= 1
        publish(url, "tm/cli", packets)
        args = ["--mqtt", url, "--topic", "tm/cli"]
    out = run("telemetry", "listen", *args, "--max-packets", "40", "--duration", "30", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "40 packets" in out.stdout and "unknown_apid 1" in out.stdout
    assert f"stored {10 * defs.n_parameters} parameter values" in out.stdout
    with Store(store_path, read_only=True) as db:
        assert db.count("telemetry") == 10 * defs.n_parameters
    both = run("telemetry", "listen", "--tcp", ":1", "--nats", "nats://x", cwd=tmp_path)
    assert both.returncode == 1 and "at most one of" in both.stderr


def test_ctrl_c_ends_a_subscription_with_everything_committed(
    nats_server: NatsServer, defs: PacketSet, tmp_path
):
    """SIGINT while subscribed: ``subscribe`` returns (``interrupted``) instead of raising, and
    every message it acknowledged is in the store."""
    import os
    import signal

    packets = round_robin(generate(defs, 20, seed=9))
    publish(nats_server.url, "tm.int", packets)
    with Store(tmp_path / "store.duckdb") as db:

        def ready() -> None:
            def interrupt() -> None:
                deadline = time.monotonic() + 20
                while db.count("telemetry") < 20 * defs.n_parameters:
                    assert time.monotonic() < deadline
                    time.sleep(0.05)
                os.kill(os.getpid(), signal.SIGINT)

            threading.Thread(target=interrupt, daemon=True).start()

        report = subscribe(
            nats_server.url, "tm.int", defs, sink=store_sink(db), duration_s=30, on_ready=ready
        )
        assert report.interrupted and report.stats.packets == 80
        assert_exactly_once(db, packets, defs)
