"""The post simulator: event posts after heavy-tailed delays, daily-cycle chatter, spam decoys,
labels beside them, held-out phrasing disjoint from the training set."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from starbrain.sources.posts import (
    LABELS_SCHEMA,
    POSTS_SCHEMA,
    FleetEvent,
    events_from_anomalies,
    events_from_conjunctions,
    random_events,
    read_posts,
    simulate_posts,
)

START = "2026-12-07T00:00:00"


def _day(seed: int = 1, phrasing: str = "train"):  # type: ignore[no-untyped-def]
    events = random_events(np.random.default_rng(seed), START, n=8)
    return simulate_posts(events, START, seed=seed, phrasing=phrasing)  # type: ignore[arg-type]


def test_labels_cover_every_post_and_events_are_tied() -> None:
    sim = _day()
    assert sim.posts.schema == POSTS_SCHEMA and sim.labels.schema == LABELS_SCHEMA
    assert sim.posts.column("id").to_pylist() == sim.labels.column("id").to_pylist()
    t = sim.posts.column("time").to_numpy()
    assert np.all(np.diff(t.astype("int64")) >= 0)
    kinds = sim.labels.column("kind").to_pylist()
    assert set(kinds) == {"event", "chatter", "spam"}
    assert len(set(sim.posts.column("id").to_pylist())) == sim.posts.num_rows
    langs = set(sim.posts.column("lang").to_pylist())
    assert {"en", "ja"} <= langs
    by_event: dict[str, list[int]] = {}
    for i, (k, ev) in enumerate(zip(kinds, sim.labels.column("event_id").to_pylist(), strict=True)):
        if k == "event":
            by_event.setdefault(ev, []).append(i)
    assert set(by_event) == {e.id for e in sim.events}
    texts = sim.posts.column("text").to_pylist()
    for e in sim.events:
        first = min(t[i] for i in by_event[e.id])
        delay_s = (first - e.time) / np.timedelta64(1, "s")
        assert 0 < delay_s < 3600  # after the event, within the hour
        # every post about an event names its subject (vehicle, satellite or service)
        assert all(e.subject in texts[i] for i in by_event[e.id])


def test_delays_are_minutes_and_heavy_tailed() -> None:
    delays = []
    for seed in range(6):
        sim = _day(seed)
        ev = {e.id: e.time for e in sim.events}
        t = sim.posts.column("time").to_numpy()
        for i, e in enumerate(sim.labels.column("event_id").to_pylist()):
            if e is not None:
                delays.append((t[i] - ev[e]) / np.timedelta64(1, "s"))
    d = np.asarray(delays)
    med = np.median(d)
    assert 120 < med < 600  # minutes
    assert np.quantile(d, 0.99) > 5 * med  # a long tail (log-normal sigma 1: ~10x)


def test_daily_cycle_of_chatter() -> None:
    sim = simulate_posts([], START, seed=3, chatter_per_hour=400, n_spam_bursts=0)
    h = (sim.posts.column("time").to_numpy() - np.datetime64(START)) / np.timedelta64(1, "h")
    counts = np.bincount(h.astype(int), minlength=24)
    # rate 1 + 0.6 cos(2 pi (h - 15) / 24): 1.6 at 15 h, 0.4 at 03 h, so about 4x
    assert counts[14:17].sum() / counts[2:5].sum() == pytest.approx(4.0, rel=0.2)


def test_heldout_phrasing_is_disjoint_and_seed_is_reproducible() -> None:
    train = set(_day(2, "train").posts.column("text").to_pylist())
    held = set(_day(2, "heldout").posts.column("text").to_pylist())
    labels = _day(2, "heldout").labels.column("kind").to_pylist()
    held_event = {
        tx
        for tx, k in zip(_day(2, "heldout").posts.column("text").to_pylist(), labels, strict=True)
        if k == "event"
    }
    assert held_event and not (held_event & train)
    assert held - held_event <= train | held  # chatter/spam share one pool
    a, b = _day(5), _day(5)
    assert a.posts.equals(b.posts) and a.labels.equals(b.labels)


def test_spam_is_few_authors_many_posts() -> None:
    sim = _day(4)
    kinds = np.array(sim.labels.column("kind").to_pylist())
    authors = np.array(sim.posts.column("author").to_pylist())[kinds == "spam"]
    assert len(authors) >= 80 and len(set(authors)) <= 6


def test_written_files_read_back(tmp_path: Path) -> None:
    sim = _day(1)
    posts, labels, events = sim.write(tmp_path / "day.jsonl")
    res = read_posts(posts)
    assert res.errors == []
    assert res.table.drop_columns(["source"]).equals(sim.posts.drop_columns(["source"]))
    lab = [json.loads(x) for x in labels.read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in lab] == sim.labels.column("id").to_pylist()
    ev = [json.loads(x) for x in events.read_text(encoding="utf-8").splitlines()]
    assert [e["id"] for e in ev] == [e.id for e in sim.events]


def test_events_from_store_rows() -> None:
    ts = pa.timestamp("ns", tz="UTC")
    anomalies = pa.table(
        {
            "source": ["f1", "f1", "f2"],
            "start": pa.array(
                np.array(
                    ["2026-12-07T10:00:05", "2026-12-07T10:00:01", "2026-12-07T11:00:00"],
                    dtype="datetime64[ns]",
                ),
                ts,
            ),
        }
    )
    ev = events_from_anomalies(anomalies, place="Kourou", vehicle="Ariane 6")
    assert [(e.id, e.subject, e.place) for e in ev] == [
        ("anomaly:f1", "Ariane 6", "Kourou"),
        ("anomaly:f2", "Ariane 6", "Kourou"),
    ]
    assert ev[0].time == np.datetime64("2026-12-07T10:00:01", "ns")
    conj = pa.table(
        {
            "norad_id_1": [1, 2],
            "norad_id_2": [3, 4],
            "object_name_1": ["ISS", None],
            "object_name_2": ["DEB", "X"],
            "tca": pa.array(
                np.array(["2026-12-07T12:00", "2026-12-07T13:00"], dtype="datetime64[ns]"), ts
            ),
            "collision_probability": [1e-3, None],
        }
    )
    cev = events_from_conjunctions(conj, 1e-4)
    assert len(cev) == 1 and (cev[0].subject, cev[0].other, cev[0].norad_ids) == (
        "ISS",
        "DEB",
        (1, 3),
    )
    assert isinstance(cev[0], FleetEvent)
