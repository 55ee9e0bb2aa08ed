"""``starbrain vehicle``: simulate, load, train, evaluate and drive the ground-vehicle fleet."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, cast

import typer

from starbrain.cli._common import (
    FormatOption,
    OutputFormat,
    _check_loadable,
    _emit,
    _notes,
    _open_store,
    _print_errors,
    _progress,
    _write_table,
    app,
    console,
)
from starbrain.cli._send import SendOption, SpeedOption, send_table
from starbrain.core.errors import StarbrainError

if TYPE_CHECKING:
    import pyarrow as pa

vehicle_app = typer.Typer(
    help="Ground vehicles: driving logs (comma2k19, the fleet simulator), world models, MPC.",
    no_args_is_help=True,
)
app.add_typer(vehicle_app, name="vehicle")

VehicleOption = Annotated[
    str, typer.Option("--vehicle", help="Fleet vehicle: ford-escort, bmw-320i or vw-vanagon.")
]


def _spec(vehicle_id: str) -> Any:
    from starbrain.sources.driving.simulator import FLEET

    for v in FLEET:
        if v.vehicle_id == vehicle_id:
            return v
    names = ", ".join(v.vehicle_id for v in FLEET)
    raise StarbrainError(f"unknown vehicle {vehicle_id!r}: the fleet is {names}")


def _floats(text: str, what: str) -> list[float]:
    try:
        return [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise StarbrainError(f"{what} must be comma-separated numbers, got {text!r}") from None


def _stored_logs(vehicle_id: str | None) -> pa.Table:
    with _open_store(read_only=True) as store:
        if vehicle_id:
            table = store.read("vehicle", where="vehicle_id = ?", params=[vehicle_id])
        else:
            table = store.read("vehicle")
    if table.num_rows == 0:
        which = f"vehicle {vehicle_id!r}" if vehicle_id else "any vehicle"
        raise StarbrainError(
            f"no vehicle logs stored for {which}; run `starbrain vehicle simulate --load` "
            "or `starbrain vehicle load DIR`"
        )
    return table


@vehicle_app.command("simulate")
def vehicle_simulate(
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write the logs (.parquet or .csv).")
    ] = None,
    vehicles: Annotated[str, typer.Option(help="Comma-separated fleet vehicles.")] = "bmw-320i",
    frictions: Annotated[str, typer.Option(help="Comma-separated road frictions.")] = "1.0,0.6",
    drivers: Annotated[str, typer.Option(help="calm, sporty, weaving (comma-separated).")] = (
        "calm,sporty,weaving"
    ),
    duration: Annotated[float, typer.Option(help="Seconds per log.")] = 20.0,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    load: Annotated[bool, typer.Option(help="Also append the logs to the store.")] = False,
    send: SendOption = None,
    speed: SpeedOption = 1.0,
) -> None:
    """Simulate fleet logs on CommonRoad's multi-body model (the "real car"), 20 Hz; --send
    streams them (UDP or NATS) into `starbrain run` (vehicle_udp_port / vehicle_subject)."""
    import pyarrow as pa

    from starbrain.sources.driving.simulator import DRIVERS, simulate_log

    specs = [_spec(v.strip()) for v in vehicles.split(",") if v.strip()]
    mus = _floats(frictions, "--frictions")
    by_name = {d.name: d for d in DRIVERS}
    names = [d.strip() for d in drivers.split(",") if d.strip()]
    bad = [n for n in names if n not in by_name]
    if bad or not names:
        raise StarbrainError(f"unknown driver(s) {bad or names}: use {', '.join(by_name)}")
    if duration <= 0 or not mus or not specs:
        raise StarbrainError("--duration must be positive and the lists non-empty")
    if out is None and not load and send is None:
        raise StarbrainError("give --out FILE, --load or --send URL (or several)")
    combos = [(v, mu, by_name[n]) for v in specs for mu in mus for n in names]
    logs = []
    with _progress("simulating", total=len(combos)) as (bar, task):
        for v, mu, d in combos:
            logs.append(simulate_log(v, mu, d, duration, seed))
            bar.advance(task)  # type: ignore[arg-type]
    table = pa.concat_tables(logs)
    if send is not None:
        send_table(table, send, speed, "vehicle")
    if out is not None:
        _write_table(table, out, "vehicle samples")
    if load:
        with _open_store() as store:
            added = store.append("vehicle", table, source=f"sim:commonroad-mb:seed{seed}")
        console.print(f"loaded {added.n_new} samples of {len(logs)} logs", highlight=False)


@vehicle_app.command("load")
def vehicle_load(
    paths: Annotated[
        list[Path], typer.Argument(help="comma2k19 segment folders, or simulator logs (.parquet).")
    ],
    vehicle_id: Annotated[str, typer.Option("--vehicle", help="Id for comma2k19 logs.")] = (
        "comma2k19"
    ),
    strict: Annotated[bool, typer.Option(help="Any bad record is fatal.")] = False,
) -> None:
    """Load driving logs into the ``vehicle`` stream; bad samples are reported by file and
    channel, the valid segments kept."""
    import pyarrow.parquet as pq

    from starbrain.core.schemas.vehicle import VEHICLE_SCHEMA
    from starbrain.sources.driving import read_comma2k19
    from starbrain.sources.records import LoadResult

    results = []
    for p in paths:
        if p.is_dir():
            r = read_comma2k19(p, vehicle_id=vehicle_id)
        elif p.suffix == ".parquet":
            t = pq.read_table(p)
            missing = [n for n in VEHICLE_SCHEMA.names if n not in t.column_names]
            if missing:
                raise StarbrainError(f"{p}: not a vehicle log, missing {', '.join(missing)}")
            r = LoadResult(t.select(VEHICLE_SCHEMA.names).cast(VEHICLE_SCHEMA), [], str(p))
        else:
            raise StarbrainError(f"{p}: expected a comma2k19 segment folder or a .parquet log")
        _print_errors(r)
        results.append(r)
    _check_loadable(results, strict, "vehicle samples")
    with _open_store() as store, store.transaction():
        for r in results:
            added = store.append("vehicle", r.table, source=r.source, n_errors=len(r.errors))
            console.print(
                f"{r.source}: {r.n_good} valid samples, {added.n_new} new, {len(r.errors)} bad",
                highlight=False,
            )


def _nominal(vehicle_id: str) -> Any:
    """The CommonRoad specification of a fleet vehicle (guessed steering ratio 16), else
    the default parameters (a real car such as the comma2k19 log)."""
    from starbrain.physics.vehicles.single_track import VehicleParams
    from starbrain.sources.driving.simulator import FLEET, vehicle_parameters

    for v in FLEET:
        if v.vehicle_id == vehicle_id:
            return VehicleParams.from_commonroad(vehicle_parameters(v), 16.0)
    return VehicleParams()


@vehicle_app.command("train")
def vehicle_train(
    vehicle_id: VehicleOption = "bmw-320i",
    kind: Annotated[str, typer.Option(help="kinematic, single-track, pets or residual.")] = (
        "residual"
    ),
    name: Annotated[
        str | None, typer.Option(help="Registry name (default vehicle-ID-KIND).")
    ] = None,
    epochs: Annotated[int, typer.Option(help="Training epochs at most.")] = 150,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Fit one vehicle's world model on its stored logs and register it in ``models``."""
    from dataclasses import replace

    from starbrain.models.dynamics import register_world_model
    from starbrain.models.vehicle_kinds import DEFAULT_FIT, build_vehicle_model

    table = _stored_logs(vehicle_id)
    with _progress(f"training {kind}", total=None):
        model, info = build_vehicle_model(
            kind, table, vehicle_id, _nominal(vehicle_id), replace(DEFAULT_FIT, epochs=epochs)
        )
    model_name = name or f"vehicle-{vehicle_id}-{kind}"
    with _open_store() as store:
        register_world_model(
            store,
            model_name,
            model,
            metrics=info,
            data_info={"vehicle_id": vehicle_id, "kind": kind},
        )
    row = {
        "name": model_name,
        "kind": kind,
        "vehicle_id": vehicle_id,
        "n_transitions": info["n_transitions"],
        "epochs": info.get("epochs"),
        "val_mse": info.get("val_mse"),
        "seconds": info.get("seconds"),
        "steering_ratio": (info.get("params") or {}).get("steering_ratio"),
    }
    _emit([row], fmt, title="registered vehicle model")


@vehicle_app.command("evaluate")
def vehicle_evaluate(
    vehicle_id: VehicleOption = "bmw-320i",
    models: Annotated[
        str, typer.Option(help="Registered model names, comma-separated (default: all four kinds).")
    ] = "",
    horizons: Annotated[str, typer.Option(help="Horizons, s.")] = "1,2",
    logs: Annotated[
        Path | None, typer.Option(help="Held-out logs (.parquet); default: the stored ones.")
    ] = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Open-loop position RMSE by friction at each horizon for registered vehicle models."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from starbrain.models.dynamics import load_world_model
    from starbrain.models.vehicle_kinds import MODEL_KINDS, position_rmse

    names = [m.strip() for m in models.split(",") if m.strip()] or [
        f"vehicle-{vehicle_id}-{k}" for k in MODEL_KINDS
    ]
    loaded = {}
    with _open_store(read_only=True) as store:
        for n in names:
            try:
                loaded[n], _ = load_world_model(store, n)
            except StarbrainError:
                if models:
                    raise
                _notes(fmt).print(f"skipping {n}: not registered", highlight=False)
    if not loaded:
        raise StarbrainError(f"no vehicle model registered for {vehicle_id}; run vehicle train")
    table = pq.read_table(logs) if logs else _stored_logs(vehicle_id)
    table = table.filter(pc.equal(table["vehicle_id"], vehicle_id))
    rows = position_rmse(loaded, table, _floats(horizons, "--horizons"))
    _emit(rows, fmt, title=f"open-loop position RMSE, {vehicle_id}")


@vehicle_app.command("drive")
def vehicle_drive(
    vehicle_id: VehicleOption = "bmw-320i",
    model_name: Annotated[
        str | None,
        typer.Option(
            "--model",
            help="Registered model (default: the single-track "
            "prior with the specification's parameters).",
        ),
    ] = None,
    friction: Annotated[float, typer.Option(help="Road friction of the plant.")] = 0.6,
    speeds: Annotated[str, typer.Option(help="Entry speeds (m/s), comma-separated.")] = "",
    search: Annotated[
        bool, typer.Option(help="Search upward from --low in 1 m/s steps for the highest pass.")
    ] = False,
    low: Annotated[float, typer.Option(help="Lowest speed of --search, m/s.")] = 8.0,
    samples: Annotated[int, typer.Option(help="MPC samples per step.")] = 256,
    trajectory: Annotated[
        Path | None, typer.Option(help="Write the last run's trajectory (.csv) here.")
    ] = None,
    record: Annotated[
        bool, typer.Option(help="Store the last run (the console's lane-change plot).")
    ] = False,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """ISO 3888-2 double lane change on the multi-body plant, MPC over a world model."""
    from starbrain.planners.lane_change import (
        default_mpc_config,
        run_double_lane_change,
        search_max_speed,
    )
    from starbrain.sources.driving.simulator import vehicle_parameters

    spec = _spec(vehicle_id)
    plant = vehicle_parameters(spec, friction)
    model, ratio = _drive_model(model_name, vehicle_id)
    cfg = default_mpc_config(ratio, float(plant.steering.v_max), 0.5, n_samples=samples)

    def one(v: float) -> Any:
        return run_double_lane_change(model, plant, spec.steering_ratio, v, ratio, cfg)

    runs: list[Any] = []
    with _progress("driving", total=None) as (bar, task):
        if search:
            best, runs = search_max_speed(one, lo_mps=low, progress=lambda r: bar.advance(task))  # type: ignore[arg-type]
            _notes(fmt).print(f"highest passing entry speed: {best} m/s", highlight=False)
        else:
            for v in _floats(speeds or "12", "--speeds"):
                runs.append(one(v))
                bar.advance(task)  # type: ignore[arg-type]
    rows = [
        {
            "model": model_name or "single-track (spec)",
            "friction": friction,
            **{k: (", ".join(v) if isinstance(v, list) else v) for k, v in r.summary().items()},
        }
        for r in runs
    ]
    if trajectory is not None and runs:
        import numpy as np

        np.savetxt(
            trajectory,
            runs[-1].trajectory,
            delimiter=",",
            comments="",
            header="x_m,y_m,yaw_rad,vx_mps,vy_mps,yaw_rate_radps",
        )
    if record and runs:
        _record_lane_change(vehicle_id, model_name, friction, plant, runs[-1])
    _emit(rows, fmt, title=f"ISO 3888-2 double lane change, {vehicle_id}, mu {friction}")


def _record_lane_change(
    vehicle_id: str, model_name: str | None, friction: float, plant: Any, run: Any
) -> None:
    """Store one lane-change run in the store's ``lane_changes`` table (GET
    /api/vehicles/lane-change; the console's vehicles panel)."""
    from starbrain.store import queries

    with _open_store() as store:
        queries.record_lane_change(
            store, vehicle_id=vehicle_id, model=model_name or "single-track (spec)",
            friction=friction, summary=run.summary(), width_m=float(plant.w),
            length_m=float(plant.l), x_m=run.trajectory[:, 0], y_m=run.trajectory[:, 1],
        )  # fmt: skip


def _drive_model(model_name: str | None, vehicle_id: str) -> tuple[Any, float]:
    """The model the MPC drives with and the steering ratio it assumes."""
    from starbrain.models.dynamics import load_world_model
    from starbrain.models.dynamics.prior import PhysicsPrior
    from starbrain.models.dynamics.world_model import WorldModel, WorldModelConfig
    from starbrain.physics.vehicles.single_track import THETA_NAMES, DynamicSingleTrack

    if model_name is None:
        nom = _nominal(vehicle_id)
        wcfg = WorldModelConfig(6, 2, 0.05, n_members=1)
        prior = cast(PhysicsPrior, DynamicSingleTrack(substep_s=0.05))
        return WorldModel(prior, wcfg, nom.theta()), 16.0
    with _open_store(read_only=True) as store:
        model, _ = load_world_model(store, model_name)
    if hasattr(model.prior, "substep_s"):  # one RK4 step per 50 ms: 5x cheaper rollouts
        model.prior.substep_s = 0.05
    if "steering_ratio" in THETA_NAMES and model.theta.numel() == len(THETA_NAMES):
        return model, float(model.theta[THETA_NAMES.index("steering_ratio")])
    return model, 16.0
