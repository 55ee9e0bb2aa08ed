"""NATS JetStream: a durable pull subscription for telemetry and the one publishing client
(telemetry publishers and the loop's decisions and alerts), both following ``policy``.

* Subscribing: a durable pull consumer (explicit acks) on a file-stored stream; we fetch only
  when the previous batch is committed, so the stream itself is the back-pressure buffer.
  JetStream keeps what it acknowledged (file storage) through a ``kill -9``.
* Publishing: every message waits for the stream's acknowledgement and is retried (same
  ``Nats-Msg-Id``, so the stream stores it once) through disconnects and server restarts until
  ``give_up_s``; the stream is created when none holds the subject.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, Literal

from starbrain.core.errors import StarbrainError
from starbrain.sources.telemetry.packets import PacketSet
from starbrain.sources.transport.policy import (
    DEFAULT_WINDOW,
    BatchSink,
    OnReady,
    Subscription,
    backoff,
    ensure_stream,
    host_port,
    pause,
)

__all__ = ["JetStreamPublisher", "NatsSubscription", "publish_nats"]


async def _quiet(exc: Exception) -> None:
    """nats-py logs every connection error; publishers retry, so they stay quiet."""


class NatsSubscription(Subscription):
    """A durable JetStream pull consumer feeding packets to a sink, acknowledging after commit.

        sub = NatsSubscription("nats://127.0.0.1:4222", "telemetry.flight", defs)
        report = await sub.run(sink, stop=event, max_packets=10_000)

    The stream (file storage) is created if no stream holds ``subject``; the consumer is
    ``durable`` (explicit acks, at most ``max_ack_pending`` unacknowledged; unacknowledged
    messages come again after ``ack_wait_s``).
    """

    def __init__(
        self,
        url: str,
        subject: str,
        definitions: PacketSet | str | Path | None = None,
        *,
        durable: str = "starbrain",
        stream: str | None = None,
        batch_messages: int = 1000,
        batch_ms: float = 50.0,
        ack_wait_s: float = 10.0,
        max_backoff_s: float = 5.0,
        dedup_window: int = DEFAULT_WINDOW,
        layout: Literal["long", "wide"] = "long",
        max_errors: int = 100,
    ) -> None:
        host_port(url, "nats", 4222)
        if batch_messages < 1 or batch_ms <= 0:
            raise ValueError("batch_messages and batch_ms must be positive")
        self.url, self.subject, self.durable, self.stream = url, subject, durable, stream
        self.batch_messages, self.batch_ms = batch_messages, batch_ms
        self.ack_wait_s, self.max_backoff_s = ack_wait_s, max_backoff_s
        super().__init__(f"{url}/{subject}", definitions, dedup_window, layout, max_errors)

    async def _connect(self, stop: asyncio.Event) -> Any:
        import nats

        rep = self.report
        attempt = 0

        async def on_error(exc: Exception) -> None:
            rep.note(f"nats: {type(exc).__name__}: {exc}")

        async def on_reconnected() -> None:
            rep.connects += 1

        while not stop.is_set():
            try:  # bounded: nats-py itself would retry a first connection for ever
                nc = await asyncio.wait_for(
                    nats.connect(
                        self.url,
                        connect_timeout=2,
                        allow_reconnect=True,
                        max_reconnect_attempts=-1,
                        reconnect_time_wait=0.2,
                        error_cb=on_error,
                        reconnected_cb=on_reconnected,
                    ),
                    2.0,
                )
                rep.connects += 1
                return nc
            except Exception as exc:  # refused, timed out, no servers: try again
                rep.connect_errors += 1
                rep.note(f"nats connect: {type(exc).__name__}: {exc or 'no answer'}")
                await pause(stop, attempt, self.max_backoff_s)
                attempt += 1
        return None

    async def _subscribe(self, nc: Any, stop: asyncio.Event) -> Any:
        from nats.js import api

        js = nc.jetstream()
        attempt = 0
        while not stop.is_set():
            try:
                stream = await ensure_stream(js, self.subject, self.stream)
                config = api.ConsumerConfig(
                    durable_name=self.durable,
                    ack_policy=api.AckPolicy.EXPLICIT,
                    ack_wait=self.ack_wait_s,
                    max_ack_pending=max(4 * self.batch_messages, 1000),
                    deliver_policy=api.DeliverPolicy.ALL,
                )
                return await js.pull_subscribe(
                    self.subject, durable=self.durable, stream=stream, config=config
                )
            except Exception as exc:  # JetStream not ready yet after a restart
                self.report.note(f"nats subscribe: {type(exc).__name__}: {exc}")
                await pause(stop, attempt, self.max_backoff_s)
                attempt += 1
        return None

    async def _consume(self, psub: Any, sink: BatchSink | None) -> bool | None:
        """Fetch one batch, commit it and acknowledge it: True when done, None when there was
        none, False when the fetch failed (to be retried after a pause)."""
        import nats.errors

        try:
            msgs = await psub.fetch(self.batch_messages, timeout=max(self.batch_ms / 1000, 0.05))
        except (TimeoutError, nats.errors.TimeoutError):
            return None
        except Exception as exc:  # disconnected, reconnecting, server restarting
            self.report.note(f"nats fetch: {type(exc).__name__}: {exc}")
            return False
        await self._gate.process([m.data for m in msgs], sink)
        for m in msgs:
            try:
                await m.ack()
                self.report.acked += 1
            except Exception as exc:  # lost with the connection: redelivered later
                self.report.note(f"nats ack: {type(exc).__name__}: {exc}")
        return True

    async def _run(self, sink: BatchSink | None, stop: asyncio.Event, ready: OnReady) -> None:
        nc = await self._connect(stop)
        if nc is None:
            return
        try:
            psub = await self._subscribe(nc, stop)
            if psub is None:
                return
            if ready is not None:
                ready()
            attempt = 0
            while not self.done(stop):
                done = await self._consume(psub, sink)
                if done:
                    attempt = 0
                elif done is False:
                    await pause(stop, attempt, self.max_backoff_s)
                    attempt += 1
        finally:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(nc.close(), 5)


class JetStreamPublisher:
    """One NATS connection publishing to JetStream under the transport policy.

        pub = JetStreamPublisher("nats://127.0.0.1:4222")
        await pub.connect()
        await pub.publish("telemetry.flight", payload)
        await pub.close()

    ``connect`` retries with backoff for ``give_up_s``; ``publish`` waits for the stream's
    acknowledgement (``timeout_s`` each try) and retries with the same ``Nats-Msg-Id``
    (``msg_id_prefix``-N, N counting from 0) for ``give_up_s``, creating the stream (``stream``,
    holding ``stream_subjects``, by default the subject alone) when none holds the subject.
    After :meth:`detect_jetstream` found none, a server without JetStream gets plain
    (unacknowledged) NATS publishes.
    """

    def __init__(
        self,
        url: str,
        *,
        stream: str | None = None,
        stream_subjects: Sequence[str] | None = None,
        msg_id_prefix: str | None = None,
        timeout_s: float = 2.0,
        give_up_s: float = 60.0,
    ) -> None:
        self.url, self.stream, self.stream_subjects = url, stream, stream_subjects
        self.prefix = msg_id_prefix or f"sb-{time.time_ns():x}"
        self.timeout_s, self.give_up_s = timeout_s, give_up_s
        self.jetstream = True  # False once detect_jetstream found none
        self.published = 0
        self._nc: Any = None
        self._js: Any = None
        self._streams: set[str] = set()  # subjects known to be held by a stream

    async def connect(self) -> None:
        import nats

        deadline = time.monotonic() + self.give_up_s
        attempt = 0
        while self._nc is None:
            # nats-py retries a first connection for ever with max_reconnect_attempts=-1, so
            # each try is bounded here and the deadline is ours.
            left = max(0.1, min(5.0, deadline - time.monotonic()))
            try:
                self._nc = await asyncio.wait_for(
                    nats.connect(
                        self.url,
                        connect_timeout=2,
                        max_reconnect_attempts=-1,
                        reconnect_time_wait=0.2,
                        error_cb=_quiet,
                    ),
                    left,
                )
            except Exception as exc:
                if time.monotonic() > deadline:
                    why = str(exc) or f"no answer ({type(exc).__name__})"
                    raise StarbrainError(f"cannot reach {self.url}: {why}") from exc
                await asyncio.sleep(backoff(attempt, 2.0))
                attempt += 1
        self._js = self._nc.jetstream(timeout=self.timeout_s)

    async def ensure_stream(self, subject: str) -> None:
        """Make sure a stream holds ``subject`` (once per subject; nothing on core NATS)."""
        if subject in self._streams or not self.jetstream:
            return
        await ensure_stream(self._js, subject, self.stream, self.stream_subjects)
        self._streams.add(subject)

    async def detect_jetstream(self, subject: str) -> bool:
        """Whether the server has JetStream, making sure a stream holds ``subject``; without
        it (no responders, service unavailable, no answer) later publishes go to core NATS,
        unacknowledged."""
        try:
            await self.ensure_stream(subject)
        except Exception as exc:
            if not (isinstance(exc, TimeoutError) or type(exc).__module__.startswith("nats")):
                raise
            self.jetstream = False
        return self.jetstream

    async def publish(self, subject: str, payload: bytes) -> None:
        """Publish one message, acknowledged by the stream; ``StarbrainError`` after
        ``give_up_s`` of failed tries."""
        if self._nc is None:
            await self.connect()
        n = self.published
        attempt = 0
        deadline = time.monotonic() + self.give_up_s
        while True:
            try:
                await self.ensure_stream(subject)
                if self.jetstream:
                    headers = {"Nats-Msg-Id": f"{self.prefix}-{n}"}
                    await self._js.publish(
                        subject, payload, timeout=self.timeout_s, headers=headers
                    )
                else:
                    await self._nc.publish(subject, payload)
                break
            except Exception as exc:
                if time.monotonic() > deadline:
                    raise StarbrainError(
                        f"{self.url}: message {n} not acknowledged after {self.give_up_s} s: {exc}"
                    ) from exc
                await asyncio.sleep(backoff(attempt, 1.0))
                attempt += 1
        self.published += 1

    async def close(self) -> None:
        """Flush (what core NATS sent) and close the connection."""
        nc, self._nc = self._nc, None
        if nc is None or nc.is_closed:
            return
        with contextlib.suppress(Exception):
            await asyncio.wait_for(nc.flush(timeout=5), 5)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(nc.close(), 5)


async def publish_nats(
    url: str,
    subject: str,
    payloads: Iterable[bytes],
    *,
    stream: str | None = None,
    msg_id_prefix: str | None = None,
    timeout_s: float = 2.0,
    give_up_s: float = 60.0,
    on_published: Callable[[int], object] | None = None,
) -> int:
    """Publish each payload as one JetStream message with :class:`JetStreamPublisher` (waiting
    for the stream's acknowledgement, retrying through disconnects and server restarts, creating
    the stream if none holds ``subject``). Returns how many were published;
    ``on_published(i)`` is called after the i-th (from 0)."""
    pub = JetStreamPublisher(
        url, stream=stream, msg_id_prefix=msg_id_prefix, timeout_s=timeout_s, give_up_s=give_up_s
    )
    await pub.connect()
    try:
        for i, payload in enumerate(payloads):
            await pub.publish(subject, payload)
            if on_published is not None:
                on_published(i)
    finally:
        await pub.close()
    return pub.published
