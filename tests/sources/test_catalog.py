"""Catalogue loading: format detection, files, and URLs through a real HTTP server on loopback."""

from __future__ import annotations

import http.server
import socket
import threading
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest

from starbrain.core.errors import StarbrainError
from starbrain.sources.catalogs.catalog import detect_format, load_catalog
from starbrain.sources.catalogs.omm import write_omm
from starbrain.sources.catalogs.tle import parse_tle


@pytest.fixture
def served_dir(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A directory served over HTTP on 127.0.0.1 (a real socket, a real server)."""
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    handler.log_message = lambda *a: None  # type: ignore[attr-defined]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield tmp_path, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_detects_every_format(sgp4_ver_text: str) -> None:
    table = parse_tle(sgp4_ver_text).table
    assert detect_format(sgp4_ver_text) == "tle"
    for fmt in ("json", "csv", "xml", "kvn"):
        assert detect_format(write_omm(table, fmt)) == f"omm-{fmt}"


def test_loads_files_of_each_format_to_the_same_records(sgp4_ver_text: str, tmp_path: Path) -> None:
    table = parse_tle(sgp4_ver_text).table
    ids = sorted(table.column("norad_id").to_pylist())
    for fmt in ("json", "csv", "xml", "kvn"):
        path = tmp_path / f"gp.{fmt}"
        path.write_text(write_omm(table, fmt))
        result = load_catalog(path)
        assert sorted(result.table.column("norad_id").to_pylist()) == ids
        assert not result.errors


def test_loads_from_a_url(served_dir: tuple[Path, str], sgp4_ver_text: str) -> None:
    directory, base = served_dir
    (directory / "gp.tle").write_text(sgp4_ver_text)
    result = load_catalog(f"{base}/gp.tle")
    assert result.n_good == 30 and len(result.errors) == 3
    assert result.source == f"{base}/gp.tle"


def test_unreachable_url_is_one_clear_error() -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(StarbrainError, match=r"could not fetch .* are you offline"):
        load_catalog(f"http://127.0.0.1:{port}/gp.tle")


def test_http_error_status_is_reported(served_dir: tuple[Path, str]) -> None:
    _, base = served_dir
    with pytest.raises(StarbrainError, match="answered HTTP 404"):
        load_catalog(f"{base}/missing.tle")


def test_missing_file_and_bad_format() -> None:
    with pytest.raises(StarbrainError, match="no such file"):
        load_catalog("/nonexistent/gp.tle")
    with pytest.raises(StarbrainError, match="unknown catalogue format"):
        load_catalog(__file__, fmt="yaml")


def test_byte_order_mark_and_bare_cr_over_a_url(
    served_dir: tuple[Path, str], sgp4_ver_text: str
) -> None:
    """A URL's text goes through the same readers as a file's: an OMM JSON with a BOM is
    detected as OMM (it was taken for a TLE: 'no valid records' and no error), and a bare CR
    inside a CSV field is one bad record (it raised csv.Error)."""
    directory, base = served_dir
    table = parse_tle(sgp4_ver_text, check_checksums=False).table.slice(0, 3)
    (directory / "gp.json").write_bytes(b"\xef\xbb\xbf" + write_omm(table, "json").encode())
    result = load_catalog(f"{base}/gp.json")
    assert result.n_good == 3 and not result.errors
    lines = write_omm(table, "csv").split("\n")
    lines[2] = lines[2].replace(",U,", ",U\r,", 1)  # CLASSIFICATION_TYPE of record 1
    (directory / "gp.csv").write_bytes("\n".join(lines).encode())
    result = load_catalog(f"{base}/gp.csv")
    assert result.table.column("norad_id").to_pylist() == [5, 6251]
    assert [(e.line, e.field, e.source) for e in result.errors] == [
        (3, "CLASSIFICATION_TYPE", f"{base}/gp.csv")
    ]
    assert "carriage return" in result.errors[0].reason


def test_bom_is_ignored_by_detection() -> None:
    assert detect_format("\ufeff[{}]") == "omm-json"
    assert detect_format("\ufeff<ndm/>") == "omm-xml"
    assert detect_format("\ufeffCCSDS_OMM_VERS = 2.0\n") == "omm-kvn"
