"""``starbrain telemetry``: decode CCSDS packet streams into the store."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from starbrain.sources.records import StarbrainError

if TYPE_CHECKING:
    import pyarrow as pa

    from starbrain.store.database import Store

from starbrain.cli._common import MAX_ERRORS_SHOWN, _open_store, app, console, err_console

telemetry_app = typer.Typer(
    help="Decode CCSDS packet streams (files, UDP) into the store.", no_args_is_help=True
)
app.add_typer(telemetry_app, name="telemetry")


class _StoreSink:
    """Buffers decoded batches and appends them to the telemetry stream in large transactions."""

    def __init__(self, store: Store, flush_rows: int = 500_000) -> None:
        self.store, self.flush_rows = store, flush_rows
        self.pending: list[pa.RecordBatch] = []
        self.rows = self.stored = 0

    def __call__(self, batch: pa.RecordBatch) -> None:
        self.pending.append(batch)
        self.rows += batch.num_rows
        if self.rows >= self.flush_rows:
            self.flush()

    def flush(self) -> None:
        import pyarrow as pa

        if self.pending:
            self.stored += self.store.append("telemetry", pa.Table.from_batches(self.pending)).n_new
        self.pending, self.rows = [], 0


def _print_decode_stats(stats: object, what: str) -> None:
    import dataclasses

    values = {f.name: getattr(stats, f.name) for f in dataclasses.fields(stats)}  # type: ignore[arg-type]
    counts = {k: v for k, v in values.items() if isinstance(v, int) and not isinstance(v, bool)}
    bad = {
        k: v
        for k, v in counts.items()
        if v and k not in ("bytes", "packets", "parameters", "max_errors")
    }
    console.print(
        f"{what}: {counts.get('packets', 0)} packets, {counts.get('parameters', 0)} parameter "
        f"values from {counts.get('bytes', 0)} bytes",
        highlight=False,
    )
    if bad:
        console.print("  malformed input: " + ", ".join(f"{k} {v}" for k, v in bad.items()))
    for err in getattr(stats, "errors", [])[:MAX_ERRORS_SHOWN]:
        err_console.print(f"  [red]bad packet[/] {err}", highlight=False)


@telemetry_app.command("replay")
def telemetry_replay(
    path: Annotated[Path, typer.Argument(help="A recorded packet file.")],
    definitions: Annotated[
        Path | None, typer.Option(help="Packet definitions (YAML); default: the example launcher.")
    ] = None,
    realtime: Annotated[
        bool, typer.Option(help="Pace by packet time instead of max speed.")
    ] = False,
    speed: Annotated[float, typer.Option(help="With --realtime: times real time.")] = 1.0,
    store: Annotated[bool, typer.Option(help="Append the decoded values to the store.")] = True,
) -> None:
    """Decode a recorded CCSDS packet file; malformed packets are counted, never fatal."""
    from starbrain.sources.telemetry_io import replay

    if not path.is_file():
        raise StarbrainError(f"{path}: no such file")
    if store:
        with _open_store() as db:
            sink = _StoreSink(db)
            stats = replay(path, definitions, sink=sink, realtime=realtime, speed=speed)
            sink.flush()
            console.print(f"stored {sink.stored} parameter values in {db.path}", highlight=False)
    else:
        stats = replay(path, definitions, realtime=realtime, speed=speed)
    _print_decode_stats(stats, str(path))


@telemetry_app.command("listen")
def telemetry_listen(
    port: Annotated[int, typer.Option(help="UDP port.")] = 10015,
    host: Annotated[
        str, typer.Option(help="Address to bind (loopback unless --allow-remote).")
    ] = "127.0.0.1",
    definitions: Annotated[
        Path | None, typer.Option(help="Packet definitions (YAML); default: the example launcher.")
    ] = None,
    duration: Annotated[float | None, typer.Option(help="Stop after this many seconds.")] = None,
    max_packets: Annotated[int | None, typer.Option(help="Stop after this many packets.")] = None,
    allow_remote: Annotated[
        bool, typer.Option(help="Allow binding a non-loopback address.")
    ] = False,
) -> None:
    """Listen for CCSDS packets on UDP and append them to the store until stopped."""
    from starbrain.sources.telemetry_io import listen

    with _open_store() as db:
        sink = _StoreSink(db, flush_rows=100_000)
        err_console.print(f"listening on udp://{host}:{port} (Ctrl-C to stop)")
        report = listen(
            definitions,
            host,
            port,
            sink=sink,
            duration_s=duration,
            max_packets=max_packets,
            allow_remote=allow_remote,
        )
        sink.flush()
    _print_decode_stats(report.stats, f"udp://{host}:{port}")
    console.print(
        f"{report.datagrams} datagrams, {report.dropped_datagrams} dropped; stored {sink.stored} "
        "parameter values",
        highlight=False,
    )
