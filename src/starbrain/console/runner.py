"""Runs the loop service, optionally with the web console in the same process and event loop,
until its simulated duration is over or SIGINT/SIGTERM arrives (then it stops gracefully).

The console shares the loop's open store and its in-process bus (``app.state.bus``: the
WebSocket ``/ws/live`` forwards every published message) and shows its status
(``app.state.loop``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starbrain.loop.config import LoopConfig
from starbrain.loop.publish import make_publisher
from starbrain.loop.service import AnomalyDetector, LoopService, LoopSummary
from starbrain.store.database import Store

__all__ = ["ConsoleOptions", "default_detector", "run_loop"]

log = logging.getLogger("starbrain.loop")


@dataclass(frozen=True, slots=True)
class ConsoleOptions:
    host: str = "127.0.0.1"
    port: int = 8000
    token: str | None = None
    log_level: str = "warning"


def default_detector() -> AnomalyDetector | None:
    """The anomaly detector of :mod:`starbrain.models.anomaly` when that package provides the
    loop hook ``loop_detector() -> AnomalyDetector``; None otherwise (no anomaly task)."""
    try:
        from starbrain.models import anomaly
    except ImportError:
        return None
    hook = getattr(anomaly, "loop_detector", None)
    return hook() if callable(hook) else None


def _uvicorn_server(app: Any, options: ConsoleOptions) -> Any:
    import uvicorn

    class Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:  # the loop owns SIGINT/SIGTERM
            yield

    config = uvicorn.Config(
        app,
        host=options.host,
        port=options.port,
        log_level=options.log_level,
        proxy_headers=False,
        server_header=False,
        ws_max_size=1 << 16,
        lifespan="on",
    )
    return Server(config)


async def run_loop(
    config: LoopConfig,
    store_path: str | Path | None = None,
    *,
    console: ConsoleOptions | None = None,
    store: Store | None = None,
    detector: AnomalyDetector | None = None,
    on_ready: Callable[[LoopService, str | None], Any] | None = None,
    handle_signals: bool = True,
) -> LoopSummary:
    """Run :class:`LoopService` (and the console when ``console`` is given) to completion.

    ``on_ready(service, console_url)`` is called once the loop has started (and the console
    listens). The store is opened here unless an open ``store`` is passed.
    """
    own_store = store is None
    db = store if store is not None else Store(store_path)
    publisher = make_publisher(config.nats_url, config.mqtt_url)
    service = LoopService(
        config, db, publisher, detector=detector if detector is not None else default_detector()
    )
    server: Any = None
    server_task: asyncio.Task[Any] | None = None
    url: str | None = None
    loop = asyncio.get_running_loop()

    def stop() -> None:
        service.stop()
        if server is not None:
            server.should_exit = True

    installed: list[signal.Signals] = []
    try:
        if handle_signals:
            for sig in (signal.SIGINT, signal.SIGTERM):
                with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                    loop.add_signal_handler(sig, stop)
                    installed.append(sig)
        if console is not None:
            from starbrain.console.app import create_app
            from starbrain.console.settings import ConsoleSettings, check_bind

            check_bind(console.host, console.token)
            settings = ConsoleSettings(store_path=db.path, token=console.token)
            app = create_app(store=db, settings=settings)
            app.state.bus = publisher.bus
            app.state.loop = service
            server = _uvicorn_server(app, console)
            server_task = asyncio.create_task(server.serve())
            while not server.started:
                if server_task.done():
                    await server_task  # raises what stopped it (e.g. the port is taken)
                    raise OSError(f"the console could not listen on {console.host}:{console.port}")
                await asyncio.sleep(0.05)
            shown = f"[{console.host}]" if ":" in console.host else console.host
            url = f"http://{shown}:{console.port}/"
        run_task = asyncio.create_task(service.run())
        ready = asyncio.create_task(service.ready.wait())
        await asyncio.wait({run_task, ready}, return_when=asyncio.FIRST_COMPLETED)
        ready.cancel()
        if not run_task.done() and on_ready is not None:
            on_ready(service, url)
        summary = await run_task
        return summary
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
        if server is not None and server_task is not None:
            server.should_exit = True
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server_task, 15)
        if own_store:
            db.close()
