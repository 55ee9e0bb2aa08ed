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
    # sources/ regrouped into catalogs/, ephemerides/, telemetry/, generators/
    "starbrain.sources.catalog": "starbrain.sources.catalogs.catalog",
    "starbrain.sources.tle": "starbrain.sources.catalogs.tle",
    "starbrain.sources.omm": "starbrain.sources.catalogs.omm",
    "starbrain.sources.omm_keywords": "starbrain.sources.catalogs.omm_keywords",
    "starbrain.sources.omm_readers": "starbrain.sources.catalogs.omm_readers",
    "starbrain.sources.omm_write": "starbrain.sources.catalogs.omm_write",
    "starbrain.sources.fixedwidth": "starbrain.sources.catalogs.fixedwidth",
    "starbrain.sources.oem": "starbrain.sources.ephemerides.oem",
    "starbrain.sources.oem_frames": "starbrain.sources.ephemerides.oem_frames",
    "starbrain.sources.oem_read": "starbrain.sources.ephemerides.oem_read",
    "starbrain.sources.oem_segment": "starbrain.sources.ephemerides.oem_segment",
    "starbrain.sources.oem_write": "starbrain.sources.ephemerides.oem_write",
    "starbrain.sources.sp3": "starbrain.sources.ephemerides.sp3",
    "starbrain.sources.ccsds": "starbrain.sources.telemetry.ccsds",
    "starbrain.sources.ccsds_encode": "starbrain.sources.telemetry.ccsds_encode",
    "starbrain.sources.ccsds_framing": "starbrain.sources.telemetry.ccsds_framing",
    "starbrain.sources.ccsds_header": "starbrain.sources.telemetry.ccsds_header",
    "starbrain.sources.ccsds_sequence": "starbrain.sources.telemetry.ccsds_sequence",
    "starbrain.sources.ccsds_stats": "starbrain.sources.telemetry.ccsds_stats",
    "starbrain.sources.packets": "starbrain.sources.telemetry.packets",
    "starbrain.sources.constellation": "starbrain.sources.generators.constellation",
    "starbrain.sources.debris": "starbrain.sources.generators.debris",
}


@pytest.mark.parametrize("old", sorted(MOVED))
def test_old_path_is_the_moved_module(old: str, monkeypatch: pytest.MonkeyPatch) -> None:
    new = importlib.import_module(MOVED[old])
    assert importlib.import_module(old) is new
    assert new.__name__ == MOVED[old]
    # a patch through the old path is seen through the new one, private names included
    name = next(n for n in vars(new) if not n.startswith("__"))
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
