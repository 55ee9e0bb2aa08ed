"""Every stored stream's Arrow schema and key live in ``starbrain.core.schemas`` (issue #13).

The store registers them, sources and planners produce them, and all of them hold the very same
objects, so a column added in core is seen everywhere at once.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import pyarrow as pa
import pytest

import starbrain
import starbrain.core.schemas as core_schemas
from starbrain.store.streams import STREAMS

ROOT = Path(starbrain.__file__).parent


def _core_objects() -> dict[int, str]:
    """id(object) -> "module.NAME" for every public schema and key tuple in core.schemas."""
    out: dict[int, str] = {}
    for info in pkgutil.iter_modules(core_schemas.__path__):
        module = importlib.import_module(f"starbrain.core.schemas.{info.name}")
        for name in getattr(module, "__all__", ()):
            out[id(getattr(module, name))] = f"{info.name}.{name}"
    return out


@pytest.mark.parametrize("stream", sorted(STREAMS))
def test_every_stream_schema_and_key_is_the_core_object(stream: str) -> None:
    s = STREAMS[stream]
    core = _core_objects()
    assert id(s.schema) in core, f"{stream}: schema not from starbrain.core.schemas"
    name = core[id(s.schema)]
    assert name.endswith("_SCHEMA")
    # the metadata names the stream and the key columns, in the key tuple's order
    meta = s.schema.metadata
    assert meta[b"stream"].decode() == stream
    assert tuple(meta[b"key"].decode().split(",")) == s.key
    assert set(s.key) <= set(s.schema.names)


def _module_level_schemas(path: Path) -> list[str]:
    names = []
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if not isinstance(node, ast.Assign) or not isinstance(node.value, ast.Call):
            continue
        f = node.value.func
        if isinstance(f, ast.Attribute) and f.attr == "schema" and ast.unparse(f.value) == "pa":
            names += [t.id for t in node.targets if isinstance(t, ast.Name)]
    return names


def test_no_public_schema_is_defined_outside_core() -> None:
    """A public ``NAME = pa.schema(...)`` anywhere but core/schemas is a second definition
    (private staging schemas such as the store's ``_KEYS_SCHEMA`` may stay local)."""
    bad = []
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith("core/schemas/"):
            continue
        bad += [f"{rel}: {n}" for n in _module_level_schemas(path) if not n.startswith("_")]
    assert not bad, "schemas outside starbrain.core.schemas:\n" + "\n".join(bad)


def test_the_scan_sees_a_schema(tmp_path: Path) -> None:
    """The scan can fail: a module-level ``pa.schema`` is found, a local one is not."""
    p = tmp_path / "m.py"
    p.write_text("X_SCHEMA = pa.schema([])\n_Y = pa.schema([])\ndef f():\n    Z = pa.schema([])\n")
    assert _module_level_schemas(p) == ["X_SCHEMA", "_Y"]


@pytest.mark.parametrize(
    ("package", "name", "core_module"),
    [
        ("starbrain.sources", "ELEMENTS_SCHEMA", "elements"),
        ("starbrain.sources.records", "ELEMENTS_KEY", "elements"),
        ("starbrain.sources.driving", "VEHICLE_SCHEMA", "vehicle"),
        ("starbrain.sources.robots", "ARM_KEY", "arm"),
        ("starbrain.sources.compute", "DCGM_NAMES", "compute"),
        ("starbrain.sources.posts", "POSTS_SCHEMA", "posts"),
        ("starbrain.sources", "TELEMETRY_SCHEMA", "telemetry"),
        ("starbrain.sources.telemetry.ccsds", "PARAMETER_TYPE", "telemetry"),
        ("starbrain.sources", "EPHEMERIS_SCHEMA", "ephemeris"),
        ("starbrain.sources.ephemerides.oem", "EPHEMERIS_KEY", "ephemeris"),
        ("starbrain.sources.faults", "FAULT_SCHEMA", "faults"),
        ("starbrain.store", "CONJUNCTIONS_SCHEMA", "decisions"),
        ("starbrain.store", "MANOEUVRES_SCHEMA", "decisions"),
        ("starbrain.planners", "PASSES_SCHEMA", "decisions"),
        ("starbrain.planners", "CONTACTS_SCHEMA", "decisions"),
        ("starbrain.planners.conjunctions", "CONJUNCTIONS_KEY", "decisions"),
        ("starbrain.models.text", "SEARCH_SCHEMA", "posts"),
        ("starbrain.models.text", "BURSTS_SCHEMA", "posts"),
        ("starbrain.models.registry", "MODELS_SCHEMA", "registry"),
    ],
)
def test_old_export_paths_give_the_core_object(package: str, name: str, core_module: str) -> None:
    module = importlib.import_module(package)
    core = importlib.import_module(f"starbrain.core.schemas.{core_module}")
    assert getattr(module, name) is getattr(core, name)


def test_label_tables_keep_their_old_names() -> None:
    from starbrain.core.schemas.anomalies import FLIGHT_LABELS_SCHEMA
    from starbrain.core.schemas.posts import POST_LABELS_SCHEMA
    from starbrain.physics import flight_sim
    from starbrain.sources import posts

    assert flight_sim.LABELS_SCHEMA is FLIGHT_LABELS_SCHEMA
    assert posts.LABELS_SCHEMA is POST_LABELS_SCHEMA
    assert FLIGHT_LABELS_SCHEMA.names == ["flight", "kind", "channels", "start", "end", "magnitude"]


def test_gpu_columns_carry_dcgm_exporter_names_and_units() -> None:
    """Against dcgm-exporter's etc/default-counters.csv (field name, unit): the metadata the
    shared field builder writes, in the order it always had (unit, dcgm, doc)."""
    from starbrain.core.schemas.compute import COMPUTE_SCHEMA, DCGM_NAMES

    power = COMPUTE_SCHEMA.field("power_w")
    assert list(power.metadata) == [b"unit", b"dcgm", b"doc"]
    assert power.metadata[b"unit"] == b"W"
    assert DCGM_NAMES["power_w"] == "DCGM_FI_DEV_POWER_USAGE"
    assert DCGM_NAMES["gpu_temp_c"] == "DCGM_FI_DEV_GPU_TEMP"
    assert DCGM_NAMES["energy_mj"] == "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION"
    assert COMPUTE_SCHEMA.field("throttle_reasons").type == pa.uint64()
    assert "inlet_temp_c" not in DCGM_NAMES  # facility column: unit and doc only
    assert list(COMPUTE_SCHEMA.field("inlet_temp_c").metadata) == [b"unit", b"doc"]
