"""``starbrain telemetry``: decode CCSDS packet streams into the store."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from starbrain.core.errors import StarbrainError

if TYPE_CHECKING:
    import pyarrow as pa

    from starbrain.store.database import Store

from starbrain.cli._common import MAX_ERRORS_SHOWN, _open_store, app, console, err_console

telemetry_app = typer.Typer(
    help="Decode CCSDS packet streams (files, UDP, TCP, NATS, MQTT) into the store.",
    no_args_is_help=True,
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
        if v and k not in ("bytes", "packets", "parameters", "max_errors", "duplicates")
    }
    console.print(
        f"{what}: {counts.get('packets', 0)} packets, {counts.get('parameters', 0)} parameter "
        f"values from {counts.get('bytes', 0)} bytes",
        highlight=False,
    )
    if counts.get("duplicates"):
        console.print(
            f"  repeated packets dropped: duplicates {counts['duplicates']} "
            "(same APID, sequence count and packet time as one decoded before)",
            highlight=False,
        )
    if bad:
        console.print("  malformed input: " + ", ".join(f"{k} {v}" for k, v in bad.items()))
    unknown: dict[int, int] = getattr(stats, "unknown_by_apid", {})
    if unknown:
        console.print(
            "  packets of APIDs the definitions do not define: "
            + ", ".join(f"{a:#x} ({n})" for a, n in sorted(unknown.items())),
            highlight=False,
        )
    # packets of undefined APIDs are listed per APID above, not one line each
    shown = [e for e in getattr(stats, "errors", []) if e.kind != "unknown_apid"]
    for err in shown[:MAX_ERRORS_SHOWN]:
        err_console.print(f"  [red]bad packet[/] {err}", highlight=False)


@telemetry_app.command("replay")
def telemetry_replay(
    path: Annotated[Path, typer.Argument(help="A recorded packet file.")],
    definitions: Annotated[
        Path | None,
        typer.Option(
            help="Packet definitions (YAML); default: those recorded beside the file "
            "(FILE.definitions.yaml), else the bundled set that defines its APIDs."
        ),
    ] = None,
    realtime: Annotated[
        bool, typer.Option(help="Pace by packet time instead of max speed.")
    ] = False,
    speed: Annotated[float, typer.Option(help="With --realtime: times real time.")] = 1.0,
    store: Annotated[bool, typer.Option(help="Append the decoded values to the store.")] = True,
) -> None:
    """Decode a recorded CCSDS packet file; malformed packets are counted, never fatal.

    Replaying a file again stores nothing new: the store keeps a ledger of the files stored and
    skips packets of the same recording already stored (same APID, sequence count and packet
    time). Exits non-zero when nothing could be decoded, saying which APIDs the file holds and
    which definitions were tried."""
    from starbrain.sources.transport.replay import replay, resolve_definitions

    if not path.is_file():
        raise StarbrainError(f"{path}: no such file")
    choice = resolve_definitions(path, definitions)
    console.print(f"{path}: {choice.how}", highlight=False)
    if store:
        from starbrain.store.telemetry import FileReplaySink

        with _open_store() as db:
            sink = FileReplaySink(db, path, choice.definitions)
            if sink.previous is not None:
                console.print(sink.previous.sentence(path), highlight=False)
                return
            stats = replay(path, choice.definitions, sink=sink, realtime=realtime, speed=speed)
            sink.finish(stats)
            console.print(f"stored {sink.stored} parameter values in {db.path}", highlight=False)
            if sink.packets_already_stored:
                console.print(
                    f"  {sink.packets_already_stored} of {sink.packets_seen} packets were "
                    "already stored from this recording (same APID, sequence count and packet "
                    "time): skipped",
                    highlight=False,
                )
    else:
        stats = replay(path, choice.definitions, realtime=realtime, speed=speed)
    _print_decode_stats(stats, str(path))
    if stats.packets == 0:
        raise StarbrainError(_nothing_decoded(path, stats, choice))


def _nothing_decoded(path: Path, stats: object, choice: object) -> str:
    """Why a replay stored nothing, as one sentence: the APIDs seen, the definitions tried."""
    from starbrain.sources.telemetry.ccsds import DecodeStats
    from starbrain.sources.transport.replay import DefinitionsChoice

    assert isinstance(stats, DecodeStats) and isinstance(choice, DefinitionsChoice)
    defs = choice.definitions
    seen = ", ".join(f"{a:#x} ({n} packets)" for a, n in sorted(stats.unknown_by_apid.items()))
    defined = ", ".join(f"{a:#x}" for a in sorted(defs.by_apid))
    tried = f"; bundled sets tried: {', '.join(choice.tried)}" if len(choice.tried) > 1 else ""
    if stats.unknown_apid:
        why = (
            f"its {stats.unknown_apid} packets have APIDs {seen}, "
            f"and {defs.name or 'the definitions'} defines {defined}{tried}"
        )
    else:
        why = f"no packet decoded ({stats.summary()}){tried}"
    return f"stored nothing from {path}: {why}; give --definitions YAML for this file"


@telemetry_app.command("listen")
def telemetry_listen(
    port: Annotated[int, typer.Option(help="UDP port.")] = 10015,
    host: Annotated[
        str, typer.Option(help="Address to bind (loopback unless --allow-remote).")
    ] = "127.0.0.1",
    tcp: Annotated[
        str | None, typer.Option(help="Accept TCP clients on HOST:PORT instead of UDP.")
    ] = None,
    nats: Annotated[
        str | None, typer.Option(help="Subscribe to NATS JetStream at nats://HOST:PORT.")
    ] = None,
    subject: Annotated[str, typer.Option(help="With --nats: the subject.")] = "telemetry",
    mqtt: Annotated[
        str | None, typer.Option(help="Subscribe (QoS 1) to the MQTT broker at mqtt://HOST:PORT.")
    ] = None,
    topic: Annotated[str, typer.Option(help="With --mqtt: the topic.")] = "telemetry",
    name: Annotated[
        str, typer.Option(help="With --nats/--mqtt: durable consumer / client id.")
    ] = "starbrain",
    definitions: Annotated[
        Path | None, typer.Option(help="Packet definitions (YAML); default: the example launcher.")
    ] = None,
    duration: Annotated[float | None, typer.Option(help="Stop after this many seconds.")] = None,
    max_packets: Annotated[int | None, typer.Option(help="Stop after this many packets.")] = None,
    allow_remote: Annotated[
        bool, typer.Option(help="Allow binding a non-loopback address.")
    ] = False,
) -> None:
    """Listen for CCSDS packets (UDP, TCP, NATS JetStream or MQTT) and append them to the store
    until stopped; Ctrl-C stores what was received and prints the statistics."""
    if sum(x is not None for x in (tcp, nats, mqtt)) > 1:
        raise StarbrainError("give at most one of --tcp, --nats and --mqtt")
    if nats is not None or mqtt is not None:
        _listen_broker(
            nats or mqtt or "", subject if nats else topic, name, definitions, duration, max_packets
        )
        return
    from starbrain.sources.transport.tcp import listen_tcp, parse_host_port
    from starbrain.sources.transport.udp import listen

    with _open_store() as db:
        sink = _StoreSink(db, flush_rows=100_000)
        if tcp is not None:
            thost, tport = parse_host_port(tcp, 10016)
            where = f"tcp://{thost}:{tport}"
            err_console.print(f"listening on {where} (Ctrl-C to stop)")
            treport = listen_tcp(
                definitions,
                thost,
                tport,
                sink=sink,
                duration_s=duration,
                max_packets=max_packets,
                allow_remote=allow_remote,
            )
            sink.flush()
            stats, interrupted = treport.stats, treport.interrupted
            summary = f"{len(treport.connections)} connections"
        else:
            where = f"udp://{host}:{port}"
            err_console.print(f"listening on {where} (Ctrl-C to stop)")
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
            stats, interrupted = report.stats, report.interrupted
            summary = f"{report.datagrams} datagrams, {report.dropped_datagrams} dropped"
    if interrupted:
        err_console.print("interrupted: stored what was received")
    _print_decode_stats(stats, where)
    console.print(f"{summary}; stored {sink.stored} parameter values", highlight=False)


def _listen_broker(
    url: str,
    subject: str,
    name: str,
    definitions: Path | None,
    duration: float | None,
    max_packets: int | None,
) -> None:
    """``telemetry listen --nats/--mqtt``: every batch is committed before it is acknowledged."""
    from starbrain.sources.transport import subscribe

    with _open_store() as db:
        sink = _StoreSink(db)

        def commit(batches: list[pa.RecordBatch]) -> None:
            for batch in batches:
                sink(batch)
            sink.flush()

        err_console.print(f"subscribing to {url} {subject} as {name} (Ctrl-C to stop)")
        report = subscribe(
            url,
            subject,
            definitions,
            sink=commit,
            duration_s=duration,
            max_packets=max_packets,
            name=name,
        )
    if report.interrupted:
        err_console.print("interrupted: every acknowledged message is stored")
    _print_decode_stats(report.stats, report.url)
    console.print(
        f"{report.messages} messages, {report.duplicates} redelivered duplicates dropped, "
        f"{report.connects} connections; stored {sink.stored} parameter values",
        highlight=False,
    )
    if report.connects == 0 and report.errors:
        raise StarbrainError(f"could not reach {url}: {report.errors[-1]}")


@telemetry_app.command("simulate")
def telemetry_simulate(
    output: Annotated[Path, typer.Argument(help="Packet file to write (CCSDS Space Packets).")],
    seed: Annotated[int, typer.Option(help="Flight seed (dispersions and noise).")] = 0,
    duration: Annotated[float, typer.Option(help="Seconds after lift-off.")] = 400.0,
    rate: Annotated[float, typer.Option(help="Sample rate of every packet (Hz).")] = 20.0,
    anomaly: Annotated[
        list[str] | None,
        typer.Option(
            help="Inject kind[:channel]@start+duration[=magnitude], e.g. stuck:lox_level@60+20; "
            "repeatable."
        ),
    ] = None,
    random_anomalies: Annotated[
        int, typer.Option(help="Also inject this many random anomalies (drawn with the seed).")
    ] = 0,
    labels: Annotated[
        Path | None, typer.Option(help="Label file (CSV or .parquet); default OUTPUT.labels.csv")
    ] = None,
    store: Annotated[
        bool, typer.Option(help="Also decode the stream into the store's telemetry.")
    ] = False,
) -> None:
    """Simulate a two-stage launch (50 parameters in 5 packets) with labelled anomalies."""
    from starbrain.physics.flight_sim import (
        FlightConfig,
        launch_vehicle_definitions,
        parse_anomaly,
        simulate_flight,
    )
    from starbrain.physics.flight_sim import random_anomalies as draw

    injected = tuple(parse_anomaly(s) for s in anomaly or [])
    if random_anomalies:
        injected += draw(seed, random_anomalies, duration)
    flight = simulate_flight(
        FlightConfig(seed=seed, duration_s=duration, rate_hz=rate, anomalies=injected)
    )
    labels = labels or output.with_name(output.name + ".labels.csv")
    n_bytes = flight.write(output, labels)
    from starbrain.sources.transport.replay import definitions_sidecar

    console.print(
        f"wrote {n_bytes} bytes ({int(flight.present.sum())} packets, {len(flight.t_s)} samples "
        f"at {rate:g} Hz, MECO at {flight.meco_s:.1f} s) to {output}, its definitions to "
        f"{definitions_sidecar(output)}; {flight.labels.num_rows} labelled anomalies to {labels}",
        highlight=False,
    )
    if store:
        from starbrain.sources.transport.replay import replay
        from starbrain.store.telemetry import FileReplaySink

        with _open_store() as db:
            defs = launch_vehicle_definitions()
            fsink = FileReplaySink(db, output, defs)
            if fsink.previous is not None:
                console.print(fsink.previous.sentence(output), highlight=False)
                return
            stats = replay(output, defs, sink=fsink)
            fsink.finish(stats)
            console.print(f"stored {fsink.stored} parameter values in {db.path}", highlight=False)
        _print_decode_stats(stats, str(output))
