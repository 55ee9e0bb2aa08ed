"""Live rows for the fleet tasks (``vehicle``, ``arm``): rows of one stream schema arriving over
core NATS and/or UDP, queued until the task's next window takes them.

**Wire format.** Each NATS message body, and each UDP datagram, is JSON Lines: one or more rows
of the stream's schema, one JSON object a line, keyed by column name (see
:mod:`starbrain.sources.jsonl_rows`: times as ISO 8601 UTC or integer ns; a nullable column may
be left out). Bad lines are logged with the message's origin and line number and skipped; the
other lines of the message are kept. NATS: core (not JetStream) subscription to one subject;
messages published while no window runs are queued in memory. UDP: a listener on
``127.0.0.1:port`` (0: any free port, see :attr:`LiveRows.udp_address`); a datagram carries at
most 65 507 bytes, so senders split long logs over several datagrams
(:mod:`starbrain.sources.transport.row_sender` does).

**Config.** A task ``NAME`` takes ``NAME_subject`` (on ``NAME_nats_url``, default ``nats_url``)
and/or ``NAME_udp_port`` from the loop config (:func:`live_rows`); the task's window takes what
arrived (:meth:`LiveRows.poll`) and the service closes it at shutdown.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pyarrow as pa

from starbrain.sources.jsonl_rows import parse_rows_jsonl

__all__ = ["LiveRows", "live_rows"]

log = logging.getLogger("starbrain.loop")


class _Datagrams(asyncio.DatagramProtocol):
    def __init__(self, rows: LiveRows) -> None:
        self.rows = rows

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        self.rows.feed(data, f"udp://{addr[0]}:{addr[1]}")


class LiveRows:
    """Rows of ``schema`` for the task ``name`` from NATS ``subject`` on ``nats_url`` and/or UDP
    ``udp_port`` (None: that transport is off). :meth:`start` is idempotent; :meth:`take`
    returns (and forgets) everything received so far as one table, or None."""

    def __init__(
        self,
        schema: pa.Schema,
        name: str,
        subject: str | None = None,
        nats_url: str | None = None,
        udp_port: int | None = None,
    ) -> None:
        self.schema, self.name = schema, name
        self.subject, self.nats_url, self.udp_port = subject, nats_url, udp_port
        self.udp_address: tuple[str, int] | None = None
        self.n_rows = 0
        self.n_bad = 0
        self._tables: list[pa.Table] = []
        self._nc: Any = None
        self._transport: Any = None

    def feed(self, data: bytes, origin: str) -> None:
        """Parse one message or datagram and queue its good rows."""
        got = parse_rows_jsonl(data, self.schema, origin)
        for err in got.errors:
            log.warning("%s: %s", self.name, err)
        self.n_bad += len(got.errors)
        if got.table.num_rows:
            self.n_rows += got.table.num_rows
            self._tables.append(got.table)

    @property
    def started(self) -> bool:
        return (self._nc is not None or self.subject is None) and (
            self._transport is not None or self.udp_port is None
        )

    async def start(self) -> None:
        """Subscribe and/or bind (whichever is configured and not yet done)."""
        if self.subject is not None and self._nc is None:
            import nats

            async def on_message(msg: Any) -> None:
                self.feed(msg.data, f"nats:{msg.subject}")

            nc = await nats.connect(self.nats_url, connect_timeout=2, max_reconnect_attempts=-1)
            await nc.subscribe(self.subject, cb=on_message)
            await nc.flush()
            self._nc = nc
        if self.udp_port is not None and self._transport is None:
            loop = asyncio.get_running_loop()
            self._transport, _ = await loop.create_datagram_endpoint(
                lambda: _Datagrams(self), local_addr=("127.0.0.1", self.udp_port)
            )
            host, port = self._transport.get_extra_info("sockname")[:2]
            self.udp_address = (str(host), int(port))
            log.info("%s: rows on udp://%s:%d", self.name, host, port)

    async def poll(self) -> pa.Table | None:
        """Start (on the first call), then :meth:`take`."""
        await self.start()
        return self.take()

    def take(self) -> pa.Table | None:
        tables, self._tables = self._tables, []
        return pa.concat_tables(tables) if tables else None

    async def close(self) -> None:
        if self._nc is not None:
            await self._nc.drain()
            self._nc = None
        if self._transport is not None:
            self._transport.close()
            self._transport = None


def live_rows(service: Any, name: str, schema: pa.Schema) -> LiveRows | None:
    """The live rows of task ``name`` as the service's config asks for them (``NAME_subject``,
    ``NAME_nats_url`` or ``nats_url``, ``NAME_udp_port``), closed with the service; None when
    neither transport is configured."""
    cfg = service.config
    subject, port = getattr(cfg, f"{name}_subject"), getattr(cfg, f"{name}_udp_port")
    if subject is None and port is None:
        return None
    url = getattr(cfg, f"{name}_nats_url") or cfg.nats_url
    rows = LiveRows(schema, name, subject, url, port)
    service._closers.append(rows.close)
    return rows
