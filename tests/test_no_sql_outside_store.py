"""The store is the only SQL in the tree (DESIGN.md, issue #13): no string literal outside
``starbrain/store/`` reads like an SQL statement. Checked on the source with ``ast``, as
tests/test_architecture.py checks the layering: every string constant counts, f-string parts
included; docstrings do not (they may name a statement to explain it).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import starbrain

ROOT = Path(starbrain.__file__).parent
# Upper-case SQL as the tree writes it; ordinary English ("select the rows") does not match.
SQL = re.compile(
    r"\b(?:SELECT\b.*\bFROM|SELECT\s+(?:count|\*|epoch_ns)|INSERT\s+(?:OR\s+\w+\s+)?INTO|"
    r"CREATE\s+(?:OR\s+REPLACE\s+)?(?:TEMP\s+)?(?:TABLE|VIEW|INDEX|SEQUENCE)|DELETE\s+FROM|"
    r"UPDATE\s+\w+\s+SET|DROP\s+(?:TABLE|VIEW)|ALTER\s+TABLE|QUALIFY\s+row_number|"
    r"information_schema)",
    re.DOTALL,
)


def _docstrings(tree: ast.AST) -> set[int]:
    """ids of the docstring nodes of a module, its classes and functions."""
    out: set[int] = set()
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
            and node.body
        ):
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                out.add(id(first.value))
    return out


def sql_literals(root: Path) -> list[str]:
    """``path:line: text`` of every SQL-like string constant under ``root`` outside store/."""
    bad = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root)
        if rel.parts[0] == "store":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        skip = _docstrings(tree)
        for node in sorted(ast.walk(tree), key=lambda n: getattr(n, "lineno", 0)):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and id(node) not in skip
                and SQL.search(node.value)
            ):
                bad.append(f"{rel}:{node.lineno}: {node.value[:60]!r}")
    return bad


def test_no_sql_outside_the_store() -> None:
    bad = sql_literals(ROOT)
    assert not bad, "SQL outside starbrain/store/ (move it to store.queries):\n" + "\n".join(bad)


def test_the_checker_sees_sql(tmp_path: Path) -> None:
    """The check itself can fail: plain, f-string and multi-line SQL outside store/ is found;
    store/, docstrings and English are not."""
    (tmp_path / "store").mkdir()
    (tmp_path / "store" / "ok.py").write_text('Q = "SELECT * FROM t"\n')
    (tmp_path / "console").mkdir()
    (tmp_path / "console" / "bad.py").write_text(
        '"""Runs SELECT x FROM y, once."""\n'
        'A = "select the rows you want from the table"\n'
        "def f(t):\n"
        '    """INSERT INTO t is what it does."""\n'
        '    return f"SELECT count(*) AS n FROM {t}"\n'
        'B = ("INSERT INTO loop_state VALUES (?) "\n'
        '     "ON CONFLICT (task) DO NOTHING")\n'
        'C = "SELECT *, epoch_ns(tca)\\n FROM conjunctions"\n'
    )
    bad = sql_literals(tmp_path)
    assert [b.split(":")[:2] for b in bad] == [
        ["console/bad.py", "5"], ["console/bad.py", "6"], ["console/bad.py", "8"]
    ]  # fmt: skip
