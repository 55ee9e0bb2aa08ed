"""``starbrain route``: latency between two cities over a constellation's laser links, over time."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from starbrain.cli._common import (
    FormatOption,
    OutputFormat,
    _emit,
    _notes,
    _time_option,
    _write_table,
    app,
)
from starbrain.cli._propagator import _propagator
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


def _norad_ids(spec: str) -> list[int]:
    """``"1-1156"`` or ``"44713,44714,45000-45059"`` -> catalogue numbers."""
    ids: list[int] = []
    try:
        for part in (x.strip() for x in spec.split(",")):
            if not part:
                continue
            lo, _, hi = part.partition("-")
            a, b = int(lo), int(hi or lo)
            if b < a:
                raise ValueError
            ids.extend(range(a, b + 1))
    except ValueError:
        ids = []
    if not ids:
        raise StarbrainError(
            f"--norad must be catalogue numbers like 1-1156 or 5,7,9; got {spec!r}"
        )
    return ids


HYPATIA_PRESET = "hypatia-kuiper-630"


def _check_route_options(
    hours: float,
    seconds: float | None,
    tle: Path | None,
    catalog: bool,
    ellipsoid: str | None,
    step_ms: float,
) -> float:
    """The simulated span in hours (``seconds`` wins when given); the options' checks, each a
    one-sentence error."""
    if seconds is not None:
        if not 0 < seconds <= 7 * 86400:
            raise StarbrainError("--seconds must be in (0, 604800]")
        hours = seconds / 3600.0
    if not 0 < hours <= 24 * 7:
        raise StarbrainError("--hours must be in (0, 168]")
    if tle is not None and catalog:
        raise StarbrainError("give --tle or --catalog, not both")
    if ellipsoid is not None and ellipsoid.lower() not in ("wgs84", "wgs72"):
        raise StarbrainError(f"--ellipsoid must be wgs84 or wgs72; got {ellipsoid!r}")
    if not 1 <= step_ms <= 3_600_000:
        raise StarbrainError("--step-ms must be in [1, 3600000]")
    return hours


def _given_network(
    tle: Path | None,
    catalog: bool,
    norad: str | None,
    grid_shape: tuple[int, int] | None,
    isl_shift: int,
    model: str | None,
    start: str | None,
) -> tuple[Any, str, Any]:
    """(network, label, propagator) of a --tle file or the --catalog selection (the
    catalogue's ``--model`` propagator, else None); (None, "", None) for a preset."""
    from starbrain.planners import routing_networks as rn

    if tle is not None:
        network = rn.tle_network(tle, grid_shape, isl_shift)
        return network, f"{tle.name} ({network.n_sat} satellites, +Grid ISLs", None
    if not catalog:
        return None, "", None
    if norad is None or grid_shape is None:
        raise StarbrainError("--catalog needs --norad (the satellites) and --grid")
    from starbrain.cli._common import _elements_for, _open_store

    ids = _norad_ids(norad)
    with _open_store(read_only=True) as store:
        elements = _elements_for(store, ids)
        propagator = _propagator(store, model)
    at = _time_option(start, None, "--start")
    order = rn.order_by_plane(elements, *grid_shape, at=at)
    network = rn.grid_network(elements.take(order), *grid_shape, isl_shift, "the selection")
    return network, f"catalogue ({network.n_sat} satellites, +Grid ISLs", propagator


def _hypatia(max_gsl_km: float | None, ellipsoid: str | None) -> tuple[Any, str, float, str]:
    """Hypatia's Kuiper-630 network, its label, and its GSL range and ellipsoid where the
    options leave them unset."""
    from starbrain.planners import routing_networks as rn

    network = rn.hypatia_network()
    label = f"Hypatia's {rn.KUIPER_630.name} ({network.n_sat} satellites, +Grid ISLs"
    if max_gsl_km is None:
        max_gsl_km = rn.KUIPER_630.max_gsl_km
    if ellipsoid is None:
        ellipsoid = "wgs72"
    return network, label, max_gsl_km, ellipsoid


def _model_propagator(model: str) -> Any:
    """The stored propagator ``--model`` names (presets and --tle without the catalogue)."""
    from starbrain.cli._common import _open_store

    with _open_store(read_only=True) as store:
        return _propagator(store, model)


def _network_start(
    network: Any, label: str, start: str | None, preset: str, shell: str
) -> tuple[Any, Any, str]:
    """(t0, network, label): a given network starts at --start or its newest element epoch; a
    preset's network is built for --start or today 00:00 UTC."""
    import numpy as np

    from starbrain.core import timeconv
    from starbrain.planners.routing import routing_network

    if network is not None:
        newest = np.max(network.elements.column("epoch").to_numpy().astype("datetime64[ns]"))
        return _time_option(start, newest, "--start"), network, label
    which = "all shells" if shell.strip().lower() == "all" else f"shell {shell}"
    today = timeconv.utc_now().astype("datetime64[D]").astype("datetime64[ns]")
    t0 = _time_option(start, today, "--start")
    network = routing_network(preset, _shells(shell), epoch=np.datetime64(t0, "D"))
    return t0, network, f"{preset} ({which}, {network.n_sat} satellites, +Grid ISLs"


def _route_rule(result: Any, max_gsl_km: float | None) -> str:
    """The ground-link rule, ellipsoid and propagator of a route, in words."""
    rule = f"GSL elevation >= {result.min_elevation_deg:g} deg"
    if max_gsl_km is not None:
        rule = f"GSL range <= {max_gsl_km:g} km" + (
            f", elevation >= {result.min_elevation_deg:g} deg" if result.min_elevation_deg else ""
        )
    if result.ellipsoid != "wgs84":
        rule += f", cities on {result.ellipsoid.upper()}"
    if result.propagator != "sgp4":
        rule += f", propagated with {result.propagator}"
    return rule


def _print_route(notes: Any, header: str, s: dict[str, float]) -> None:
    """The route's header line, RTT, path changes and hops, and the fibre comparison."""
    import numpy as np

    from starbrain.planners.routing import FIBRE_GROUP_INDEX

    notes.print(header, highlight=False)
    if not np.isfinite(s["rtt_median_ms"]):
        notes.print("no path at any snapshot: no usable satellite at one end", style="red")
    else:
        notes.print(
            f"RTT min / median / max: {s['rtt_min_ms']:.2f} / {s['rtt_median_ms']:.2f} / "
            f"{s['rtt_max_ms']:.2f} ms "
            f"(connected {100 * s['connected_fraction']:.1f}% of the time)",
            highlight=False,
        )
        notes.print(
            f"path changes: {int(s['path_changes'])}; hops (GSL + ISL links): "
            f"{int(s['hops_min'])}-{int(s['hops_max'])}",
            highlight=False,
        )
    notes.print(
        f"great circle {s['great_circle_km']:.0f} km: fibre RTT {s['fibre_rtt_ms']:.2f} ms "
        f"(n = {FIBRE_GROUP_INDEX}), vacuum {s['vacuum_rtt_ms']:.2f} ms; median / fibre = "
        f"{s['rtt_median_ms'] / s['fibre_rtt_ms']:.3f}",
        highlight=False,
    )


_SourceOption = Annotated[
    str, typer.Option("--from", help='Source city (e.g. Tokyo) or "NAME:LAT,LON".')
]

_DestinationOption = Annotated[
    str, typer.Option("--to", help='Destination city (e.g. "New York") or "NAME:LAT,LON".')
]

_SecondsOption = Annotated[
    float | None, typer.Option(help="Simulated time span in seconds (instead of --hours).")
]

_ShellOption = Annotated[
    str, typer.Option(help="Shells to route over: 'all' or numbers such as 1 or 1,2.")
]

_StartOption = Annotated[
    str | None,
    typer.Option(
        help="First snapshot, ISO 8601 UTC (default: today 00:00 UTC for a preset, the "
        "newest element epoch for --tle, --catalog and hypatia-kuiper-630)."
    ),
]

_MinElevationOption = Annotated[
    float | None,
    typer.Option(
        help="Ground-satellite link elevation mask in degrees (default 25; 0 with --max-gsl-km)."
    ),
]

_MaxGslKmOption = Annotated[
    float | None,
    typer.Option(
        help="GSL range rule: use any satellite at most this many km away (Hypatia's "
        "MAX_GSL_LENGTH; 1260 for its Kuiper-630)."
    ),
]

_EllipsoidOption = Annotated[
    str | None,
    typer.Option(
        help="Ellipsoid of the cities' latitudes: wgs84, or wgs72 as Hypatia "
        "(default wgs84; wgs72 for hypatia-kuiper-630)."
    ),
]

_PresetOption = Annotated[
    str,
    typer.Option(
        help="Constellation preset, or hypatia-kuiper-630: Hypatia's own Kuiper-630 "
        "network (its TLEs, +Grid, 1260 km GSL range, WGS-72 cities)."
    ),
]

_TleOption = Annotated[
    Path | None,
    typer.Option(
        help="Route over the satellites of this TLE file, in file order, as a --grid "
        "(or the grid its first line 'ORBITS PER_ORBIT' declares, as Hypatia writes)."
    ),
]

_CatalogOption = Annotated[
    bool,
    typer.Option(
        "--catalog",
        help="Route over the stored catalogue's --norad satellites, laid out as a --grid "
        "by orbit plane and argument of latitude.",
    ),
]

_NoradOption = Annotated[
    str | None, typer.Option(help="Catalogue numbers for --catalog, e.g. 1-1156.")
]

_GridOption = Annotated[
    str | None,
    typer.Option(help="ORBITSxPER_ORBIT of a --tle or --catalog network, e.g. 34x34."),
]

_IslShiftOption = Annotated[
    int, typer.Option(help="+Grid: slot offset of the link to the next orbit.")
]

_ShardsOption = Annotated[
    int | None, typer.Option(help="Time shards (default: one per 10 simulated minutes).")
]

_RayAddressOption = Annotated[
    str | None,
    typer.Option(help="Run the shards on Ray: 'local', 'auto' or a cluster address."),
]

_OutputOption = Annotated[
    Path | None,
    typer.Option("--output", "-o", help="Write every snapshot to a .csv or .parquet file."),
]

_ModelOption = Annotated[
    str | None,
    typer.Option(
        "--model",
        help="Propagator: a registered world model's name, 'latest', or 'sgp4' (default: "
        "with --catalog the latest world model if one is registered, else SGP4; SGP4 for "
        "presets and --tle unless --model is given).",
    ),
]


@app.command("route")
def route_command(
    source: _SourceOption,
    destination: _DestinationOption,
    hours: Annotated[float, typer.Option(help="Simulated time span in hours.")] = 1.0,
    seconds: _SecondsOption = None,
    step_ms: Annotated[float, typer.Option(help="Snapshot step in ms (Hypatia: 100).")] = 100.0,
    shell: _ShellOption = "all",
    start: _StartOption = None,
    min_elevation: _MinElevationOption = None,
    max_gsl_km: _MaxGslKmOption = None,
    ellipsoid: _EllipsoidOption = None,
    preset: _PresetOption = "starlink-gen1",
    tle: _TleOption = None,
    catalog: _CatalogOption = False,
    norad: _NoradOption = None,
    grid: _GridOption = None,
    isl_shift: _IslShiftOption = 0,
    shards: _ShardsOption = None,
    ray_address: _RayAddressOption = None,
    output: _OutputOption = None,
    model: _ModelOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Shortest-path latency between two cities over +Grid inter-satellite links.

    Every --step-ms of simulated time: the shortest path up to a satellite at least
    --min-elevation above the source (and, with --max-gsl-km, at most that far), along laser
    links, down to the destination; prints the round-trip time (propagation only), path
    changes, hops and the great-circle fibre RTT. Ground stations never relay.

    csv/json: every snapshot (time, rtt_ms, length_km, hops, path_changed, first_norad_id,
    last_norad_id; null where not connected) on standard output, the summary on standard error.
    """
    import numpy as np

    from starbrain.planners import routing_networks as rn
    from starbrain.planners.cities import city
    from starbrain.planners.routing import route

    hours = _check_route_options(hours, seconds, tle, catalog, ellipsoid, step_ms)
    try:
        src, dst = city(source), city(destination)
    except ValueError as exc:
        raise StarbrainError(str(exc)) from None
    grid_shape = rn.parse_grid(grid) if grid is not None else None
    args = (tle, catalog, norad, grid_shape, isl_shift, model, start)
    network, label, propagator = _given_network(*args)
    if network is None and preset.strip().lower() == HYPATIA_PRESET:
        network, label, max_gsl_km, ellipsoid = _hypatia(max_gsl_km, ellipsoid)
    t0, network, label = _network_start(network, label, start, preset, shell)
    if propagator is None and model is not None:
        propagator = _model_propagator(model)
    result = route(
        src,
        dst,
        network,
        t0,
        hours * 3600.0,
        step_ms=step_ms,
        min_elevation_deg=min_elevation,
        max_gsl_km=max_gsl_km,
        ellipsoid=(ellipsoid or "wgs84").lower(),
        shards=shards,
        ray_address=ray_address,
        propagator=propagator,
    )
    s = result.summary()
    header = (
        f"[bold]{src.name} -> {dst.name}[/]: {label}), {int(s['snapshots'])} snapshots every "
        f"{step_ms:g} ms from {np.datetime_as_string(np.datetime64(t0, 's'))}Z, "
        f"{_route_rule(result, max_gsl_km)}"
    )
    _print_route(_notes(fmt), header, s)
    if output is not None:
        _write_table(result.to_arrow(), output, "snapshots")
    if fmt is not OutputFormat.table:
        _emit(result.to_arrow(), fmt)
