"""Capped, checked decompression (sources.compressed) for ephemeris files and catalogue URLs.

The decompressed bytes are checked against the uncompressed originals (the IGS SP3 excerpt in
tests/data/sp3, the ISS TLE of CelesTrak's format documentation); the compressed forms are made
here by Python's gzip/bz2/lzma/zlib, independently of the reader.
"""

from __future__ import annotations

import bz2
import gzip
import http.server
import lzma
import threading
import tracemalloc
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from starbrain.config import settings
from starbrain.core.errors import StarbrainError
from starbrain.sources.catalogs.catalog import fetch_text, load_catalog
from starbrain.sources.compressed import decompress, read_input
from starbrain.sources.ephemerides.oem import load_ephemeris

IGS = Path(__file__).resolve().parents[1] / "data" / "sp3" / "igs19362.sp3"
ISS = (
    "ISS (ZARYA)\n"
    "1 25544U 98067A   08264.51782528 -.00002182  00000-0 -11606-4 0  2927\n"
    "2 25544  51.6416 247.4627 0006703 130.5360 325.0288 15.72125391563537\n"
)
MIB = 1 << 20


def _corrupt(blob: bytes) -> bytes:
    """Flip bits in the first deflate block header, just after the 10-byte gzip header (Python's
    gzip module then raises zlib.error 'invalid stored block lengths')."""
    bad = bytearray(blob)
    bad[10:14] = bytes(b ^ 0xA5 for b in bad[10:14])
    return bytes(bad)


@pytest.mark.parametrize(
    ("suffix", "compress"),
    [(".gz", gzip.compress), (".bz2", bz2.compress), (".xz", lzma.compress)],
    ids=["gzip", "bzip2", "xz"],
)
def test_compressed_sp3_reads_like_the_plain_file(suffix: str, compress, tmp_path: Path) -> None:
    plain = load_ephemeris(IGS)
    path = tmp_path / f"igs19362.sp3{suffix}"
    path.write_bytes(compress(IGS.read_bytes()))
    packed = load_ephemeris(path)
    assert packed.errors == [] and packed.n_good == 64
    assert packed.table.drop_columns(["source"]).equals(plain.table.drop_columns(["source"]))


def test_corrupt_gzip_is_one_starbrain_error_not_zlib_error(tmp_path: Path) -> None:
    path = tmp_path / "igs19362.sp3.gz"
    path.write_bytes(_corrupt(gzip.compress(IGS.read_bytes())))
    with pytest.raises(StarbrainError, match=r"igs19362\.sp3\.gz: the gzip data is corrupt"):
        load_ephemeris(path)


def test_truncated_gzip_and_trailing_garbage_are_named(tmp_path: Path) -> None:
    blob = gzip.compress(IGS.read_bytes())
    path = tmp_path / "cut.sp3.gz"
    path.write_bytes(blob[: len(blob) * 2 // 3])
    with pytest.raises(StarbrainError, match=r"cut\.sp3\.gz: the gzip data ends early"):
        load_ephemeris(path)
    path.write_bytes(blob + b"<html>oops</html>")
    with pytest.raises(StarbrainError, match="17 bytes of data that are not gzip follow"):
        load_ephemeris(path)


def test_a_gz_name_on_plain_text_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "plain.sp3.gz"
    path.write_bytes(IGS.read_bytes())
    with pytest.raises(StarbrainError, match=r"name ends in \.gz but the file is not gzip data"):
        load_ephemeris(path)


def test_concatenated_members_are_read_whole(tmp_path: Path) -> None:
    text = IGS.read_bytes()
    half = text.index(b"\n*", 1000)  # split at the second epoch line
    path = tmp_path / "two.sp3.gz"
    path.write_bytes(gzip.compress(text[:half]) + gzip.compress(text[half:]))
    assert read_input(path) == text
    assert load_ephemeris(path).n_good == 64


def test_the_cap_stops_a_decompression_bomb_early(tmp_path: Path, monkeypatch) -> None:
    """40 MB of zeros gzip to ~40 kB (the issue's case). With an 8 MiB cap the read stops after
    the cap, and the memory it used stays near the cap, not near 40 MB."""
    bomb = gzip.compress(bytes(40_000_000), compresslevel=9)
    assert len(bomb) < 60_000
    path = tmp_path / "bomb.sp3.gz"
    path.write_bytes(bomb)
    monkeypatch.setenv("STARBRAIN_MAX_DECOMPRESSED_MB", "8")
    tracemalloc.start()
    try:
        with pytest.raises(StarbrainError, match="STARBRAIN_MAX_DECOMPRESSED_MB=8") as info:
            load_ephemeris(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "expands to more than 8 MiB" in str(info.value)
    assert peak < 20 * MIB, peak  # 8 MiB of output, a 1 MiB step and the 40 kB input
    monkeypatch.setenv("STARBRAIN_MAX_DECOMPRESSED_MB", "40")  # 38.1 MiB fits under 40 MiB
    assert len(read_input(path)) == 40_000_000


@pytest.mark.parametrize("method", ["gzip", "bzip2", "xz", "deflate"])
def test_cap_is_exact_for_every_method(method: str) -> None:
    data = bytes(range(256)) * 4096  # 1 MiB
    blob = {"gzip": gzip.compress, "bzip2": bz2.compress, "xz": lzma.compress,
            "deflate": zlib.compress}[method](data)  # fmt: skip
    assert decompress(blob, "x", method if method == "deflate" else None, limit=MIB) == data
    with pytest.raises(StarbrainError, match="expands to more than"):
        decompress(blob, "x", method if method == "deflate" else None, limit=MIB - 1)


def test_unsupported_compressions_are_refused_with_what_to_do(tmp_path: Path) -> None:
    path = tmp_path / "igs19362.sp3.Z"
    path.write_bytes(b"\x1f\x9d\x90" + bytes(40))
    with pytest.raises(StarbrainError, match=r"Unix compress \(\.Z\).*gzip -d"):
        load_ephemeris(path)


def test_the_setting_default_and_bad_values(monkeypatch) -> None:
    monkeypatch.delenv("STARBRAIN_MAX_DECOMPRESSED_MB", raising=False)
    assert settings().max_decompressed_mb == 1024.0
    monkeypatch.setenv("STARBRAIN_MAX_DECOMPRESSED_MB", "0.5")
    assert settings().max_decompressed_mb == 0.5
    for bad in ("-1", "lots", "inf", "0"):
        monkeypatch.setenv("STARBRAIN_MAX_DECOMPRESSED_MB", bad)
        with pytest.raises(StarbrainError, match="must be a positive number of MiB"):
            settings()


# --- HTTP bodies: the server says Content-Encoding, the client must not trust it blindly -------


@pytest.fixture
def encoded_server() -> Iterator[tuple[str, dict[str, tuple[bytes, str]]]]:
    """A loopback HTTP server answering each path with (body, Content-Encoding) from a dict."""
    routes: dict[str, tuple[bytes, str]] = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body, encoding = routes[self.path]
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            if encoding:
                self.send_header("Content-Encoding", encoding)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", routes
    finally:
        server.shutdown()
        server.server_close()


def test_gzip_and_deflate_encoded_catalogues_load(encoded_server) -> None:
    base, routes = encoded_server
    routes["/gz"] = (gzip.compress(ISS.encode()), "gzip")
    routes["/deflate"] = (zlib.compress(ISS.encode()), "deflate")
    raw = zlib.compressobj(wbits=-15)
    routes["/raw"] = (raw.compress(ISS.encode()) + raw.flush(), "deflate")  # as IIS sends it
    for path in ("/gz", "/deflate", "/raw"):
        assert fetch_text(base + path) == ISS
    result = load_catalog(base + "/gz")
    assert result.errors == [] and result.table.column("norad_id").to_pylist() == [25544]


def test_an_encoded_body_past_the_cap_is_refused(encoded_server, monkeypatch) -> None:
    base, routes = encoded_server
    routes["/bomb"] = (gzip.compress(bytes(3 * MIB)), "gzip")  # 3 kB on the wire
    monkeypatch.setenv("STARBRAIN_MAX_DECOMPRESSED_MB", "2")
    with pytest.raises(StarbrainError, match=r"/bomb: the gzip data expands to more than 2 MiB"):
        fetch_text(base + "/bomb")
    routes["/big"] = (bytes(3 * MIB), "")  # not compressed, but as large
    with pytest.raises(StarbrainError, match="the response is larger than 2 MiB"):
        fetch_text(base + "/big")


def test_a_corrupt_encoded_body_is_named_corrupt(encoded_server) -> None:
    base, routes = encoded_server
    routes["/bad"] = (_corrupt(gzip.compress(ISS.encode() * 50)), "gzip")
    with pytest.raises(StarbrainError, match=r"/bad: the gzip data is corrupt"):
        fetch_text(base + "/bad")
    routes["/br"] = (b"\x0b\x02\x80hello\x03", "br")
    with pytest.raises(StarbrainError, match="'br' content encoding"):
        fetch_text(base + "/br")
