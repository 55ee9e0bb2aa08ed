"""The ``posts`` stream (public text posts) and the tables the text models return.

``POSTS_SCHEMA``, one row per post id: ``id`` (the post's id, unique: the stream's key),
``time`` (UTC, ns), ``author``, ``text``, ``lang`` (a BCP-47 tag as given, lower-cased primary
subtag: ``en``, ``ja``, ``pt-br``), ``reply_to`` (the id of the post this answers, or null),
``lat_deg``/``lon_deg`` (WGS-84 geodetic degrees, both null when the post has no ``geo``),
``entities`` (the post's named entities, hashtags or mentions as a JSON array of strings,
``"[]"`` when none: the store has no list columns) and ``source`` (the file or subject it came
from).

``POST_LABELS_SCHEMA``: what each simulated post is (:mod:`starbrain.sources.posts.simulator`);
``SEARCH_SCHEMA``: ranked search hits (:mod:`starbrain.models.text.search`);
``BURSTS_SCHEMA``: detected topic bursts (:mod:`starbrain.models.text.bursts`).
"""

from __future__ import annotations

import pyarrow as pa

__all__ = [
    "BURSTS_SCHEMA",
    "POSTS_COMPARE",
    "POSTS_KEY",
    "POSTS_SCHEMA",
    "POST_LABELS_SCHEMA",
    "SEARCH_SCHEMA",
]

POSTS_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("time", pa.timestamp("ns", tz="UTC"), nullable=False),
        pa.field("author", pa.string(), nullable=False),
        pa.field("text", pa.string(), nullable=False),
        pa.field("lang", pa.string(), nullable=False),
        pa.field("reply_to", pa.string()),
        pa.field("lat_deg", pa.float64()),
        pa.field("lon_deg", pa.float64()),
        pa.field("entities", pa.string(), nullable=False),  # JSON array of strings
        pa.field("source", pa.string()),
    ],
    metadata={"stream": "posts", "key": "id"},
)
POSTS_KEY = ("id",)
# what makes two rows with one id "the same post" (a re-delivery) rather than a conflict
POSTS_COMPARE = ("time", "author", "text", "lang", "reply_to", "lat_deg", "lon_deg", "entities")

# the simulator's labels (sources.posts.simulator): one row per simulated post id
POST_LABELS_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("kind", pa.string(), nullable=False),  # event | chatter | spam
        pa.field("event_id", pa.string()),
        pa.field("phrasing", pa.string()),  # train | heldout, null for chatter and spam
    ]
)

SEARCH_SCHEMA = pa.schema(
    [
        pa.field("rank", pa.int32(), nullable=False),
        pa.field("id", pa.string(), nullable=False),
        pa.field("time", pa.timestamp("ns", tz="UTC"), nullable=False),
        pa.field("author", pa.string()),
        pa.field("lang", pa.string()),
        pa.field("score", pa.float64()),  # BM25, cosine or RRF score, by mode
        pa.field("text", pa.string()),
    ]
)

BURSTS_SCHEMA = pa.schema(
    [
        pa.field("burst_id", pa.string(), nullable=False),
        pa.field("start", pa.timestamp("ns", tz="UTC"), nullable=False),  # first post's time
        pa.field("end", pa.timestamp("ns", tz="UTC"), nullable=False),  # last post's time
        pa.field("flagged_at", pa.timestamp("ns", tz="UTC"), nullable=False),
        pa.field("terms", pa.string(), nullable=False),  # space-separated bursting terms
        pa.field("n_posts", pa.int32(), nullable=False),
        pa.field("n_authors", pa.int32(), nullable=False),
        pa.field("spam", pa.bool_(), nullable=False),
        pa.field("event_id", pa.string()),  # linked fleet event, or null
        pa.field("confidence", pa.float64()),  # link confidence in [0, 1], null when unlinked
        pa.field("example", pa.string()),  # the text of the burst's first post
    ]
)
