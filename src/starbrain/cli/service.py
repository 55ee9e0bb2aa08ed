"""``starbrain run`` (the live loop service, with the console) and ``starbrain demo``."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from starbrain.cli._common import app, console, err_console
from starbrain.core.errors import StarbrainError

if TYPE_CHECKING:
    from starbrain.loop.service import LoopService

__all__ = ["demo", "run"]

TokenOption = Annotated[
    str | None,
    typer.Option(
        help="Console access token (>= 16 characters); needed for any non-loopback --host.",
        envvar="STARBRAIN_TOKEN",
        show_default=False,
    ),
]


def _asyncio_run(coro: Any) -> Any:
    try:
        return asyncio.run(coro)
    except OSError as exc:  # e.g. the console port is taken
        raise StarbrainError(f"cannot start: {exc}") from None


def _print_ready(service: LoopService, url: str | None) -> None:
    """The one-paragraph start banner on stderr: sim time, pace, tasks, publisher, UDP and
    console addresses."""
    from starbrain.loop.publish import SUBJECTS

    s = service.status()
    pace = f"{s['speed']:g}x" if s["speed"] else "maximum"
    err_console.print(
        f"loop running from {s['sim_time'][:19].replace('T', ' ')} UTC at {pace} speed; tasks "
        f"{', '.join(t['name'] for t in s['tasks'])}; publishing to {s['publisher']} "
        f"({', '.join(SUBJECTS)})",
        highlight=False,
    )
    if service.summary.udp_address:
        h, p = service.summary.udp_address
        err_console.print(f"telemetry: listening for CCSDS packets on udp://{h}:{p}")
    if url:
        err_console.print(f"console: {url} (API docs {url}api/docs); Ctrl-C stops")


@app.command("run")
def run(
    config: Annotated[
        Path | None, typer.Option(help="Loop settings, TOML or JSON (see LoopConfig).")
    ] = None,
    host: Annotated[str, typer.Option(help="Console address; non-loopback needs --token.")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(help="Console TCP port.", min=1, max=65535)] = 8000,
    token: TokenOption = None,
    nats: Annotated[
        str | None, typer.Option(help="Publish to NATS, e.g. nats://127.0.0.1:4222.")
    ] = None,
    mqtt: Annotated[
        str | None, typer.Option(help="Publish to MQTT, e.g. mqtt://127.0.0.1:1883.")
    ] = None,
    speed: Annotated[
        float | None,
        typer.Option(help="Simulated seconds per wall second (0: as fast as possible)."),
    ] = None,
    duration: Annotated[
        float | None, typer.Option(help="Stop after this many simulated seconds.")
    ] = None,
    preset: Annotated[str | None, typer.Option(help="Constellation preset to simulate.")] = None,
    catalog: Annotated[
        str | None, typer.Option(help="Catalogue file or URL re-read at each refresh.")
    ] = None,
    max_objects: Annotated[int | None, typer.Option(help="Keep only the first N objects.")] = None,
    udp_port: Annotated[
        int | None, typer.Option(help="Also store CCSDS packets arriving on 127.0.0.1:PORT.")
    ] = None,
    no_console: Annotated[bool, typer.Option("--no-console", help="Run without the console.")] = (
        False
    ),
    fresh: Annotated[
        bool, typer.Option("--fresh", help="Ignore the store's checkpoint (do not resume).")
    ] = False,
) -> None:
    """The live loop: catalogue refresh, telemetry, world-model drift checks and re-fits,
    conjunction screening, pass planning; decisions published (NATS, MQTT or in-process) and
    served by the console. Ctrl-C (or SIGTERM) stops it gracefully; a restart resumes."""
    from starbrain.console.runner import ConsoleOptions, run_loop
    from starbrain.loop.config import load_config
    from starbrain.loop.demo import print_loop_summary

    cfg = load_config(
        config,
        nats_url=nats,
        mqtt_url=mqtt,
        speed=speed,
        duration_s=duration,
        preset=preset,
        catalog_source=catalog,
        max_objects=max_objects,
        udp_port=udp_port,
        resume=False if fresh else None,
    )
    options = None if no_console else ConsoleOptions(host=host, port=port, token=token)
    if options is not None:
        from starbrain.console.settings import check_bind

        check_bind(host, token)  # before anything starts

    summary = _asyncio_run(run_loop(cfg, console=options, on_ready=_print_ready))
    print_loop_summary(console, summary)


@app.command()
def demo(
    headless: Annotated[
        bool,
        typer.Option(
            "--headless/--serve",
            help="Print the summary and exit (the default when stdout is not a terminal), or "
            "serve the console afterwards.",
            show_default=False,
        ),
    ] = False,
    minutes: Annotated[
        float, typer.Option(help="Simulated minutes of the loop.", min=1.0, max=1440.0)
    ] = 5.0,
    port: Annotated[int, typer.Option(help="Console TCP port.", min=1, max=65535)] = 8000,
) -> None:
    """The whole loop on the Starlink preset: build and check the catalogue, run the live loop
    for a few simulated minutes, print a summary, then serve the console on 127.0.0.1."""
    from starbrain.config import settings
    from starbrain.console.runner import ConsoleOptions, run_loop
    from starbrain.loop.demo import GUIDE, demo_loop_config, print_loop_summary, run_demo

    serve = not headless and ("--serve" in sys.argv or sys.stdout.isatty())
    run_demo(console)
    cfg = demo_loop_config(minutes)
    db = settings().db_path
    summary = _asyncio_run(run_loop(cfg, db))
    print_loop_summary(console, summary)
    if not serve:
        if not headless:
            console.print("(stdout is not a terminal: not serving the console; --serve forces it)")
        return
    live = cfg.model_copy(update={"speed": 1.0, "duration_s": None})

    def ready(_: object, url: str | None) -> None:
        console.print(GUIDE.format(url=url), highlight=False)

    final = _asyncio_run(run_loop(live, db, console=ConsoleOptions(port=port), on_ready=ready))
    console.print(
        f"stopped at {final.end[:19].replace('T', ' ')} UTC (simulated); the next run resumes "
        "there",
        highlight=False,
    )
