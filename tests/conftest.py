"""Shared fixtures: reference files shipped by other projects, and a throw-away store."""

from __future__ import annotations

from pathlib import Path

import pytest
import sgp4

SGP4_DIR = Path(sgp4.__file__).parent
# Records of the official verification set whose line-1 checksum digit is wrong in the file
# itself (hand-edited error-code cases): (1-based line, NORAD).
SGP4_VER_BAD_CHECKSUMS = ((100, 33333), (103, 33334), (106, 33335))


@pytest.fixture(scope="session")
def sgp4_ver_path() -> Path:
    """Vallado's SGP4 verification TLEs as shipped in the `sgp4` package."""
    return SGP4_DIR / "SGP4-VER.TLE"


@pytest.fixture(scope="session")
def sgp4_ver_text(sgp4_ver_path: Path) -> str:
    return sgp4_ver_path.read_text()


@pytest.fixture
def store_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh DuckDB file, also exported as STARBRAIN_DB for code that reads settings."""
    path = tmp_path / "store.duckdb"
    monkeypatch.setenv("STARBRAIN_DB", str(path))
    monkeypatch.setenv("STARBRAIN_DATA", str(tmp_path / "data"))
    return path


# -- real message brokers on loopback (tests/servers.py) ------------------------------------------
from collections.abc import Iterator  # noqa: E402

from tests.servers import MosquittoServer, NatsServer  # noqa: E402


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[NatsServer]:
    """nats-server with JetStream on a free loopback port, its store under tmp_path."""
    from tests.servers import NATS_SERVER, skip_reason

    reason = skip_reason(NATS_SERVER)
    if reason:
        pytest.skip(reason)
    with NatsServer(tmp_path / "nats") as server:
        yield server


@pytest.fixture
def mosquitto_server(tmp_path: Path) -> Iterator[MosquittoServer]:
    """mosquitto with persistence on a free loopback port, its database under tmp_path."""
    from tests.servers import MOSQUITTO, skip_reason

    reason = skip_reason(MOSQUITTO)
    if reason:
        pytest.skip(reason)
    with MosquittoServer(tmp_path / "mosquitto") as server:
        yield server
