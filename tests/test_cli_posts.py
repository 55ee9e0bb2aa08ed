"""``starbrain posts`` as a user runs it: a real process and store file."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from starbrain.cli import app
from tests.test_cli import run


def test_in_process_simulate_and_search(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STARBRAIN_DB", str(tmp_path / "s.duckdb"))
    r = CliRunner().invoke(
        app,
        [
            "posts",
            "simulate",
            "-o",
            str(tmp_path / "d.jsonl"),
            "--hours",
            "6",
            "--events",
            "2",
            "--start",
            "2026-12-07T00:00",
            "--load",
        ],
    )
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(
        app,
        ["posts", "search", "engine shutdown", "-k", "3", "--mode", "lexical", "--format", "json"],
    )
    assert r.exit_code == 0, r.output
    hits = json.loads(r.stdout)
    assert len(hits) == 3 and all("engine" in h["text"].lower() for h in hits)


@pytest.mark.slow
def test_simulate_load_search_bursts(tmp_path: Path) -> None:
    env = {"STARBRAIN_DB": str(tmp_path / "s.duckdb")}
    out = run(
        "posts",
        "simulate",
        "-o",
        str(tmp_path / "day.jsonl"),
        "--start",
        "2026-12-07T00:00:00",
        "--seed",
        "3",
        "--phrasing",
        "heldout",
        "--load",
        cwd=tmp_path,
        env=env,
    )
    assert out.returncode == 0, out.stderr
    n = sum(1 for _ in (tmp_path / "day.jsonl").open(encoding="utf-8"))
    assert f"loaded {n} new posts" in out.stdout
    labels = [json.loads(x) for x in (tmp_path / "day.labels.jsonl").open(encoding="utf-8")]
    kind = {r["id"]: r["kind"] for r in labels}

    out = run(
        "posts",
        "search",
        "engine shutdown",
        "--since",
        "12h",
        "--now",
        "2026-12-08T00:00:00",
        "-k",
        "5",
        "--format",
        "csv",
        cwd=tmp_path,
        env=env,
    )
    assert out.returncode == 0, out.stderr
    rows = list(csv.DictReader(io.StringIO(out.stdout)))
    assert [r["rank"] for r in rows] == ["1", "2", "3", "4", "5"]
    assert all(r["time"] >= "2026-12-07T12:00:00" for r in rows)
    assert all(kind[r["id"]] == "event" for r in rows)

    out = run(
        "posts",
        "bursts",
        "--events",
        str(tmp_path / "day.events.jsonl"),
        "--format",
        "json",
        cwd=tmp_path,
        env=env,
    )
    assert out.returncode == 0, out.stderr
    bursts = json.loads(out.stdout)
    events = [json.loads(x)["id"] for x in (tmp_path / "day.events.jsonl").open()]
    linked = {b["event_id"] for b in bursts if b["event_id"]}
    assert len(linked) >= 7 and linked <= set(events)
    assert not any(b["spam"] for b in bursts)
    assert "spam, not listed" in out.stderr

    # a second load: duplicates, and one bad line named by file:line: field
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x", "author": "a", "text": "t", "lang": "en"}\n', encoding="utf-8")
    out = run("posts", "load", str(bad), str(tmp_path / "day.jsonl"), cwd=tmp_path, env=env)
    assert out.returncode == 0, out.stderr
    assert f"{bad}:1: time: missing" in out.stderr
    assert f"{n} valid, 0 new, {n} duplicate, 0 bad" in out.stdout
    out = run("posts", "load", str(bad), "--strict", cwd=tmp_path, env=env)
    assert out.returncode == 1 and "--strict" in out.stderr


def test_bad_since_is_one_sentence(tmp_path: Path) -> None:
    env = {"STARBRAIN_DB": str(tmp_path / "s.duckdb")}
    out = run("posts", "search", "x", "--since", "yesterdayish", cwd=tmp_path, env=env)
    assert out.returncode == 1
    assert "since" in out.stderr and "duration such as 15m" in out.stderr
