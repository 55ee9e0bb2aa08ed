"""Burst detection on the post stream: the two-state automaton on hand-made counts, spam
decoys flagged, each burst linked to its fleet event, and the issue's targets on held-out days."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from starbrain.models.text.bursts import (
    BURSTS_SCHEMA,
    bursts_table,
    detect_bursts,
    link_bursts,
    score_bursts,
)
from starbrain.sources.posts import FleetEvent, posts_table, random_events, simulate_posts

START = "2026-12-07T00:00:00"
T0 = np.datetime64(START, "ns")


def _posts(items: list[tuple[float, str, str]]) -> pa.Table:
    rows = [
        {
            "id": f"p{i}",
            "time": T0 + np.timedelta64(int(t * 1e9), "ns"),
            "author": a,
            "text": x,
            "lang": "en",
            "reply_to": None,
            "lat_deg": None,
            "lon_deg": None,
            "entities": "[]",
        }
        for i, (t, a, x) in enumerate(items)
    ]
    return posts_table(rows)


def test_a_quiet_term_that_jumps_is_flagged_within_a_minute() -> None:
    # one chatter post every 5 min for 6 h, then 12 posts about an engine in 2 min
    items = [(300.0 * k, f"@c{k}", "nice weather today") for k in range(72)]
    items += [(21_600.0 + 10.0 * k, f"@u{k}", "Vulcan engine shutdown") for k in range(12)]
    bursts = detect_bursts(_posts(items))
    assert len(bursts) == 1
    b = bursts[0]
    assert set(b.terms) >= {"vulcan", "engine", "shutdown"} and not b.spam
    assert b.n_posts == 12 and b.n_authors == 12
    assert b.start == T0 + np.timedelta64(21_600, "s")
    delay = (b.flagged_at - b.start) / np.timedelta64(1, "s")
    assert 0 < delay <= 60


def test_steady_chatter_is_never_a_burst() -> None:
    rng = np.random.default_rng(0)
    t = np.sort(rng.uniform(0, 86_400, 3000))
    pool = ["nice weather today", "coffee time", "reading a book", "traffic is bad"]
    items = [(float(x), f"@c{i}", pool[i % 4]) for i, x in enumerate(t)]
    assert detect_bursts(_posts(items)) == []


def test_few_accounts_posting_the_same_hashtags_is_spam_and_never_linked() -> None:
    items = [(600.0 * k, f"@c{k}", "nice weather today") for k in range(30)]
    items += [
        (7200.0 + 5.0 * k, f"@bot{k % 3}", "#airdrop #starlink free tokens") for k in range(40)
    ]
    posts = _posts(items)
    ev = [FleetEvent("e1", "outage", T0 + np.timedelta64(7100, "s"), "Starlink", "", "Tokyo")]
    bursts = link_bursts(detect_bursts(posts), posts, ev)
    assert len(bursts) == 1 and bursts[0].spam and bursts[0].n_authors == 3
    assert bursts[0].event_id is None


def test_linking_picks_the_named_event_with_confidence() -> None:
    items = [(600.0 * k, f"@c{k}", "nice weather today") for k in range(30)]
    items += [
        (3700.0 + 8.0 * k, f"@u{k}", "Electron engine out after liftoff from Mahia")
        for k in range(10)
    ]
    posts = _posts(items)
    ev = [
        FleetEvent("far", "launch_anomaly", T0 + np.timedelta64(3500, "s"), "Falcon 9"),
        FleetEvent(
            "named", "launch_anomaly", T0 + np.timedelta64(3600, "s"), "Electron", "", "Mahia"
        ),
        FleetEvent("late", "launch_anomaly", T0 + np.timedelta64(5000, "s"), "Electron"),
    ]
    (b,) = link_bursts(detect_bursts(posts), posts, ev)
    assert b.event_id == "named"
    # every post names it; started 100 s after the event: exp(-100 / 1800)
    assert b.confidence == pytest.approx(np.exp(-100 / 1800), abs=1e-3)
    # an event nobody names (a stored anomaly knows only its flight id) links on time alone
    unnamed = [FleetEvent("anomaly:f9", "launch_anomaly", T0 + np.timedelta64(3600, "s"), "f9")]
    (u,) = link_bursts(detect_bursts(posts), posts, unnamed)
    assert u.event_id == "anomaly:f9"
    assert u.confidence == pytest.approx(0.5 * np.exp(-100 / 1800), abs=1e-3)
    t = bursts_table([b])
    assert t.schema == BURSTS_SCHEMA and t.column("event_id").to_pylist() == ["named"]


@pytest.mark.slow
def test_issue_targets_on_heldout_phrasing_days() -> None:
    """20 simulated days (held-out phrasing, 8 events each, two spam decoys a day; parameters
    chosen on train-phrasing seeds 0-9): >= 96 % found, >= 90 % flagged within 60 s of the first
    post, <= 1 false burst a day, linking precision >= 90 %."""
    tot = np.zeros(6)
    worst_false = 0
    for seed in range(100, 120):
        ev = random_events(np.random.default_rng(seed), START, n=8)
        sim = simulate_posts(ev, START, seed=seed, phrasing="heldout")
        b = link_bursts(detect_bursts(sim.posts), sim.posts, ev)
        sc = score_bursts(b, sim.posts, sim.labels)
        worst_false = max(worst_false, sc.n_false)
        tot += [
            sc.n_events,
            sc.n_found,
            sc.n_within_60s,
            sc.n_false,
            sc.n_linked,
            sc.n_linked_right,
        ]
    assert tot[1] / tot[0] >= 0.96
    assert tot[2] / tot[1] >= 0.90
    assert worst_false <= 1
    assert tot[5] / tot[4] >= 0.90


def test_one_simulated_day_meets_the_targets() -> None:
    ev = random_events(np.random.default_rng(103), START, n=8)
    sim = simulate_posts(ev, START, seed=103, phrasing="heldout")
    b = link_bursts(detect_bursts(sim.posts), sim.posts, ev)
    sc = score_bursts(b, sim.posts, sim.labels)
    assert sc.n_events == 8 and sc.n_found >= 7
    assert sc.n_false <= 1 and sc.link_precision >= 0.9
    assert any(x.spam for x in b)  # the decoys were seen, and set aside
