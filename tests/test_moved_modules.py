"""Modules moved by issue #13 keep their old import path for one release, as the same module
object (so monkeypatching through the old path and private names keep working)."""

from __future__ import annotations

import importlib

import pytest

# old path -> new path
MOVED = {
    "starbrain.sources.driving.schema": "starbrain.core.schemas.vehicle",
    "starbrain.sources.robots.schema": "starbrain.core.schemas.arm",
    "starbrain.sources.compute.schema": "starbrain.core.schemas.compute",
    "starbrain.sources.posts.schema": "starbrain.core.schemas.posts",
}


@pytest.mark.parametrize("old", sorted(MOVED))
def test_old_path_is_the_moved_module(old: str, monkeypatch: pytest.MonkeyPatch) -> None:
    new = importlib.import_module(MOVED[old])
    assert importlib.import_module(old) is new
    assert new.__name__ == MOVED[old]
    # a patch through the old path is seen through the new one
    name = next(n for n in new.__all__ if n.endswith("_SCHEMA"))
    monkeypatch.setattr(f"{old}.{name}", "patched")
    assert getattr(new, name) == "patched"


def test_decision_schemas_forward_to_core() -> None:
    """``store.decision_schemas`` spans three core modules, so it forwards names instead."""
    old = importlib.import_module("starbrain.store.decision_schemas")
    for name in old.__all__:
        module = (
            "anomalies" if "ANOMALIES" in name else "registry" if "MODELS" in name else "decisions"
        )
        core = importlib.import_module(f"starbrain.core.schemas.{module}")
        assert getattr(old, name) is getattr(core, name), name
