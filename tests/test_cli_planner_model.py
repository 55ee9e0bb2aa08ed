"""``--model latest|NAME|sgp4`` on ``passes``, ``contacts plan`` and ``route``, with a world model
registered in a real store (in-process through Typer's runner).

The registered model has a deliberately non-zero residual (random output-layer biases, as in
``tests/planners/test_conjunctions_shards.py``), so its orbits drift away from SGP4's with the
time since epoch (every correction is 0 at the epoch). References and tolerances:

* What each command prints or writes with ``--model NAME`` equals what the planner gives when it
  is handed that model's :class:`~starbrain.planners.propagator.WorldModelPropagator` through
  :func:`~starbrain.planners.propagator.utc_propagate` (times within 1 ms, elevations within
  1e-6 deg, RTTs within 1 ns), and the default (no ``--model``) is the latest registered model.
* With ``--model sgp4`` the result is SGP4's (the planner with no propagator), and it differs from
  the model's by far more than the tolerances above (culminations by a median over 50 ms
  after two days; ~0.18 s measured), so the option changes
  what is computed.
* An untrained model (zero output layer: exactly SGP4) routes like SGP4 through the new
  ``route(..., propagator=)`` path: path lengths within 1 mm.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
import torch
from typer.testing import CliRunner

from starbrain.cli import app
from starbrain.sources.generators.constellation import WalkerShell, generate
from starbrain.store.database import Store

EPOCH = "2024-07-05"
START = np.datetime64("2024-07-07T00:00", "ns")  # two days after the epoch
TOKYO = "Tokyo:35.6895,139.6917,40"


def _model(bias_seed: int | None):
    from starbrain.models.orbit_model import OrbitWorldModel

    model = OrbitWorldModel()
    if bias_seed is not None:
        last = model.mlp[-1]
        gen = torch.Generator().manual_seed(bias_seed)
        with torch.no_grad():
            last.bias.copy_(torch.randn(last.bias.shape, generator=gen) * 3.0)
    return model.eval()


@pytest.fixture
def registered(store_path: Path):
    """A store with a 24-satellite Walker shell as the catalogue and the model "perturbed"."""
    from starbrain.models.registry import register_model

    shell = WalkerShell(550.0, 53.0, 4, 6, phasing=1)
    model = _model(11)
    with Store(store_path) as store:
        store.append("elements", generate([shell], epoch=EPOCH), source="test")
        register_model(store, "perturbed", model, created="2024-07-01T00:00:00")
        elements = store.current_elements()
    return elements, model


def _invoke(*args: str):
    out = CliRunner().invoke(app, list(args))
    assert out.exit_code == 0, (out.output, out.exception)
    return out


def _json_rows(text: str) -> list[dict]:
    start = text.index("[")
    return json.loads(text[start : text.rindex("]") + 1])


def _ns(iso: str | None) -> int:
    return -1 if iso is None else int(np.datetime64(iso.rstrip("Z"), "ns").astype(np.int64))


def test_passes_take_the_model(registered) -> None:
    from starbrain.planners.passes import GroundStation, find_passes, sgp4_propagator
    from starbrain.planners.propagator import WorldModelPropagator, utc_propagate

    elements, model = registered
    args = ["passes", "--station", TOKYO, "--from", str(START)[:16], "--hours", "12",
            "--limit", "1000", "--format", "json"]  # fmt: skip
    by_model = _invoke(*args, "--model", "perturbed")
    assert "propagator: world model 'perturbed'" in by_model.output
    latest = _invoke(*args)  # default: the latest registered model
    assert "propagator: world model 'perturbed'" in latest.output
    sgp4 = _invoke(*args, "--model", "sgp4")
    assert "propagator: sgp4" in sgp4.output

    station = [GroundStation("Tokyo", 35.6895, 139.6917, 0.04)]
    end = START + np.timedelta64(12, "h")
    ids = elements.column("norad_id").to_numpy()
    kw = dict(min_elevation_deg=10.0)  # the command's default
    ref_model = find_passes(
        utc_propagate(WorldModelPropagator(model), elements), ids, station, START, end, **kw
    )
    ref_sgp4 = find_passes(sgp4_propagator(elements), ids, station, START, end, **kw)
    for out, ref in ((by_model, ref_model), (latest, ref_model), (sgp4, ref_sgp4)):
        rows = _json_rows(out.stdout)
        assert len(rows) == len(ref) > 5
        got = sorted((r["norad_id"], _ns(r["culminate"]), r["max_elevation_deg"]) for r in rows)
        want = sorted(
            zip(ref.norad_id.tolist(), ref.culminate.astype(np.int64).tolist(),
                ref.max_elevation_deg.tolist(), strict=True)
        )  # fmt: skip
        for g, w in zip(got, want, strict=True):
            assert g[0] == w[0] and abs(g[1] - w[1]) <= 1_000_000 and abs(g[2] - w[2]) < 1e-6
    # the model's passes are not SGP4's: each SGP4 culmination against the nearest of the same
    # satellite's culminations with the model
    shift = [
        np.min(np.abs(ref_model.culminate[ref_model.norad_id == n].astype(np.int64) - int(t)))
        for n, t in zip(ref_sgp4.norad_id, ref_sgp4.culminate.astype(np.int64), strict=True)
    ]
    assert np.median(shift) > 50_000_000, shift  # 50 ms: 50 x the matching tolerance


def test_contacts_plan_takes_the_model(registered) -> None:
    from starbrain.planners.contacts import ContactStation, Fleet, contact_problem, plan_greedy
    from starbrain.planners.passes import GroundStation, sgp4_propagator
    from starbrain.planners.propagator import WorldModelPropagator, utc_propagate

    elements, model = registered
    args = ["contacts", "plan", "--station", TOKYO, "--hours", "6", "--from", str(START)[:16],
            "--method", "greedy", "--limit", "1000", "--format", "json"]  # fmt: skip
    site = GroundStation("Tokyo", 35.6895, 139.6917, 0.04)
    stations = [ContactStation(site, 1, 10.0, 100.0, 60.0)]  # the command's defaults
    fleet = Fleet.uniform(elements.column("norad_id").to_numpy(), 30_000.0)
    end = START + np.timedelta64(6, "h")
    for name, propagate in (
        ("perturbed", utc_propagate(WorldModelPropagator(model), elements)),
        ("sgp4", sgp4_propagator(elements)),
    ):
        out = _invoke(*args, "--model", name)
        assert f"propagator: {'sgp4' if name == 'sgp4' else 'world model'}" in out.output
        plan = plan_greedy(contact_problem(propagate, fleet, stations, START, end)).table
        rows = _json_rows(out.stdout)
        assert len(rows) == plan.num_rows > 3
        want = plan.to_pylist()
        starts = plan.column("start").cast(pa.int64()).to_pylist()
        for g, w, t in zip(rows, want, starts, strict=True):
            assert g["norad_id"] == w["norad_id"] and _ns(g["start"]) == t
            assert abs(g["data_mbit"] - w["data_mbit"]) < 1e-6
        if name == "perturbed":
            model_rows = [(r["norad_id"], r["start"], r["data_mbit"]) for r in rows]
        else:
            assert model_rows != [(r["norad_id"], r["start"], r["data_mbit"]) for r in rows]


def test_route_takes_the_model(registered) -> None:
    """``route --catalog`` over the stored shell as a 4x6 grid, from Tokyo to Osaka."""
    from starbrain.planners import routing_networks as rn
    from starbrain.planners.cities import city
    from starbrain.planners.propagator import WorldModelPropagator
    from starbrain.planners.routing import route

    elements, model = registered
    args = ["route", "--from", "Tokyo", "--to", "Osaka:34.6937,135.5023", "--catalog",
            "--norad", "200001-200024", "--grid", "4x6", "--seconds", "600", "--step-ms",
            "10000",
            "--min-elevation", "0", "--start", str(START)[:16], "--format", "json"]  # fmt: skip
    by_model = _invoke(*args, "--model", "perturbed")
    assert "propagated with world model 'perturbed'" in " ".join(by_model.output.split())
    sgp4 = _invoke(*args, "--model", "sgp4")
    assert "propagated with" not in sgp4.output
    order = rn.order_by_plane(elements, 4, 6, at=START)
    network = rn.grid_network(elements.take(order), 4, 6, 0, "the selection")
    src, dst = city("Tokyo"), city("Osaka:34.6937,135.5023")
    kw = dict(step_ms=10000.0, min_elevation_deg=0.0)
    ref_model = route(src, dst, network, START, 600.0, propagator=WorldModelPropagator(model), **kw)
    ref_sgp4 = route(src, dst, network, START, 600.0, **kw)
    assert ref_model.propagator == "world model" and ref_sgp4.propagator == "sgp4"
    for out, ref in ((by_model, ref_model), (sgp4, ref_sgp4)):
        got = np.array([np.nan if r["rtt_ms"] is None else r["rtt_ms"] for r in
                        _json_rows(out.stdout)])  # fmt: skip
        assert np.isfinite(got).sum() > 10
        np.testing.assert_allclose(got, ref.rtt_ms, rtol=0, atol=1e-6)
    ok = np.isfinite(ref_model.rtt_ms) & np.isfinite(ref_sgp4.rtt_ms)
    assert np.max(np.abs(ref_model.rtt_ms[ok] - ref_sgp4.rtt_ms[ok])) > 1e-3
    # an untrained model is exactly SGP4: the propagator path routes like the SGP4 path
    zero = route(
        src, dst, network, START, 600.0, propagator=WorldModelPropagator(_model(None)), **kw
    )
    np.testing.assert_allclose(zero.length_km, ref_sgp4.length_km, rtol=0, atol=1e-6)


def test_unknown_model_is_one_sentence(registered) -> None:
    out = CliRunner().invoke(app, ["passes", "--station", TOKYO, "--model", "nope"])
    assert out.exit_code != 0
    assert "no model named 'nope'" in str(out.exception)
