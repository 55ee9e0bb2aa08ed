"""``starbrain route``: latency between two cities over a constellation's laser links, over time."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from starbrain.cli._common import _time_option, _write_table, app, console
from starbrain.core.errors import StarbrainError


def _shells(spec: str) -> list[int] | None:
    """``all`` -> None (every shell), else comma-separated 1-based shell numbers."""
    if spec.strip().lower() == "all":
        return None
    try:
        shells = [int(x) for x in spec.split(",") if x.strip()]
    except ValueError:
        shells = []
    if not shells:
        raise StarbrainError(f"--shell must be 'all' or shell numbers like 1 or 1,2; got {spec!r}")
    return shells


@app.command("route")
def route_command(
    source: Annotated[
        str, typer.Option("--from", help='Source city (e.g. Tokyo) or "NAME:LAT,LON".')
    ],
    destination: Annotated[
        str, typer.Option("--to", help='Destination city (e.g. "New York") or "NAME:LAT,LON".')
    ],
    hours: Annotated[float, typer.Option(help="Simulated time span in hours.")] = 1.0,
    step_ms: Annotated[float, typer.Option(help="Snapshot step in ms (Hypatia: 100).")] = 100.0,
    shell: Annotated[
        str, typer.Option(help="Shells to route over: 'all' or numbers such as 1 or 1,2.")
    ] = "all",
    start: Annotated[
        str | None,
        typer.Option(help="First snapshot, ISO 8601 UTC (default: today 00:00 UTC)."),
    ] = None,
    min_elevation: Annotated[
        float, typer.Option(help="Ground-satellite link elevation mask in degrees.")
    ] = 25.0,
    preset: Annotated[str, typer.Option(help="Constellation preset.")] = "starlink-gen1",
    shards: Annotated[
        int | None, typer.Option(help="Time shards (default: one per 10 simulated minutes).")
    ] = None,
    ray_address: Annotated[
        str | None,
        typer.Option(help="Run the shards on Ray: 'local', 'auto' or a cluster address."),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write every snapshot to a .csv or .parquet file."),
    ] = None,
) -> None:
    """Shortest-path latency between two cities over +Grid inter-satellite links.

    Every --step-ms of simulated time: the shortest path up to a satellite at least
    --min-elevation above the source, along laser links, down to the destination; prints the
    round-trip time (propagation only), path changes, hops and the great-circle fibre RTT.
    """
    import numpy as np

    from starbrain.core import timeconv
    from starbrain.planners.cities import city
    from starbrain.planners.routing import FIBRE_GROUP_INDEX, route, routing_network

    if not 0 < hours <= 24 * 7:
        raise StarbrainError("--hours must be in (0, 168]")
    if not 1 <= step_ms <= 3_600_000:
        raise StarbrainError("--step-ms must be in [1, 3600000]")
    try:
        src, dst = city(source), city(destination)
    except ValueError as exc:
        raise StarbrainError(str(exc)) from None
    today = timeconv.utc_now().astype("datetime64[D]").astype("datetime64[ns]")
    t0 = _time_option(start, today, "--start")
    network = routing_network(preset, _shells(shell), epoch=np.datetime64(t0, "D"))
    result = route(
        src,
        dst,
        network,
        t0,
        hours * 3600.0,
        step_ms=step_ms,
        min_elevation_deg=min_elevation,
        shards=shards,
        ray_address=ray_address,
    )
    s = result.summary()
    which = "all shells" if shell.strip().lower() == "all" else f"shell {shell}"
    console.print(
        f"[bold]{src.name} -> {dst.name}[/]: {preset} ({which}, {network.n_sat} satellites, "
        f"+Grid ISLs), {int(s['snapshots'])} snapshots every {step_ms:g} ms from "
        f"{np.datetime_as_string(np.datetime64(t0, 's'))}Z, GSL elevation >= {min_elevation:g} deg",
        highlight=False,
    )
    if not np.isfinite(s["rtt_median_ms"]):
        console.print(
            "no path at any snapshot: no satellite above the mask at one end", style="red"
        )
    else:
        console.print(
            f"RTT min / median / max: {s['rtt_min_ms']:.2f} / {s['rtt_median_ms']:.2f} / "
            f"{s['rtt_max_ms']:.2f} ms "
            f"(connected {100 * s['connected_fraction']:.1f}% of the time)",
            highlight=False,
        )
        console.print(
            f"path changes: {int(s['path_changes'])}; hops (GSL + ISL links): "
            f"{int(s['hops_min'])}-{int(s['hops_max'])}",
            highlight=False,
        )
    console.print(
        f"great circle {s['great_circle_km']:.0f} km: fibre RTT {s['fibre_rtt_ms']:.2f} ms "
        f"(n = {FIBRE_GROUP_INDEX}), vacuum {s['vacuum_rtt_ms']:.2f} ms; median / fibre = "
        f"{s['rtt_median_ms'] / s['fibre_rtt_ms']:.3f}",
        highlight=False,
    )
    if output is not None:
        _write_table(result.to_arrow(), output, "snapshots")
