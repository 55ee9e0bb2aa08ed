"""The posts panel's API: GET /api/posts (the newest stored posts), /api/posts/bursts (topic
bursts, each linked to the fleet event it is about, with the events for a timeline),
/api/posts/search (the store's hybrid post search) and POST /api/posts (HTTP ingest).

Ingest takes JSON Lines (one post per line) or a JSON array of posts, with the fields of
``starbrain posts load`` (id, time, author, text, lang, optional reply_to, geo, entities). Posts
go into the store's ``posts`` stream, which de-duplicates them by id: a post whose id is stored
with the same content is a duplicate (skipped), with other content a conflict (the stored one
kept). A bad record is named (JSON Lines: its 1-based line; an array: its 0-based index) with
its field and reason; the good ones are stored all the same. Like every route it needs the
console's bearer token when the console has one. Times are ISO 8601 UTC.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from starbrain.console.deps import ERROR_RESPONSES, ApiError, StoreDep, compute
from starbrain.core.errors import StarbrainError
from starbrain.core.timeconv import iso, iso_ns
from starbrain.sources.records import LoadResult, RecordError
from starbrain.store import queries
from starbrain.store.database import Store, StoreBusyError

router = APIRouter(tags=["posts"], responses=ERROR_RESPONSES)

MAX_BODY_BYTES = 16 << 20
MAX_ERRORS_SHOWN = 100
INGEST_SOURCE = "http:/api/posts"
NOW = Annotated[
    str | None,
    Query(min_length=1, max_length=64, description="What durations count back from (UTC)."),
]
WINDOW = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=64,
        description="ISO 8601 UTC, or a duration back from `now` (90s, 15m, 1h, 2d).",
    ),
]


class PostRow(BaseModel):
    id: str
    time: str
    author: str
    lang: str
    text: str
    entities: list[str]


class PostsResponse(BaseModel):
    total: int = Field(description="Posts stored.")
    posts: list[PostRow] = Field(description="The newest first.")


class FleetEventRow(BaseModel):
    id: str
    kind: str
    time: str
    subject: str
    place: str | None = None


class BurstRow(BaseModel):
    burst_id: str
    start: str
    end: str
    flagged_at: str = Field(description="When the online detector flagged it, UTC.")
    terms: list[str]
    n_posts: int
    n_authors: int
    spam: bool
    event_id: str | None = Field(description="The fleet event it is linked to (null: none).")
    confidence: float | None = Field(description="Link confidence, 0..1.")
    example: str


class BurstsResponse(BaseModel):
    bursts: list[BurstRow]
    events: list[FleetEventRow] = Field(
        description="The store's fleet events (launch anomalies, conjunction alerts) bursts "
        "are linked to."
    )
    n_spam: int = Field(description="Spam bursts (listed only with include_spam).")


class SearchHit(BaseModel):
    rank: int
    id: str
    time: str
    author: str | None
    lang: str | None
    score: float | None = Field(description="BM25, cosine or fused (RRF) score, by mode.")
    text: str | None


class SearchResponse(BaseModel):
    query: str
    mode: str
    hits: list[SearchHit]


class IngestError(BaseModel):
    line: int | None = Field(None, description="1-based line (JSON Lines).")
    record: int | None = Field(None, description="0-based index (JSON array).")
    field: str | None = None
    reason: str
    message: str = Field(description="The whole error, as `starbrain posts load` prints it.")


class IngestResponse(BaseModel):
    received: int = Field(description="Records in the body.")
    new: int = Field(description="Posts stored under a new id.")
    duplicate: int = Field(description="Posts whose id was stored with the same content.")
    conflict: int = Field(description="Posts whose id was stored with other content (kept).")
    bad: int = Field(description="Records that are not valid posts (not stored).")
    errors: list[IngestError] = Field(description=f"The first {MAX_ERRORS_SHOWN} bad records.")
    stored: int = Field(description="Posts in the store afterwards.")


def _recent(store: Store, limit: int) -> PostsResponse:
    total, t = queries.recent_posts(store, limit)
    posts = [
        PostRow(
            id=r["id"],
            time=iso_ns(r["t_ns"]) or "",
            author=r["author"],
            lang=r["lang"],
            text=r["text"],
            entities=json.loads(r["entities"] or "[]"),
        )
        for r in t.to_pylist()
    ]
    return PostsResponse(total=total, posts=posts)


@router.get("/api/posts", response_model=PostsResponse, summary="Recent posts")
async def posts(
    request: Request, store: StoreDep, limit: Annotated[int, Query(ge=1, le=500)] = 50
) -> PostsResponse:
    """The newest ``limit`` stored posts and how many are stored."""
    return await compute(request, _recent, store, limit)


def _bursts(
    store: Store, since: str | None, until: str | None, now: str | None, spam: bool
) -> BurstsResponse:
    from starbrain.models.text.queries import fleet_events, store_bursts

    try:
        events = fleet_events(store)
        found, _ = store_bursts(store, since, until, now, events=events)
    except (StarbrainError, ValueError) as exc:  # a window bound that is no time
        raise ApiError(422, f"since/until/now: {exc}") from None
    rows = [
        BurstRow(
            burst_id=b.burst_id,
            start=iso(b.start) or "",
            end=iso(b.end) or "",
            flagged_at=iso(b.flagged_at) or "",
            terms=list(b.terms),
            n_posts=b.n_posts,
            n_authors=b.n_authors,
            spam=b.spam,
            event_id=b.event_id,
            confidence=None if b.confidence is None else round(float(b.confidence), 4),
            example=b.example,
        )
        for b in found
        if spam or not b.spam
    ]
    evs = [
        FleetEventRow(
            id=e.id, kind=e.kind, time=iso(e.time) or "", subject=e.subject, place=e.place
        )
        for e in events
    ]
    return BurstsResponse(bursts=rows, events=evs, n_spam=sum(b.spam for b in found))


@router.get("/api/posts/bursts", response_model=BurstsResponse, summary="Post bursts")
async def bursts(
    request: Request,
    store: StoreDep,
    since: WINDOW = None,
    until: WINDOW = None,
    now: Annotated[
        str | None, Query(max_length=64, description="What durations count back from.")
    ] = None,
    include_spam: bool = False,
) -> BurstsResponse:
    """Topic bursts (Kleinberg's two-state automaton per term) in the stored posts of the
    window, each linked to the fleet event it is about (``event_id``, ``confidence``), and the
    store's fleet events for a timeline. Spam bursts are counted, listed with
    ``include_spam``."""
    return await compute(request, _bursts, store, since, until, now, include_spam)


def _search(
    store: Store, q: str, k: int, mode: str, since: str | None, until: str | None, now: str | None
) -> SearchResponse:
    from starbrain.models.text.queries import search_store

    try:
        t = search_store(store, q, k, mode, since, until, now)  # type: ignore[arg-type]
    except (StarbrainError, ValueError) as exc:  # a window bound that is no time
        raise ApiError(422, f"since/until/now: {exc}") from None
    hits = [
        SearchHit(
            rank=r["rank"],
            id=r["id"],
            time=iso(r["time"]) or "",
            author=r["author"],
            lang=r["lang"],
            score=r["score"],
            text=r["text"],
        )
        for r in t.to_pylist()
    ]
    return SearchResponse(query=q, mode=mode, hits=hits)


@router.get("/api/posts/search", response_model=SearchResponse, summary="Search posts")
async def search(
    request: Request,
    store: StoreDep,
    q: Annotated[str, Query(min_length=1, max_length=500, description="What to look for.")],
    k: Annotated[int, Query(ge=1, le=100, description="How many posts.")] = 10,
    mode: Literal["hybrid", "lexical", "embedding"] = "hybrid",
    since: WINDOW = None,
    until: WINDOW = None,
    now: Annotated[
        str | None, Query(max_length=64, description="What durations count back from.")
    ] = None,
) -> SearchResponse:
    """The best ``k`` stored posts for ``q`` (``starbrain posts search``): BM25, embedding
    cosine (the hashed embedder), or both fused by reciprocal rank (hybrid)."""
    return await compute(request, _search, store, q, k, mode, since, until, now)


def parse_body(body: bytes, source: str = INGEST_SOURCE) -> tuple[int, LoadResult]:
    """An ingest body -> ``(records received, LoadResult)``: a JSON array of posts (errors by
    0-based record) or JSON Lines (errors by 1-based line)."""
    from starbrain.sources.posts.jsonl import parse_posts_jsonl, posts_table, validate_post

    text = body.lstrip(b"\xef\xbb\xbf").lstrip()
    if not text.startswith(b"["):
        result = parse_posts_jsonl(body, source)
        return sum(1 for line in body.split(b"\n") if line.strip()), result
    try:
        items = json.loads(text)
    except ValueError as exc:
        raise ApiError(422, f"the body starts with '[' but is not a JSON array ({exc})") from None
    rows: list[dict[str, Any]] = []
    errors: list[RecordError] = []
    for i, item in enumerate(items):
        try:
            rows.append(validate_post(item))
        except ValueError as exc:
            reason = getattr(exc, "reason", str(exc))
            errors.append(RecordError(source, reason, record=i, field=getattr(exc, "field", None)))
    return len(items), LoadResult(posts_table(rows, source), errors, source)


def _append(store_path: Any, shared: Store | None, result: LoadResult) -> tuple[Any, int]:
    def write(store: Store) -> tuple[Any, int]:
        added = store.append(
            "posts", result.table, source=INGEST_SOURCE, n_errors=len(result.errors)
        )
        return added, store.count("posts")

    if shared is not None:
        return write(shared)
    try:
        with Store(store_path) as store:
            return write(store)
    except StoreBusyError:
        raise
    except StarbrainError as exc:  # this process has the file open read-only right now
        if "different configuration" not in str(exc):
            raise
        busy = StoreBusyError(f"the store {store_path} is being read; retry the ingest")
        raise busy from None


def _error_row(e: RecordError) -> IngestError:
    return IngestError(line=e.line, record=e.record, field=e.field, reason=e.reason, message=str(e))


@router.post(
    "/api/posts",
    response_model=IngestResponse,
    summary="Ingest posts",
    responses={413: {"model": ERROR_RESPONSES[422]["model"], "description": "Body too large."}},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/x-ndjson": {"schema": {"type": "string"}},
                "application/json": {
                    "schema": {
                        "type": "array",
                        "description": "Posts (JSON objects); any other item is a bad record.",
                    }
                },
            },
        }
    },
)
async def ingest(request: Request) -> IngestResponse:
    """Store posts sent as JSON Lines or as a JSON array (at most 16 MiB). Every valid post is
    stored (de-duplicated by id through the ``posts`` stream) even when others are bad; the
    answer counts new, duplicate, conflicting and bad records and names each bad one by line
    (or array index), field and reason."""
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise ApiError(
                413, f"the body is larger than {MAX_BODY_BYTES >> 20} MiB; send it in parts"
            )
        chunks.append(chunk)
    body = b"".join(chunks)
    if not body.strip():
        raise ApiError(422, "the body is empty: send JSON Lines or a JSON array of posts")
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "application/json" and not body.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"["):
        raise ApiError(
            422,
            "an application/json body must be an array of posts (JSON Lines: send it "
            "as application/x-ndjson)",
        )
    received, result = parse_body(body)
    stores = request.app.state.stores
    added, stored = await compute(request, _append, stores.path, stores.shared, result)
    return IngestResponse(
        received=received,
        new=added.n_new,
        duplicate=added.n_duplicate,
        conflict=added.n_conflict,
        bad=len(result.errors),
        errors=[_error_row(e) for e in result.errors[:MAX_ERRORS_SHOWN]],
        stored=stored,
    )
