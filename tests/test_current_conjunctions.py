"""One "current conjunctions" (issue #13): ``starbrain conjunctions show``, ``GET
/api/conjunctions`` and the console's conjunctions panel list the same rows, those of
:func:`starbrain.store.queries.latest_conjunctions`.

The store holds two screenings that disagree (tests/store/screenings.py): the second no longer
finds a pair the first found, refines another's TCA by 3 s, adds a new one, and covers a
shorter span than the first. Before #13 the CLI showed only the newest screening (2 rows, losing
the first's encounters outside the second's span) and the console every (pair, TCA)'s newest
row (6, keeping the dropped pair and both TCAs of the refined one); now all three show 4.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from starbrain.cli import app
from tests.store.screenings import CURRENT, two_screenings

fastapi = pytest.importorskip("fastapi", reason="the console needs fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from starbrain.console.app import create_app  # noqa: E402

PANELS_JS = Path(__file__).parents[1] / "src/starbrain/console/static/js/panels.js"


def _ns(iso: str) -> int:
    return int(np.datetime64(iso.rstrip("Z"), "ns").astype(np.int64))


def _from_cli(rows: list[dict[str, Any]]) -> set[tuple[int, int, int, int]]:
    return {(r["norad_id_1"], r["norad_id_2"], _ns(r["tca"]), _ns(r["screened_at"])) for r in rows}


def _from_api(body: dict[str, Any]) -> set[tuple[int, int, int, int]]:
    assert body["total"] == len(body["conjunctions"])
    return {
        (c["norad_id_1"], c["norad_id_2"], c["tca_ns"], _ns(c["screened_at"]))
        for c in body["conjunctions"]
    }


def _panel_request() -> tuple[str, dict[str, Any]]:
    """The endpoint and query the console's conjunctions panel loads (read from panels.js)."""
    js = PANELS_JS.read_text(encoding="utf-8")
    body = js[js.index("export async function loadConjunctions") :]
    m = re.search(r'api\("(/api/[a-z/]+)",\s*\{\s*sort,\s*limit:\s*(\d+)\s*\}\)', body)
    assert m, "the conjunctions panel no longer calls api('/api/...', { sort, limit })"
    return m.group(1), {"sort": "pc", "limit": int(m.group(2))}


@pytest.fixture
def store(store_path: Path) -> Path:
    return Path(two_screenings(store_path))


def test_cli_api_and_console_show_the_same_current_conjunctions(store: Path) -> None:
    import json

    out = CliRunner().invoke(
        app, ["conjunctions", "show", "--limit", "1000", "--format", "json"],
        env={"COLUMNS": "200"},
    )  # fmt: skip
    assert out.exit_code == 0, (out.output, out.exception)
    cli = _from_cli(json.loads(out.stdout))

    with TestClient(create_app(store, token=None), base_url="http://127.0.0.1") as client:
        api = _from_api(client.get("/api/conjunctions", params={"limit": 1000}).json())
        path, params = _panel_request()
        panel = _from_api(client.get(path, params=params).json())
        # every sort and the filters agree with the CLI's on the same set
        for sort in ("pc", "miss", "tca"):
            cli_sorted = CliRunner().invoke(
                app, ["conjunctions", "show", "--sort", sort, "--norad", "200", "--format",
                      "json"],
            )  # fmt: skip
            api_sorted = client.get("/api/conjunctions", params={"sort": sort, "norad": 200}).json()
            assert [(r["norad_id_1"], _ns(r["tca"])) for r in json.loads(cli_sorted.stdout)] == [
                (c["norad_id_1"], c["tca_ns"]) for c in api_sorted["conjunctions"]
            ]

    assert cli == CURRENT
    assert api == CURRENT
    assert panel == CURRENT


def test_the_cli_table_counts_the_same_rows(store: Path) -> None:
    out = CliRunner().invoke(app, ["conjunctions", "show"], env={"COLUMNS": "200"})
    assert out.exit_code == 0, out.output
    assert out.stdout.rstrip().endswith(f"{len(CURRENT)} conjunctions")


def test_a_cli_screening_that_finds_nothing_retires_what_it_covered(store: Path) -> None:
    """``conjunctions screen`` over 01:00-13:00 of two satellites half an orbit apart finds
    nothing; the encounters at 05:00 and 10:00 are no longer current, those at 00:30 and 23:30
    are (the CLI and the API agree)."""
    import json

    from starbrain.sources.generators.constellation import WalkerShell, generate
    from starbrain.store.database import Store

    two = generate([WalkerShell(550.0, 53.0, 1, 2, phasing=0, name="T")],
                   epoch="2026-11-25T00:00:00", first_norad=90_001, source="test")  # fmt: skip
    with Store(store) as s:
        s.append("elements", two, source="test")
    out = CliRunner().invoke(
        app, ["conjunctions", "screen", "--from", "2026-11-25T01:00:00", "--days", "0.5",
              "--model", "sgp4", "--format", "json"],
    )  # fmt: skip
    assert out.exit_code == 0, (out.output, out.exception)
    assert json.loads(out.stdout) == []
    shown = CliRunner().invoke(app, ["conjunctions", "show", "--format", "json"])
    cli = _from_cli(json.loads(shown.stdout))
    with TestClient(create_app(store, token=None), base_url="http://127.0.0.1") as client:
        api = _from_api(client.get("/api/conjunctions").json())
    assert cli == api == {k for k in CURRENT if k[0] in (100, 500)}
