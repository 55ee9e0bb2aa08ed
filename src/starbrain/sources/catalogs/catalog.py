"""Catalogue loading: read a TLE or OMM file or URL, detect its format, parse it with error reports.

``load_catalog`` is the single entry point the CLI and the loop use. It never raises for bad
records (they come back in ``LoadResult.errors``); it raises ``StarbrainError`` with one clear
sentence when the whole input cannot be read (missing file, unreachable URL, unknown format).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlparse

from starbrain.core.errors import StarbrainError
from starbrain.sources.catalogs.omm import parse_omm, sniff_omm_format
from starbrain.sources.catalogs.tle import parse_tle
from starbrain.sources.records import LoadResult

__all__ = ["FORMATS", "detect_format", "fetch_text", "load_catalog", "parse_catalog_text"]

FORMATS = ("auto", "tle", "omm-json", "omm-csv", "omm-xml", "omm-kvn")


def _normalise(text: str) -> str:
    """Drop a UTF-8 byte-order mark; turn old Mac CR-only line ends into LF. CRLF and LF stay
    as they are, and a bare CR inside an LF-terminated file stays in its line (the readers
    report it as that record's error, whether the text came from a file, a URL or Python)."""
    if text.startswith("\ufeff"):
        text = text[1:]
    if "\r" in text and "\n" not in text:
        text = text.replace("\r", "\n")
    return text


def detect_format(text: str) -> str:
    """One of FORMATS (not 'auto') from the content; TLE when nothing else matches."""
    omm = sniff_omm_format(_normalise(text))
    return f"omm-{omm}" if omm else "tle"


def fetch_text(url: str, timeout_s: float = 30.0) -> str:
    """GET a URL's text with httpx; a clear ``StarbrainError`` when offline or refused."""
    import httpx

    from starbrain.sources.compressed import ACCEPT_ENCODING, response_bytes

    try:  # the body is decompressed (capped, checked) by sources.compressed, not by httpx
        with httpx.stream(
            "GET", url, timeout=timeout_s, follow_redirects=True,
            headers={"Accept-Encoding": ACCEPT_ENCODING},
        ) as response:  # fmt: skip
            response.raise_for_status()
            body, charset = response_bytes(response, url), response.encoding or "utf-8"
    except httpx.HTTPStatusError as exc:
        raise StarbrainError(
            f"{url} answered HTTP {exc.response.status_code}; nothing was loaded"
        ) from exc
    except httpx.HTTPError as exc:
        raise StarbrainError(
            f"could not fetch {url} ({type(exc).__name__}: {exc}); are you offline? "
            "Download the file elsewhere and load it by path."
        ) from exc
    return body.decode(charset, errors="replace")


def _is_url(location: str) -> bool:
    return urlparse(location).scheme in ("http", "https")


def parse_catalog_text(
    text: str,
    source: str,
    fmt: str = "auto",
    check_checksums: bool = True,
    on_progress: Callable[[int, int], None] | None = None,
) -> LoadResult:
    """Parse catalogue text in ``fmt`` (see FORMATS)."""
    if fmt not in FORMATS:
        raise StarbrainError(
            f"unknown catalogue format {fmt!r}; choose one of {', '.join(FORMATS)}"
        )
    text = _normalise(text)
    if fmt == "auto":
        fmt = detect_format(text)
    if fmt == "tle":
        return parse_tle(text, source, on_progress=on_progress, check_checksums=check_checksums)
    result = parse_omm(text, source, fmt.removeprefix("omm-"))
    if on_progress is not None:
        on_progress(result.n_good + len(result.errors), result.n_good + len(result.errors))
    return result


def load_catalog(
    location: str | Path,
    fmt: str = "auto",
    check_checksums: bool = True,
    on_progress: Callable[[int, int], None] | None = None,
) -> LoadResult:
    """Read and parse a catalogue from a file path or an http(s) URL."""
    location = str(location)
    if _is_url(location):
        text = fetch_text(location)
    else:
        path = Path(location).expanduser()
        if not path.is_file():
            raise StarbrainError(f"{location}: no such file")
        try:
            # no newline translation: a file reads exactly as the same bytes from a URL would
            text = path.read_bytes().decode("utf-8", errors="replace")
        except OSError as exc:
            raise StarbrainError(f"{location}: cannot be read ({exc.strerror})") from exc
    return parse_catalog_text(text, location, fmt, check_checksums, on_progress)
