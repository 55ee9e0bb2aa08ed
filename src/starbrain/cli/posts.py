"""``starbrain posts``: load, simulate, search and find bursts in the public post stream."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from starbrain.cli._common import (
    FormatOption,
    OutputFormat,
    _check_loadable,
    _emit,
    _notes,
    _open_store,
    _print_errors,
    app,
    console,
)
from starbrain.core.errors import StarbrainError

posts_app = typer.Typer(
    help="The public post stream: JSON Lines in, simulated days, search, bursts.",
    no_args_is_help=True,
)
app.add_typer(posts_app, name="posts")


class Mode(StrEnum):
    hybrid = "hybrid"
    lexical = "lexical"
    embedding = "embedding"


class Embedding(StrEnum):
    hashed = "hashed"
    minilm = "minilm"


SinceOption = Annotated[
    str | None,
    typer.Option(
        help="Only posts at or after this: ISO-8601 UTC, or a duration back from --now "
        "(90s, 15m, 1h, 2d)."
    ),
]
UntilOption = Annotated[
    str | None, typer.Option(help="Only posts before this (ISO-8601 UTC or a duration back).")
]
NowOption = Annotated[
    str | None,
    typer.Option(help="The time durations count back from (default: now, UTC); for replays."),
]


@posts_app.command("load")
def posts_load(
    files: Annotated[list[Path], typer.Argument(help="JSON Lines files (.jsonl, may be .gz).")],
    strict: Annotated[
        bool, typer.Option(help="Any bad record is fatal and nothing is written.")
    ] = False,
) -> None:
    """Load posts; every bad record is reported as file:line: field: reason, the rest kept.

    A post whose id is stored already is a duplicate (same content: skipped) or a conflict
    (other content: reported, the stored one kept)."""
    from starbrain.sources.posts import read_posts

    results = []
    for f in files:
        r = read_posts(f)
        _print_errors(r)
        results.append(r)
    _check_loadable(results, strict, "posts")
    with _open_store() as store, store.transaction():
        for r in results:
            added = store.append("posts", r.table, source=r.source, n_errors=len(r.errors))
            conflicts = f"{added.n_conflict} conflicting, " if added.n_conflict else ""
            console.print(
                f"{r.source}: {r.n_good} valid, {added.n_new} new, {added.n_duplicate} "
                f"duplicate, {conflicts}{len(r.errors)} bad",
                highlight=False,
            )
    with _open_store(read_only=True) as store:
        console.print(f"store {store.path}: {store.count('posts')} posts", highlight=False)


@posts_app.command("simulate")
def posts_simulate(
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            "-o",
            help="Posts file to write (.jsonl); labels and events are written beside it.",
        ),
    ],
    start: Annotated[str, typer.Option(help="Start of the simulated window, UTC.")] = (
        "2026-01-01T00:00:00"
    ),
    hours: Annotated[float, typer.Option(help="Length of the window, hours.")] = 24.0,
    events: Annotated[int, typer.Option(help="Fleet events to draw (kinds in turn).")] = 8,
    from_store: Annotated[
        bool,
        typer.Option(
            "--from-store",
            help="Tie posts to the store's own anomalies and "
            "conjunction alerts instead of drawn events.",
        ),
    ] = False,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    phrasing: Annotated[str, typer.Option(help="train or heldout templates.")] = "train",
    spam: Annotated[int, typer.Option(help="Decoy hashtag-spam bursts.")] = 2,
    chatter: Annotated[float, typer.Option(help="Background posts per hour (daily mean).")] = 120.0,
    load: Annotated[bool, typer.Option(help="Also load the posts into the store.")] = False,
) -> None:
    """Simulate a post stream tied to fleet events, with ground-truth labels beside it."""
    import numpy as np

    from starbrain.sources.posts import random_events, simulate_posts

    if phrasing not in ("train", "heldout"):
        raise StarbrainError(f"--phrasing must be train or heldout, not {phrasing!r}")
    if hours <= 0:
        raise StarbrainError("--hours must be positive")
    if from_store:
        from starbrain.models.text.queries import fleet_events

        with _open_store(read_only=True) as store:
            evs = fleet_events(store)
        if not evs:
            raise StarbrainError(
                "the store holds no anomalies or conjunction alerts to tie "
                "posts to; drop --from-store to draw events"
            )
    else:
        evs = random_events(np.random.default_rng(seed), start, hours * 3600.0, n=events)
    sim = simulate_posts(
        evs,
        start,
        hours * 3600.0,
        seed=seed,
        phrasing=phrasing,  # type: ignore[arg-type]
        chatter_per_hour=chatter,
        n_spam_bursts=spam,
    )
    paths = sim.write(out)
    kinds = sim.labels.column("kind").to_pylist()
    console.print(
        f"wrote {sim.posts.num_rows} posts ({kinds.count('event')} about {len(evs)} events, "
        f"{kinds.count('chatter')} chatter, {kinds.count('spam')} spam) to {paths[0]}; "
        f"labels {paths[1]}, events {paths[2]}",
        highlight=False,
    )
    if load:
        with _open_store() as store:
            added = store.append("posts", sim.posts, source=str(paths[0]))
        console.print(f"loaded {added.n_new} new posts", highlight=False)


@posts_app.command("search")
def posts_search(
    query: Annotated[str, typer.Argument(help="What to look for, in any language.")],
    since: SinceOption = None,
    until: UntilOption = None,
    now: NowOption = None,
    k: Annotated[int, typer.Option("--limit", "-k", help="How many posts.")] = 10,
    mode: Annotated[Mode, typer.Option(help="Ranking.")] = Mode.hybrid,
    embedding: Annotated[
        Embedding, typer.Option(help="hashed (fast) or minilm (semantic; the posts extra).")
    ] = Embedding.hashed,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Search stored posts: BM25, embedding cosine, or both fused (hybrid)."""
    from starbrain.models.text.queries import search_store

    if k <= 0:
        raise StarbrainError("--limit must be positive")
    with _open_store(read_only=True) as store:
        hits = search_store(
            store,
            query,
            k,
            mode.value,
            since,
            until,
            now,
            embedding.value,
        )
    if hits.num_rows == 0:
        _notes(fmt).print("no posts matched", highlight=False)
    _emit(hits, fmt, title=f"posts matching {query!r} ({mode.value})")


@posts_app.command("bursts")
def posts_bursts(
    since: SinceOption = None,
    until: UntilOption = None,
    now: NowOption = None,
    events: Annotated[
        Path | None,
        typer.Option(
            help="Events JSON Lines (as simulate writes) to link to; default: the "
            "store's anomalies and conjunction alerts."
        ),
    ] = None,
    include_spam: Annotated[bool, typer.Option(help="List spam bursts too.")] = False,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Topic bursts in the stored posts, each linked to the fleet event it is about."""
    from starbrain.models.text.bursts import bursts_table
    from starbrain.models.text.queries import store_bursts

    evs = _read_events(events) if events is not None else None
    with _open_store(read_only=True) as store:
        bursts, _ = store_bursts(store, since, until, now, events=evs)
    shown = [b for b in bursts if include_spam or not b.spam]
    n_spam = sum(b.spam for b in bursts)
    _notes(fmt).print(
        f"{len(bursts)} bursts ({n_spam} spam{'' if include_spam else ', not listed'}), "
        f"{sum(b.event_id is not None for b in bursts)} linked to a fleet event",
        highlight=False,
    )
    _emit(bursts_table(shown), fmt, title="post bursts")


def _read_events(path: Path) -> list[Any]:
    from starbrain.core import timeconv
    from starbrain.sources.posts import EVENT_KINDS, FleetEvent

    out = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise StarbrainError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    for i, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            d = json.loads(line)
            if d["kind"] not in EVENT_KINDS:
                raise ValueError(f"kind {d['kind']!r} is not one of {', '.join(EVENT_KINDS)}")
            out.append(
                FleetEvent(
                    str(d["id"]),
                    d["kind"],
                    timeconv.to_instant(d["time"]),
                    str(d["subject"]),
                    str(d.get("other", "")),
                    str(d.get("place", "")),
                    float(d.get("severity", 1.0)),
                    tuple(int(x) for x in d.get("norad_ids", ())),
                )
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise StarbrainError(f"{path}:{i}: not an event ({exc})") from None
    return out
