"""Post queries over the store that the CLI, the console and the MCP server share.

Times are UTC; ``since``/``until`` accept anything :func:`parse_since` does: an ISO-8601 time,
or a duration back from ``now`` such as ``90s``, ``15m``, ``1h``, ``2d`` (``now`` defaults to the
current UTC time; pass the end of a replayed or simulated day to look back from there).
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from starbrain.core import timeconv
from starbrain.core.errors import StarbrainError
from starbrain.models.text.bursts import Burst, detect_bursts, link_bursts
from starbrain.models.text.embeddings import make_embedder
from starbrain.models.text.search import PostSearch, SearchMode
from starbrain.store.database import Store

__all__ = ["fleet_events", "parse_since", "read_posts_window", "search_store", "store_bursts"]

_DUR = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|min|h|d|w)\s*$", re.IGNORECASE)
_UNIT_S = {"s": 1, "m": 60, "min": 60, "h": 3600, "d": 86_400, "w": 604_800}


def parse_since(value: Any, now: Any = None, what: str = "since") -> np.datetime64 | None:
    """``None`` -> ``None``; ``"1h"`` -> ``now - 1 h``; an ISO time -> that time (UTC ns)."""
    if value is None:
        return None
    if isinstance(value, str):
        m = _DUR.match(value)
        if m:
            base = timeconv.utc_now() if now is None else timeconv.to_instant(now, "now")
            secs = float(m.group(1)) * _UNIT_S[m.group(2).lower()]
            return base - np.timedelta64(int(secs * 1e9), "ns")
    try:
        return timeconv.to_instant(value, what)
    except ValueError as exc:
        raise StarbrainError(
            f"{what}: {exc}; give an ISO-8601 time or a duration such as 15m, 1h, 2d"
        ) from None


def _py(t: np.datetime64) -> _dt.datetime:
    return _dt.datetime.fromisoformat(str(np.datetime_as_string(t, unit="us")))


def read_posts_window(
    store: Store, since: Any = None, until: Any = None, now: Any = None
) -> pa.Table:
    """Stored posts with ``since <= time < until`` (either bound optional), oldest first."""
    lo, hi = parse_since(since, now), parse_since(until, now, "until")
    where, params = [], []
    if lo is not None:
        where.append("time >= ?")
        params.append(_py(lo))
    if hi is not None:
        where.append("time < ?")
        params.append(_py(hi))
    t = store.read("posts", where=" AND ".join(where) or None, params=params or None)
    if t.num_rows:
        t = t.take(pc.sort_indices(t, [("time", "ascending"), ("id", "ascending")]))
    return t


def search_store(
    store: Store,
    query: str,
    k: int = 10,
    mode: SearchMode = "hybrid",
    since: Any = None,
    until: Any = None,
    now: Any = None,
    embedding: str = "hashed",
) -> pa.Table:
    """The best ``k`` stored posts for ``query`` in the window (``search.SEARCH_SCHEMA``)."""
    posts = read_posts_window(store, since, until, now)
    s = PostSearch(make_embedder(embedding))
    s.add(posts)
    return s.search(query, k=k, mode=mode)


def fleet_events(store: Store, since: Any = None, min_probability: float = 1e-4) -> list[Any]:
    """Fleet events from the store: launch anomalies (``anomalies``) and conjunction alerts
    (``conjunctions`` with collision probability >= ``min_probability``), at or after ``since``."""
    from starbrain.sources.posts.simulator import events_from_anomalies, events_from_conjunctions

    events = events_from_anomalies(store.read("anomalies"))
    events += events_from_conjunctions(store.read("conjunctions"), min_probability)
    lo = parse_since(since)
    if lo is not None:
        events = [e for e in events if e.time >= lo]
    return sorted(events, key=lambda e: e.time)


def store_bursts(
    store: Store,
    since: Any = None,
    until: Any = None,
    now: Any = None,
    events: Sequence[Any] | None = None,
    **detector: Any,
) -> tuple[list[Burst], pa.Table]:
    """Bursts in the stored posts of the window, linked to ``events`` (default: the store's
    :func:`fleet_events`); returns the bursts and the posts they index."""
    posts = read_posts_window(store, since, until, now)
    bursts = detect_bursts(posts, **detector)
    evs = list(events) if events is not None else fleet_events(store)
    return link_bursts(bursts, posts, evs), posts
