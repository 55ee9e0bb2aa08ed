"""Live rows for the fleet tasks (loop.live_rows) over a real nats-server and a real UDP socket
on loopback: JSON Lines bodies, a bad line skipped and counted, the rest queued once."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

from starbrain.core.schemas.vehicle import VEHICLE_SCHEMA
from starbrain.loop.live_rows import LiveRows
from starbrain.sources.jsonl_rows import rows_to_jsonl
from tests.sources.test_jsonl_rows import _vehicle_rows


async def _until(cond: Any, seconds: float = 5.0) -> None:
    for _ in range(int(seconds / 0.02)):
        if cond():
            return
        await asyncio.sleep(0.02)


def test_rows_over_nats_and_udp(nats_server: Any) -> None:
    import nats

    table = _vehicle_rows(6)
    body = rows_to_jsonl(table).decode().splitlines()

    async def main() -> tuple[Any, Any, LiveRows]:
        live = LiveRows(VEHICLE_SCHEMA, "vehicle", "vehicle.live", nats_server.url, udp_port=0)
        await live.start()
        assert live.started and live.udp_address is not None
        nc = await nats.connect(nats_server.url)
        await nc.publish("vehicle.live", "\n".join([*body[:3], "{bad"]).encode())
        await nc.flush()
        await nc.close()
        await _until(lambda: live.n_rows == 3)
        first = live.take()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.sendto("\n".join(body[3:]).encode(), live.udp_address)
        await _until(lambda: live.n_rows == 6)
        second = live.take()
        await live.close()
        return first, second, live

    first, second, live = asyncio.run(main())
    assert first is not None and first.equals(table.slice(0, 3))
    assert second is not None and second.equals(table.slice(3))
    assert live.n_bad == 1 and live.take() is None
