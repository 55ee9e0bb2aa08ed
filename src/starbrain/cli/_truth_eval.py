"""``starbrain model evaluate --truth FILE... / --from-store ID...``: the orbit prior (and a
registered model: SGP4 + residual, or the OD world model) evaluated on the user's own
ephemerides; the work is :func:`starbrain.models.truth_eval.evaluate_on_truth`, this module
reads the options, loads the model and prints (per object: which prior, whether it fell back)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from starbrain.cli._common import (
    MAX_ERRORS_SHOWN,
    OutputFormat,
    _emit,
    _notes,
    _open_store,
    err_console,
)
from starbrain.core.errors import StarbrainError

__all__ = ["evaluate_truth"]


def _hours_list(text: str) -> list[float]:
    """--horizons: positive hours, comma-separated."""
    try:
        hours = [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise StarbrainError(f"--horizons {text!r}: expected hours, e.g. 1,6,24,72") from None
    if not hours or not all(0 < h < 1e5 for h in hours):
        raise StarbrainError(f"--horizons {text!r}: need positive hours, e.g. 1,6,24,72")
    return sorted(set(hours))


def _store_truth(ids: list[str]) -> tuple[list[Any], list[Any]]:
    """Truth arcs of the store's ephemeris stream for object ids (or names) ``ids``."""
    from starbrain.models.truth_eval import truth_arcs
    from starbrain.sources.records import RecordError

    wanted = [x.strip() for text in ids for x in text.split(",") if x.strip()]
    with _open_store(read_only=True) as store:
        marks = ", ".join("?" * len(wanted))
        table = store.read("ephemeris", where=f"object_id IN ({marks}) OR object_name IN "
                           f"({marks})", params=[*wanted, *wanted])  # fmt: skip
    arcs, errors = truth_arcs(table)
    found = {a.object_id for a in arcs} | set(table.column("object_name").to_pylist())
    found |= set(table.column("object_id").to_pylist())
    for x in wanted:
        if x not in found:
            errors.append(RecordError("store", f"no ephemeris stored for object {x} (starbrain "
                                      "ephemeris load FILE)", field="object_id"))  # fmt: skip
    return arcs, errors


def _eval_model(model_id: str) -> tuple[Any, str]:
    """The registered model ``model_id`` (or 'latest') of either kind: an OD world model
    (:class:`~starbrain.models.orbit_od_model.OdWorldModel`) or SGP4 + residual; its name."""
    from starbrain.models.orbit_od_model import OdWorldModel
    from starbrain.models.registry import (
        KIND_ORBIT_OD,
        list_models,
        load_model,
        load_od_model,
        resolve_model_name,
    )

    with _open_store(read_only=True) as store:
        name = resolve_model_name(store, model_id)
        rows = [r for r in list_models(store) if r["name"] == name]  # newest first
        if rows and rows[0]["kind"] == KIND_ORBIT_OD:
            residual, row = load_od_model(store, name)
            return OdWorldModel.from_registry_row(residual, row), str(row["name"])
        model, row = load_model(store, name)
    return model, str(row["name"])


def evaluate_truth(
    files: list[Path],
    store_ids: list[str],
    fit_hours: float,
    horizons: str,
    model_id: str | None,
    plot: Path | None,
    fmt: OutputFormat,
    bstar: float | None = None,
    bstar_bounds: str | None = None,
) -> None:
    """``model evaluate --truth/--from-store``: load, evaluate, print the table, plot."""
    from starbrain.cli.orbits import _bstar_options
    from starbrain.models.truth_eval import evaluate_on_truth, load_truth

    bounds = _bstar_options(None, bstar, bstar_bounds)
    hours = _hours_list(horizons)
    if not 0 < fit_hours <= 24 * 30:
        raise StarbrainError("--fit-hours must be in (0, 720]")
    arcs, errors = load_truth(files)
    if store_ids:
        more, bad = _store_truth(store_ids)
        arcs, errors = arcs + more, errors + bad
    model, name = _eval_model(model_id) if model_id is not None else (None, None)
    for err in errors[:MAX_ERRORS_SHOWN]:
        err_console.print(f"  [red]bad input[/] {err}", highlight=False)
    ev = evaluate_on_truth(arcs, fit_hours=fit_hours, horizons_h=hours, model=model,
                           bstar=bstar, bstar_bounds=bounds, errors=[])  # fmt: skip
    for err in ev.errors[:MAX_ERRORS_SHOWN]:
        err_console.print(f"  [red]not evaluated[/] {err}", highlight=False)
    _print_objects(ev, fmt)
    _print_truth_rows(ev.rows(), name, fit_hours, fmt)
    if plot is not None:
        from starbrain.report.orbit_model import plot_truth_evaluation

        plot_truth_evaluation(ev, plot, title=f"your truth, SGP4 fitted to {fit_hours:g} h")
        err_console.print(f"wrote {plot}")


def _print_objects(ev: Any, fmt: OutputFormat) -> None:
    """One line per evaluated object: the SGP4 fit and, with a model, which prior the model
    used (the OD prior's own fit RMS) and whether it fell back to it alone (and why)."""
    notes = _notes(fmt)
    for k, oid in enumerate(ev.object_ids):
        rms, b = ev.fit_rms_km[k] * 1e3, ev.bstar[k]
        text = (f"{oid} ({ev.sources[k]}): SGP4 fitted to {ev.n_fit[k]} states of the first "
                f"{ev.fit_hours:g} h, RMS {rms:.2f} m, B* {b:.4g}")  # fmt: skip
        if ev.priors:
            text += f"; model prior {ev.priors[k]}"
            if ev.prior_fit_rms_km is not None:
                text += f" (fit RMS {ev.prior_fit_rms_km[k] * 1e3:.2f} m)"
            back = ev.fell_back is not None and bool(ev.fell_back[k])
            text += f", fell back: {'yes (' + ev.reasons[k] + ')' if back else 'no'}"
        notes.print(text, highlight=False)


def _print_truth_rows(
    rows: list[dict[str, Any]], model_name: str | None, fit_hours: float, fmt: OutputFormat
) -> None:
    """The per-horizon table of :func:`_evaluate_truth` (position error vs your truth)."""
    from rich.table import Table

    from starbrain.cli.model import _horizon

    title = f"position error vs your truth, SGP4 fitted to the first {fit_hours:g} h"
    od = bool(rows) and "prior_median_km" in rows[0]
    if model_name:
        prior = rows[0]["prior"] if rows else "?"
        title += f", model {model_name} (prior {prior}; ratio = model / SGP4 median)"
    table = Table(title=title)
    cols = ["horizon", "n", "SGP4 median", "SGP4 p95"]
    cols += ["OD prior median", "OD prior p95"] if od else []
    cols += ["fell back", "model median", "model p95", "ratio"] if model_name else []
    for col in cols:
        table.add_column(col, justify="right")
    for r in rows:
        cells = [_horizon(r["horizon_h"] * 60.0), str(r["n_objects"]),
                 _metres(r["sgp4_median_km"]), _metres(r["sgp4_p95_km"])]  # fmt: skip
        if od:
            cells += [_metres(r["prior_median_km"]), _metres(r["prior_p95_km"])]
        if model_name:
            cells += [str(r["n_fell_back"]), _metres(r["model_median_km"]),
                      _metres(r["model_p95_km"]), f"{r['median_ratio']:.2f}"]  # fmt: skip
        table.add_row(*cells)
    _emit(rows, fmt, table)


def _metres(km: float) -> str:
    """A distance for the table: metres, with mm below 10 m."""
    m = km * 1e3
    return f"{m:,.3f} m" if m < 10 else f"{m:,.0f} m"
