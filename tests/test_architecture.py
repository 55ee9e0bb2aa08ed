"""The layering of DESIGN.md, checked on the source: a layer never imports one to its right.

Order (left to right): core, sources, store, physics, models, planners, report, loop, console,
agents, cli. ``core`` imports nothing else of starbrain. Every ``import`` statement counts,
including those inside functions (a lazy import is still a dependency).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import starbrain

LAYERS = (
    "core",
    "sources",
    "store",
    "physics",
    "models",
    "planners",
    "report",
    "loop",
    "console",
    "agents",
    "cli",
)
RANK = {name: i for i, name in enumerate(LAYERS)}
# Top-level modules that sit beside core (anything may import them; they import only core).
BESIDE_CORE = {"_lazy", "__version__", "config", "cluster", "timeconv"}
ROOT = Path(starbrain.__file__).parent


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) for every absolute import of starbrain in ``path``."""
    out: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "starbrain":
                out += [(node.lineno, f"starbrain.{a.name}") for a in node.names]
            else:
                out.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
    return [(line, m) for line, m in out if m.split(".")[0] == "starbrain" and "." in m]


def _layer_of(path: Path) -> str:
    parts = path.relative_to(ROOT).parts
    return parts[0] if len(parts) > 1 else Path(parts[0]).stem


def _violations() -> list[str]:
    bad = []
    for path in sorted(ROOT.rglob("*.py")):
        layer = _layer_of(path)
        for line, module in _imports(path):
            target = module.split(".")[1]
            where = f"{path.relative_to(ROOT)}:{line}: {layer} imports {module}"
            if layer == "core" or layer in BESIDE_CORE - {"__version__"}:
                if target != "core" and not (layer != "core" and target in BESIDE_CORE):
                    bad.append(where + " (core and its neighbours import only core)")
            elif layer in RANK:
                if target in RANK and RANK[target] > RANK[layer]:
                    bad.append(where + " (a layer to its right)")
                elif target not in RANK and target not in BESIDE_CORE:
                    bad.append(where + " (a module outside the layers)")
    return bad


def test_every_package_is_a_known_layer() -> None:
    packages = {p.name for p in ROOT.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert packages <= set(LAYERS), f"packages outside the layers: {packages - set(LAYERS)}"


def test_no_layer_imports_one_to_its_right() -> None:
    bad = _violations()
    assert not bad, "\n".join(bad)


def test_the_checker_sees_a_violation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The check itself can fail: a core module importing sources is reported."""
    fake = tmp_path / "starbrain"
    (fake / "core").mkdir(parents=True)
    (fake / "core" / "bad.py").write_text("from starbrain.sources import tle\n")
    (fake / "sources").mkdir()
    (fake / "sources" / "ok.py").write_text("from starbrain.core import timeconv\n")
    (fake / "physics").mkdir()
    (fake / "physics" / "up.py").write_text("def f():\n    from starbrain.cli import app\n")
    monkeypatch.setattr(f"{__name__}.ROOT", fake)
    bad = _violations()
    assert len(bad) == 2
    assert "core/bad.py:1" in bad[0] and "physics/up.py:2" in bad[1]
