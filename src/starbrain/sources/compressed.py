"""The one place inputs are decompressed: gzip, zlib/deflate, bzip2 and xz, capped and checked.

Every reader that accepts compressed input goes through :func:`decompress` (files, via
:func:`read_input`; HTTP bodies, via :func:`response_bytes`), so that

* the output is capped at ``STARBRAIN_MAX_DECOMPRESSED_MB`` MiB (``config.settings``, default
  1024): decompression stops as soon as the cap is passed, so a 40 kB file that expands to
  gigabytes costs at most the cap in memory, and the error names the setting;
* corrupt, truncated or trailing-garbage data is one :class:`StarbrainError` sentence naming the
  input (never ``zlib.error``, ``EOFError`` or ``gzip.BadGzipFile``);
* concatenated gzip members and multi-stream bzip2/xz files are read whole, as ``gzip -d`` does.

The method is found from the data's magic bytes; a file whose suffix promises compression it
does not have (``.gz`` holding plain text) is an error, not silently read. Unix ``compress``
(``.Z``), zstd and zip archives are recognised and refused with what to do instead.
"""

from __future__ import annotations

import bz2
import lzma
import zlib
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Protocol

from starbrain.config import settings
from starbrain.core.errors import StarbrainError

__all__ = [
    "ACCEPT_ENCODING",
    "decompress",
    "limit_bytes",
    "read_input",
    "response_bytes",
    "sniff_compression",
]

# what an HTTP client of ours offers; bodies in other encodings are refused (see response_bytes)
ACCEPT_ENCODING = "gzip, deflate"

_MAGIC = (
    (b"\x1f\x8b", "gzip"),
    (b"BZh", "bzip2"),
    (b"\xfd7zXZ\x00", "xz"),
)
_REFUSED = (
    (b"\x1f\x9d", "Unix compress (.Z)", "decompress it first (gzip -d reads .Z files)"),
    (b"\x28\xb5\x2f\xfd", "zstd", "decompress it first (zstd -d)"),
    (b"PK\x03\x04", "a zip archive", "unzip it and load the file inside"),
)
_SUFFIX = {".gz": "gzip", ".gzip": "gzip", ".bz2": "bzip2", ".xz": "xz"}
_CHUNK = 1 << 20  # decompressed bytes produced per step while checking the cap


def limit_bytes() -> int:
    """The cap in bytes: ``STARBRAIN_MAX_DECOMPRESSED_MB`` MiB (default 1024 MiB)."""
    return int(settings().max_decompressed_mb * (1 << 20))


def _mb(n: int) -> str:
    return f"{n / (1 << 20):g}"


def sniff_compression(data: bytes) -> str | None:
    """'gzip', 'bzip2', 'xz' from the magic bytes, or None for anything else."""
    for magic, method in _MAGIC:
        if data.startswith(magic):
            return method
    return None


def _too_big(source: str, method: str, limit: int) -> StarbrainError:
    return StarbrainError(
        f"{source}: the {method} data expands to more than {_mb(limit)} MiB, the limit "
        f"STARBRAIN_MAX_DECOMPRESSED_MB={_mb(limit)} sets; nothing was read (raise the limit "
        "if the file is genuine)"
    )


def _run(
    make: Callable[[], Any],
    data: bytes,
    source: str,
    method: str,
    limit: int,
    zlib_like: bool,
    next_member: Callable[[bytes], bool],
) -> bytes:
    """Decompress ``data`` member after member, stopping once the output passes ``limit``."""
    out = bytearray()
    pending = data
    while True:  # one member (gzip) or stream (bzip2, xz) per turn
        d = make()
        while True:
            room = min(_CHUNK, limit + 1 - len(out))
            got = d.decompress(pending, room)
            out += got
            pending = d.unconsumed_tail if zlib_like else b""
            if len(out) > limit:
                raise _too_big(source, method, limit)
            if d.eof:
                break
            # zlib may hold output for input it has consumed: only an empty step is the end
            if not pending and (not got if zlib_like else d.needs_input):
                raise StarbrainError(
                    f"{source}: the {method} data ends early (a truncated download or copy?); "
                    "nothing was read"
                )
        rest = d.unused_data
        if not rest.strip(b"\0"):  # gzip allows zero padding after the last member
            return bytes(out)
        if not next_member(rest):
            raise StarbrainError(
                f"{source}: {len(rest)} bytes of data that are not {method} follow the "
                f"{method} stream; the file is corrupt and nothing was read"
            )
        pending = rest


def decompress(
    data: bytes, source: str, method: str | None = None, limit: int | None = None
) -> bytes:
    """``data`` decompressed with ``method`` ('gzip', 'zlib', 'deflate', 'bzip2', 'xz'; found
    from the magic bytes when None, and ``data`` returned unchanged when it has none).

    'deflate' is HTTP's: zlib-wrapped, or raw deflate as some servers send it. ``limit`` is the
    cap in bytes (default :func:`limit_bytes`). Raises :class:`StarbrainError` naming ``source``
    when the data is corrupt, truncated, followed by garbage or expands past the cap.
    """
    if method is None:
        for magic, what, todo in _REFUSED:
            if data.startswith(magic):
                raise StarbrainError(f"{source} is compressed as {what}, which starbrain does "
                                     f"not read; {todo}")  # fmt: skip
        method = sniff_compression(data)
        if method is None:
            return data
    cap = limit_bytes() if limit is None else limit
    try:
        if method == "gzip":
            return _run(lambda: zlib.decompressobj(31), data, source, "gzip", cap, True,
                        lambda rest: rest.startswith(b"\x1f\x8b"))  # fmt: skip
        if method in ("zlib", "deflate"):
            wbits = 15 if method == "zlib" or (data[:1] and (data[0] & 0x0F) == 8) else -15
            try:
                return _run(lambda: zlib.decompressobj(wbits), data, source, method, cap, True,
                            lambda _rest: False)  # fmt: skip
            except zlib.error:
                if method == "zlib" or wbits == -15:
                    raise
                return _run(lambda: zlib.decompressobj(-15), data, source, method, cap, True,
                            lambda _rest: False)  # fmt: skip
        if method == "bzip2":
            return _run(bz2.BZ2Decompressor, data, source, "bzip2", cap, False,
                        lambda rest: rest.startswith(b"BZh"))  # fmt: skip
        if method == "xz":
            return _run(lzma.LZMADecompressor, data, source, "xz", cap, False,
                        lambda rest: rest.startswith(b"\xfd7zXZ\x00"))  # fmt: skip
    except (zlib.error, OSError, EOFError, lzma.LZMAError, ValueError) as exc:
        raise StarbrainError(
            f"{source}: the {method} data is corrupt ({exc}); nothing was read"
        ) from exc
    raise ValueError(f"unknown compression method {method!r}")


def read_input(path: str | Path, source: str | None = None) -> bytes:
    """A file's bytes, decompressed through :func:`decompress` when its magic bytes say so.

    A ``.gz``/``.bz2``/``.xz`` suffix on data without that compression is a
    :class:`StarbrainError`, as is a file that cannot be read."""
    p = Path(path).expanduser()
    where = str(path) if source is None else source
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise StarbrainError(f"{where}: cannot be read ({exc.strerror or exc})") from exc
    promised = _SUFFIX.get(p.suffix.lower())
    found = sniff_compression(data)
    if promised is not None and found != promised:
        raise StarbrainError(
            f"{where}: the name ends in {p.suffix} but the file is not {promised} data "
            f"({'it is ' + found if found else 'no ' + promised + ' header'}); "
            "nothing was read"
        )
    return decompress(data, where)


class _Response(Protocol):
    headers: Any

    def iter_raw(self) -> Iterable[bytes]: ...


def response_bytes(response: _Response, source: str, limit: int | None = None) -> bytes:
    """The body of a streamed ``httpx`` response (``httpx.stream``), decoded by its
    Content-Encoding through :func:`decompress`.

    Reads the raw body itself, stopping at the same cap as the decompressed size, so neither a
    huge download nor a decompression bomb reaches memory. ``identity``, ``gzip``/``x-gzip`` and
    ``deflate`` are read (what :data:`ACCEPT_ENCODING` offers); any other encoding is a
    :class:`StarbrainError`."""
    cap = limit_bytes() if limit is None else limit
    raw = bytearray()
    for chunk in response.iter_raw():
        raw += chunk
        if len(raw) > cap:
            raise StarbrainError(
                f"{source}: the response is larger than {_mb(cap)} MiB, the limit "
                f"STARBRAIN_MAX_DECOMPRESSED_MB={_mb(cap)} sets; nothing was read"
            )
    body = bytes(raw)
    codings = [c.strip().lower() for c in response.headers.get("content-encoding", "").split(",")]
    for coding in reversed([c for c in codings if c and c != "identity"]):  # applied in order
        method = {"gzip": "gzip", "x-gzip": "gzip", "deflate": "deflate"}.get(coding)
        if method is None:
            raise StarbrainError(
                f"{source}: the server sent the body in the {coding!r} content encoding, which "
                f"starbrain does not read (it asks for {ACCEPT_ENCODING}); nothing was read"
            )
        body = decompress(body, source, method, cap)
    return body
