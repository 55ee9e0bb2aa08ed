"""``--send URL --speed X`` for the simulators (``robot simulate``, ``vehicle simulate``): stream
the simulated rows as JSON Lines into ``starbrain run`` (its ``arm_udp_port`` / ``arm_subject``,
``vehicle_udp_port`` / ``vehicle_subject``) through ``sources.transport.row_sender``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from starbrain.cli._common import console

if TYPE_CHECKING:
    import pyarrow as pa

SendOption = Annotated[
    str | None,
    typer.Option(
        "--send",
        help="Stream the rows to udp://HOST:PORT or nats://HOST:PORT/SUBJECT (JSON Lines, "
        "paced by their time) instead of storing them, e.g. into `starbrain run`.",
    ),
]
SpeedOption = Annotated[
    float, typer.Option(min=0.0, help="With --send: times the log's own rate (0: at once).")
]


def send_table(table: pa.Table, url: str, speed: float, what: str) -> None:
    """Send ``table`` to ``url`` at ``speed`` and say how much went where."""
    from starbrain.sources.transport.row_sender import send_rows

    n = send_rows(table, url, speed)
    console.print(f"sent {table.num_rows} {what} rows to {url} in {n} messages", highlight=False)
