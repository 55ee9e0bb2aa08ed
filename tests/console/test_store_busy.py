"""The console while another process holds the store's DuckDB lock (a ``catalog load``, the
loop): 503 with ``Retry-After`` once the store's short retry runs out, never a 422 validation
error; and a lock let go within the retry is just a slower answer (issue #12 item 10)."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from starbrain.console.app import create_app
from starbrain.console.settings import ConsoleSettings
from starbrain.store import database
from tests.console.conftest import make_store, serve_app
from tests.store.locks import lock_held

WAIT_S = 0.3  # the store's open retry, shortened for the test


@pytest.fixture
def busy_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(database, "BUSY_TIMEOUT_S", WAIT_S)
    return make_store(tmp_path / "store.duckdb")


def test_a_locked_store_answers_503_with_retry_after(busy_store: Path) -> None:
    settings = ConsoleSettings(store_path=busy_store, token=None)
    with serve_app(create_app(settings=settings)) as url, httpx.Client(base_url=url) as client:
        assert client.get("/api/conjunctions").status_code == 200
        with lock_held(busy_store):  # a writer in another process
            for path in ("/api/conjunctions", "/api/loop", "/api/models"):
                t0 = time.perf_counter()
                r = client.get(path)
                took = time.perf_counter() - t0
                assert r.status_code == 503, (path, r.status_code, r.text)
                assert r.headers["retry-after"] == "1"
                body = r.json()
                assert body["error"] == "unavailable"
                assert "busy" in body["message"] and str(busy_store) in body["message"]
                assert WAIT_S <= took < WAIT_S + 2.0  # the bounded retry, then the answer
        # the writer is gone: answers again, without a restart
        assert client.get("/api/conjunctions").status_code == 200
        with lock_held(busy_store, seconds=0.1):  # let go inside the retry: a slower 200
            assert client.get("/api/loop").status_code == 200


def test_the_openapi_spec_documents_the_503(busy_store: Path) -> None:
    settings = ConsoleSettings(store_path=busy_store, token=None)
    with serve_app(create_app(settings=settings)) as url:
        spec = httpx.get(f"{url}/api/openapi.json").json()
    responses = spec["paths"]["/api/conjunctions"]["get"]["responses"]
    assert "503" in responses
