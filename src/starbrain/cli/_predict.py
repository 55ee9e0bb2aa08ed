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
    model: Any,
    start: np.datetime64,
    hours: float,
    step_min: float,
    frame: PredictFrame,
) -> pa.Table:
    """States of every element set of ``elements`` on one UTC grid from ``start`` every
    ``step_min`` minutes for ``hours``: one batched call of
    :func:`starbrain.models.orbit_model.predict` (each object at its own minutes since epoch,
    (n_sat, n_time)), then one frame rotation of the whole batch (:mod:`starbrain.physics.frames`:
    TEME -> GCRS, or TEME -> ITRF with polar motion and the Earth-rotation velocity term).

    Columns: norad_id, time (UTC), minutes_since_epoch, x_km, y_km, z_km, vx_kmps, vy_kmps,
    vz_kmps in ``frame``; object-major rows (all times of the first object, then the next)."""
    import pyarrow as pa

    from starbrain.core import timeconv
    from starbrain.models.orbit_model import predict
    from starbrain.physics import frames
    from starbrain.physics.sgp4_init import Sgp4Elements

    grid = np.arange(0.0, hours * 60.0 + 1e-9, step_min)
    times = start + (grid * 60e9).round().astype("timedelta64[ns]")
    epochs = elements.column("epoch").to_numpy().astype("datetime64[ns]")
    t_min = timeconv.minutes_since(times[None, :], epochs[:, None])  # (n_sat, n_time)
    r, v = predict(model, Sgp4Elements.from_table(elements, device="cpu"), t_min)
    if frame is not PredictFrame.teme:
        jd, fr = timeconv.datetime64_to_jd(times)
        rotate = frames.teme_to_gcrs if frame is PredictFrame.gcrs else frames.teme_to_itrf
        r_out, v_out = rotate(r, v, jd, fr)
        r, v = np.asarray(r_out), np.asarray(v_out)
    n_sat, n_time = t_min.shape
    ids = elements.column("norad_id").to_numpy()
    return pa.table(
        {
            "norad_id": pa.array(np.repeat(ids, n_time), pa.int32()),
            "time": pa.array(np.tile(times, n_sat), pa.timestamp("ns", tz="UTC")),
            "minutes_since_epoch": t_min.reshape(-1),
            **{f"{c}_km": r[..., k].reshape(-1) for k, c in enumerate("xyz")},
            **{f"v{c}_kmps": v[..., k].reshape(-1) for k, c in enumerate("xyz")},
        }
    )


def states_view(table: pa.Table, frame: PredictFrame, used: str, rows_per_object: int) -> Any:
    """A rich table sampling about ``rows_per_object`` states of each object (first and last
    included) of a :func:`predict_table` result."""
    from rich.table import Table

    ids = table.column("norad_id").to_numpy()
    objects = list(dict.fromkeys(ids.tolist()))
    what = f"NORAD {objects[0]}" if len(objects) == 1 else f"{len(objects)} objects"
    view = Table(title=f"{what}: {frame.value.upper()} states, {used}")
    for col in ("NORAD", "time (UTC)", "x km", "y km", "z km", "|v| km/s"):
        view.add_column(col, justify="right")
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
            view.add_row(str(norad), str(times[j])[:19], *(f"{x:,.3f}" for x in r[j]),
                         f"{speed[j]:.4f}")  # fmt: skip
    return view


def predict_model(store: Any, model_id: str) -> tuple[Any, str]:
    """``predict --model``: (the loaded model or None for SGP4 alone, what was used, in words);
    'latest' with no model registered is SGP4 alone, said so."""
    if model_id == "sgp4":
        return None, "SGP4 alone (no learned correction)"
    from starbrain.models.registry import load_model

    try:
        model, row = load_model(store, model_id)
    except StarbrainError:
        if model_id != "latest":
            raise
        return None, "SGP4 alone: no trained model in the store (starbrain model train)"
    return model, f"world model {row['name']} (created {str(row['created'])[:19]} UTC)"
