"""The console's JavaScript defines the degree and the time format once (issue #13: ``DEG`` was
pi/180 in ``globe.js`` and 180/pi in ``links.js``; ``fmtTime`` differed between ``app.js`` and
``panels.js``): both live in ``static/js/common.js`` and every other module imports them.

``common.js`` itself is run by Node.js where it is installed: ``DEG`` against pi/180 (1e-15
relative) and ``fmtTime`` on fixed ISO strings."""

from __future__ import annotations

import json
import math
import re
import shutil
import subprocess
from pathlib import Path

import pytest

JS = Path(__file__).resolve().parents[2] / "src" / "starbrain" / "console" / "static" / "js"
SHARED = ("DEG", "EARTH_RADIUS_KM", "fmtTime")


def test_shared_names_are_defined_once_and_imported() -> None:
    define = re.compile(r"^(?:export\s+)?(?:const|let|var|function)\s+(\w+)", re.MULTILINE)
    for path in sorted(JS.glob("*.js")):
        text = path.read_text()
        defined = set(define.findall(text)) & set(SHARED)
        if path.name == "common.js":
            assert defined == set(SHARED)
            continue
        assert not defined, f"{path.name} defines its own {sorted(defined)}"
        used = {n for n in SHARED if re.search(rf"\b{n}\b", text)}
        if used:
            m = re.search(r'import \{([^}]*)\} from "\./common\.js";', text)
            assert m is not None, f"{path.name} uses {sorted(used)} without importing common.js"
            assert used <= {s.strip() for s in m.group(1).split(",")}, path.name


@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed")
def test_common_js_values() -> None:
    script = (
        f"import('{(JS / 'common.js').as_uri()}').then((m) => console.log(JSON.stringify(["
        "m.DEG, m.EARTH_RADIUS_KM, m.fmtTime('2024-07-05T12:34:56.789Z'),"
        "m.fmtTime('2024-07-05T12:34:56.789Z', 'month'), m.fmtTime('2024-07-05T12:34:56Z', 'time'),"
        "m.fmtTime(null), m.fmtTime(undefined, 'time')])))"
    )
    out = subprocess.run(
        ["node", "--input-type=module", "-e", script], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    deg, radius, full, month, time, missing, missing_time = json.loads(out.stdout)
    assert deg == pytest.approx(math.pi / 180, rel=1e-15)
    assert radius == 6378.137  # WGS-84 a, as starbrain.core.constants
    assert (full, month, time) == ("2024-07-05 12:34:56", "07-05 12:34:56", "12:34:56")
    assert missing == missing_time == "—"
