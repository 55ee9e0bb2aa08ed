"""Online burst detection on the post stream (Kleinberg's two-state automaton per term), the
grouping of term bursts into topics, spam flags, and linking each burst to a fleet event.

**Per term** (a BM25 term, :func:`~starbrain.models.text.lexical.terms`, stop words dropped),
posts are counted in bins of ``bin_s`` seconds (10 s). Each term has a base rate ``lam0`` per bin
(an exponentially weighted mean of its past counts, time constant ``baseline_tau_s`` = 1 h, never
below ``floor_per_hour`` / 360 and frozen while the term is bursting) and a burst rate
``lam1 = max(s * lam0, burst_per_min * bin_s / 60)``. Counts are Poisson in each state; the
automaton's costs are updated causally, one bin at a time (Kleinberg 2002, the two-state case;
an upward transition costs ``gamma * ln(bins per day)``, ``gamma`` = 1.5, a downward one
nothing)::

    c0 <- min(c0, c1) + (lam0 - x ln lam0)
    c1 <- min(c1, c0 + tau) + (lam1 - x ln lam1)

and the term is *bursting* while ``c1 < c0``. The decision at a bin uses only bins up to it (the
filtered, not smoothed, state), so ``flagged_at`` (the end of the bin where the state first turns)
is when an online detector would raise the alert.

**Topics.** Term bursts whose posts overlap (``|A and B| / min(|A|, |B|) >= 0.5``) are one
:class:`Burst`; its posts are the union. **Spam.** A burst whose posts come from few accounts
(distinct authors / posts below ``min_author_ratio`` = 0.5: on average each account posted it
twice or more) is flagged ``spam`` and raises no alert. Topics sharing a bursting term that start
within ``merge_gap_s`` (10 min) of the previous one's last post are merged.
**Linking.** :func:`link_bursts` scores each fleet event by ``(1 + f) / 2`` times
``exp(-max(0, start - event_time) / 30 min)``, with ``f`` the share of the burst's posts naming
it (its subject, other object, place or NORAD ids), and zero if the burst starts over 60 s
before the event or more than ``max_lag_s`` = 2 h after it. The best event with a score of at
least 0.3 is the link and the score its confidence; time alone links an unnamed event (a stored
anomaly knows its flight id, not the name people use) only within about 15 min.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from starbrain.core.schemas.posts import BURSTS_SCHEMA as BURSTS_SCHEMA
from starbrain.models.text.embeddings import normalise
from starbrain.models.text.lexical import terms

__all__ = [
    "BURSTS_SCHEMA",
    "Burst",
    "BurstDetector",
    "BurstScore",
    "OnlineBursts",
    "bursts_table",
    "detect_bursts",
    "link_bursts",
    "score_bursts",
]

_STOP = frozenset(
    "a an and the of to in on at for is are was be it this that with from by as or not no so "
    "up my me i you we they he she its just now all any has have had did do does right very "
    "what who why how too again off out into over".split()
)
_NS = np.timedelta64(1, "ns")


@dataclass(frozen=True, slots=True)
class Burst:
    """A topic burst. Times are UTC ``datetime64[ns]``; ``rows`` index the posts table given
    to :meth:`BurstDetector.process` (in the order of that table)."""

    burst_id: str
    start: np.datetime64
    end: np.datetime64
    flagged_at: np.datetime64
    terms: tuple[str, ...]
    rows: tuple[int, ...]
    n_authors: int
    spam: bool
    event_id: str | None = None
    confidence: float | None = None
    example: str = ""

    @property
    def n_posts(self) -> int:
        return len(self.rows)


@dataclass
class _TermBurst:
    term: int
    flagged_bin: int
    last_bin: int
    rows: set[int] = field(default_factory=set)


class BurstDetector:
    """Kleinberg two-state burst detection per term over bins (see the module docstring)."""

    def __init__(
        self,
        bin_s: float = 10.0,
        s: float = 8.0,
        gamma: float = 1.5,
        floor_per_hour: float = 1.0,
        burst_per_min: float = 3.0,
        baseline_tau_s: float = 3600.0,
        min_posts: int = 5,
        min_author_ratio: float = 0.5,
        merge_gap_s: float = 600.0,
    ) -> None:
        self.bin_s = float(bin_s)
        self.s, self.gamma = float(s), float(gamma)
        self.lam_floor = floor_per_hour * bin_s / 3600.0
        self.lam_burst = burst_per_min * bin_s / 60.0
        self.alpha = 1.0 - math.exp(-bin_s / baseline_tau_s)
        self.tau = gamma * math.log(86_400.0 / bin_s)
        self.min_posts = int(min_posts)
        self.min_author_ratio = float(min_author_ratio)
        self.merge_gap_s = float(merge_gap_s)

    def _post_terms(self, texts: Sequence[str]) -> list[set[str]]:
        return [{t for t in terms(x) if t not in _STOP and len(t) > 1} for x in texts]

    def process(self, posts: pa.Table) -> list[Burst]:
        """Bursts in a posts table (``POSTS_SCHEMA``; any row order), oldest first."""
        if posts.num_rows == 0:
            return []
        times = posts.column("time").to_numpy().astype("datetime64[ns]")
        texts = posts.column("text").to_pylist()
        authors = posts.column("author").to_pylist()
        t0 = times.min()
        bins = ((times - t0) // np.timedelta64(int(self.bin_s * 1e9), "ns")).astype(np.int64)
        per_post = self._post_terms(texts)
        df: dict[str, int] = {}
        for ts in per_post:
            for t in ts:
                df[t] = df.get(t, 0) + 1
        vocab = {
            t: i for i, t in enumerate(sorted(t for t, n in df.items() if n >= self.min_posts))
        }
        names = sorted(vocab, key=vocab.__getitem__)
        n_terms, n_bins = len(vocab), int(bins.max()) + 1
        if n_terms == 0:
            return []
        # (bin, term) -> rows
        cells: dict[tuple[int, int], list[int]] = {}
        for r, ts in enumerate(per_post):
            for t in ts:
                j = vocab.get(t)
                if j is not None:
                    cells.setdefault((int(bins[r]), j), []).append(r)
        by_bin: dict[int, list[tuple[int, list[int]]]] = {}
        for (b, j), rows in cells.items():
            by_bin.setdefault(b, []).append((j, rows))

        lam0 = np.full(n_terms, self.lam_floor)
        c0 = np.zeros(n_terms)
        c1 = np.full(n_terms, self.tau)
        bursting = np.zeros(n_terms, bool)
        open_: dict[int, _TermBurst] = {}
        done: list[_TermBurst] = []
        x = np.zeros(n_terms)
        for b in range(n_bins):
            x[:] = 0.0
            hits = by_bin.get(b, ())
            for j, rows in hits:
                x[j] = len(rows)
            lam1 = np.maximum(self.s * lam0, self.lam_burst)
            cost0 = lam0 - x * np.log(lam0)
            cost1 = lam1 - x * np.log(lam1)
            c0, c1 = np.minimum(c0, c1) + cost0, np.minimum(c1, c0 + self.tau) + cost1
            m = np.minimum(c0, c1)
            c0 -= m
            c1 -= m
            now = c1 < c0
            for jj in np.flatnonzero(now & ~bursting):
                open_[int(jj)] = _TermBurst(int(jj), b, b)
            for jj in np.flatnonzero(~now & bursting):
                done.append(open_.pop(int(jj)))
            for j, rows in hits:
                if now[j]:
                    open_[j].rows.update(rows)
                    open_[j].last_bin = b
            bursting = now
            lam0 = np.where(
                now, lam0, np.maximum((1 - self.alpha) * lam0 + self.alpha * x, self.lam_floor)
            )
        done += open_.values()
        # a term burst also owns the posts just before it flagged (the ones that caused it)
        for tb in done:
            for back in range(max(0, tb.flagged_bin - 6), tb.flagged_bin):
                tb.rows.update(cells.get((back, tb.term), ()))
        done = [tb for tb in done if len(tb.rows) >= self.min_posts]
        return self._group(done, names, times, texts, authors, t0)

    def _group(
        self,
        tbs: list[_TermBurst],
        names: list[str],
        times: npt.NDArray[Any],
        texts: list[str],
        authors: list[str],
        t0: np.datetime64,
    ) -> list[Burst]:
        tbs.sort(key=lambda tb: (tb.flagged_bin, tb.term))
        groups: list[tuple[set[int], list[_TermBurst]]] = []
        for tb in tbs:
            for rows, members in groups:
                inter = len(rows & tb.rows)
                if inter / min(len(rows), len(tb.rows)) >= 0.5:
                    rows |= tb.rows
                    members.append(tb)
                    break
            else:
                groups.append((set(tb.rows), [tb]))
        # topics that share a bursting term and lie within merge_gap_s of each other are one
        groups.sort(key=lambda g: min(times[r] for r in g[0]))
        gap = np.timedelta64(int(self.merge_gap_s * 1e9), "ns")
        merged: list[tuple[set[int], list[_TermBurst]]] = []
        for rows, members in groups:
            lo = min(times[r] for r in rows)
            tset = {m.term for m in members}
            for mrows, mmembers in merged:
                hi = max(times[r] for r in mrows)
                if lo - hi <= gap and tset & {m.term for m in mmembers}:
                    mrows |= rows
                    mmembers += members
                    break
            else:
                merged.append((set(rows), list(members)))
        out = []
        bin_ns = np.timedelta64(int(self.bin_s * 1e9), "ns")
        for rows, members in merged:
            rs = sorted(rows, key=lambda r: (times[r], r))
            first_bin = min(m.flagged_bin for m in members)
            n_auth = len({authors[r] for r in rs})
            out.append(
                Burst(
                    burst_id="",
                    start=times[rs[0]],
                    end=times[rs[-1]],
                    flagged_at=t0 + (first_bin + 1) * bin_ns,
                    terms=tuple(dict.fromkeys(names[m.term] for m in members)),
                    rows=tuple(rs),
                    n_authors=n_auth,
                    spam=n_auth / len(rs) < self.min_author_ratio,
                    example=texts[rs[0]],
                )
            )
        out.sort(key=lambda b: (b.start, b.flagged_at))
        return [
            replace(b, burst_id=f"b{np.datetime_as_string(b.start, unit='s')}Z-{i}")
            for i, b in enumerate(out)
        ]


def detect_bursts(posts: pa.Table, **kwargs: Any) -> list[Burst]:
    """:meth:`BurstDetector.process` with the detector's keyword arguments."""
    return BurstDetector(**kwargs).process(posts)


def link_bursts(
    bursts: Sequence[Burst],
    posts: pa.Table,
    events: Sequence[Any],
    max_lag_s: float = 7200.0,
    min_confidence: float = 0.3,
) -> list[Burst]:
    """Each burst with ``event_id``/``confidence`` set to its best fleet event (see the module
    docstring); ``events``: :class:`starbrain.sources.posts.FleetEvent` (or anything with ``id``,
    ``time``, ``names`` and ``norad_ids``). Spam bursts are never linked."""
    texts = [normalise(t) for t in posts.column("text").to_pylist()]
    keys = []
    for e in events:
        ks = [normalise(n) for n in e.names] + [str(i) for i in getattr(e, "norad_ids", ())]
        keys.append([re.escape(k) for k in ks if k])
    pats = [re.compile("|".join(k)) if k else None for k in keys]
    out = []
    for b in bursts:
        best, conf = None, 0.0
        if not b.spam:
            for e, pat in zip(events, pats, strict=True):
                lag = (b.start - np.datetime64(e.time, "ns")) / np.timedelta64(1, "s")
                if lag < -60.0 or lag > max_lag_s:
                    continue
                named = 0.0
                if pat is not None:
                    named = sum(1 for r in b.rows if pat.search(texts[r])) / len(b.rows)
                score = (0.5 + 0.5 * named) * math.exp(-max(0.0, lag) / 1800.0)
                if score > conf:
                    best, conf = e.id, score
        if best is not None and conf >= min_confidence:
            out.append(replace(b, event_id=best, confidence=round(conf, 4)))
        else:
            out.append(replace(b, event_id=None, confidence=None))
    return out


def bursts_table(bursts: Sequence[Burst]) -> pa.Table:
    """Bursts as a table in :data:`BURSTS_SCHEMA`."""
    ts = pa.timestamp("ns", tz="UTC")

    def col(name: str) -> list[Any]:
        return [getattr(b, name) for b in bursts]

    return pa.table(
        {
            "burst_id": col("burst_id"),
            "start": pa.array(np.array(col("start"), "datetime64[ns]"), ts),
            "end": pa.array(np.array(col("end"), "datetime64[ns]"), ts),
            "flagged_at": pa.array(np.array(col("flagged_at"), "datetime64[ns]"), ts),
            "terms": [" ".join(b.terms) for b in bursts],
            "n_posts": [b.n_posts for b in bursts],
            "n_authors": col("n_authors"),
            "spam": col("spam"),
            "event_id": col("event_id"),
            "confidence": col("confidence"),
            "example": col("example"),
        },
        schema=BURSTS_SCHEMA,
    )


@dataclass(frozen=True, slots=True)
class BurstScore:
    """Scores of bursts against ground-truth labels (see :func:`score_bursts`)."""

    n_events: int
    n_found: int  # events with a non-spam burst whose posts are mostly theirs
    n_within_60s: int  # of those, flagged at most 60 s after the event's first post
    n_false: int  # non-spam bursts whose posts are mostly not about any event
    n_linked: int
    n_linked_right: int
    latencies_s: tuple[float, ...] = ()

    @property
    def recall(self) -> float:
        return self.n_found / self.n_events if self.n_events else 1.0

    @property
    def within_60s(self) -> float:
        return self.n_within_60s / self.n_found if self.n_found else 0.0

    @property
    def link_precision(self) -> float:
        return self.n_linked_right / self.n_linked if self.n_linked else 1.0


def score_bursts(bursts: Sequence[Burst], posts: pa.Table, labels: pa.Table) -> BurstScore:
    """Event recall, latency from each event's first post to its burst's ``flagged_at``, false
    bursts and link precision, against the simulator's labels (``LABELS_SCHEMA``, rows aligned
    with ``posts``). A burst is *about* the event that labels most of its posts."""
    ev = labels.column("event_id").to_pylist()
    times = posts.column("time").to_numpy().astype("datetime64[ns]")
    first: dict[str, np.datetime64] = {}
    for r, e in enumerate(ev):
        if e is not None and (e not in first or times[r] < first[e]):
            first[e] = times[r]
    found: dict[str, float] = {}
    n_false = n_linked = n_right = 0
    for b in bursts:
        if b.spam:
            continue
        votes: dict[str | None, int] = {}
        for r in b.rows:
            votes[ev[r]] = votes.get(ev[r], 0) + 1
        about = max(votes, key=lambda k: votes[k])
        if about is None:
            n_false += 1
        else:
            lat = (b.flagged_at - first[about]) / np.timedelta64(1, "s")
            found[about] = min(found.get(about, math.inf), float(lat))
        if b.event_id is not None:
            n_linked += 1
            n_right += int(b.event_id == about)
    lats = tuple(found.values())
    return BurstScore(
        len(first), len(found), sum(1 for x in lats if x <= 60.0), n_false, n_linked, n_right, lats
    )


class OnlineBursts:
    """:class:`BurstDetector` run online: posts arrive window by window and the automaton's
    state (per-term base rate, costs, bursting flag, open term bursts, the last bins' cells) is
    carried between calls, so each call costs only its own bins, never a recomputation.

    Bins are ``bin_s`` wide from the first post seen (as in :meth:`BurstDetector.process`), and a
    term is tracked from its first post (before that it sits at the automaton's steady state
    with no posts, which is where the batch run has it too), so the term bursts found are the
    batch run's. :meth:`update` returns each topic once, as soon as one of its term bursts holds
    ``min_posts`` posts; a term burst that shares a post with an already returned, still open
    topic, or flags within ``merge_gap_s`` of its last post, joins it silently (online, a term
    burst is judged on its first ``min_posts`` posts, so this is looser than the batch
    grouping). ``Burst.rows`` are post sequence
    numbers (0 for the first post ever given); :meth:`posts_of` gives their posts.
    Posts older than the current bin (late arrivals) count in the current bin.
    """

    def __init__(self, detector: BurstDetector | None = None) -> None:
        self.det = detector if detector is not None else BurstDetector()
        self._bin_ns = int(self.det.bin_s * 1e9)
        self.t0: np.datetime64 | None = None
        self.next_bin = 0  # first bin not stepped yet
        self._index: dict[str, int] = {}
        self._names: list[str] = []
        self.lam0 = np.zeros(0)
        self.c0 = np.zeros(0)
        self.c1 = np.zeros(0)
        self.bursting = np.zeros(0, bool)
        self._open: dict[int, _TermBurst] = {}
        self._recent: dict[tuple[int, int], list[int]] = {}  # (bin, term) -> rows, last 6 bins
        self._posts: dict[int, tuple[np.datetime64, str, str]] = {}  # row -> time, text, author
        self._topics: list[tuple[set[int], set[int]]] = []  # returned open topics: rows, terms
        self.n_posts = 0

    def _term(self, t: str) -> int:
        j = self._index.get(t)
        if j is None:
            j = self._index[t] = len(self._names)
            self._names.append(t)
            lam0 = self.det.lam_floor
            lam1 = max(self.det.s * lam0, self.det.lam_burst)
            self.lam0 = np.append(self.lam0, lam0)
            self.c0 = np.append(self.c0, 0.0)
            self.c1 = np.append(self.c1, self.det.tau + lam1 - lam0)
            self.bursting = np.append(self.bursting, False)
        return j

    def posts_of(self, burst: Burst) -> pa.Table:
        """A burst's posts (time, text, author), in the order of ``burst.rows``."""
        got = [self._posts[r] for r in burst.rows]
        return pa.table(
            {
                "time": pa.array(
                    np.array([g[0] for g in got], "datetime64[ns]"), pa.timestamp("ns", tz="UTC")
                ),
                "text": [g[1] for g in got],
                "author": [g[2] for g in got],
            }
        )

    def update(self, posts: pa.Table, until: np.datetime64) -> list[Burst]:
        """Feed ``posts`` (``POSTS_SCHEMA``, any order) and step every bin that ends at or
        before ``until`` (UTC); returns the topics newly worth an alert (see the class)."""
        det = self.det
        if posts.num_rows:
            times = posts.column("time").to_numpy().astype("datetime64[ns]")
            if self.t0 is None:
                self.t0 = times.min()
            texts = posts.column("text").to_pylist()
            authors = posts.column("author").to_pylist()
            order = np.argsort(times, kind="stable")
            per_post = det._post_terms(texts)
            for i in order:
                r = self.n_posts
                self.n_posts += 1
                self._posts[r] = (times[i], texts[i], authors[i])
                b = max(int((times[i] - self.t0) // np.timedelta64(self._bin_ns, "ns")), 0)
                b = max(b, self.next_bin)
                for t in per_post[i]:
                    self._recent.setdefault((b, self._term(t)), []).append(r)
        if self.t0 is None:
            return []
        last = int((np.datetime64(until, "ns") - self.t0) // np.timedelta64(self._bin_ns, "ns"))
        qualified: list[_TermBurst] = []
        by_bin: dict[int, list[tuple[int, list[int]]]] = {}
        for (bb, j), rows in self._recent.items():
            if bb >= self.next_bin:
                by_bin.setdefault(bb, []).append((j, rows))
        for b in range(self.next_bin, last):
            self._step(b, by_bin.get(b, []), qualified)
        self.next_bin = max(self.next_bin, last)
        out = self._new_topics(qualified)
        self._prune()
        return out

    def _step(self, b: int, hits: list[tuple[int, list[int]]], qualified: list[_TermBurst]) -> None:
        det = self.det
        x = np.zeros(len(self._names))
        for j, rows in hits:
            x[j] = len(rows)
        lam0 = self.lam0
        lam1 = np.maximum(det.s * lam0, det.lam_burst)
        cost0 = lam0 - x * np.log(lam0)
        cost1 = lam1 - x * np.log(lam1)
        c0, c1 = self.c0, self.c1
        c0, c1 = np.minimum(c0, c1) + cost0, np.minimum(c1, c0 + det.tau) + cost1
        m = np.minimum(c0, c1)
        self.c0, self.c1 = c0 - m, c1 - m
        now = self.c1 < self.c0
        for jj in np.flatnonzero(now & ~self.bursting):
            tb = _TermBurst(int(jj), b, b)
            for back in range(max(0, b - 6), b):
                tb.rows.update(self._recent.get((back, int(jj)), ()))
            self._open[int(jj)] = tb
        for jj in np.flatnonzero(~now & self.bursting):
            self._open.pop(int(jj), None)
        for j, rows in hits:
            if now[j]:
                tb = self._open[j]
                before = len(tb.rows)
                tb.rows.update(rows)
                tb.last_bin = b
                if before < det.min_posts <= len(tb.rows):
                    qualified.append(tb)
        for jj in np.flatnonzero(now & ~self.bursting):  # a burst born big enough
            tb = self._open[int(jj)]
            if len(tb.rows) >= det.min_posts and tb not in qualified:
                qualified.append(tb)
        self.bursting = now
        self.lam0 = np.where(
            now, lam0, np.maximum((1 - det.alpha) * lam0 + det.alpha * x, det.lam_floor)
        )

    def _prune(self) -> None:
        """Drop cells older than 6 bins, topics whose terms all stopped bursting over
        ``merge_gap_s`` ago, and posts no
        open term burst or topic holds and no kept cell names."""
        self._recent = {k: v for k, v in self._recent.items() if k[0] >= self.next_bin - 6}
        open_terms = set(self._open)
        assert self.t0 is not None
        gap_bins, t0, ns = self.det.merge_gap_s / self.det.bin_s, self.t0, self._bin_ns
        self._topics = [
            (rows, ts)
            for rows, ts in self._topics
            if ts & open_terms
            or self.next_bin - max(int((self._posts[r][0] - t0) // ns) for r in rows) <= gap_bins
        ]
        keep: set[int] = set()
        for rows in self._recent.values():
            keep.update(rows)
        for tb in self._open.values():
            keep |= tb.rows
        for rows, _ in self._topics:
            keep |= rows
        self._posts = {r: v for r, v in self._posts.items() if r in keep}

    def _new_topics(self, qualified: list[_TermBurst]) -> list[Burst]:
        assert self.t0 is not None
        fresh = []
        for rows, ts in self._topics:  # a returned topic grows with its open term bursts
            for t in ts & set(self._open):
                rows |= self._open[t].rows
        gap_bins = self.det.merge_gap_s / self.det.bin_s
        for tb in qualified:
            for rows, ts in self._topics:
                last = max(int((self._posts[r][0] - self.t0) // self._bin_ns) for r in rows)
                if rows & tb.rows or tb.flagged_bin - last <= gap_bins:
                    rows |= tb.rows
                    ts.add(tb.term)
                    break
            else:
                fresh.append(tb)
        if not fresh:
            return []
        times = {r: v[0] for r, v in self._posts.items()}
        texts = {r: v[1] for r, v in self._posts.items()}
        authors = {r: v[2] for r, v in self._posts.items()}
        out = self.det._group(
            [replace_tb(tb) for tb in fresh], self._names, times, texts, authors, self.t0
        )  # type: ignore[arg-type]
        for b in out:
            self._topics.append((set(b.rows), {self._index[t] for t in b.terms}))
        return out


def replace_tb(tb: _TermBurst) -> _TermBurst:
    """A copy of a term burst (its rows frozen at the time it was returned)."""
    return _TermBurst(tb.term, tb.flagged_bin, tb.last_bin, set(tb.rows))
