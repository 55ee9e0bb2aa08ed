"""The avoidance planner takes the one :class:`~starbrain.planners.propagator.Propagator`, and
``conjunctions avoid`` takes ``--model latest|NAME|sgp4`` like ``passes``, ``contacts plan`` and
``route`` (issue #13).

Scenario: the head-on pair of ``test_avoidance`` (~55 m miss at ~15 km/s, 5 h after the epoch)
among 40 Starlink-like objects, screened over 12 h and stored; a world model with a deliberately
non-zero residual (the ``perturbed`` model of ``tests/test_cli_planner_model.py``) registered in
the store. References and tolerances:

* What the command prints with ``--model NAME`` (and with no ``--model``: the latest registered
  model) is the summary of :func:`~starbrain.planners.avoidance.avoid` handed that model's
  :class:`~starbrain.planners.propagator.WorldModelPropagator` on the same stored conjunctions
  (exact text: every printed number agrees to its printed precision); ``--model sgp4`` prints
  the plan of ``avoid`` with no propagator.
* The model changes the verification: on the same conjunction, the Pc after the burn differs from
  SGP4's by more than 1% (measured 5.5e-5 against 5.0e-5) and the element fit's RMS from 0.3 m
  to some 8 m (the model's corrected orbit is not exactly an SGP4 orbit).
* An untrained model (zero output layer: exactly SGP4) through the new propagator path plans the
  burn SGP4 plans: burn within 1e-6 relative, Pc after and miss after within 1e-6 relative.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from typer.testing import CliRunner

from starbrain.cli import app
from starbrain.planners.avoidance import avoid
from starbrain.planners.propagator import WorldModelPropagator
from starbrain.sources.generators.constellation import generate_preset
from starbrain.store.database import Store
from tests.planners.conjunction_helpers import EPOCH, head_on_pairs
from tests.test_cli_planner_model import _model

MEET_S = 5 * 3600.0 + 17.0
OWN = 250_001  # the first object of the head-on pair (the one that burns)


def _population() -> pa.Table:
    pair = head_on_pairs(
        np.array([MEET_S]), np.array([550.0]), np.array([53.0]), np.array([40.0]),
        np.array([70.0]), np.array([0.06]),
    )  # fmt: skip
    return pa.concat_tables([pair, generate_preset("starlink-gen1", epoch=EPOCH).slice(0, 40)])


def _invoke(*args: str) -> str:
    out = CliRunner().invoke(app, list(args))
    assert out.exit_code == 0, (out.output, out.exception)
    return " ".join(out.output.split())


@pytest.fixture
def screened(store_path: Path):
    """The store after ``conjunctions screen`` (SGP4) of the population, the perturbed model
    registered: (stored conjunctions, current elements, the model)."""
    from starbrain.models.registry import register_model
    from starbrain.store.queries import latest_conjunctions

    model = _model(11)
    with Store(store_path) as store:
        store.append("elements", _population(), source="test")
        register_model(store, "perturbed", model, created="2024-07-01T00:00:00")
    _invoke("conjunctions", "screen", "--from", str(EPOCH)[:16], "--days", "0.5",
            "--model", "sgp4", "--format", "json")  # fmt: skip
    with Store(store_path) as store:
        conjunctions = latest_conjunctions(store)
        elements = store.current_elements()
    assert conjunctions.num_rows > 0
    return conjunctions, elements, model


def test_avoid_takes_the_model(screened) -> None:
    conjunctions, elements, model = screened
    args = ["conjunctions", "avoid", str(OWN), "--no-store"]
    by_model = _invoke(*args, "--model", "perturbed")
    latest = _invoke(*args)
    sgp4 = _invoke(*args, "--model", "sgp4")
    assert "propagator: world model 'perturbed'" in by_model
    assert "propagator: world model 'perturbed'" in latest
    assert "propagator: sgp4" in sgp4

    ref_model = avoid(conjunctions, elements, norad_id=OWN, propagator=WorldModelPropagator(model))
    ref_sgp4 = avoid(conjunctions, elements, norad_id=OWN)
    assert ref_model.verified and ref_sgp4.verified
    assert ref_model.propagator == "world model" and ref_sgp4.propagator == "sgp4"
    # the printed plan is the planner's (the label names the registered model)
    want_model = ref_model.summary().split(" (propagated with")[0]
    assert f"{want_model} (propagated with world model 'perturbed'" in by_model
    assert f"{want_model} (propagated with world model 'perturbed'" in latest
    assert ref_sgp4.summary() in sgp4 and "propagated with" not in sgp4
    # the model changes what is verified
    assert abs(ref_model.pc_after / ref_sgp4.pc_after - 1.0) > 0.01
    assert ref_sgp4.fit_rms_km < 0.001 < ref_model.fit_rms_km < 0.02


def test_an_untrained_model_plans_like_sgp4(screened) -> None:
    conjunctions, elements, _ = screened
    ref = avoid(conjunctions, elements, norad_id=OWN)
    got = avoid(conjunctions, elements, norad_id=OWN, propagator=WorldModelPropagator(_model(None)))
    np.testing.assert_allclose(got.dv_rtn_mps, ref.dv_rtn_mps, rtol=1e-6, atol=1e-9)
    assert got.pc_after == pytest.approx(ref.pc_after, rel=1e-6)
    assert got.miss_after_km == pytest.approx(ref.miss_after_km, rel=1e-6)
    assert got.verified and got.n_new_conjunctions == ref.n_new_conjunctions
