"""``starbrain model`` (train, list, show, evaluate world models) and ``starbrain predict``."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from starbrain.cli._common import (
    FormatOption,
    OutputFormat,
    _elements_for,
    _emit,
    _notes,
    _open_store,
    _progress,
    _show,
    _time_option,
    _write_table,
    app,
    console,
    err_console,
)
from starbrain.cli._predict import PredictFrame
from starbrain.core.errors import StarbrainError

if TYPE_CHECKING:
    from rich.table import Table

    from starbrain.models.orbit_model import PriorArcs

model_app = typer.Typer(
    help="Orbit world models (SGP4 + learned residual): train, list, show, evaluate.",
    no_args_is_help=True,
)
app.add_typer(model_app, name="model")

_HORIZON_NAMES = {60.0: "1 h", 360.0: "6 h", 1440.0: "1 d", 4320.0: "3 d", 10080.0: "7 d"}


def _horizon(h: float) -> str:
    return _HORIZON_NAMES.get(h, f"{h / 60:g} h")


def _error_table(rows: list[dict[str, Any]], title: str) -> Table:
    from rich.table import Table

    table = Table(title=title)
    for col in ("horizon", "n", "SGP4 median", "SGP4 p95", "model median", "model p95", "ratio"):
        table.add_column(col, justify="right")
    for r in rows:
        table.add_row(
            _horizon(r["horizon_min"]), str(r["n_sat"]),
            f"{r['sgp4_median_km'] * 1e3:,.0f} m", f"{r['sgp4_p95_km'] * 1e3:,.0f} m",
            f"{r['model_median_km'] * 1e3:,.0f} m", f"{r['model_p95_km'] * 1e3:,.0f} m",
            f"{r['median_ratio']:.2f}",
        )  # fmt: skip
    return table


def _print_evaluation(
    evaluation: dict[str, list[dict[str, Any]]], fmt: OutputFormat = OutputFormat.table
) -> None:
    """The evaluation as one table per group, or (csv/json) one row per group and horizon with
    the evaluation's fields (group, horizon_min, n_sat, sgp4_median_km, ..., median_ratio)."""
    if fmt is not OutputFormat.table:
        _emit([{"group": g, **r} for g, rows in evaluation.items() for r in rows], fmt)
        return
    for group, rows in evaluation.items():
        if rows:
            title = f"held-out {group}: position error vs truth (ratio = model / SGP4 median)"
            _show(_error_table(rows, title))


def _held_out_truth(data: dict[str, Any], days: float | None) -> Any:
    """Regenerate the truth of a model's held-out satellites from its registry record."""
    from starbrain.models.truth import generate_truth, sample_elements

    recipe = data.get("recipe")
    if not recipe:
        raise StarbrainError(
            "this model's record has no sample recipe; evaluate it on a new sample with "
            "--satellites N --seed S"
        )
    elements = sample_elements(recipe["satellites"], seed=recipe["seed"], **recipe["fractions"])
    test = elements.take(recipe["held_out"])
    return generate_truth(
        test, days=days or recipe["days"], step_min=recipe["step_min"], description="truth"
    )


def _evaluate_groups(model: Any, arcs: PriorArcs) -> dict[str, list[dict[str, Any]]]:
    """Evaluation rows for all held-out satellites and for each orbit class present."""
    import numpy as np

    from starbrain.models.evaluation import evaluate_orbit_model
    from starbrain.models.truth import orbit_class

    classes = orbit_class(arcs.truth.elements)
    out = {"all": evaluate_orbit_model(model, arcs)}
    for c in ("LEO", "MEO", "GEO", "HEO"):
        idx = np.flatnonzero(classes == c)
        if 0 < idx.size < classes.size:
            out[c] = evaluate_orbit_model(model, arcs.subset(idx))
    return out


class TrainPrior(StrEnum):
    """``model train --prior``: the issue #14 world model or the earlier SGP4-correction one."""

    od = "od"
    sgp4 = "sgp4"


_PriorOption = Annotated[
    TrainPrior,
    typer.Option(help="od: numerical-OD prior + residual (issue #14, the default); sgp4: the "
                 "earlier SGP4 + learned correction (the sgp4: options)."),
]  # fmt: skip
_EpochsOption = Annotated[
    list[str] | None,
    typer.Option(help="od: a training (--train-epoch) or test (--test-epoch, later than every "
                 "training one) epoch, ISO UTC; repeat (default six 2001-2019, three 2021-2024)."),
]  # fmt: skip
_CountOption = Annotated[
    int | None, typer.Option(help="od: satellites per training / test epoch (default 8 / 12).")
]
_DegreeOption = Annotated[
    int | None,
    typer.Option(help="od: EGM2008 degree and order of the truth / of the OD prior (12 / 8)."),
]
_HeldOutOption = Annotated[
    float, typer.Option("--held-out", help="sgp4: fraction of satellites never trained on.")
]
_RayOption = Annotated[
    str | None,
    typer.Option(help="sgp4: train (and make truth) on Ray: 'local', 'auto' or 'ray://...'."),
]


@model_app.command("train")
def model_train(
    prior: _PriorOption = TrainPrior.od,
    train_sats: _CountOption = None,
    test_sats: _CountOption = None,
    train_epoch: _EpochsOption = None,
    test_epoch: _EpochsOption = None,
    truth_degree: _DegreeOption = None,
    prior_degree: _DegreeOption = None,
    workers: Annotated[
        int | None, typer.Option(help="od: processes for truth and fits (default: CPUs, <= 4).")
    ] = None,
    days: Annotated[
        float | None, typer.Option(help="Truth span and training horizon (days; default 7).")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the sample, split and model.")] = 0,
    epochs: Annotated[
        int | None, typer.Option(help="Training epochs of the learned part (od 400, sgp4 500).")
    ] = None,
    step_min: Annotated[float, typer.Option(help="Truth sampling step (minutes).")] = 20.0,
    name: Annotated[str | None, typer.Option(help="Registry name (default: orbit-<time>).")] = None,
    satellites: Annotated[int, typer.Option(help="sgp4: satellites in the truth sample.")] = 300,
    time_batch: Annotated[int, typer.Option(help="sgp4: random times per epoch (0: all).")] = 48,
    held_out: _HeldOutOption = 0.1,
    deep_fraction: Annotated[
        float, typer.Option(help="sgp4: fraction of MEO, of GEO and of HEO satellites (each).")
    ] = 0.05,
    ray_address: _RayOption = None,
    ray_workers: Annotated[int, typer.Option(help="sgp4: Ray Train workers.")] = 2,
    plot: Annotated[Path | None, typer.Option(help="sgp4: held-out error plot (PNG).")] = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Train an orbit world model, evaluate it on held-out orbits and epochs, register it.

    Default (``--prior od``, the defaults of ``bench/world_model.py``): generic LEO truth
    (EGM2008, NRLMSISE-00 with observed space weather, Sun, Moon, SRP) at six training epochs
    2001-2019 and three later test epochs with new orbits, one orbit regime never trained on;
    numerical orbit determination on day 1 plus a calibrated residual ensemble; prints the
    stratified held-out table (SGP4 fitted to the same day, the OD prior, the model; median and
    p95 per stratum and horizon). csv/json: one row per stratum, label and horizon (stratum,
    label, horizon_min, n_sat, sgp4_median_km, sgp4_p95_km, prior_median_km, prior_p95_km,
    model_median_km, model_p95_km, median_ratio, p95_ratio, p95_ok)."""
    from starbrain.core import timeconv

    name = name or "orbit-" + str(timeconv.utc_now())[:19].replace(":", "").replace("-", "")
    if prior is TrainPrior.sgp4:
        _train_sgp4_model(
            satellites, days or 7.0, seed, epochs or 500, time_batch, held_out, deep_fraction,
            step_min, name, ray_address, ray_workers, plot,
        )  # fmt: skip
        return
    from starbrain.models.orbit_world import train_config

    try:
        cfg = train_config(
            sats_per_train_epoch=train_sats, sats_per_test_epoch=test_sats, days=days,
            fit_days=None if days is None or days >= 2 else days / 2, seed=seed,
            residual_epochs=epochs, step_min=step_min, truth_degree=truth_degree,
            prior_degree=prior_degree, train_epochs=train_epoch or None,
            test_epochs=test_epoch or None,
        )  # fmt: skip
    except ValueError as exc:
        raise StarbrainError(f"model train: {exc}") from exc
    _train_od_model(cfg, name, workers, fmt)


_OD_FIELDS = ("stratum", "label", "horizon_min", "n_sat", "sgp4_median_km", "sgp4_p95_km",
              "prior_median_km", "prior_p95_km", "model_median_km", "model_p95_km",
              "median_ratio", "p95_ratio", "p95_ok")  # fmt: skip


def _check_od_config(cfg: Any) -> None:
    """The option ranges of ``model train --prior od`` (a StarbrainError naming the option)."""
    if cfg.sats_per_train_epoch < 2 or cfg.sats_per_test_epoch < 1:
        raise StarbrainError("--train-sats must be at least 2 and --test-sats at least 1")
    if not 0 < cfg.days <= 14:
        raise StarbrainError("--days must be in (0, 14]")
    if cfg.step_min <= 0 or cfg.residual.epochs < 1:
        raise StarbrainError("--step-min and --epochs must be positive")


def _train_od_model(cfg: Any, name: str, workers: int | None, fmt: OutputFormat) -> None:
    """Run :func:`~starbrain.models.orbit_world.run_world_model` with a progress bar, register
    the result (with its validity domain) and print the stratified held-out table."""
    from rich.progress import TaskID

    from starbrain.models.orbit_world import run_world_model
    from starbrain.models.registry import register_od_model

    _check_od_config(cfg)
    n_epochs = len(cfg.train_epochs) + len(cfg.test_epochs)
    with _progress("world model: truth, SGP4 and OD fits", total=n_epochs + 1) as (bar, k):
        task = TaskID(k)

        def say(message: str) -> None:
            bar.update(task, description=message)
            if not err_console.is_terminal:  # logs get the stages as lines
                err_console.print(f"model train: {message}", highlight=False)
            if "done (" in message or message.startswith("training"):
                bar.advance(task)

        result = run_world_model(cfg, progress=say, workers=workers)
    with _open_store() as store:
        register_od_model(
            store, name, result.model, truth_force_model_json=result.truth_force_model,
            train_config=cfg.to_dict(), metrics=result.metrics(),
        )  # fmt: skip
    _emit(result.table, fmt, lambda: _od_table(result.table), fields=_OD_FIELDS)
    notes = _notes(fmt)
    m = result.model
    used = [f"{d:.2f}" for d, u in zip(m.dt_grid, m.use, strict=True) if u] or ["none"]
    notes.print(f"truth: {result.truth_force_model}", highlight=False)
    notes.print(
        f"prior: {m.prior_name}; residual applied at days after the fit window: "
        f"{', '.join(used)}; 2-sigma coverage per horizon: "
        f"{', '.join(f'{c:.2f}' for c in result.coverage)}", highlight=False,
    )  # fmt: skip
    notes.print("seconds: " + ", ".join(f"{k} {v:.0f}" for k, v in result.seconds.items()))
    notes.print(
        f"registered model [bold]{name}[/] ({m.prior_name}): trained on {result.n_train} "
        f"satellites, {result.n_test} held out, {result.n_fell_back} of them outside the "
        f"trained domain (prior alone)"
    )


def _show_od_model(store: Any, model_id: str) -> bool:
    """``model show`` for an OD world model (issue #14): its prior, valid domain, truth force
    model, training config and stratified held-out table; False if ``model_id`` is another
    kind (or unknown: the caller's loader says so)."""
    from starbrain.models.registry import KIND_ORBIT_OD, list_models, load_od_model

    rows = list_models(store)
    name = str(rows[0]["name"]) if model_id == "latest" and rows else model_id
    mine = [r for r in rows if r["name"] == name]
    if not mine or mine[0]["kind"] != KIND_ORBIT_OD:
        return False
    model, row = load_od_model(store, name)
    data = json.loads(row["data_json"] or "{}")
    console.print(f"[bold]{row['name']}[/]  ({row['kind']})", highlight=False)
    console.print(f"created: {row['created']}  prior: {model.prior_name}", highlight=False)
    d = model.domain
    console.print(f"valid for orbit regimes: {', '.join(d.regimes)}; up to "
                  f"{d.max_dt_days:g} days after the {model.fit_days:g}-day fit window; "
                  f"trained on epochs {d.epoch_range[0]} .. {d.epoch_range[1]}",
                  highlight=False)  # fmt: skip
    fm = json.dumps(data.get("truth_force_model"), sort_keys=True)
    console.print(f"truth force model: {fm}", highlight=False)
    console.print(f"training config: {json.dumps(data.get('train_config'))}", highlight=False)
    stratified = (row["metrics"] or {}).get("stratified") or []
    if stratified:
        _show(_od_table(stratified))
    return True


def _od_table(rows: list[dict[str, Any]]) -> Table:
    """The stratified held-out table: SGP4, OD prior and model, median and p95 [m]."""
    from rich.table import Table

    table = Table(title="held-out orbits and epochs: position error vs truth "
                  "(ratio = model / SGP4)")  # fmt: skip
    for col in (
        "stratum",
        "label",
        "n",
        "horizon",
        "SGP4 median",
        "SGP4 p95",
        "OD median",
        "OD p95",
        "model median",
        "model p95",
        "median ratio",
        "p95 ratio",
        "p95",
    ):
        table.add_column(col, justify="left" if col in ("stratum", "label") else "right")
    for r in rows:
        table.add_row(
            r["stratum"], r["label"], str(r["n_sat"]), _horizon(r["horizon_min"]),
            *(f"{r[k] * 1e3:,.0f} m" for k in ("sgp4_median_km", "sgp4_p95_km",
              "prior_median_km", "prior_p95_km", "model_median_km", "model_p95_km")),
            f"{r['median_ratio']:.3f}", f"{r['p95_ratio']:.3f}",
            "ok" if r["p95_ok"] else "WORSE",
        )  # fmt: skip
    return table


def _train_sgp4_model(
    satellites: int, days: float, seed: int, epochs: int, time_batch: int, held_out: float,
    deep_fraction: float, step_min: float, name: str, ray_address: str | None,
    ray_workers: int, plot: Path | None,
) -> None:  # fmt: skip
    """``--prior sgp4``: full-force truth, SGP4 priors, the residual network (models.
    orbit_model), evaluated on held-out satellites and registered."""
    import numpy as np

    fractions = _checked_train_options(satellites, days, held_out, deep_fraction)
    truth, arcs = _truth_and_priors(satellites, days, seed, fractions, step_min, ray_address)
    n_test = max(1, round(held_out * satellites))
    train, test = arcs.split(n_test, seed=seed)
    model, history = _train_with_progress(
        train, epochs, days, seed, time_batch, ray_address, ray_workers
    )
    evaluation = _evaluate_groups(model, test)
    metrics = {
        "held_out": evaluation,
        "training": {k: history[k] for k in ("seconds", "n_train", "device", "loss_kind",
                                             "initial_loss", "final_loss")},
        "prior_fit_rms_km_median": float(arcs.fit_rms_km.nanmedian()),
    }  # fmt: skip
    perm = np.random.default_rng(seed).permutation(satellites)
    recipe = {
        "satellites": satellites, "seed": seed, "fractions": fractions, "days": days,
        "step_min": step_min, "held_out": sorted(int(i) for i in perm[:n_test]),
    }  # fmt: skip
    _register_trained(name, model, truth, metrics, recipe, history, evaluation, len(test.elements))
    if plot is not None:
        from starbrain.report.orbit_model import plot_errors

        plot_errors(model, test, plot)
        err_console.print(f"wrote {plot}")


def _checked_train_options(
    satellites: int, days: float, held_out: float, deep_fraction: float
) -> dict[str, Any]:
    """``model train``'s ranges checked (a StarbrainError naming the option); the deep-space
    fractions for :func:`starbrain.models.truth.sample_elements`."""
    if satellites < 10:
        raise StarbrainError("--satellites must be at least 10")
    if not 0 < days <= 14:
        raise StarbrainError("--days must be in (0, 14]")
    if not 0 < held_out < 0.9:
        raise StarbrainError("--held-out must be in (0, 0.9)")
    if not 0 <= deep_fraction <= 0.2:
        raise StarbrainError("--deep-fraction must be in [0, 0.2]")
    return {"meo_fraction": deep_fraction, "geo_fraction": deep_fraction,
            "heo_fraction": deep_fraction}  # fmt: skip


def _truth_and_priors(
    satellites: int,
    days: float,
    seed: int,
    fractions: dict[str, Any],
    step_min: float,
    ray_address: str | None,
) -> tuple[Any, Any]:
    """Full-force truth for the fixed-seed sample, and SGP4 priors fitted to day 1 of each arc."""
    from starbrain.models.orbit_model import fit_priors
    from starbrain.models.truth import generate_truth, sample_elements

    elements = sample_elements(satellites, seed=seed, **fractions)
    truth = generate_truth(
        elements, days=days, step_min=step_min, shards=max(1, satellites // 100),
        ray_address=ray_address, description=f"truth: {satellites} satellites x {days:g} d",
    )  # fmt: skip
    with err_console.status("fitting SGP4 priors to day 1 of each arc"):
        arcs = fit_priors(truth, fit_days=min(1.0, days / 2))
    return truth, arcs


def _train_with_progress(
    train: Any,
    epochs: int,
    days: float,
    seed: int,
    time_batch: int,
    ray_address: str | None,
    ray_workers: int,
) -> tuple[Any, dict[str, Any]]:
    """The residual model trained on ``train`` with a progress bar, in process or on Ray."""
    from rich.progress import TaskID

    from starbrain.models.orbit_model import OrbitModelConfig, train_orbit_model

    cfg = OrbitModelConfig(epochs=epochs, horizon_min=days * 1440.0, seed=seed,
                           fit_days=min(1.0, days / 2), time_batch=time_batch)  # fmt: skip
    with _progress(f"training on {len(train.elements)} satellites", total=epochs) as (bar, k):
        task = TaskID(k)
        return train_orbit_model(
            train, cfg, callback=lambda _e, _l: bar.advance(task),
            ray_address=ray_address, ray_workers=ray_workers,
        )  # fmt: skip


def _register_trained(
    name: str,
    model: Any,
    truth: Any,
    metrics: dict[str, Any],
    recipe: dict[str, Any],
    history: dict[str, Any],
    evaluation: Any,
    n_test: int,
) -> None:
    """Register the trained model in the store and print its held-out evaluation."""
    from starbrain.models.registry import register_model

    with _open_store() as store:
        register_model(store, name, model, truth, metrics, data={"recipe": recipe},
                       device=history["device"])  # fmt: skip
    _print_evaluation(evaluation)
    console.print(
        f"registered model [bold]{name}[/]: trained on {history['n_train']} satellites in "
        f"{history['seconds']:.0f} s on {history['device']}, {n_test} held out"
    )


@model_app.command("list")
def model_list(fmt: FormatOption = OutputFormat.table) -> None:
    """Registered models, newest first.

    csv/json: the models schema's fields but the weights (name, created, kind, device,
    data_fingerprint, config_json, data_json, metrics_json, JSON kept as the stored text), plus
    n_train and median_ratio_7d (held-out 7-day median error, model / SGP4) from the metrics."""
    from rich.table import Table

    from starbrain.models.registry import list_models

    with _open_store(read_only=True) as store:
        rows = list_models(store)
    if not rows and fmt is OutputFormat.table:
        console.print("no models registered yet: run starbrain model train")
        return
    table = Table(title=f"{len(rows)} registered models")
    for col in ("name", "created", "kind", "device", "trained on", "7 d ratio", "data"):
        table.add_column(col)
    for r in rows:
        m = r["metrics"] or {}
        hz = {x["horizon_min"]: x for x in (m.get("held_out") or {}).get("all", [])}
        ratio = f"{hz[10080.0]['median_ratio']:.2f}" if 10080.0 in hz else "-"
        n = (m.get("training") or {}).get("n_train", "-")
        table.add_row(
            r["name"], str(r["created"])[:19], r["kind"], r["device"], str(n), ratio,
            (r["data_fingerprint"] or "-")[:12],
        )  # fmt: skip
    fields = ("name", "created", "kind", "device", "n_train", "median_ratio_7d",
              "data_fingerprint", "config_json", "data_json", "metrics_json")  # fmt: skip
    records = []
    for r in rows:
        m = r["metrics"] or {}
        hz = {x["horizon_min"]: x for x in (m.get("held_out") or {}).get("all", [])}
        records.append(
            {**r, "n_train": (m.get("training") or {}).get("n_train"),
             "median_ratio_7d": hz[10080.0]["median_ratio"] if 10080.0 in hz else None,
             "metrics_json": None if r["metrics"] is None else json.dumps(r["metrics"])}
        )  # fmt: skip
    _emit(records, fmt, table, fields=fields)
    if not rows:
        _notes(fmt).print("no models registered yet: run starbrain model train")


@model_app.command("show")
def model_show(
    model_id: Annotated[str, typer.Argument(metavar="ID", help="Model name, or 'latest'.")],
) -> None:
    """A model's config, training-data fingerprint and physics, metrics, device and time."""
    from starbrain.models.registry import load_model

    with _open_store(read_only=True) as store:
        if _show_od_model(store, model_id):
            return
        model, row = load_model(store, model_id)
    console.print(f"[bold]{row['name']}[/]  ({row['kind']})", highlight=False)
    console.print(f"created: {row['created']}  device: {row['device']}", highlight=False)
    n_param = sum(p.numel() for p in model.parameters())
    console.print(f"config ({n_param} parameters): {row['config_json']}", highlight=False)
    console.print(f"training data fingerprint: {row['data_fingerprint']}", highlight=False)
    data = json.loads(row["data_json"] or "{}")
    fm = data.get("force_model")
    if fm is not None:
        console.print(f"truth force model: {json.dumps(fm, sort_keys=True)}", highlight=False)
        console.print(
            f"truth: {data.get('n_sat')} satellites, {data.get('n_time')} samples every "
            f"{data.get('step_min')} min from {data.get('epoch')}",
            highlight=False,
        )
    metrics = row["metrics"] or {}
    training = metrics.get("training")
    if training:
        console.print(
            f"training: {training.get('n_train')} satellites, {training.get('seconds', 0):.0f} s "
            f"on {training.get('device')}, {training.get('loss_kind')} loss "
            f"{training.get('initial_loss', 0):.4f} -> {training.get('final_loss', 0):.4f}",
            highlight=False,
        )
    _print_evaluation(metrics.get("held_out") or {})


@model_app.command("evaluate")
def model_evaluate(
    model_id: Annotated[
        str | None,
        typer.Argument(metavar="[ID]", help="Model name, or 'latest' (optional with --truth)."),
    ] = None,
    plot: Annotated[Path | None, typer.Option(help="Write the error-vs-horizon PNG.")] = None,
    satellites: Annotated[
        int | None,
        typer.Option(help="Evaluate on a new sample of this many satellites instead."),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the new sample (with --satellites).")] = 999,
    days: Annotated[float | None, typer.Option(help="Truth span (default: the model's).")] = None,
    truth: Annotated[
        list[Path] | None,
        typer.Option(help="Your truth: OEM (KVN/XML) or SP3 file(s), gzip read; repeatable."),
    ] = None,
    from_store: Annotated[
        list[str] | None,
        typer.Option(
            "--from-store",
            metavar="ID",
            help="Truth from the store's ephemeris (ephemeris load): object id or NORAD number; "
            "repeatable or comma-separated.",
        ),
    ] = None,
    fit_hours: Annotated[
        float, typer.Option(help="Fit SGP4 to each truth arc's first H hours (with --truth).")
    ] = 24.0,
    horizons: Annotated[
        str, typer.Option(help="Horizons, hours since each arc's start, comma-separated.")
    ] = "1,6,24,72,168",
    model_opt: Annotated[
        str | None,
        typer.Option("--model", help="Also evaluate this model, either kind (with --truth)."),
    ] = None,
    bstar: Annotated[
        float | None, typer.Option(help="SGP4 baseline: hold B* fixed (1/earth radii).")
    ] = None,
    bstar_bounds: Annotated[
        str | None, typer.Option(metavar="LO,HI", help="SGP4 baseline: fit B* in [LO, HI].")
    ] = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Median and p95 position error vs horizon on satellites never used in training, SGP4
    alone vs SGP4 + model (default: the model's own held-out satellites, truth regenerated).

    With --truth / --from-store: on your own ephemerides instead. SGP4 elements are fitted to
    the first --fit-hours of each object's arc (epoch: its first state) and compared with the
    truth at each horizon (the truth state nearest it, within the arc's step), in TEME: OEM
    frames per REF_FRAME (TEME, GCRF/EME2000, ITRF), SP3 as ITRF (IGS). An SGP4 + residual
    model corrects the fitted SGP4; an OD world model's prior is numerical OD on the same
    window of the truth, its residual applied in its domain (else the prior alone: fell back).
    csv/json: horizon_h, n_objects, sgp4_median_km, sgp4_p95_km; with a model prior,
    n_fell_back (prior_median_km, prior_p95_km for an OD model), model_median_km,
    model_p95_km, median_ratio."""
    if truth or from_store:
        if model_id is not None and model_opt is not None and model_id != model_opt:
            raise StarbrainError(f"two models named: {model_id} and --model {model_opt}")
        from starbrain.cli._truth_eval import evaluate_truth

        evaluate_truth(truth or [], from_store or [], fit_hours, horizons,
                       model_opt or model_id, plot, fmt, bstar, bstar_bounds)  # fmt: skip
        return
    if model_id is None:
        raise StarbrainError("name a model (ID, or 'latest'), or give --truth FILE")
    _evaluate_held_out(model_id, satellites, seed, days, plot, fmt)


def _evaluate_held_out(
    model_id: str, satellites: int | None, seed: int, days: float | None, plot: Path | None,
    fmt: OutputFormat,
) -> None:  # fmt: skip
    """``model evaluate ID`` without --truth: an SGP4 + residual model on its held-out
    satellites (truth regenerated from its recipe) or on a new sample of ``satellites``."""
    from starbrain.models.orbit_model import fit_priors
    from starbrain.models.registry import load_model
    from starbrain.models.truth import generate_truth, sample_elements
    from starbrain.report.orbit_model import plot_errors

    with _open_store(read_only=True) as store:
        model, row = load_model(store, model_id)
    data = json.loads(row["data_json"] or "{}")
    span = days or model.config.horizon_min / 1440.0
    if satellites is not None:
        recipe = data.get("recipe") or {}
        elements = sample_elements(satellites, seed=seed, **recipe.get("fractions", {}))
        truth_set = generate_truth(elements, days=span, step_min=20.0, description="truth")
    else:
        truth_set = _held_out_truth(data, span)
    with err_console.status("fitting SGP4 priors"):
        arcs = fit_priors(truth_set, fit_days=model.config.fit_days)
    evaluation = _evaluate_groups(model, arcs)
    _notes(fmt).print(f"model [bold]{row['name']}[/] (created {row['created']})", highlight=False)
    _print_evaluation(evaluation, fmt)
    if plot is not None:
        plot_errors(model, arcs, plot, title=f"{row['name']}, held-out satellites")
        err_console.print(f"wrote {plot}")


@app.command("predict")
def predict_command(
    norad: Annotated[
        list[str],
        typer.Option(
            metavar="NORAD",
            help="Catalogue number(s) with a stored element set: repeatable or comma-separated.",
        ),
    ],
    hours: Annotated[float, typer.Option(help="Prediction span (hours).")] = 72.0,
    step_min: Annotated[float, typer.Option(help="Output step (minutes).")] = 10.0,
    model_id: Annotated[
        str, typer.Option("--model", help="'latest', a model name, or 'sgp4' (no model).")
    ] = "latest",
    start: Annotated[
        str | None,
        typer.Option(
            "--from", help="Start, ISO 8601 UTC (default: the newest of the element sets' epochs)."
        ),
    ] = None,
    frame: Annotated[
        PredictFrame, typer.Option(case_sensitive=False, help="Output frame.")
    ] = PredictFrame.teme,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write all states (.csv or .parquet).")
    ] = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Predict satellites' states with the orbit world model (SGP4 + learned residual), all
    objects on one UTC grid in one batched propagation.

    The table samples about a dozen states per object; csv/json carry every state: norad_id,
    time, minutes_since_epoch, x_km, y_km, z_km, vx_kmps, vy_kmps, vz_kmps, in --frame (TEME,
    GCRS, or ITRF with polar motion; rows object by object)."""
    from starbrain.cli._predict import parse_norads, predict_model, predict_table, states_view

    ids = parse_norads(norad)
    if not 0 < hours <= 24 * 30:
        raise StarbrainError("--hours must be in (0, 720]")
    if step_min <= 0 or len(ids) * hours * 60 / step_min > 1_000_000:
        raise StarbrainError("--step-min must be positive and give at most a million states")
    with _open_store(read_only=True) as store:
        elements = _elements_for(store, ids)
        propagator, used = predict_model(store, model_id)
    order = {n: k for k, n in enumerate(elements.column("norad_id").to_pylist())}
    elements = elements.take([order[n] for n in ids])
    epochs = elements.column("epoch").to_numpy().astype("datetime64[ns]")
    t0 = _time_option(start, epochs.max(), "--from")
    table = predict_table(elements, propagator, t0, hours, step_min, frame)
    err_console.print(f"model used: {used}", highlight=False)
    t_max = float(table.column("minutes_since_epoch").to_numpy().max())
    horizon = getattr(getattr(getattr(propagator, "model", None), "config", None),
                      "horizon_min", None)  # fmt: skip
    if horizon is not None and t_max > horizon:
        err_console.print(
            f"[yellow]note:[/] beyond {horizon / 1440:g} days from the epoch the "
            "model extrapolates its training horizon"
        )
    if output is not None:
        _write_table(table, output, "states")
    _emit(table, fmt, states_view(table, frame, used, max(2, 12 // len(ids))))
