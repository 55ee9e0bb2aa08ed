"""The loop's NATS and MQTT publishers follow the transport policy of telemetry
(starbrain.sources.transport): JetStream publishes retried with one ``Nats-Msg-Id`` through a
server restart, and the MQTT re-send window. Real nats-server on loopback (tests/servers.py)."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from starbrain.loop.publish import MqttPublisher, NatsPublisher, make_publisher
from starbrain.sources.transport.policy import ReplayWindow


@pytest.mark.broker
def test_nats_publisher_rides_out_a_server_restart_and_stores_each_message_once(
    nats_server: Any,
) -> None:
    """A message published while nats-server is down reaches JetStream once it is back
    (within the publisher's give_up_s), and the stream holds every message exactly once."""
    import nats

    async def main() -> tuple[NatsPublisher, int, list[str]]:
        pub = NatsPublisher(nats_server.url, give_up_s=20.0)
        await pub.start()
        await pub.publish("starbrain.alerts", {"kind": "test", "n": 1})
        nats_server.kill()  # a crash: no goodbye
        restart = threading.Timer(1.0, nats_server.start)
        restart.start()
        try:
            await pub.publish("starbrain.alerts", {"kind": "test", "n": 2})
            await pub.publish("starbrain.loop", {"kind": "test", "n": 3})
        finally:
            restart.join()
        await pub.close()
        nc = await nats.connect(nats_server.url)
        js = nc.jetstream()
        stored = (await js.stream_info("STARBRAIN")).state.messages
        ids = []
        for seq in range(1, stored + 1):
            msg = await js.get_msg("STARBRAIN", seq)
            ids.append((msg.headers or {}).get("Nats-Msg-Id", ""))
        await nc.close()
        return pub, stored, ids

    pub, stored, ids = asyncio.run(main())
    assert pub.sent["starbrain.alerts"] == 2 and pub.sent["starbrain.loop"] == 1
    assert not pub.failed
    assert "JetStream" in pub.target
    assert stored == 3  # retried, yet stored once each
    assert len(set(ids)) == 3 and all(ids)  # each with its own message id


def test_mqtt_replay_window_keeps_what_was_acknowledged_in_the_last_replay_s() -> None:
    """The re-send window: acknowledged messages older than replay_s (or beyond max_replay)
    are forgotten; a disconnect makes the rest due once, oldest first."""
    now = [0.0]
    window = ReplayWindow(replay_s=2.0, max_replay=3, clock=lambda: now[0])
    for t, n in [(0.0, 0), (1.0, 1), (2.5, 2)]:
        now[0] = t
        window.acknowledged(("starbrain/alerts", bytes([n])))
    # at t = 2.5 s the message of t = 0 s is 2.5 s old: more than replay_s
    window.disconnected()
    assert window.take() == [("starbrain/alerts", b"\x01"), ("starbrain/alerts", b"\x02")]
    assert window.take() == []  # due once
    for n in range(5):  # max_replay bounds the window
        window.acknowledged(("t", bytes([n])))
    window.disconnected()
    assert [p for _, p in window.take()] == [b"\x02", b"\x03", b"\x04"]
    off = ReplayWindow(replay_s=0.0)
    off.acknowledged(("t", b"x"))
    off.disconnected()
    assert off.take() == []


def test_make_publisher_builds_transport_clients_and_checks_urls() -> None:
    from starbrain.core.errors import StarbrainError
    from starbrain.sources.transport import JetStreamPublisher, MqttPublishClient

    nats_pub = make_publisher(nats_url="nats://127.0.0.1:4222")
    assert isinstance(nats_pub, NatsPublisher)
    assert isinstance(nats_pub._client, JetStreamPublisher)
    mqtt_pub = make_publisher(mqtt_url="mqtt://user:pw@127.0.0.1:1884")
    assert isinstance(mqtt_pub, MqttPublisher)
    client = mqtt_pub._client
    assert isinstance(client, MqttPublishClient)
    assert (client.host, client.port, client.user, client.password) == (
        "127.0.0.1",
        1884,
        "user",
        "pw",
    )
    with pytest.raises(StarbrainError, match="expected mqtt://host"):
        make_publisher(mqtt_url="http://127.0.0.1")


@pytest.mark.timeout(60)
def test_an_unreachable_nats_server_is_reported_within_give_up_s() -> None:
    """nats-py retries a first connection for ever (max_reconnect_attempts=-1); the transport
    bounds each try, so the loop's publisher and the telemetry publisher give up after
    give_up_s (1 s here, 5 s allowed for slow shared machines) with a sentence naming the URL."""
    import time

    from starbrain.core.errors import StarbrainError
    from starbrain.sources.transport import publish
    from tests.servers import free_port

    url = f"nats://127.0.0.1:{free_port()}"
    started = time.monotonic()
    with pytest.raises(StarbrainError, match=f"cannot connect to NATS at {url}"):
        asyncio.run(NatsPublisher(url, give_up_s=1.0).start())
    assert time.monotonic() - started < 5.0
    started = time.monotonic()
    with pytest.raises(StarbrainError, match=f"cannot reach {url}"):
        publish(url, "telemetry.x", [b"\x00"], give_up_s=1.0)
    assert time.monotonic() - started < 5.0
