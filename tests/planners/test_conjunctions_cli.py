"""``starbrain conjunctions screen`` with ``--model`` and ``--shards``, on a real DuckDB store.

The command says which propagator it used: SGP4 when no world model is registered, the newest
registered model by default once one is, SGP4 again with ``--model sgp4``; an unknown model is
one sentence and exit code 1. The zero-residual model finds the conjunctions SGP4 finds.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from typer.testing import CliRunner

from starbrain.cli import app
from starbrain.sources.generators.constellation import WalkerShell, generate

START = "2026-01-01T03:00:00"


@pytest.fixture
def stored(store_path):
    from starbrain.store.database import Store

    shells = generate(
        [
            WalkerShell(550.0, 53.0, 72, 22, phasing=1, name="S1"),
            WalkerShell(560.0, 97.6, 6, 58, phasing=1, name="S4"),
        ],
        epoch=np.datetime64("2026-01-01T00:00:00", "ns"),
    )
    names = np.array(shells.column("object_name").to_pylist())
    keep = np.array([n.startswith(("SIM S1-P01-", "SIM S1-P06-", "SIM S4-P1-")) for n in names])
    with Store(store_path) as store:
        store.append("elements", shells.filter(keep), source="test")
    return store_path


def _screen(*extra: str) -> tuple[int, str]:
    """Exit code and output with its line wrapping undone."""
    args = ["conjunctions", "screen", "--from", START, "--days", "0.125", "--threshold-km", "10"]
    result = CliRunner().invoke(app, [*args, *extra])
    return result.exit_code, " ".join(result.output.split())


def _count(output: str) -> int:
    found = re.search(r"(\d+) conjunctions; propagator", output)
    assert found is not None, output
    return int(found.group(1))


def test_screen_names_its_propagator(stored) -> None:
    from starbrain.core.errors import StarbrainError
    from starbrain.models.orbit_model import OrbitWorldModel
    from starbrain.models.registry import register_model
    from starbrain.planners.propagator import resolve_propagator
    from starbrain.store.database import Store

    code, plain = _screen("--shards", "2")
    assert code == 0, plain
    assert "propagator sgp4, 2 shards" in plain
    n = _count(plain)
    assert n > 0
    with Store(stored) as store:
        register_model(store, "zero", OrbitWorldModel())
    code, learned = _screen()
    assert code == 0, learned
    assert "propagator world model 'zero'" in learned
    assert _count(learned) == n
    code, forced = _screen("--model", "sgp4")
    assert code == 0 and "propagator sgp4" in forced
    code, _ = _screen("--model", "nosuch")
    assert code == 1  # the message goes to the error console (stderr)
    with Store(stored) as store, pytest.raises(StarbrainError, match="no model named 'nosuch'"):
        resolve_propagator(store, "nosuch")
