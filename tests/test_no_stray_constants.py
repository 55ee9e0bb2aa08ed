"""Physical constants live in ``starbrain.core.constants`` only (issue #13).

Scans every Python module under ``src/starbrain`` outside ``core/`` for numeric literals that
spell Earth's radius (``6378.…``), its gravitational parameter (``398600…``), standard gravity
(``9.80665``) or its rotation rate (``7.292115…``). Only number tokens count: a docstring or
comment that quotes a value (``R = 6378.135 km``) is documentation, not a second definition.
"""

from __future__ import annotations

import io
import tokenize
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "starbrain"
PREFIXES = ("6378.", "398600", "9.80665", "7.292115")


def stray_literals(source: str) -> list[tuple[int, str]]:
    """``(line, literal)`` for each number token in ``source`` that starts with a prefix above."""
    found = []
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        text = tok.string.replace("_", "").lower()
        if tok.type == tokenize.NUMBER and text.startswith(PREFIXES):
            found.append((tok.start[0], tok.string))
    return found


def test_scanner_finds_a_literal_and_ignores_docs() -> None:
    code = '"""R = 6378.135 km."""\n# mu 398600.4418\nmu = 398_600.4418\ng = 9.80665\n'
    assert stray_literals(code) == [(3, "398_600.4418"), (4, "9.80665")]


def test_no_constant_outside_core() -> None:
    offenders = []
    for path in sorted(SRC.rglob("*.py")):
        if (SRC / "core") in path.parents:
            continue
        for line, literal in stray_literals(path.read_text(encoding="utf-8")):
            offenders.append(f"{path.relative_to(SRC)}:{line}: {literal}")
    assert offenders == [], "use starbrain.core.constants instead:\n" + "\n".join(offenders)
