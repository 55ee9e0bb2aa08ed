"""A post stream tied to the platform's own fleet events, with ground-truth labels beside it.

Events (:class:`FleetEvent`) are launch anomalies (rows of the ``anomalies`` stream, as
``telemetry simulate`` / ``anomalies detect`` write them), conjunction alerts (``conjunctions``
rows above a collision-probability threshold), routing coverage or latency outages and re-entries;
:func:`events_from_anomalies` and :func:`events_from_conjunctions` turn stored rows into events,
:func:`random_events` draws a synthetic day of them. :func:`simulate_posts` then writes:

* **event posts**: for each event a negative-binomial number of posts (mean ``40 * severity``);
  the first arrives after a heavy-tailed onset delay (log-normal, median 90 s, sigma 0.8), the
  rest at log-normal offsets after it (median 120 s, sigma 1.0): minutes, with a long tail. Text
  from per-kind paraphrase templates in English and Japanese naming the event's vehicle,
  satellites or place; ``phrasing="heldout"`` draws from a disjoint template set, so a detector
  tuned on one set is judged on phrasing it never saw. A fifth of them reply to an earlier one.
* **background chatter**: a Poisson stream with a daily cycle (rate ``chatter_per_hour`` times
  ``1 + 0.6 cos(2 pi (h - 15) / 24)``, h the UTC hour: busiest at 15:00 UTC), about space and not.
* **decoy spam bursts**: a few accounts posting near-identical hashtag spam (``#airdrop``,
  ``#starlink``) densely for minutes: a burst in volume that is about no event.

Labels (:data:`LABELS_SCHEMA`): per post id, ``kind`` (``event``, ``chatter`` or ``spam``),
``event_id`` (null unless ``event``) and ``phrasing``. Everything is drawn from one seeded
``numpy.random.Generator``: the same arguments give the same posts.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pyarrow as pa

from starbrain.core import timeconv
from starbrain.core.schemas.posts import POST_LABELS_SCHEMA as LABELS_SCHEMA
from starbrain.sources.posts.jsonl import posts_table

__all__ = [
    "EVENT_KINDS",
    "LABELS_SCHEMA",
    "FleetEvent",
    "SimulatedPosts",
    "events_from_anomalies",
    "events_from_conjunctions",
    "random_events",
    "simulate_posts",
]

EventKind = Literal["launch_anomaly", "conjunction", "outage", "reentry"]
EVENT_KINDS: tuple[EventKind, ...] = ("launch_anomaly", "conjunction", "outage", "reentry")
Phrasing = Literal["train", "heldout"]


_S = np.timedelta64(1, "s")


@dataclass(frozen=True, slots=True)
class FleetEvent:
    """Something that happened to a fleet and that people will post about.

    ``time``: UTC ``datetime64[ns]`` of the event itself (the anomaly's start, the TCA, the
    outage's start, the re-entry). ``subject``: the vehicle, satellite or service named in posts
    ("Falcon 9", "STARLINK-1234"); ``other``: a second object (the conjunction's partner) or "";
    ``place``: where ("Cape Canaveral", "Tokyo") or "". ``severity`` scales the post volume (1 is
    about 40 posts)."""

    id: str
    kind: EventKind
    time: np.datetime64
    subject: str
    other: str = ""
    place: str = ""
    severity: float = 1.0
    norad_ids: tuple[int, ...] = ()

    @property
    def names(self) -> tuple[str, ...]:
        """The names posts about this event can carry (subject, other, place; non-empty)."""
        return tuple(n for n in (self.subject, self.other, self.place) if n)

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["time"] = str(np.datetime_as_string(self.time, unit="ms")) + "Z"
        d["norad_ids"] = list(self.norad_ids)
        return d


# -- templates ------------------------------------------------------------------------------
# {s}: subject, {o}: other object, {p}: place. Two disjoint sets per kind and language.
_T: dict[str, dict[str, dict[str, list[str]]]] = {
    "launch_anomaly": {
        "train": {
            "en": [
                "{s} engine shutdown during ascent?? something is wrong",
                "Looks like {s} lost an engine right after liftoff from {p}",
                "{s} telemetry just froze, anomaly on the climb out of {p}",
                "Did anyone else see {s} wobble? engine out on the way up",
                "Launch anomaly for {s} at {p}, the stream cut to the mission logo",
            ],
            "ja": [
                "{s}のエンジンが上昇中に停止した？",
                "{p}から打ち上げた{s}に異常発生",
                "{s}のテレメトリが止まった、打ち上げ失敗か",
            ],
        },
        "heldout": {
            "en": [
                "uh oh, {s} had a premature engine cutoff",
                "{s} booster flameout a minute into flight, not good",
                "Mission control calls an off-nominal ascent for {s}",
            ],
            "ja": [
                "{s}、飛行中にエンジン燃焼が途中で終わったらしい",
                "{s}の上昇が計画通りではないと管制が発表",
            ],
        },
    },
    "conjunction": {
        "train": {
            "en": [
                "{s} and {o} are about to pass very close, collision risk",
                "Close approach alert: {s} vs {o}",
                "{s} may have to dodge {o}, conjunction warning issued",
                "Conjunction between {s} and {o} flagged by trackers",
            ],
            "ja": [
                "{s}と{o}が衝突の危険、接近警報",
                "{s}が{o}に異常接近する見込み",
            ],
        },
        "heldout": {
            "en": [
                "near miss coming up in orbit: {s} and a piece of {o}",
                "{s} operators weighing an avoidance burn because of {o}",
            ],
            "ja": ["{s}は{o}を避けるため軌道変更を検討中"],
        },
    },
    "outage": {
        "train": {
            "en": [
                "{s} is down in {p}, no connection at all",
                "Anyone else lose {s} in {p}? latency through the roof",
                "{s} outage over {p} right now",
                "internet via {s} dead in {p} for ten minutes",
            ],
            "ja": [
                "{p}で{s}がつながらない",
                "{s}の通信障害、{p}で遅延がひどい",
            ],
        },
        "heldout": {
            "en": [
                "my {s} dish in {p} shows disconnected, service gone",
                "pings from {p} over {s} are terrible tonight",
            ],
            "ja": ["{p}の{s}回線が落ちたまま復旧しない"],
        },
    },
    "reentry": {
        "train": {
            "en": [
                "Fireball over {p}! probably {s} re-entering",
                "{s} reentry seen from {p}, debris trail across the sky",
                "Bright streak above {p}, trackers say it's {s} coming down",
            ],
            "ja": [
                "{p}の上空に火球、{s}の再突入か",
                "{s}が大気圏に再突入、{p}から見えた",
            ],
        },
        "heldout": {
            "en": [
                "spectacular breakup of {s} in the atmosphere over {p}",
                "{s} burned up on the way down, filmed it from {p}",
            ],
            "ja": ["{p}で{s}の破片が燃え尽きるのを目撃"],
        },
    },
}

_CHATTER = {
    "en": [
        "watching the night sky tonight, so many satellites",
        "can't wait for the next launch stream",
        "coffee first, then orbital mechanics homework",
        "my cat is asleep on the keyboard again",
        "traffic on the highway is awful this morning",
        "new telescope arrived, first light this weekend",
        "reading about the history of the space race",
        "rain all day, no stargazing",
        "anyone know a good book about rockets?",
        "lunch was great, back to work",
    ],
    "ja": [
        "今夜は星がきれい",
        "次の打ち上げ配信が楽しみ",
        "朝のコーヒーがおいしい",
        "週末は天体観測に行く予定",
        "電車が遅れている",
        "宇宙の本を読んでいる",
    ],
}
_SPAM = [
    "#airdrop #starlink free tokens for the first 1000, click now #crypto",
    "#starlink #giveaway claim your free dish today #airdrop",
    "FREE #crypto #airdrop #spacex tokens, dm me #starlink",
]

_VEHICLES = ("Falcon 9", "Electron", "H3", "Ariane 6", "New Glenn", "Vulcan", "Starship")
_PADS = ("Cape Canaveral", "Vandenberg", "Tanegashima", "Kourou", "Mahia", "Boca Chica")
_SATS = ("STARLINK-1130", "STARLINK-2207", "ONEWEB-0412", "ISS", "HIMAWARI-9", "SENTINEL-2B")
_DEBRIS = ("COSMOS 1408 DEB", "FENGYUN 1C DEB", "SL-16 R/B", "IRIDIUM 33 DEB")
_SERVICES = ("Starlink", "OneWeb", "Kuiper")
_CITIES = ("Tokyo", "Osaka", "Sydney", "Denver", "Lisbon", "Nairobi", "Anchorage")
_REENTRY = ("CZ-5B R/B", "Dragon trunk", "STARLINK-1130", "Falcon 9 upper stage")


def _fill(template: str, e: FleetEvent) -> str:
    return template.format(s=e.subject, o=e.other or "debris", p=e.place or "orbit")


def _hashtags(text: str) -> list[str]:
    return re.findall(r"#\w+", text)


def random_events(
    rng: np.random.Generator, start: Any, duration_s: float = 86_400.0, n: int = 8
) -> list[FleetEvent]:
    """``n`` synthetic events spread over ``[start, start + duration_s)`` (UTC), kinds in turn,
    at least 30 minutes apart, with subjects from the platform's vehicles, satellites, services
    and places."""
    t0 = timeconv.to_instant(start, "start")
    slots = np.sort(rng.choice(int(duration_s // 1800) - 1, size=n, replace=False)) + 0.5
    out = []
    for i, slot in enumerate(slots):
        kind = EVENT_KINDS[i % len(EVENT_KINDS)]
        t = t0 + np.timedelta64(int((slot * 1800 + rng.uniform(-600, 600)) * 1e9), "ns")
        if kind == "launch_anomaly":
            e = FleetEvent(
                f"ev{i}", kind, t, str(rng.choice(_VEHICLES)), "", str(rng.choice(_PADS))
            )
        elif kind == "conjunction":
            e = FleetEvent(f"ev{i}", kind, t, str(rng.choice(_SATS)), str(rng.choice(_DEBRIS)))
        elif kind == "outage":
            e = FleetEvent(
                f"ev{i}", kind, t, str(rng.choice(_SERVICES)), "", str(rng.choice(_CITIES))
            )
        else:
            e = FleetEvent(
                f"ev{i}", kind, t, str(rng.choice(_REENTRY)), "", str(rng.choice(_CITIES))
            )
        out.append(e)
    return out


def events_from_anomalies(table: pa.Table, place: str = "", vehicle: str = "") -> list[FleetEvent]:
    """Launch-anomaly events from rows of the ``anomalies`` stream (one per flight ``source``:
    its earliest ``start``). ``vehicle``: the name posts use (default: the flight's source id)."""
    first: dict[str, np.datetime64] = {}
    for src, start in zip(
        table.column("source").to_pylist(), table.column("start").to_numpy(), strict=True
    ):
        t = np.datetime64(start, "ns")
        if src not in first or t < first[src]:
            first[src] = t
    return [
        FleetEvent(f"anomaly:{s}", "launch_anomaly", t, vehicle or s, "", place)
        for s, t in sorted(first.items(), key=lambda kv: kv[1])
    ]


def events_from_conjunctions(table: pa.Table, min_probability: float = 1e-4) -> list[FleetEvent]:
    """Conjunction-alert events from rows of the ``conjunctions`` stream whose
    ``collision_probability`` is at least ``min_probability`` (a null probability never is)."""
    out = []
    rows = table.select(
        [
            "norad_id_1",
            "norad_id_2",
            "object_name_1",
            "object_name_2",
            "tca",
            "collision_probability",
        ]
    ).to_pylist()
    for r in rows:
        pc = r["collision_probability"]
        if pc is None or not pc >= min_probability:
            continue
        t = timeconv.to_instant(r["tca"].replace(tzinfo=None))
        a = r["object_name_1"] or str(r["norad_id_1"])
        b = r["object_name_2"] or str(r["norad_id_2"])
        out.append(
            FleetEvent(
                f"conj:{r['norad_id_1']}-{r['norad_id_2']}:{t}",
                "conjunction",
                t,
                a,
                b,
                norad_ids=(r["norad_id_1"], r["norad_id_2"]),
            )
        )
    return out


@dataclass(slots=True)
class SimulatedPosts:
    """Simulated posts (``POSTS_SCHEMA``, time order), their labels (``LABELS_SCHEMA``, same
    order) and the events they are about."""

    posts: pa.Table
    labels: pa.Table
    events: list[FleetEvent] = field(default_factory=list)

    def write(self, path: str | Path) -> tuple[Path, Path, Path]:
        """Write ``path`` (JSON Lines posts, the reader's format) and beside it
        ``<stem>.labels.jsonl`` and ``<stem>.events.jsonl``; returns the three paths."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        stem = path.name.removesuffix(".jsonl")
        lab, ev = path.with_name(stem + ".labels.jsonl"), path.with_name(stem + ".events.jsonl")
        times = np.datetime_as_string(self.posts.column("time").to_numpy(), unit="ns")
        with path.open("w", encoding="utf-8") as f:
            for r, t in zip(self.posts.to_pylist(), times, strict=True):
                rec = {
                    "id": r["id"],
                    "time": f"{t}Z",
                    "author": r["author"],
                    "text": r["text"],
                    "lang": r["lang"],
                    "reply_to": r["reply_to"],
                    "geo": None
                    if r["lat_deg"] is None
                    else {"lat": r["lat_deg"], "lon": r["lon_deg"]},
                    "entities": json.loads(r["entities"]),
                }
                f.write(json.dumps(rec, ensure_ascii=False) + "\n")
        with lab.open("w", encoding="utf-8") as f:
            for r in self.labels.to_pylist():
                f.write(json.dumps(r, ensure_ascii=False) + "\n")
        with ev.open("w", encoding="utf-8") as f:
            for e in self.events:
                f.write(json.dumps(e.to_json(), ensure_ascii=False) + "\n")
        return path, lab, ev


class _PostLog:
    """Posts as they are drawn (any time order) and their labels, ids ``sim<seed>-NNNNNN``."""

    def __init__(self, seed: int, phrasing: Phrasing) -> None:
        self.seed, self.phrasing = seed, phrasing
        self.rows: list[dict[str, Any]] = []
        self.labels: list[tuple[str, str | None, str | None]] = []

    def add(
        self,
        t: np.datetime64,
        author: str,
        text: str,
        lang: str,
        kind: str,
        event_id: str | None = None,
        reply_to: str | None = None,
        ents: Sequence[str] = (),
    ) -> str:
        """Append one post at ``t`` (UTC) labelled ``kind``; returns its id."""
        pid = f"sim{self.seed}-{len(self.rows):06d}"
        self.rows.append(
            {
                "id": pid,
                "time": t,
                "author": author,
                "text": text,
                "lang": lang,
                "reply_to": reply_to,
                "lat_deg": None,
                "lon_deg": None,
                "entities": json.dumps([*ents, *_hashtags(text)], ensure_ascii=False),
            }
        )
        self.labels.append((kind, event_id, self.phrasing if kind == "event" else None))
        return pid

    def tables(self, end: np.datetime64) -> tuple[pa.Table, pa.Table]:
        """The posts before ``end`` in time order (``POSTS_SCHEMA``) and their labels."""
        rows, labels = self.rows, self.labels
        order = sorted(
            (i for i in range(len(rows)) if rows[i]["time"] < end), key=lambda i: rows[i]["time"]
        )
        posts = posts_table([rows[i] for i in order], source=f"simulated:seed={self.seed}")
        lab = pa.table(
            {
                "id": [rows[i]["id"] for i in order],
                "kind": [labels[i][0] for i in order],
                "event_id": [labels[i][1] for i in order],
                "phrasing": [labels[i][2] for i in order],
            },
            schema=LABELS_SCHEMA,
        )
        return posts, lab


def _event_posts(
    log: _PostLog, rng: np.random.Generator, e: FleetEvent, ja_fraction: float
) -> None:
    """Posts about ``e``: a negative-binomial count (mean 40 x severity, at least 3), a
    log-normal onset (median 90 s) and log-normal spacing (median 120 s); one in five replies
    to an earlier post of the same event."""
    mean = 40.0 * e.severity
    n = max(3, int(rng.negative_binomial(4, 4 / (4 + mean))))
    onset = rng.lognormal(np.log(90.0), 0.8)
    offsets = np.sort(rng.lognormal(np.log(120.0), 1.0, size=n))
    offsets = onset + offsets - offsets[0]
    ids: list[str] = []
    for off in offsets:
        lang = "ja" if rng.random() < ja_fraction else "en"
        tmpl = _T[e.kind][log.phrasing][lang]
        text = _fill(tmpl[rng.integers(len(tmpl))], e)
        ents = [n for n in e.names if n in text] if rng.random() < 0.5 else []
        reply = ids[rng.integers(len(ids))] if ids and rng.random() < 0.2 else None
        t = e.time + np.timedelta64(int(off * 1e9), "ns")
        ids.append(log.add(t, f"@u{rng.integers(100_000)}", text, lang, "event", e.id, reply, ents))


def _chatter_posts(
    log: _PostLog,
    rng: np.random.Generator,
    t0: np.datetime64,
    duration_s: float,
    chatter_per_hour: float,
    ja_fraction: float,
) -> None:
    """Background chatter over ``duration_s`` from ``t0``: a Poisson process whose rate follows
    the hour of day (peak at 15:00 UTC, 1 +- 0.6), drawn by thinning a 1.6x envelope."""
    hours = duration_s / 3600.0
    n_chat = int(rng.poisson(chatter_per_hour * hours * 1.6))
    cand = rng.uniform(0.0, duration_s, size=n_chat)  # thinning of a 1.6x envelope
    hour_of_day = (
        (t0 - t0.astype("datetime64[D]")) / np.timedelta64(1, "h") + cand / 3600.0
    ) % 24.0
    keep = rng.random(n_chat) < (1.0 + 0.6 * np.cos(2 * np.pi * (hour_of_day - 15.0) / 24.0)) / 1.6
    for off in np.sort(cand[keep]):
        lang = "ja" if rng.random() < ja_fraction else "en"
        pool = _CHATTER[lang]
        log.add(
            t0 + np.timedelta64(int(off * 1e9), "ns"),
            f"@u{rng.integers(100_000)}",
            pool[rng.integers(len(pool))],
            lang,
            "chatter",
        )


def _spam_burst(
    log: _PostLog, rng: np.random.Generator, t0: np.datetime64, duration_s: float
) -> None:
    """One decoy burst: 40 to 79 English spam posts from three bots within 10 minutes,
    starting at a uniform time in the window."""
    at = rng.uniform(0.0, max(duration_s - 900.0, 1.0))
    bots = [f"@promo{rng.integers(1000)}" for _ in range(3)]
    for off in np.sort(rng.uniform(0.0, 600.0, size=int(rng.integers(40, 80)))):
        log.add(
            t0 + np.timedelta64(int((at + off) * 1e9), "ns"),
            bots[rng.integers(3)],
            _SPAM[rng.integers(len(_SPAM))],
            "en",
            "spam",
        )


def simulate_posts(
    events: Sequence[FleetEvent],
    start: Any,
    duration_s: float = 86_400.0,
    *,
    seed: int = 0,
    phrasing: Phrasing = "train",
    chatter_per_hour: float = 120.0,
    n_spam_bursts: int = 2,
    ja_fraction: float = 0.3,
) -> SimulatedPosts:
    """Posts over ``[start, start + duration_s)`` UTC: event posts for every event, background
    chatter and ``n_spam_bursts`` decoys (see the module docstring). Posts after the window's
    end are dropped. ``ja_fraction``: the share of posts in Japanese."""
    if phrasing not in ("train", "heldout"):
        raise ValueError(f"phrasing must be 'train' or 'heldout', not {phrasing!r}")
    rng = np.random.default_rng(seed)
    t0 = timeconv.to_instant(start, "start")
    end = t0 + np.timedelta64(int(duration_s * 1e9), "ns")
    log = _PostLog(seed, phrasing)
    for e in events:
        _event_posts(log, rng, e, ja_fraction)
    _chatter_posts(log, rng, t0, duration_s, chatter_per_hour, ja_fraction)
    for _ in range(n_spam_bursts):
        _spam_burst(log, rng, t0, duration_s)
    posts, lab = log.tables(end)
    return SimulatedPosts(posts, lab, list(events))
