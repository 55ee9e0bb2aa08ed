"""The posts JSON Lines reader: good records kept, each bad one named file:line: field."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest

from starbrain.sources.posts import POSTS_SCHEMA, parse_posts_jsonl, read_posts
from starbrain.store.database import Store

GOOD = {
    "id": "p1",
    "time": "2026-12-07T11:00:00.250Z",
    "author": "@ana",
    "text": "Falcon 9 engine shutdown early? #launch",
    "lang": "en",
    "geo": {"lat": 28.5, "lon": -80.6},
    "entities": ["Falcon 9", "#launch"],
}


def _lines(*objs: object) -> str:
    return "\n".join(o if isinstance(o, str) else json.dumps(o, ensure_ascii=False) for o in objs)


def test_a_good_record_round_trips_every_field() -> None:
    other = {"id": 7, "geo": None, "lang": "ja-JP", "text": "エンジン停止？", "reply_to": "p1"}
    res = parse_posts_jsonl(_lines(GOOD, {**GOOD, **other, "entities": None}), "x.jsonl")
    assert res.errors == []
    t = res.table
    assert t.schema == POSTS_SCHEMA
    row = t.slice(0, 1).to_pylist()[0]
    assert row["id"] == "p1" and row["author"] == "@ana" and row["lang"] == "en"
    assert np.datetime64(row["time"].replace(tzinfo=None), "ns") == np.datetime64(
        "2026-12-07T11:00:00.250", "ns"
    )
    assert row["lat_deg"] == pytest.approx(28.5) and row["lon_deg"] == pytest.approx(-80.6)
    assert json.loads(row["entities"]) == ["Falcon 9", "#launch"]
    assert row["source"] == "x.jsonl"
    second = t.slice(1, 1).to_pylist()[0]
    assert second["id"] == "7" and second["lang"] == "ja-jp" and second["reply_to"] == "p1"
    assert second["lat_deg"] is None and second["text"] == "エンジン停止？"
    assert json.loads(second["entities"]) == []


@pytest.mark.parametrize(
    ("bad", "field", "reason"),
    [
        ({k: v for k, v in GOOD.items() if k != "id"}, "id", "missing"),
        ({**GOOD, "id": 1.5}, "id", "string or an integer"),
        ({**GOOD, "time": "yesterday"}, "time", "cannot read"),
        ({**GOOD, "time": 1765000000}, "time", "ISO-8601"),
        ({**GOOD, "time": "3000-01-01T00:00:00Z"}, "time", ""),
        ({**GOOD, "author": ""}, "author", "empty"),
        ({**GOOD, "text": None}, "text", "null"),
        ({**GOOD, "text": "x" * 20_001}, "text", "more than 20000"),
        ({**GOOD, "lang": "english!"}, "lang", "language tag"),
        ({**GOOD, "geo": {"lat": 91, "lon": 0}}, "geo.lat", "outside"),
        ({**GOOD, "geo": {"lat": 0, "lon": "east"}}, "geo.lon", "number"),
        ({**GOOD, "geo": {"type": "Point", "coordinates": [200, 0]}}, "geo.lon", "outside"),
        ({**GOOD, "entities": "F9"}, "entities", "list of strings"),
        ({**GOOD, "reply_to": ["p0"]}, "reply_to", "post id"),
        ([1, 2], None, "JSON object"),
        ("{not json", None, "not JSON"),
    ],
)
def test_each_bad_record_is_named_and_the_rest_kept(bad: object, field: str | None,
                                                    reason: str) -> None:  # fmt: skip
    text = _lines(GOOD, bad, {**GOOD, "id": "p3"})
    res = parse_posts_jsonl(text, "day.jsonl")
    assert res.table.column("id").to_pylist() == ["p1", "p3"]
    assert len(res.errors) == 1
    e = res.errors[0]
    assert (e.source, e.line, e.field) == ("day.jsonl", 2, field)
    assert reason in e.reason
    assert str(e).startswith(f"day.jsonl:2: {field + ': ' if field else ''}")


def test_invalid_utf8_bom_and_blank_lines(tmp_path: Path) -> None:
    raw = b"\xef\xbb\xbf" + json.dumps(GOOD).encode() + b"\n\n" + b'{"id": "\xff"}\n'
    res = parse_posts_jsonl(raw, "b.jsonl")
    assert res.n_good == 1
    assert [(e.line, e.field) for e in res.errors] == [(3, None)]
    assert "not UTF-8" in res.errors[0].reason


def test_gzip_file_and_geojson_point(tmp_path: Path) -> None:
    p = tmp_path / "posts.jsonl.gz"
    point = {"type": "Point", "coordinates": [139.7, 35.7]}
    p.write_bytes(gzip.compress(_lines({**GOOD, "geo": point}).encode()))
    res = read_posts(p)
    assert res.errors == [] and res.n_good == 1
    row = res.table.to_pylist()[0]
    assert (row["lat_deg"], row["lon_deg"]) == (35.7, 139.7)


def test_store_deduplicates_by_id_and_counts_conflicts() -> None:
    first = parse_posts_jsonl(_lines(GOOD, {**GOOD, "id": "p2"}), "a.jsonl").table
    again = parse_posts_jsonl(
        _lines(GOOD, {**GOOD, "id": "p2", "text": "edited"}, {**GOOD, "id": "p4"}), "b.jsonl"
    ).table
    with Store(":memory:") as store:
        r1 = store.append("posts", first, source="a.jsonl")
        r2 = store.append("posts", again, source="b.jsonl")
        assert (r1.n_new, r1.n_duplicate) == (2, 0)
        # p1 is a re-delivery (other file, same content), p2 has another text: a conflict
        assert (r2.n_new, r2.n_duplicate, r2.n_conflict) == (1, 1, 1)
        assert r2.conflicts == ({"id": "p2"},)
        stored = store.read("posts")
        assert stored.column("id").to_pylist() == ["p1", "p2", "p4"]
        assert stored.to_pylist()[1]["text"] == GOOD["text"]
        assert stored.schema == POSTS_SCHEMA
