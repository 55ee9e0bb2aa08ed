"""Property-based tests of the REST API from its own OpenAPI document (schemathesis).

Schemathesis generates requests (valid and invalid) for every operation and checks each
response: never a 5xx, status codes and bodies as documented (``ErrorResponse`` for errors),
JSON content types, and schema-violating requests rejected. Not checked: that every
schema-valid request succeeds (``positive_data_acceptance``), because some limits are not
expressible in OpenAPI and are answered 422 by design: the work budget of /api/passes, the
points of a ground track, ``to`` before ``from``, station strings that do not parse.

The server runs with small work budgets (passes, Mars windows) so each example stays fast; the
default budgets only make the same requests slower.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

schemathesis = pytest.importorskip("schemathesis", reason="needs schemathesis (pip install)")
from hypothesis import HealthCheck, settings  # noqa: E402
from schemathesis.checks import positive_data_acceptance  # noqa: E402

from starbrain.console.app import create_app  # noqa: E402
from starbrain.console.settings import ConsoleSettings  # noqa: E402
from tests.console.conftest import serve_app  # noqa: E402

# Examples per operation; STARBRAIN_SCHEMATHESIS_EXAMPLES=500 for a deeper (slower) search.
MAX_EXAMPLES = int(os.environ.get("STARBRAIN_SCHEMATHESIS_EXAMPLES", "30"))
# Generated URLs can exceed what uvicorn's HTTP parser accepts (e.g. a thousand long values of
# a repeated parameter); uvicorn answers that itself, in plain text, before the app sees it.
UVICORN_UNPARSABLE = "Invalid HTTP request received."

# The document of the very code under test (no server needed to read it); requests go to a
# live server below. schemathesis' lazy fixture loader does not support pytest 9 yet.
schema = schemathesis.openapi.from_dict(create_app(":memory:", token=None).openapi())


@pytest.fixture(scope="module")
def live_url(loop_store_file: Path) -> Iterator[str]:
    # the store the live loop filled: conjunctions, telemetry, anomalies and a registered
    # model, so those endpoints answer with data, not only with empty lists
    cfg = ConsoleSettings(
        store_path=loop_store_file, token=None, max_pass_work=5_000.0, mars_max_years=2
    )
    with serve_app(create_app(settings=cfg)) as url:
        yield url


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_api_conforms_to_its_schema(case: schemathesis.Case, live_url: str) -> None:
    response = case.call(base_url=live_url, timeout=60)
    if response.status_code == 400 and response.text == UVICORN_UNPARSABLE:
        return  # uvicorn's own answer to a request line it cannot parse: before the app
    case.validate_response(response, excluded_checks=[positive_data_acceptance])
