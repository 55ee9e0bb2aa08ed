"""The four OMM text forms read into raw rows: CelesTrak JSON and CSV, CCSDS XML and KVN.

Each reader returns ``(rows, errors)``: one ``_Row`` of raw keyword values per record, with its
locator (1-based line for CSV and KVN, 0-based record index for JSON and XML), and the
``RecordError``s of records it could not split out at all. Values are not converted here: the
validator in ``starbrain.sources.catalogs.omm`` converts and checks them column by column.
"""

from __future__ import annotations

import csv
import io
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from starbrain.sources.catalogs.omm_keywords import METADATA, OMM_FIELDS
from starbrain.sources.records import RecordError

_BOM = "\ufeff"
_LEADING_SPACE = re.compile(r"\s*")


@dataclass(slots=True)
class _Row:
    values: dict[str, Any]
    line: int | None = None  # 1-based line of the record (CSV, KVN)
    record: int | None = None  # 0-based record index (JSON, XML)
    field_lines: dict[str, int] | None = None  # KVN: the line of each keyword
    problem: tuple[str, str, int | None] | None = None  # (field, reason, line) found by a reader


def _strip_bom(text: str) -> str:
    return text[1:] if text.startswith(_BOM) else text


def sniff_omm_format(text: str) -> str | None:
    """'json', 'xml', 'kvn', 'csv', or None when the text does not look like an OMM."""
    start = _LEADING_SPACE.match(text, 1 if text.startswith(_BOM) else 0).end()  # type: ignore[union-attr]
    head = text[start : start + 4096]
    if head.startswith(("[", "{")):
        return "json"
    if head.startswith("<"):
        return "xml"
    if head.startswith("CCSDS_OMM_VERS") or "\nCCSDS_OMM_VERS" in head:
        return "kvn"
    first = head.splitlines()[0] if head else ""
    if "NORAD_CAT_ID" in first.upper() and "," in first:
        return "csv"
    return None


_DUPLICATE = object()  # key under which the JSON object hook notes a repeated keyword


def _json_object(pairs: list[tuple[str, Any]]) -> dict[Any, Any]:
    """A JSON object with upper-cased keys; a keyword given twice is noted, not overwritten."""
    out: dict[Any, Any] = {}
    for key, value in pairs:
        upper = key.upper()
        if upper in out and _DUPLICATE not in out:
            out[_DUPLICATE] = upper
        out[upper] = value
    return out


def _json_int(digits: str) -> int | str:
    """JSON integers; one too long for Python's int() (4300 digits) stays a digit string, which
    the field checks then report, instead of a ValueError that would abort the file."""
    return int(digits) if len(digits) <= 4000 else digits


def _skip_json_value(text: str, pos: int) -> int:
    """End of the JSON array/object starting at ``pos``, found without recursion (for values
    nested too deeply for the decoder). Strings are skipped with their escapes."""
    depth, k, n = 0, pos, len(text)
    while k < n:
        c = text[k]
        if c == '"':
            k += 1
            while k < n and text[k] != '"':
                k += 2 if text[k] == "\\" else 1
        elif c in "[{":
            depth += 1
        elif c in "]}":
            depth -= 1
            if depth == 0:
                return k + 1
        k += 1
    raise ValueError("unterminated JSON value")


def _json_items(text: str) -> tuple[list[Any], list[int]]:
    """Decode a top-level JSON array element by element: (items, indices of the elements nested
    too deeply for the decoder, which are None in items). Raises JSONDecodeError."""
    decoder = json.JSONDecoder(object_pairs_hook=_json_object, parse_int=_json_int)
    ws = re.compile(r"[ \t\n\r]*")
    pos = ws.match(text, 0).end()  # type: ignore[union-attr]
    if not text.startswith("[", pos):
        raise json.JSONDecodeError("expected '['", text, pos)
    pos = ws.match(text, pos + 1).end()  # type: ignore[union-attr]
    items: list[Any] = []
    too_deep: list[int] = []
    if text.startswith("]", pos):
        return items, too_deep
    while True:
        try:
            item, pos = decoder.raw_decode(text, pos)
        except RecursionError:
            try:
                pos = _skip_json_value(text, pos)
            except ValueError:
                raise json.JSONDecodeError("unterminated value", text, pos) from None
            too_deep.append(len(items))
            item = None
        items.append(item)
        pos = ws.match(text, pos).end()  # type: ignore[union-attr]
        if text.startswith("]", pos):
            if text[pos + 1 :].strip(" \t\n\r"):
                raise json.JSONDecodeError("Extra data", text, pos + 1)
            return items, too_deep
        if not text.startswith(",", pos):
            raise json.JSONDecodeError("Expecting ',' delimiter", text, pos)
        pos = ws.match(text, pos + 1).end()  # type: ignore[union-attr]


def _read_json(text: str, source: str) -> tuple[list[_Row], list[RecordError]]:
    too_deep: list[int] = []
    try:
        data = json.loads(text, object_pairs_hook=_json_object, parse_int=_json_int)
    except json.JSONDecodeError as exc:
        return [], [RecordError(source, f"not valid JSON: {exc.msg}", line=exc.lineno)]
    except RecursionError:
        # nested too deeply for the decoder somewhere: decode the records one by one
        if not text.lstrip(" \t\n\r").startswith("["):
            return [], [RecordError(source, "JSON nested too deeply to be an OMM", record=0)]
        try:
            data, too_deep = _json_items(text)
        except json.JSONDecodeError as exc:
            return [], [RecordError(source, f"not valid JSON: {exc.msg}", line=exc.lineno)]
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list):
        kind = type(data).__name__ if data is not None else "null"
        return [], [RecordError(source, f"the JSON is a single {kind}, not OMM records (objects)")]
    rows, errors = [], []
    deep = set(too_deep)
    for k, item in enumerate(data):
        if k in deep:
            errors.append(RecordError(source, "record is nested too deeply", record=k))
        elif isinstance(item, dict):
            repeated = item.pop(_DUPLICATE, None)
            row = _Row(item, record=k)
            if repeated is not None:
                row.problem = (repeated, "keyword appears twice in the record", None)
            rows.append(row)
        else:
            errors.append(RecordError(source, "record is not a JSON object", record=k))
    return rows, errors


def _csv_field(raw: str, header: list[str], bad: Callable[[str], bool]) -> str | None:
    """The header name of the first comma-separated cell of ``raw`` for which ``bad`` holds."""
    cells = raw.split(",")
    if len(cells) != len(header):
        return None
    return next((h for h, c in zip(header, cells, strict=True) if bad(c)), None)


def _longer(cell: str, limit: int) -> bool:
    return len(cell) > limit


def _read_csv(text: str, source: str) -> tuple[list[_Row], list[RecordError]]:
    # split on LF only (a CR before it is part of the terminator), so a bare CR inside a field
    # is that record's error, not a record break; csv.Error is caught per record (the field
    # size limit, a bare CR) and the reader goes on with the next line
    raw_lines = io.StringIO(text).readlines()
    reader = csv.reader(raw_lines)
    try:
        header = [h.strip().upper() for h in next(reader)]
    except StopIteration:
        return [], []
    except csv.Error as exc:
        return [], [RecordError(source, f"CSV header cannot be read: {exc}", line=1)]
    repeated = sorted({h for h in header if h and header.count(h) > 1})
    if repeated:
        return [], [
            RecordError(
                source, f"header names {', '.join(repeated)} more than once", line=1, field=None
            )
        ]
    rows, errors = [], []
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            line = reader.line_num
            raw = raw_lines[line - 1] if 0 < line <= len(raw_lines) else ""
            if "field larger" in str(exc):
                limit = csv.field_size_limit()
                field = _csv_field(raw, header, partial(_longer, limit=limit))
                reason = f"a field is longer than {limit} characters"
            else:
                field = _csv_field(raw.rstrip("\r\n"), header, lambda c: "\r" in c)
                reason = "a field holds a bare carriage return"
            errors.append(RecordError(source, reason, line=line, field=field))
            continue
        line = reader.line_num
        if not any(c.strip() for c in cells):
            continue
        if len(cells) != len(header):
            errors.append(
                RecordError(
                    source, f"has {len(cells)} cells, the header has {len(header)}", line=line
                )
            )
            continue
        rows.append(_Row(dict(zip(header, cells, strict=True)), line=line))
    return rows, errors


_XML_KEYS = set(OMM_FIELDS) | set(METADATA)


def _read_xml(text: str, source: str) -> tuple[list[_Row], list[RecordError]]:
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        return [], [RecordError(source, f"not well-formed XML: {exc}", line=exc.position[0])]
    rows = []
    for k, omm in enumerate(el for el in root.iter() if _local(el.tag) == "omm"):
        row = _Row({}, record=k)
        for el in omm.iter():
            tag = _local(el.tag).upper()
            if tag in _XML_KEYS and el.text is not None:
                if tag in row.values and row.problem is None:
                    row.problem = (tag, "keyword appears twice in the record", None)
                row.values[tag] = el.text.strip()
        rows.append(row)
    if not rows:
        return [], [RecordError(source, "the XML holds no <omm> element", line=1)]
    return rows, []


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _read_kvn(text: str, source: str) -> tuple[list[_Row], list[RecordError]]:
    rows: list[_Row] = []
    errors: list[RecordError] = []
    current: _Row | None = None
    # lines end at LF (CRLF too); other characters str.splitlines() breaks on stay in the line,
    # so line numbers are the ones an editor shows
    for i, raw in enumerate(text.split("\n"), start=1):
        s = raw.removesuffix("\r").strip()
        if not s or s.startswith("COMMENT"):
            continue
        if "=" not in s:
            errors.append(RecordError(source, "not a KEY = value line", line=i))
            continue
        key, _, value = s.partition("=")
        key, value = key.strip().upper(), value.strip()
        if key == "CCSDS_OMM_VERS":
            current = _Row({}, line=i, field_lines={})
            rows.append(current)
            continue
        if current is None:
            errors.append(RecordError(source, "keyword before CCSDS_OMM_VERS", line=i))
            continue
        if "[" in value:  # units, e.g. "15.5 [rev/day]"
            value = value.split("[", 1)[0].strip()
        assert current.field_lines is not None
        if key in current.values:
            if current.problem is None:
                first = current.field_lines[key]
                current.problem = (key, f"keyword appears twice (first on line {first})", i)
            continue
        current.values[key] = value
        current.field_lines[key] = i
    return rows, errors


_READERS: dict[str, Callable[[str, str], tuple[list[_Row], list[RecordError]]]] = {
    "json": _read_json,
    "csv": _read_csv,
    "xml": _read_xml,
    "kvn": _read_kvn,
}
