"""Planners return typed results and draw nothing (issue #13; DESIGN.md: "They return typed
results, write no files"): figures, HTML pages and text tables live in ``starbrain.report``."""

from __future__ import annotations

import ast
from pathlib import Path

import starbrain.planners as planners

PLANNERS = Path(planners.__file__).resolve().parent
DRAWING = ("matplotlib", "plotly")


def test_no_planner_imports_a_plotting_library() -> None:
    found = []
    for path in sorted(PLANNERS.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            found += [f"{path.name}:{node.lineno} {n}" for n in names if n.startswith(DRAWING)]
    assert found == []


def test_the_writers_are_in_report() -> None:
    from starbrain.report.conjunctions import show
    from starbrain.report.landing import write_landing_outputs
    from starbrain.report.porkchop import write_porkchop_html, write_porkchop_png

    moved = {"show", "write_landing_outputs", "write_porkchop_html", "write_porkchop_png"}
    assert not moved & set(planners.__all__)
    for mod in ("conjunctions", "landing", "transfers"):
        module = __import__(f"starbrain.planners.{mod}", fromlist=["__all__"])
        assert not moved & set(module.__all__), mod
    assert all(callable(f) for f in (show, write_landing_outputs, write_porkchop_html,
                                     write_porkchop_png))  # fmt: skip
