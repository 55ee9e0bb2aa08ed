"""/api/passes takes ``model=latest|NAME|sgp4`` as the CLI's ``--model`` and says which
propagator produced the passes (issue #13), on a real store served by uvicorn.

Reference: the planner itself (``find_passes``) on the same element sets with the registered
model's :class:`~starbrain.planners.propagator.WorldModelPropagator` (culminations within 1 ms,
maximum elevations within 0.01 deg, the response's rounding), and with SGP4 for ``model=sgp4``.
The model has a deliberately non-zero residual (as ``tests/test_cli_planner_model.py``), so its
passes differ from SGP4's (two days after the epoch: culminations by a median of 42 ms;
asserted over 20 ms)."""

from __future__ import annotations

from pathlib import Path

import httpx
import numpy as np
import pytest
import torch

from starbrain.console.app import create_app
from tests.console.conftest import FIRST_NORAD, make_store, serve_app

START = "2026-11-27T06:00:00"  # two days after the conftest's epoch


def _model():
    from starbrain.models.orbit_model import OrbitWorldModel

    model = OrbitWorldModel()
    gen = torch.Generator().manual_seed(11)
    with torch.no_grad():
        model.mlp[-1].bias.copy_(torch.randn(model.mlp[-1].bias.shape, generator=gen) * 3.0)
    return model.eval()


def _ns(iso: str | None) -> int:
    """ISO with Z -> ns since 1970; None -> NaT's integer, as ``datetime64`` NaT casts."""
    t = np.datetime64("NaT", "ns") if iso is None else np.datetime64(iso.rstrip("Z"), "ns")
    return int(t.astype(np.int64))


def test_passes_take_the_registered_model(tmp_path: Path) -> None:
    from starbrain.models.registry import register_model
    from starbrain.planners.passes import GroundStation, find_passes, sgp4_propagator
    from starbrain.planners.propagator import WorldModelPropagator, utc_propagate
    from starbrain.store.database import Store

    path = make_store(tmp_path / "store.duckdb")
    model = _model()
    with Store(path) as store:
        register_model(store, "perturbed", model, created="2026-11-20T00:00:00")
        table = store.current_elements()
    params = {"station": "Here:-33.9,18.4,10", "hours": 12, "from": START, "limit": 1000,
              "norad": list(range(FIRST_NORAD, FIRST_NORAD + 30))}  # fmt: skip
    with serve_app(create_app(path)) as url, httpx.Client(base_url=url, timeout=120) as c:
        bodies = {m: c.get("/api/passes", params={**params, **({"model": m} if m else {})})
                  for m in (None, "perturbed", "sgp4", "nope")}  # fmt: skip
    assert bodies["nope"].status_code == 404 and "no model named 'nope'" in bodies["nope"].text
    got = {m: r.json() for m, r in bodies.items() if m != "nope"}
    for m in (None, "perturbed"):
        assert got[m]["propagator"].startswith("world model 'perturbed' (registered 2026-11-20")
    assert got["sgp4"]["propagator"] == "sgp4"

    shell = table.filter(
        (table["norad_id"].to_numpy() >= FIRST_NORAD)
        & (table["norad_id"].to_numpy() < FIRST_NORAD + 30)
    )
    ids = shell.column("norad_id").to_numpy()
    here = [GroundStation("Here", -33.9, 18.4, 0.01)]
    t0, t1 = np.datetime64(START, "ns"), np.datetime64("2026-11-27T18:00:00", "ns")
    refs = {
        "perturbed": find_passes(
            utc_propagate(WorldModelPropagator(model), shell), ids, here, t0, t1,
            min_elevation_deg=10.0,
        ),
        "sgp4": find_passes(sgp4_propagator(shell), ids, here, t0, t1, min_elevation_deg=10.0),
    }  # fmt: skip
    for m, ref_key in ((None, "perturbed"), ("perturbed", "perturbed"), ("sgp4", "sgp4")):
        ref = refs[ref_key]
        rows = got[m]["passes"]
        assert got[m]["total"] == len(ref) == len(rows) > 5
        want = sorted(zip(ref.norad_id.tolist(), ref.culminate.astype(np.int64).tolist(),
                          ref.max_elevation_deg.tolist(), strict=True))  # fmt: skip
        have = sorted(
            (r["norad_id"], _ns(r["culminate"]),
             r["max_elevation_deg"]) for r in rows
        )  # fmt: skip
        for h, w in zip(have, want, strict=True):
            assert h[0] == w[0] and abs(h[1] - w[1]) <= 1_000_000
            assert h[2] == pytest.approx(w[2], abs=0.01)
    shift = [
        np.min(np.abs(refs["perturbed"].culminate[refs["perturbed"].norad_id == n].astype(np.int64)
                      - int(t)))
        for n, t in zip(refs["sgp4"].norad_id, refs["sgp4"].culminate.astype(np.int64), strict=True)
    ]  # fmt: skip
    assert np.median(shift) > 20_000_000  # 20 x the 1 ms matching tolerance (42 ms measured)
