"""Online bursts (models.text.bursts.OnlineBursts): state carried between windows gives the
batch detector's flag times (BurstDetector.process is the reference), whatever the windowing."""

from __future__ import annotations

import numpy as np

from starbrain.models.text.bursts import BurstDetector, OnlineBursts
from starbrain.sources.posts.simulator import random_events, simulate_posts

START = np.datetime64("2026-03-01T00:00:00", "ns")


def _day() -> object:
    events = random_events(np.random.default_rng(1), START, 86_400.0, 8)
    return simulate_posts(events, START, 86_400.0, seed=1)


def _online(posts: object, window_s: int) -> list[object]:
    ob, out = OnlineBursts(), []
    times = posts.column("time").to_numpy()  # type: ignore[attr-defined]
    for k in range(0, 86_400, window_s):
        a = START + np.timedelta64(k, "s")
        b = a + np.timedelta64(window_s, "s")
        out += ob.update(posts.filter((times >= a) & (times < b)), b)  # type: ignore[attr-defined]
    return out


def test_online_bursts_flag_when_the_batch_detector_does_and_once_per_topic() -> None:
    sim = _day()
    batch = {b.flagged_at for b in BurstDetector().process(sim.posts) if not b.spam}
    online = [b for b in _online(sim.posts, 60) if not b.spam]
    flagged = [b.flagged_at for b in online]
    assert len(batch) == 8
    assert len(set(flagged)) == len(flagged)  # one alert per topic
    assert set(flagged) <= batch  # the same instants, to the nanosecond
    assert len(set(flagged) & batch) >= 7  # measured: 7 of 8 (one judged spam on 5 posts)


def test_online_state_makes_the_alert_times_independent_of_the_windowing() -> None:
    sim = _day()
    a = sorted(b.flagged_at for b in _online(sim.posts, 60) if not b.spam)
    b = sorted(x.flagged_at for x in _online(sim.posts, 600) if not x.spam)
    assert a == b
