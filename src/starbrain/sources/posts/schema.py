"""The ``posts`` stream's Arrow schema: public text posts (JSON Lines in, one row per post id).

Columns: ``id`` (the post's id, unique: the stream's key), ``time`` (UTC, ns), ``author``,
``text``, ``lang`` (a BCP-47 tag as given, lower-cased primary subtag: ``en``, ``ja``, ``pt-br``),
``reply_to`` (the id of the post this answers, or null), ``lat_deg``/``lon_deg`` (WGS-84 geodetic
degrees, both null when the post has no ``geo``), ``entities`` (the post's named entities,
hashtags or mentions as a JSON array of strings, ``"[]"`` when none: the store has no list
columns) and ``source`` (the file or subject it came from).
"""

from __future__ import annotations

import pyarrow as pa

__all__ = ["POSTS_COMPARE", "POSTS_KEY", "POSTS_SCHEMA"]

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
