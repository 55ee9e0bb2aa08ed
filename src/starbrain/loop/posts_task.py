"""The loop's ``posts`` task (issue #17): posts in, online bursts, burst alerts on the bus.

Each window ``[a, b)`` of simulated time:

1. takes the window's posts from the in-process simulator (``posts_sim``: the post simulator of
   :mod:`starbrain.sources.posts.simulator` over synthetic fleet events, one simulated day at
   a time, seeded by ``posts_seed`` and the day) and from the NATS subject ``posts_subject``
   (live input; see below), and queues them for the ``posts`` stream (de-duplicated by id);
2. feeds them to :class:`~starbrain.models.text.bursts.OnlineBursts` (Kleinberg's two-state
   automaton per term, state carried between windows, bins of 10 s) and steps it to ``b``;
3. links each new burst to the simulator's fleet events (time, names), and publishes one alert
   per non-spam burst on ``starbrain.alerts`` (``kind`` "burst", ``model`` "kleinberg-bursts",
   ``channel`` "posts", terms, posts, flagged time, linked event and confidence).

The rows, the alerts and the checkpoint go in the window's one transaction (``_defer``/``_save``).

**Live input wire format.** Core NATS on ``posts_nats_url`` (default ``nats_url``), subject
``posts_subject``: each message body is JSON Lines (one or more posts, UTF-8), each line one post
as the posts reader takes it: ``{"id", "time" (ISO 8601 UTC), "author", "text", "lang",
"reply_to"?, "geo"?, "entities"?}``. Bad lines are logged with their message and line number
and skipped; the rest are kept. Received posts are processed by the next window to finish (a
post whose time lies before the burst detector's current bin counts in the current bin).
After a restart the burst state starts empty (posts already stored are not replayed).
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pyarrow as pa

from starbrain.core.schemas.posts import POSTS_SCHEMA
from starbrain.loop.clock import iso

__all__ = ["PostsTask", "posts_tasks"]

log = logging.getLogger("starbrain.loop")
_DAY = np.timedelta64(86_400, "s")


class PostsTask:
    """One ``posts`` task over a :class:`~starbrain.loop.service.LoopService` (see the module)."""

    def __init__(self, service: Any) -> None:
        from starbrain.models.text.bursts import OnlineBursts

        self.service = service
        self.cfg = service.config
        self.bursts = OnlineBursts()
        self.events: list[Any] = []  # sources.posts.FleetEvent
        self._day: np.datetime64 | None = None
        self._day_posts: pa.Table | None = None
        self._received: list[pa.Table] = []
        self._nc: Any = None

    # -- sources --------------------------------------------------------------------------------
    def _simulated(self, a: np.datetime64, b: np.datetime64) -> list[pa.Table]:
        """The simulator's posts in ``[a, b)``, one simulated day generated at a time."""
        from starbrain.sources.posts.simulator import random_events, simulate_posts

        out = []
        day = a.astype("datetime64[D]").astype("datetime64[ns]")
        while day < b:
            if self._day != day:
                k = int((day - np.datetime64("2000-01-01", "ns")) // _DAY)
                rng = np.random.default_rng([self.cfg.posts_seed, k])
                events = random_events(rng, day, 86_400.0, self.cfg.posts_events_per_day)
                sim = simulate_posts(events, day, 86_400.0, seed=self.cfg.posts_seed + k)
                self._day, self._day_posts = day, sim.posts
                self.events = [e for e in self.events if e.time >= day - _DAY] + list(events)
            assert self._day_posts is not None
            times = self._day_posts.column("time").to_numpy()
            t = self._day_posts.filter((times >= a) & (times < b))
            if t.num_rows:
                out.append(t.replace_schema_metadata(None))
            day = day + _DAY
        return out

    async def _subscribe(self) -> None:
        import nats

        from starbrain.sources.posts.jsonl import parse_posts_jsonl

        url = self.cfg.posts_nats_url or self.cfg.nats_url

        async def on_message(msg: Any) -> None:
            got = parse_posts_jsonl(msg.data, f"nats:{msg.subject}")
            for err in got.errors:
                log.warning("posts: %s", err)
            if got.table.num_rows:
                self._received.append(got.table)

        self._nc = await nats.connect(url, connect_timeout=2, max_reconnect_attempts=-1)
        await self._nc.subscribe(self.cfg.posts_subject, cb=on_message)
        await self._nc.flush()

    async def start(self) -> None:
        """Subscribe to the live subject (when one is configured)."""
        if self.cfg.posts_subject and self._nc is None:
            await self._subscribe()

    async def close(self) -> None:
        if self._nc is not None:
            await self._nc.drain()
            self._nc = None

    # -- the window -----------------------------------------------------------------------------
    async def window(self, a: np.datetime64, b: np.datetime64) -> None:
        from starbrain.models.text.bursts import link_bursts

        svc = self.service
        await self.start()
        tables = self._simulated(a, b) if self.cfg.posts_sim else []
        if self._received:
            tables += self._received
            self._received = []
        posts = pa.concat_tables(tables) if tables else None
        if posts is not None:
            svc._defer("posts", posts, "loop-posts")
        found = self.bursts.update(posts if posts is not None else POSTS_SCHEMA.empty_table(), b)
        for burst in found:
            if burst.spam:
                continue
            sub = self.bursts.posts_of(burst)
            linked = link_bursts(
                [_renumbered(burst)], sub, [e for e in self.events if e.time <= b]
            )[0]
            await svc._alert(
                "burst",
                f"post burst on {' '.join(burst.terms)}: {burst.n_posts} posts from "
                f"{burst.n_authors} accounts since {iso(burst.start)}"
                + (f", about {linked.event_id}" if linked.event_id else ""),
                model="kleinberg-bursts",
                channel="posts",
                terms=list(burst.terms),
                n_posts=burst.n_posts,
                flagged_at=iso(burst.flagged_at),
                event_id=linked.event_id,
                confidence=linked.confidence,
            )


def _renumbered(burst: Any) -> Any:
    from dataclasses import replace

    return replace(burst, rows=tuple(range(burst.n_posts)))


def posts_tasks(service: Any, task: Any) -> list[Any]:
    """The ``posts`` scheduled task when the config asks for posts (``posts_sim`` or
    ``posts_subject``), else none; registers its close with the service (the NATS
    subscription starts with the first window)."""
    cfg = service.config
    if not (cfg.posts_sim or cfg.posts_subject):
        return []
    pt = PostsTask(service)
    service._closers.append(pt.close)
    return [task("posts", cfg.posts_interval_s, pt.window)]
