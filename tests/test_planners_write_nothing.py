"""Planners return typed results, draw nothing and write no files (issue #13; DESIGN.md: "They
return typed results, write no files"): figures, HTML pages, text tables and files (CDMs, landing
outputs) live in ``starbrain.report``. Every module under ``planners/`` counts, packages
included."""

from __future__ import annotations

import ast
from pathlib import Path

import starbrain.planners as planners

PLANNERS = Path(planners.__file__).resolve().parent
DRAWING = ("matplotlib", "plotly")
# calls that write files: Path methods, pyarrow/pandas/numpy writers, figures
WRITING = {
    "write_text", "write_bytes", "mkdir", "touch", "write_table", "write_csv", "write_feather",
    "to_csv", "to_parquet", "savefig", "save", "savez", "savetxt",
}  # fmt: skip
_WRITE_MODES = set("wax+")


def _file_writes(source: str) -> list[tuple[int, str]]:
    """(line, call) of each call in ``source`` that writes a file: a method named in
    ``WRITING``, or the builtin ``open`` with a writing mode."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr in WRITING:
            found.append((node.lineno, func.attr))
        elif isinstance(func, ast.Name) and func.id == "open":
            mode = node.args[1] if len(node.args) > 1 else None
            mode = next((k.value for k in node.keywords if k.arg == "mode"), mode)
            if isinstance(mode, ast.Constant) and set(str(mode.value)) & _WRITE_MODES:
                found.append((node.lineno, "open"))
    return found


def test_no_planner_imports_a_plotting_library() -> None:
    found = []
    for path in sorted(PLANNERS.rglob("*.py")):
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


def test_no_planner_writes_a_file() -> None:
    found = [
        f"{path.relative_to(PLANNERS)}:{line} {call}"
        for path in sorted(PLANNERS.rglob("*.py"))
        for line, call in _file_writes(path.read_text())
    ]
    assert found == []


def test_the_file_check_sees_writes() -> None:
    """The check itself can fail: what ``planners/cdm.py`` did before the move is reported."""
    source = (
        "out.mkdir(parents=True, exist_ok=True)\npath.write_text(text)\n"
        "open(p, 'w')\nopen(p, mode='ab')\nopen(p)\nos.open(os.devnull, os.O_WRONLY)\n"
    )
    assert _file_writes(source) == [(1, "mkdir"), (2, "write_text"), (3, "open"), (4, "open")]


def test_cdms_come_back_as_text_and_report_writes_them(tmp_path: Path) -> None:
    """``conjunction_cdms`` returns message id -> text; ``report.cdm.write_cdms`` writes exactly
    those texts under those names; the old planner name forwards to it with a warning."""
    import warnings

    import numpy as np

    from starbrain.planners.cdm import conjunction_cdm, conjunction_cdms, write_cdms
    from starbrain.planners.conjunctions import screen_conjunctions
    from starbrain.report.cdm import write_cdms as report_write_cdms
    from tests.planners.conjunction_helpers import EPOCH, head_on_pairs

    pairs = head_on_pairs(
        np.array([3600.0, 7200.0]), np.array([550.0, 700.0]), np.array([53.0, 97.0]),
        np.array([40.0, 10.0]), np.array([70.0, 5.0]), np.array([0.06, 0.2]),
    )  # fmt: skip
    table = screen_conjunctions(pairs, EPOCH, EPOCH + np.timedelta64(4, "h")).to_arrow()
    assert table.num_rows == 2
    kw = {"creation_date": "2026-01-01T00:00:00"}
    messages = conjunction_cdms(table, **kw)
    assert list(messages.values()) == [conjunction_cdm(table, i, **kw) for i in range(2)]
    assert all(text.startswith("CCSDS_CDM_VERS") for text in messages.values())
    assert not list(tmp_path.iterdir())  # returning the messages wrote nothing
    paths = report_write_cdms(table, tmp_path / "cdm", **kw)
    assert [p.name for p in paths] == [f"{m}.cdm" for m in messages]
    assert [p.read_text() for p in paths] == list(messages.values())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        old = write_cdms(table, tmp_path / "old", rows=[1], **kw)
    assert any(issubclass(w.category, DeprecationWarning) for w in caught)
    assert [p.read_text() for p in old] == [conjunction_cdm(table, 1, **kw)]


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
