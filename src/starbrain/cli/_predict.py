"""The work behind ``starbrain predict``: several objects on one UTC grid in one batched
propagation (SGP4, or SGP4 + a world model), output in TEME, GCRS or ITRF."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Any

import numpy as np

from starbrain.core.errors import StarbrainError

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["PredictFrame", "parse_norads", "predict_model", "predict_table", "states_view"]


class PredictFrame(StrEnum):
    """``predict --frame``: TEME (SGP4's own frame), GCRS or ITRF."""

    teme = "teme"
    gcrs = "gcrs"
    itrf = "itrf"


def parse_norads(values: list[str]) -> list[int]:
    """``--norad`` values, each a catalogue number or a comma-separated list, in order, without
    repeats; a value that is not one names itself."""
    out: list[int] = []
    for text in values:
        for part in (p.strip() for p in text.split(",")):
            if not part:
                continue
            if not part.isdigit():
                raise StarbrainError(f"--norad {part!r}: not a catalogue number")
            if int(part) not in out:
                out.append(int(part))
    if not out:
        raise StarbrainError("--norad: give at least one catalogue number")
    return out


def predict_table(
    elements: pa.Table,
    propagator: Any,
    start: np.datetime64,
    hours: float,
    step_min: float,
    frame: PredictFrame,
) -> pa.Table:
    """States of every element set of ``elements`` on one UTC grid from ``start`` every
    ``step_min`` minutes for ``hours``: one ``init`` and one batched ``propagate`` of the
    planner :class:`~starbrain.planners.propagator.Propagator` (SGP4, SGP4 + residual, or the OD
    world model; each object at its own minutes since epoch, (n_sat, n_time)), then one frame
    rotation of the whole batch (:mod:`starbrain.physics.frames`: TEME -> GCRS, or TEME -> ITRF
    with polar motion and the Earth-rotation velocity term). States the propagator marks
    invalid are NaN.

    Columns: norad_id, prior (what the states come from: 'sgp4', or the OD model's prior),
    fell_back (the model was outside its domain for that object: its prior alone), time (UTC),
    minutes_since_epoch, x_km, y_km, z_km, vx_kmps, vy_kmps, vz_kmps in ``frame``; object-major
    rows (all times of the first object, then the next)."""
    import pyarrow as pa

    from starbrain.core import timeconv
    from starbrain.physics import frames
    from starbrain.physics.sgp4_init import Sgp4Elements

    grid = np.arange(0.0, hours * 60.0 + 1e-9, step_min)
    times = start + (grid * 60e9).round().astype("timedelta64[ns]")
    epochs = elements.column("epoch").to_numpy().astype("datetime64[ns]")
    t_min = timeconv.minutes_since(times[None, :], epochs[:, None])  # (n_sat, n_time)
    state = propagator.init(Sgp4Elements.from_table(elements, device="cpu"))
    r, v, ok = propagator.propagate(state, t_min)
    r, v = np.where(ok[..., None], r, np.nan), np.where(ok[..., None], v, np.nan)
    if frame is not PredictFrame.teme:
        jd, fr = timeconv.datetime64_to_jd(times)
        rotate = frames.teme_to_gcrs if frame is PredictFrame.gcrs else frames.teme_to_itrf
        r_out, v_out = rotate(r, v, jd, fr)
        r, v = np.asarray(r_out), np.asarray(v_out)
    n_sat, n_time = t_min.shape
    prior, fell_back = _provenance(propagator, n_sat)
    ids = elements.column("norad_id").to_numpy()
    return pa.table(
        {
            "norad_id": pa.array(np.repeat(ids, n_time), pa.int32()),
            "prior": pa.array(np.repeat(prior, n_time), pa.string()),
            "fell_back": pa.array(np.repeat(fell_back, n_time), pa.bool_()),
            "time": pa.array(np.tile(times, n_sat), pa.timestamp("ns", tz="UTC")),
            "minutes_since_epoch": t_min.reshape(-1),
            **{f"{c}_km": r[..., k].reshape(-1) for k, c in enumerate("xyz")},
            **{f"v{c}_kmps": v[..., k].reshape(-1) for k, c in enumerate("xyz")},
        }
    )


def _provenance(propagator: Any, n_sat: int) -> tuple[np.ndarray, np.ndarray]:
    """Per object (n_sat,): the prior's name and whether the model fell back to it, from the
    OD world model's ``last_info``; 'sgp4' and False for SGP4 and SGP4 + residual (whose prior
    is SGP4 and which never fall back)."""
    info = getattr(propagator, "last_info", None)
    if info is None:
        return np.full(n_sat, "sgp4", dtype=object), np.zeros(n_sat, dtype=bool)
    return np.full(n_sat, info.prior, dtype=object), np.asarray(info.fell_back, dtype=bool)


def states_view(table: pa.Table, frame: PredictFrame, used: str, rows_per_object: int) -> Any:
    """A rich table sampling about ``rows_per_object`` states of each object (first and last
    included) of a :func:`predict_table` result."""
    from rich.table import Table

    ids = table.column("norad_id").to_numpy()
    objects = list(dict.fromkeys(ids.tolist()))
    what = f"NORAD {objects[0]}" if len(objects) == 1 else f"{len(objects)} objects"
    view = Table(title=f"{what}: {frame.value.upper()} states, {used}")
    for col in ("NORAD", "prior", "fell back", "time (UTC)", "x km", "y km", "z km", "|v| km/s"):
        view.add_column(col, justify="right")
    prior = table.column("prior").to_pylist()
    fell = table.column("fell_back").to_pylist()
    times = table.column("time").to_numpy().astype("datetime64[ns]")
    r = np.column_stack([table.column(f"{c}_km").to_numpy() for c in "xyz"])
    v = np.column_stack([table.column(f"v{c}_kmps").to_numpy() for c in "xyz"])
    speed = np.linalg.norm(v, axis=1)
    n_time = len(ids) // len(objects)
    every = max(1, n_time // rows_per_object)
    picks = list(range(0, n_time, every))[:rows_per_object]
    picks += [] if picks[-1] == n_time - 1 else [n_time - 1]
    for k, norad in enumerate(objects):
        for i in picks:
            j = k * n_time + i
            view.add_row(str(norad), prior[j], "yes" if fell[j] else "no", str(times[j])[:19],
                         *(f"{x:,.3f}" for x in r[j]), f"{speed[j]:.4f}")  # fmt: skip
    return view


def predict_model(store: Any, model_id: str) -> tuple[Any, str]:
    """``predict --model``: (the planner propagator, what was used, in words) through
    :func:`~starbrain.planners.propagator.resolve_propagator` (either kind of registered world
    model); 'latest' with no model registered is SGP4 alone, said so."""
    from starbrain.planners.propagator import Sgp4Propagator, resolve_propagator

    if model_id == "sgp4":
        return Sgp4Propagator(), "SGP4 alone (no learned correction)"
    propagator = resolve_propagator(store, None if model_id == "latest" else model_id)
    if isinstance(propagator, Sgp4Propagator):
        return propagator, "SGP4 alone: no trained model in the store (starbrain model train)"
    return propagator, str(propagator.name)
