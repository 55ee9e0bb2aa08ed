"""The loop's posts task (loop.posts_task, issue #17): simulated posts stored once per window,
online bursts alerted on the bus with the model and channel named and linked to the fleet event
that caused them, a restart storing no post twice, and live posts over a real nats-server."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import numpy as np

from starbrain.loop.config import LoopConfig
from starbrain.loop.publish import Publisher
from starbrain.loop.service import LoopService
from starbrain.sources.posts.simulator import random_events, simulate_posts
from starbrain.store.database import Store

DAY = "2026-11-25"
D0 = np.datetime64(DAY, "ns")


def _events() -> list[Any]:
    """The task's own events for DAY (same seeding as PostsTask._simulated, posts_seed 0)."""
    k = int((D0 - np.datetime64("2000-01-01", "ns")) // np.timedelta64(86_400, "s"))
    return random_events(np.random.default_rng([0, k]), D0, 86_400.0, 8), k


def quiet(**over: Any) -> LoopConfig:
    """Only the posts task does work: 5 satellites, no telemetry, day-long planner windows."""
    base: dict[str, Any] = dict(
        max_objects=5, speed=0.0, telemetry_sim=False, anomaly_detector="none", refit=False,
        catalog_interval_s=86_400.0, conjunctions_interval_s=86_400.0,
        passes_interval_s=86_400.0, posts_interval_s=60.0,
    )  # fmt: skip
    base.update(over)
    return LoopConfig(**base)


class Recorder(Publisher):
    """The in-process publisher, keeping every alert it publishes."""

    def __init__(self) -> None:
        super().__init__()
        self.alerts: list[dict[str, Any]] = []

    async def publish(self, subject: str, message: dict[str, Any]) -> None:
        if subject == "starbrain.alerts":
            self.alerts.append(message)
        await super().publish(subject, message)


def run(cfg: LoopConfig, path: Path) -> tuple[Any, int, list[dict[str, Any]]]:
    pub = Recorder()
    with Store(path) as store:
        summary = asyncio.run(LoopService(cfg, store, pub).run())
        return summary, store.count("posts"), pub.alerts


def test_posts_task_alerts_a_linked_burst_and_resumes_without_duplicates(tmp_path: Path) -> None:
    events, k = _events()
    ev = events[0]
    start = ev.time - np.timedelta64(300, "s")
    iso = str(np.datetime_as_string(start, unit="s"))
    path = tmp_path / "loop.duckdb"
    first, n1, alerts = run(quiet(posts_sim=True, start=iso, duration_s=1200.0), path)
    assert first.tasks["posts"]["runs"] == 20 and first.tasks["posts"]["errors"] == 0
    posts = simulate_posts(events, D0, 86_400.0, seed=k).posts
    times = posts.column("time").to_numpy()

    def n_between(a: np.datetime64, b: np.datetime64) -> int:
        return int(((times >= a) & (times < b)).sum())

    assert n1 == n_between(start, start + np.timedelta64(1200, "s")) > 0
    alerts = [e for e in alerts if e["kind"] == "burst"]
    assert alerts, "the event's burst raised no alert"
    a = alerts[0]
    assert a["model"] == "kleinberg-bursts" and a["channel"] == "posts"
    assert a["event_id"] == ev.id and a["confidence"] >= 0.3
    # restart: resumes at the checkpoint, stores the next 10 min, never a post twice
    second, n2, _ = run(quiet(posts_sim=True, start=iso, duration_s=1800.0), path)
    assert second.resumed and second.tasks["posts"]["runs"] == 10
    assert n2 == n_between(start, start + np.timedelta64(1800, "s"))


def test_live_posts_over_real_nats_are_stored_and_alerted(tmp_path: Path, nats_server: Any) -> None:
    """12 posts from 12 accounts published on a core NATS subject (JSON Lines bodies, one bad
    line among them) reach the store once each and raise one burst alert; the bad line is
    skipped, the rest kept."""
    import nats

    start = np.datetime64("2026-11-25T06:00:00", "ns")
    cfg = quiet(
        start="2026-11-25T06:00:00", speed=300.0, duration_s=900.0,
        posts_subject="posts.live", nats_url=nats_server.url,
    )  # fmt: skip
    lines = [
        json.dumps(
            {
                "id": f"live-{i}",
                "time": f"{np.datetime_as_string(start + np.timedelta64(60 + i, 's'))}Z",
                "author": f"@acct{i}",
                "text": "Falcon 9 engine shutdown seen over the cape",
                "lang": "en",
            }
        )
        for i in range(12)
    ]
    pub = Recorder()

    async def main() -> tuple[Any, int]:
        with Store(tmp_path / "loop.duckdb") as store:
            service = LoopService(cfg, store, pub)
            job = asyncio.create_task(service.run())
            task = service_posts_task(service)
            for _ in range(200):  # the subscription starts with the first posts window
                if task is not None and task._nc is not None:
                    break
                await asyncio.sleep(0.02)
                task = task or service_posts_task(service)
            nc = await nats.connect(nats_server.url)
            await nc.publish("posts.live", "\n".join([*lines[:6], "{not json"]).encode())
            await nc.publish("posts.live", "\n".join(lines[6:]).encode())
            await nc.flush()
            await nc.close()
            summary = await job
            return summary, store.count("posts")

    summary, n = asyncio.run(main())
    assert n == 12 and summary.tasks["posts"]["errors"] == 0
    bursts = [a for a in pub.alerts if a["kind"] == "burst"]
    assert len(bursts) == 1 and bursts[0]["n_posts"] == 12
    assert {"engine", "shutdown"} <= set(bursts[0]["terms"])


def service_posts_task(service: Any) -> Any:
    """The running PostsTask (its close is registered with the service)."""
    for close in service._closers:
        return close.__self__
    return None
