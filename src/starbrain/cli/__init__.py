"""The ``starbrain`` command line: thin typer commands over the layers below.

Errors reach the user as one sentence (``error: ...``) and exit status 1; ``--debug`` (or
``STARBRAIN_DEBUG=1``) shows the traceback instead. Heavy modules are imported inside the
commands so ``starbrain --help`` stays fast.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Annotated

import typer

from starbrain import __version__
from starbrain.cli import (  # noqa: F401  (importing a module registers its commands)
    anomalies,
    catalog,
    compute,
    conjunctions,
    constellation,
    contacts,
    ephemeris,
    mars,
    mcp,
    mission,
    model,
    orbits,
    posts,
    robot,
    route,
    service,
    telemetry,
    vehicle,
)
from starbrain.cli._common import app, console, err_console
from starbrain.core.errors import StarbrainError

__all__ = ["app", "main"]


@app.command()
def version() -> None:
    """Print the starbrain version and its key dependencies."""
    import duckdb
    import numpy
    import pyarrow

    console.print(f"starbrain {__version__}")
    console.print(
        f"python {sys.version.split()[0]}, numpy {numpy.__version__}, "
        f"pyarrow {pyarrow.__version__}, duckdb {duckdb.__version__}",
        highlight=False,
    )


@app.command()
def serve(
    host: Annotated[
        str, typer.Option(help="Address to bind; anything but loopback needs --token.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    token: Annotated[
        str | None,
        typer.Option(
            help="Access token (>= 16 characters).", envvar="STARBRAIN_TOKEN", show_default=False
        ),
    ] = None,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
) -> None:
    """The web console and REST/WebSocket API (OpenAPI docs at /api/docs)."""
    from starbrain.console import serve as serve_console

    serve_console(host=host, port=port, token=token, log_level=log_level)


def main() -> None:
    """Entry point: run the app, turning errors into one clear sentence."""
    debug = "--debug" in sys.argv or os.environ.get("STARBRAIN_DEBUG") == "1"
    started = time.perf_counter()
    try:
        app()
    except StarbrainError as exc:
        if debug:
            raise
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False)
        sys.exit(1)
    except KeyboardInterrupt:
        err_console.print("interrupted")
        sys.exit(130)
    except Exception as exc:  # the last resort: still one sentence, with the way to learn more
        if debug:
            raise
        err_console.print(
            f"[bold red]error:[/] {type(exc).__name__}: {exc} "
            f"(after {time.perf_counter() - started:.1f} s; rerun with --debug for the traceback)",
            highlight=False,
        )
        sys.exit(1)


if __name__ == "__main__":
    main()
