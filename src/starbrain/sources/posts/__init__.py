"""Public text posts: the ``posts`` schema, the JSON Lines reader and the event-tied simulator."""

from starbrain.core.schemas.posts import POSTS_COMPARE, POSTS_KEY, POSTS_SCHEMA
from starbrain.sources.posts.jsonl import (
    MAX_TEXT_CHARS,
    parse_posts_jsonl,
    posts_table,
    read_posts,
    validate_post,
)
from starbrain.sources.posts.simulator import (
    EVENT_KINDS,
    LABELS_SCHEMA,
    FleetEvent,
    SimulatedPosts,
    events_from_anomalies,
    events_from_conjunctions,
    random_events,
    simulate_posts,
)

__all__ = [
    "EVENT_KINDS",
    "LABELS_SCHEMA",
    "MAX_TEXT_CHARS",
    "POSTS_COMPARE",
    "POSTS_KEY",
    "POSTS_SCHEMA",
    "FleetEvent",
    "SimulatedPosts",
    "events_from_anomalies",
    "events_from_conjunctions",
    "parse_posts_jsonl",
    "posts_table",
    "random_events",
    "read_posts",
    "simulate_posts",
    "validate_post",
]
