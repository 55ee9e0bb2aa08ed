"""``starbrain compute``: the GPU fleet: simulate, collect (NVML), train the thermal model,
schedule under a power budget."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from starbrain.cli._common import FormatOption, OutputFormat, _emit, _notes, _open_store, app
from starbrain.core.errors import StarbrainError

compute_app = typer.Typer(
    help="GPU fleet telemetry, the thermal world model and power-capped scheduling.",
    no_args_is_help=True,
)
app.add_typer(compute_app, name="compute")


@compute_app.command("simulate")
def compute_simulate(
    racks: Annotated[int, typer.Option(help="Racks of 4 nodes x 8 GPUs.")] = 8,
    minutes: Annotated[float, typer.Option(help="Simulated time, minutes (1 Hz samples).")] = 10.0,
    pump_fault_loop: Annotated[
        int | None, typer.Option(help="Coolant loop whose pump degrades from the start.")
    ] = None,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    load: Annotated[bool, typer.Option(help="Append the samples to the compute stream.")] = False,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Simulate a data centre and print per-loop power and temperature (mean and max)."""
    import numpy as np

    from starbrain.sources.compute.simulator import FleetConfig, simulate_fleet

    if minutes <= 0:
        raise StarbrainError("--minutes must be positive")
    cfg = FleetConfig(n_racks=racks, seed=seed, pump_fault_loop=pump_fault_loop)
    rec = simulate_fleet(cfg, minutes * 60.0)
    m = rec.metrics
    rows = []
    for lp in range(cfg.n_loops):
        sel = rec.loop == lp
        rows.append({
            "loop": lp, "gpus": int(sel.sum()),
            "mean_power_kw": float(m["power_w"][:, sel].sum(1).mean() / 1e3),
            "peak_power_kw": float(m["power_w"][:, sel].sum(1).max() / 1e3),
            "mean_gpu_temp_c": float(m["gpu_temp_c"][:, sel].mean()),
            "max_gpu_temp_c": float(m["gpu_temp_c"][:, sel].max()),
            "final_flow_lpm": float(np.mean(m["coolant_flow_lpm"][-1, sel])),
        })  # fmt: skip
    if load:
        with _open_store() as store:
            store.append("compute", rec.to_table(), source=f"sim:seed{seed}")
        _notes(fmt).print(f"appended {rec.time_s.size * cfg.n_gpus} rows to the compute stream")
    _emit(rows, fmt)


@compute_app.command("collect")
def compute_collect(
    seconds: Annotated[float, typer.Option(help="How long to sample, s.")] = 10.0,
    rate_hz: Annotated[float, typer.Option(help="Samples per second (at most 10).")] = 10.0,
    out: Annotated[Path | None, typer.Option(help="Also write the rows to this Parquet file.")] = (
        None
    ),
    load: Annotated[bool, typer.Option(help="Append the samples to the compute stream.")] = False,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Sample this machine's NVIDIA GPUs through NVML (never changes a GPU setting)."""
    import pyarrow.parquet as pq

    from starbrain.sources.compute.nvml import NvmlCollector

    with NvmlCollector() as c:
        t = c.collect(seconds, rate_hz)
    if out is not None:
        pq.write_table(t, out)
    if load:
        with _open_store() as store:
            store.append("compute", t, source="nvml")
    summary = [
        {"gpu_id": g, "samples": sum(1 for x in t["gpu_id"].to_pylist() if x == g)}
        for g in sorted(set(t["gpu_id"].to_pylist()))
    ]
    _emit(summary, fmt)


@compute_app.command("schedule")
def compute_schedule(
    jobs: Annotated[int, typer.Option(help="Random training jobs to plan.")] = 400,
    gpus: Annotated[int, typer.Option(help="GPUs in the fleet.")] = 100_000,
    budget_frac: Annotated[
        float, typer.Option(help="Site budget as a fraction of the uncapped draw.")
    ] = 0.55,
    ramp_frac_per_min: Annotated[
        float, typer.Option(help="Ramp limit per minute as a fraction of the uncapped draw.")
    ] = 0.05,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    placed: Annotated[
        bool, typer.Option(help="Also the baselines placed under the budget and ramp limit.")
    ] = False,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """The scheduler table: no cap, uniform 60% cap, per-job Zeus-style limits (every job
    started now; with --placed also placed within the budget and ramp) and starbrain."""
    from starbrain.planners.power_schedule import Jobs, Site, evaluate_schedule, plan_schedule

    js = Jobs.random(jobs, gpus, seed=seed)
    full = float((js.n_gpus * (js.demand_w + 90.0)).sum())
    site = Site(budget_w=budget_frac * full, ramp_w_per_s=ramp_frac_per_min * full / 60.0)
    runs = [(p, False) for p in ("nocap", "uniform60", "zeus")]
    runs += [(p, True) for p in ("nocap", "uniform60", "zeus") if placed]
    rows = []
    for p, place in [*runs, ("starbrain", False)]:
        row = evaluate_schedule(js, site, plan_schedule(js, site, p, place=place))
        rows.append({**row, "start": "placed" if place or p == "starbrain" else "now"})
    _notes(fmt).print(
        f"site budget {site.budget_w / 1e6:.1f} MW, ramp limit "
        f"{site.ramp_w_per_s * 60 / 1e6:.1f} MW/min"
    )
    _emit(rows, fmt)


@compute_app.command("train")
def compute_train(
    minutes: Annotated[float, typer.Option(help="Simulated minutes per fleet (1 Hz).")] = 15.0,
    seed: Annotated[int, typer.Option(help="Seed of the training fleet (held-out: seed+1).")] = 1,
    history: Annotated[
        int, typer.Option(help="History (s) each GPU's parameters are fitted on; 0: nominal.")
    ] = 180,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Fit the thermal world model on a simulated fleet (one pump degrading) and score its 60-s
    die-temperature forecast on held-out GPUs of another fleet whose second loop has a
    degrading pump; each GPU's parameters are estimated from its own recent history."""
    from starbrain.models.compute_model import heldout_forecast

    if history < 0:
        raise StarbrainError("--history must be 0 (nominal parameters) or positive seconds")
    if minutes * 60 < max(history, 60) + 121:
        raise StarbrainError(
            "--minutes is too short: it must cover the history (or a 60-s warm-up) plus one "
            "120-s window"
        )
    _emit(heldout_forecast(seed, minutes * 60.0, history or None), fmt)
