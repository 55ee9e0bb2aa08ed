"""JSON Lines post records -> the ``posts`` table, with one :class:`RecordError` per bad record.

One JSON object a line::

    {"id": "p1", "time": "2026-12-07T11:00:00Z", "author": "@ana", "text": "engine out?",
     "lang": "en", "reply_to": null, "geo": {"lat": 28.5, "lon": -80.6},
     "entities": ["Falcon 9", "#launch"]}

Required: ``id`` (a non-empty string, or an integer, kept as its decimal text), ``time`` (ISO 8601;
no offset or ``Z`` means UTC; years 1678-2261), ``author`` (non-empty string), ``text`` (non-empty
string of at most :data:`MAX_TEXT_CHARS` characters) and ``lang`` (a BCP-47 tag such as ``en``,
``ja`` or ``pt-BR``; stored lower-case). Optional: ``reply_to`` (a post id or null), ``geo``
(``{"lat": deg, "lon": deg}`` or a GeoJSON ``Point`` with ``coordinates: [lon, lat]``; WGS-84
degrees, latitude in [-90, 90], longitude in [-180, 180]) and ``entities`` (a list of strings).
Unknown fields are ignored. Blank lines are skipped; a UTF-8 byte-order mark is dropped.

A bad line (invalid UTF-8 or JSON, not an object, a missing or ill-typed field) becomes a
``RecordError`` naming ``file:line: field: reason``; every other line is kept. Compressed files
(gzip, bzip2, xz) are read through :mod:`starbrain.sources.compressed`.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from starbrain.core import timeconv
from starbrain.core.schemas.posts import POSTS_SCHEMA
from starbrain.sources.records import LoadResult, RecordError

__all__ = ["MAX_TEXT_CHARS", "parse_posts_jsonl", "posts_table", "read_posts", "validate_post"]

MAX_TEXT_CHARS = 20_000
_LANG = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$")


class _Bad(ValueError):
    def __init__(self, field: str | None, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason


def _string(obj: dict[str, Any], name: str, required: bool = True) -> str | None:
    v = obj.get(name)
    if v is None:
        if required:
            raise _Bad(name, "missing" if name not in obj else "is null")
        return None
    if not isinstance(v, str):
        raise _Bad(name, f"must be a string, not {type(v).__name__}")
    if required and not v.strip():
        raise _Bad(name, "is empty")
    return v


def _geo(v: Any) -> tuple[float | None, float | None]:
    if v is None:
        return None, None
    if not isinstance(v, dict):
        raise _Bad("geo", f"must be an object, not {type(v).__name__}")
    if v.get("type") == "Point":
        c = v.get("coordinates")
        if not isinstance(c, list) or len(c) < 2:
            raise _Bad("geo", "a GeoJSON Point needs coordinates [lon, lat]")
        lon, lat = c[0], c[1]
    else:
        lat, lon = v.get("lat"), v.get("lon")
    for name, x, lim in (("geo.lat", lat, 90.0), ("geo.lon", lon, 180.0)):
        if isinstance(x, bool) or not isinstance(x, int | float):
            raise _Bad(name, f"must be a number of degrees, not {x!r}")
        if not math.isfinite(x) or abs(x) > lim:
            raise _Bad(name, f"{x!r} is outside [-{lim:g}, {lim:g}] degrees")
    return float(lat), float(lon)


def validate_post(obj: Any) -> dict[str, Any]:
    """One decoded JSON value -> a row of the ``posts`` schema (``time`` as ``datetime64[ns]``,
    ``entities`` as its JSON text, no ``source``). Raises ``ValueError`` with ``.field`` set."""
    if not isinstance(obj, dict):
        raise _Bad(None, f"a post must be a JSON object, not {type(obj).__name__}")
    pid = obj.get("id")
    if isinstance(pid, int) and not isinstance(pid, bool):
        pid = str(pid)
    elif pid is None or isinstance(pid, str):
        pid = _string(obj, "id")
    else:
        raise _Bad("id", f"must be a string or an integer, not {type(pid).__name__}")
    t_text = obj.get("time")
    if t_text is None:
        raise _Bad("time", "missing" if "time" not in obj else "is null")
    if not isinstance(t_text, str):
        raise _Bad("time", f"must be an ISO-8601 string, not {type(t_text).__name__}")
    try:
        t = timeconv.to_instant(t_text, "time")
    except ValueError as exc:
        raise _Bad("time", str(exc)) from None
    author = _string(obj, "author")
    text = _string(obj, "text")
    assert text is not None
    if len(text) > MAX_TEXT_CHARS:
        raise _Bad("text", f"has {len(text)} characters, more than {MAX_TEXT_CHARS}")
    lang = _string(obj, "lang")
    assert lang is not None
    if not _LANG.match(lang):
        raise _Bad("lang", f"{lang!r} is not a language tag such as 'en' or 'ja'")
    reply_to = obj.get("reply_to")
    if isinstance(reply_to, int) and not isinstance(reply_to, bool):
        reply_to = str(reply_to)
    elif reply_to is not None and not isinstance(reply_to, str):
        raise _Bad("reply_to", f"must be a post id or null, not {type(reply_to).__name__}")
    lat, lon = _geo(obj.get("geo"))
    ents = obj.get("entities")
    if ents is None:
        ents = []
    if not isinstance(ents, list) or not all(isinstance(e, str) for e in ents):
        raise _Bad("entities", "must be a list of strings")
    return {
        "id": pid,
        "time": t,
        "author": author,
        "text": text,
        "lang": lang.lower(),
        "reply_to": reply_to or None,
        "lat_deg": lat,
        "lon_deg": lon,
        "entities": json.dumps(ents, ensure_ascii=False),
    }


def posts_table(rows: list[dict[str, Any]], source: str | None = None) -> pa.Table:
    """Rows as :func:`validate_post` returns them -> a table in ``POSTS_SCHEMA``."""
    cols: dict[str, Any] = {n: [r.get(n) for r in rows] for n in POSTS_SCHEMA.names}
    cols["time"] = pa.array(
        np.array(cols["time"], dtype="datetime64[ns]"), pa.timestamp("ns", tz="UTC")
    )
    cols["source"] = [source] * len(rows)
    return pa.table(cols, schema=POSTS_SCHEMA)


def parse_posts_jsonl(data: bytes | str, source: str = "<posts>") -> LoadResult:
    """JSON Lines text -> :class:`LoadResult` (good posts as a ``POSTS_SCHEMA`` table, one
    ``RecordError`` per bad line, 1-based line numbers). Ids repeated in the input are all kept
    here; the store keeps the first (a re-delivery) and counts any other as a conflict."""
    raw = data if isinstance(data, bytes) else data.encode("utf-8")
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    rows: list[dict[str, Any]] = []
    errors: list[RecordError] = []
    for i, line_b in enumerate(raw.split(b"\n"), start=1):
        if not line_b.strip():
            continue
        try:
            line = line_b.decode("utf-8")
        except UnicodeDecodeError as exc:
            errors.append(RecordError(source, f"not UTF-8 ({exc.reason} at byte {exc.start})", i))
            continue
        try:
            obj = json.loads(line)
        except ValueError as exc:
            errors.append(RecordError(source, f"not JSON ({exc})", i))
            continue
        try:
            rows.append(validate_post(obj))
        except _Bad as exc:
            errors.append(RecordError(source, exc.reason, i, field=exc.field))
    return LoadResult(posts_table(rows, source), errors, source)


def read_posts(path: str | Path) -> LoadResult:
    """A JSON Lines file of posts (plain or compressed) -> :class:`LoadResult`."""
    from starbrain.sources.compressed import read_input

    return parse_posts_jsonl(read_input(path), str(path))
