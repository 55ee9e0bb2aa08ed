"""Public text posts: the ``posts`` schema, the JSON Lines reader and the event-tied simulator."""

from starbrain.sources.posts.jsonl import (
    MAX_TEXT_CHARS,
    parse_posts_jsonl,
    posts_table,
    read_posts,
    validate_post,
)
from starbrain.sources.posts.schema import POSTS_COMPARE, POSTS_KEY, POSTS_SCHEMA

__all__ = [
    "MAX_TEXT_CHARS",
    "POSTS_COMPARE",
    "POSTS_KEY",
    "POSTS_SCHEMA",
    "parse_posts_jsonl",
    "posts_table",
    "read_posts",
    "validate_post",
]
