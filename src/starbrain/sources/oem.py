"""CCSDS Orbit Ephemeris Messages (OEM, CCSDS 502.0-B-2/3): KVN and XML reading and writing.

An OEM holds segments, each a metadata block (object, centre, frame, time system, span) and
``epoch x y z vx vy vz`` state vectors in km and km/s. :func:`read_oem` reads KVN or NDM/XML
(sniffed) into :class:`OemSegment` objects; :func:`write_oem` / :func:`write_oem_xml` write
propagated arrays and :func:`write_oem_segments` writes segments (e.g. read back from the store).

This module also owns the ``ephemeris`` store stream (precise ephemerides from OEM and SP3):
its Arrow schema, the normalisation of reference-frame names and the conversion of the time
scales ephemeris files use (UTC, TAI, TT, GPS and other GNSS times) to UTC.

Bad input never aborts a file: a bad state line is skipped and reported as a
:class:`~starbrain.sources.records.RecordError` (source, line, field, reason); a segment without
usable metadata or data is dropped with an error. Covariance blocks (KVN ``COVARIANCE_START`` and
XML ``covarianceMatrix``) are accepted and skipped; acceleration columns are accepted and ignored.

Nothing is guessed: a segment needs ``OBJECT_ID``, ``CENTER_NAME``, a supported ``TIME_SYSTEM``
and a ``REF_FRAME`` :func:`normalise_frame` knows (no default UTC, EARTH or frame). Epochs must
be CCSDS ASCII time codes (calendar or ordinal, day 001-365/366, years 1678-2261 so that
``datetime64[ns]`` holds them); numbers must be plain ASCII decimals; positions beyond
``MAX_POSITION_KM`` and speeds not below ``SPEED_OF_LIGHT_KMPS`` are rejected
(:func:`implausible_states`). Each is a ``RecordError`` naming the line and field. A UTF-8
byte-order mark is dropped.
"""

from __future__ import annotations

import bisect
import functools
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from starbrain.core import timeconv
from starbrain.core.errors import StarbrainError
from starbrain.sources.compressed import read_input
from starbrain.sources.records import LoadResult, RecordError

__all__ = [
    "EPHEMERIS_KEY",
    "EPHEMERIS_SCHEMA",
    "MAX_POSITION_KM",
    "OEM_FRAMES",
    "SPEED_OF_LIGHT_KMPS",
    "OemSegment",
    "implausible_states",
    "load_ephemeris",
    "normalise_frame",
    "read_oem",
    "segments_from_table",
    "segments_to_table",
    "sniff_ephemeris_format",
    "to_utc",
    "write_oem",
    "write_oem_segments",
    "write_oem_xml",
]

# our frame names -> CCSDS REF_FRAME values (SANA registry)
OEM_FRAMES = {"teme": "TEME", "gcrs": "GCRF", "itrf": "ITRF"}

EPHEMERIS_SCHEMA = pa.schema(
    [
        pa.field("object_id", pa.string(), nullable=False),  # OEM OBJECT_ID, SP3 "G01"
        pa.field("object_name", pa.string()),
        pa.field("time", pa.timestamp("ns", tz="UTC"), nullable=False),
        pa.field("x", pa.float64(), nullable=False),  # km
        pa.field("y", pa.float64(), nullable=False),
        pa.field("z", pa.float64(), nullable=False),
        pa.field("vx", pa.float64()),  # km/s; null when the file has no velocity for the state
        pa.field("vy", pa.float64()),
        pa.field("vz", pa.float64()),
        pa.field("frame", pa.string(), nullable=False),  # normalised: TEME, GCRF, EME2000, ITRF...
        pa.field("center", pa.string(), nullable=False),  # EARTH, MARS BARYCENTER, ...
        pa.field("source", pa.string(), nullable=False),  # the file the states came from
    ],
    metadata={"stream": "ephemeris", "key": "object_id,time,frame,source"},
)
EPHEMERIS_KEY = ("object_id", "time", "frame", "source")


# --- physical bounds ---------------------------------------------------------------------------

# A state outside these is not a position or velocity anything can have, so it is a bad record,
# not data: no spacecraft is farther than ~170 au from the Sun (Voyager 1, 2026), so +-1e12 km
# (6 685 au) per component leaves room for any ephemeris of the solar system, and nothing moves
# at or above the speed of light. Both are far outside what a real OEM or SP3 file holds; they
# catch corruption (1e308, an exponent typo, a column shifted by a field), not unusual orbits.
MAX_POSITION_KM = 1e12
SPEED_OF_LIGHT_KMPS = 299_792.458


def implausible_states(
    r_km: npt.NDArray[np.float64], v_kmps: npt.NDArray[np.float64] | None = None
) -> list[tuple[int, str, str]]:
    """(row, field, reason) for each finite state (``r_km``, ``v_kmps`` (n, 3)) whose position
    or velocity is physically impossible (see ``MAX_POSITION_KM``, ``SPEED_OF_LIGHT_KMPS``).

    ``field`` is the component of largest magnitude ('x'.. or 'x_dot'..); NaN rows are skipped
    (they are reported where they are read)."""
    out: list[tuple[int, str, str]] = []
    with np.errstate(over="ignore", invalid="ignore"):
        big = np.abs(r_km).max(axis=1)
        for k in np.flatnonzero(np.isfinite(big) & (big > MAX_POSITION_KM)):
            i = int(np.argmax(np.abs(r_km[k])))
            why = f"position component {r_km[k, i]:g} km is beyond +-{MAX_POSITION_KM:g} km"
            out.append((int(k), "xyz"[i], f"{why} (6 685 au): not a physical position"))
        if v_kmps is not None:
            vmax = np.abs(v_kmps).max(axis=1)
            speed = np.sqrt(np.where(vmax < 1e150, (v_kmps * v_kmps).sum(axis=1), np.inf))
            for k in np.flatnonzero(np.isfinite(vmax) & ~(speed < SPEED_OF_LIGHT_KMPS)):
                i = int(np.argmax(np.abs(v_kmps[k])))
                shown = f"{speed[k]:.9g}" if np.isfinite(speed[k]) else f">= {vmax[k]:g}"
                why = f"not below the speed of light ({SPEED_OF_LIGHT_KMPS} km/s)"
                out.append((int(k), _STATE_FIELDS[4 + i], f"speed {shown} km/s is {why}"))
    return out


# --- frames and time scales ------------------------------------------------------------------

_FRAME_ALIASES = {
    "J2000": "EME2000",
    "EME2000": "EME2000",
    "EME-2000": "EME2000",
    "GCRF": "GCRF",
    "GCRS": "GCRF",
    "ICRF": "ICRF",
    "ICRF2": "ICRF",
    "ICRF3": "ICRF",
    "TEME": "TEME",
    "TOD": "TOD",
    "MOD": "MOD",
    "ITRF": "ITRF",
    # WGS 84 realisations (G1762 on) agree with the ITRF at the centimetre level
    "WGS84": "ITRF",
    "WGS-84": "ITRF",
}
# ITRF93, ITRF-93, ITRF2000, ITRF_2014, ITR20 (SP3 five-letter), and the IGS realisations of the
# ITRF (IGS08, IGb08, IGS14, IGb14, IGS20, IGb20) are all "ITRF" here; the file's own name is kept
# in the segment metadata.
_ITRF_RE = re.compile(r"^(ITRF[-_ ]?\d*|ITR\d\d|IG[SB]\d\d)$")


def normalise_frame(name: str) -> str:
    """A reference-frame name as written in a file -> the name stored in the ephemeris stream.

    EME2000/J2000 -> EME2000; GCRF/GCRS -> GCRF; ICRF; TEME; every ITRF realisation (ITRF93,
    ITRF-93, ITRF2000 ... ITRF2020), IGS realisations (IGS14, IGb14, IGS20 ...) and WGS84 -> ITRF.
    Anything else is returned upper-cased, unchanged.
    """
    key = name.strip().upper()
    if key in _FRAME_ALIASES:
        return _FRAME_ALIASES[key]
    if _ITRF_RE.match(key):
        return "ITRF"
    return key


# seconds to add to a time in the named scale to get TAI (scales at a fixed offset from TAI)
_TAI_MINUS = {
    "TAI": 0.0,
    "TT": -32.184,
    "GPS": 19.0,
    "GAL": 19.0,  # Galileo System Time is steered to GPS time
    "QZS": 19.0,
    "QZSS": 19.0,
    "IRN": 19.0,
    "BDT": 33.0,  # BeiDou time: GPS - 14 s
}
# UTC(SU) as written in SP3/RINEX GLONASS time tags (the 3 h Moscow offset already removed)
_UTC_LIKE = {"UTC", "GLO"}
TIME_SYSTEMS = tuple(sorted(_UTC_LIKE | set(_TAI_MINUS)))


@functools.cache
def _leap_table() -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """(instants in TAI ns since 1970 at which a new TAI-UTC starts, that TAI-UTC in ns).

    From Skyfield's bundled leap-second table (no download)."""
    from skyfield.api import load

    ts = load.timescale(builtin=True)
    utc = timeconv.jd_to_datetime64(np.asarray(ts.leap_dates)).astype(np.int64)
    offset_ns = (np.asarray(ts.leap_offsets) * 1e9).round().astype(np.int64)
    return utc + offset_ns, offset_ns


def to_utc(times: npt.ArrayLike, time_system: str) -> npt.NDArray[np.datetime64]:
    """Times written in ``time_system`` (as ``datetime64``, naive) -> UTC ``datetime64[ns]``.

    UTC and GLO (UTC(SU)) pass through; TAI, TT, GPS, GAL, QZS, IRN and BDT are shifted to TAI by
    their fixed offsets, then to UTC with the leap seconds in effect (Skyfield's bundled table;
    before 1972 TAI-UTC is taken as 10 s). Raises ``ValueError`` for other scales.
    """
    t = np.asarray(times, dtype="datetime64[ns]")
    ts = time_system.strip().upper()
    if ts in _UTC_LIKE:
        return t
    if ts not in _TAI_MINUS:
        raise ValueError(
            f"time system {ts} is not supported (use one of {', '.join(TIME_SYSTEMS)})"
        )
    tai = t.astype(np.int64) + np.int64(round(_TAI_MINUS[ts] * 1e9))
    starts, offsets = _leap_table()
    k = np.searchsorted(starts, tai, side="right") - 1
    off = np.where(k >= 0, offsets[np.clip(k, 0, None)], np.int64(10_000_000_000))
    out: npt.NDArray[np.datetime64] = (tai - off).astype("datetime64[ns]")
    return out


# --- segments --------------------------------------------------------------------------------

_STATE_FIELDS = ("epoch", "x", "y", "z", "x_dot", "y_dot", "z_dot")


@dataclass
class OemSegment:
    """One OEM segment: ``times`` (n,) UTC datetime64[ns], ``r_km``/``v_kmps`` (n, 3).

    ``frame`` is the normalised reference frame (:func:`normalise_frame`: 'TEME', 'GCRF',
    'EME2000', 'ITRF', ...); the value as written stays in ``meta['REF_FRAME']``. ``time_system``
    is the one the file used; ``times`` are always UTC. ``line`` is the 1-based line of its
    META_START (KVN) or ``<segment>`` (XML).
    """

    object_name: str
    object_id: str
    frame: str
    center: str
    time_system: str
    times: npt.NDArray[np.datetime64]
    r_km: npt.NDArray[np.float64]
    v_kmps: npt.NDArray[np.float64]
    line: int = 0
    meta: dict[str, str] = field(default_factory=dict)


# CCSDS 301.0-B ASCII time codes A (calendar) and B (ordinal), which may be truncated on the
# right: ASCII digits only, optional Z
_CLOCK = r"(T\d{2}(?::\d{2}(?::\d{2}(?:\.\d+)?)?)?)?[Zz]?"
_CAL_RE = re.compile(rf"\d{{4}}-\d{{2}}-\d{{2}}{_CLOCK}", re.ASCII)
_DOY_RE = re.compile(rf"(\d{{4}})-(\d{{3}}){_CLOCK}", re.ASCII)
# what a column of state-vector numbers may hold: plain ASCII decimals, no nan/inf/1_000
_NUMBER_RE = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)
_NOT_NUMBER_CHARS = re.compile(r"[^0-9eE+\-.]")
_KNOWN_FRAMES = frozenset(_FRAME_ALIASES.values()) | {"ITRF"}


def _ccsds_time(text: str) -> np.datetime64:
    """A CCSDS ASCII time, calendar (``2024-01-31T12:00:00.5``) or ordinal (``2024-031T12:00``)
    form, optional ``Z`` -> ``datetime64[ns]`` in the file's time scale.

    Raises ``ValueError`` naming the text for anything else, for an ordinal day outside 001 to
    365 (366 in leap years), and for a year outside 1678-2261 (``timeconv``'s range)."""
    t = text.strip()
    m = _DOY_RE.fullmatch(t)
    if m is not None:
        year, doy = int(m[1]), int(m[2])
        n_days = 366 if year % 4 == 0 and (year % 100 != 0 or year % 400 == 0) else 365
        if not 1 <= doy <= n_days:
            raise ValueError(f"day of year {m[2]} is not in 001 to {n_days} ({year}): {text!r}")
        if not timeconv.MIN_YEAR <= year <= timeconv.MAX_YEAR:
            return timeconv.to_instant(t, "epoch")  # raises, naming the value
        day = np.datetime64(f"{m[1]}-01-01", "D") + np.timedelta64(doy - 1, "D")
        return timeconv.to_instant(f"{day}{(m[3] or '').rstrip('Zz')}", "epoch")
    if _CAL_RE.fullmatch(t) is None:
        raise ValueError(
            f"not a CCSDS time (YYYY-MM-DDThh:mm:ss.d or YYYY-DDDThh:mm:ss.d): {text!r}"
        )
    return timeconv.to_instant(t, "epoch")


class _SegmentBuilder:
    """Collects one segment's metadata and state tokens and turns them into an OemSegment.

    Tokens are converted in bulk when the segment is finished (NumPy parses the ISO times and
    the numbers of the whole segment at once); only a segment holding a bad value is converted
    state by state, to name each bad one. ``locate(where, field)`` gives the 1-based line of a
    state's field from the ``where`` recorded with it (KVN: the line itself).
    """

    def __init__(
        self, source: str, line: int, locate: Callable[[int, str], int | None] | None = None
    ) -> None:
        self.source, self.line = source, line
        self.locate = locate or (lambda where, _field: where)
        self.meta: dict[str, str] = {}
        self.rows: list[Sequence[str]] = []  # epoch and six numbers, as written
        self.where: list[int] = []

    def add(self, tokens: Sequence[str], where: int) -> None:
        self.rows.append(tokens[:7])
        self.where.append(where)

    def _bulk(self) -> tuple[npt.NDArray[np.datetime64], npt.NDArray[np.float64]]:
        """Every state at once; ``ValueError`` when any value is bad."""
        stamps = [r[0].strip() for r in self.rows]
        if not all(_CAL_RE.fullmatch(t) for t in stamps):  # ordinal dates, bad times
            raise ValueError("not all calendar times")
        years = np.array([t[:4] for t in stamps]).astype(np.int64)
        if ((years < timeconv.MIN_YEAR) | (years > timeconv.MAX_YEAR)).any():
            raise ValueError("years datetime64[ns] cannot hold")  # NumPy would wrap them
        t = np.array([x.rstrip("Zz") for x in stamps], dtype="datetime64[ns]")
        tokens = [r[1:7] for r in self.rows]
        if _NOT_NUMBER_CHARS.search("".join("".join(r) for r in tokens)):
            raise ValueError("not all plain decimals")  # nan, inf, 1_000, non-ASCII digits
        arr = np.array(tokens, dtype=np.float64)
        if np.isnat(t).any() or not np.isfinite(arr).all():
            raise ValueError("NaT or non-finite")
        if implausible_states(arr[:, :3], arr[:, 3:]):
            raise ValueError("impossible states")
        return t, arr

    def _one_by_one(
        self, errors: list[RecordError]
    ) -> tuple[npt.NDArray[np.datetime64], npt.NDArray[np.float64]]:
        times: list[np.datetime64] = []
        states: list[list[float]] = []
        for tokens, where in zip(self.rows, self.where, strict=True):
            try:
                t = _ccsds_time(tokens[0])
                if np.isnat(t):
                    raise ValueError(f"not a time: {tokens[0]!r}")
            except ValueError as exc:
                line = self.locate(where, "epoch")
                errors.append(RecordError(self.source, str(exc), line=line, field="epoch"))
                continue
            vals: list[float] = []
            for name, tok in zip(_STATE_FIELDS[1:], tokens[1:7], strict=True):
                text = tok.strip()
                if not text:
                    reason = "missing"
                elif _NUMBER_RE.fullmatch(text) is None:
                    reason = f"not a number: {text!r}"
                else:
                    x = float(text)
                    reason = "" if np.isfinite(x) else f"too large to be a number: {text!r}"
                if reason:
                    line = self.locate(where, name)
                    errors.append(RecordError(self.source, reason, line=line, field=name))
                    break
                vals.append(x)
            else:
                bad = implausible_states(np.array([vals[:3]]), np.array([vals[3:]]))
                if bad:
                    _row, name, reason = bad[0]
                    line = self.locate(where, name)
                    errors.append(RecordError(self.source, reason, line=line, field=name))
                    continue
                times.append(t)
                states.append(vals)
        return np.array(times, dtype="datetime64[ns]"), np.array(states, dtype=np.float64)

    def _metadata_problems(self) -> list[tuple[str, str]]:
        """(keyword, reason) for each metadata value the segment cannot be stored without:
        the time system and frame (that give the numbers their meaning), the centre and the
        object. Missing values are not guessed (no default UTC, EARTH or frame)."""
        m = self.meta
        out = []
        ts = m.get("TIME_SYSTEM", "").strip().upper()
        if not ts:
            out.append(("TIME_SYSTEM", "no TIME_SYSTEM"))
        elif ts not in TIME_SYSTEMS:
            out.append(
                ("TIME_SYSTEM", f"time system {ts} is not supported (use one of "
                 f"{', '.join(TIME_SYSTEMS)})")
            )  # fmt: skip
        frame = m.get("REF_FRAME", "").strip()
        if not frame:
            out.append(("REF_FRAME", "no REF_FRAME"))
        elif normalise_frame(frame) not in _KNOWN_FRAMES:
            out.append(
                ("REF_FRAME", f"reference frame {frame!r} is not one starbrain knows (EME2000/"
                 "J2000, GCRF, ICRF, TEME, TOD, MOD, ITRF and its realisations, WGS84)")
            )  # fmt: skip
        if not m.get("CENTER_NAME", "").strip():
            out.append(("CENTER_NAME", "no CENTER_NAME"))
        if not m.get("OBJECT_ID", "").strip():
            out.append(("OBJECT_ID", "no OBJECT_ID"))
        return out

    def finish(self, segments: list[OemSegment], errors: list[RecordError]) -> None:
        m = self.meta
        name = m.get("OBJECT_NAME", "")
        if not self.rows:
            errors.append(
                RecordError(self.source, f"segment {name!r} has no state lines", line=self.line)
            )
            return
        problems = self._metadata_problems()
        if problems:
            n = len(self.rows)
            errors.append(
                RecordError(
                    self.source,
                    f"segment {name!r} ({n} state{'s' * (n != 1)}) is dropped: "
                    + "; ".join(why for _key, why in problems),
                    line=self.line,
                    field=problems[0][0],
                )
            )
            return
        ts = m["TIME_SYSTEM"].strip().upper()
        try:
            t, arr = self._bulk()
        except ValueError:
            t, arr = self._one_by_one(errors)
        if t.size == 0:
            errors.append(
                RecordError(
                    self.source, f"segment {name!r} has no valid state lines", line=self.line
                )
            )
            return
        t = to_utc(t, ts)
        order = np.argsort(t, kind="stable")
        segments.append(
            OemSegment(
                name,
                m["OBJECT_ID"].strip(),
                normalise_frame(m["REF_FRAME"]),
                m["CENTER_NAME"].strip().upper(),
                ts,
                t[order],
                arr[order, :3],
                arr[order, 3:6],
                self.line,
                m,
            )
        )


def sniff_ephemeris_format(text: str) -> str | None:
    """'oem' (KVN), 'oem-xml', 'sp3', or None when the text looks like none of them."""
    head = text.lstrip("\ufeff \t\r\n")[:4096]
    if head[:1] == "#" and head[1:2] in ("a", "b", "c", "d") and head[2:3] in ("P", "V"):
        return "sp3"
    if head.startswith("<"):
        return "oem-xml" if re.search(r"<(\w+:)?oem[\s>]", head) else None
    if re.match(r"\s*CCSDS_OEM_VERS\s*=", head, re.IGNORECASE):
        return "oem"
    return None


def read_oem(
    text: str, source: str = "<oem>", fmt: str | None = None
) -> tuple[list[OemSegment], list[RecordError]]:
    """Parse OEM ``text`` (``fmt`` 'oem' for KVN or 'oem-xml'; sniffed when None).

    Returns the good segments and the errors; never raises for bad data.
    """
    text = text.removeprefix("\ufeff")
    if fmt is None:
        fmt = "oem-xml" if text.lstrip(" \t\r\n").startswith("<") else "oem"
    if fmt == "oem-xml":
        return _read_xml(text, source)
    if fmt == "oem":
        return _read_kvn(text, source)
    raise ValueError(f"unknown OEM format {fmt!r}; use oem (KVN) or oem-xml")


def _read_kvn(text: str, source: str) -> tuple[list[OemSegment], list[RecordError]]:
    segments: list[OemSegment] = []
    errors: list[RecordError] = []
    seg: _SegmentBuilder | None = None
    in_meta = in_cov = False
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("COMMENT"):
            continue
        key = line.split("=", 1)[0].strip().upper() if "=" in line else line.upper()
        if key == "META_START":
            if seg is not None:
                seg.finish(segments, errors)
            seg, in_meta = _SegmentBuilder(source, lineno), True
            continue
        if key == "META_STOP":
            in_meta = False
            continue
        if key == "COVARIANCE_START":
            in_cov = True
            continue
        if key == "COVARIANCE_STOP":
            in_cov = False
            continue
        if in_cov:
            continue
        if "=" in line:
            if in_meta and seg is not None:
                value = line.split("=", 1)[1].strip()
                seg.meta[key] = value.split("[", 1)[0].strip() if "[" in value else value
            continue  # header keys (CCSDS_OEM_VERS, CREATION_DATE, ORIGINATOR)
        if seg is None or in_meta:
            errors.append(RecordError(source, "data line outside a segment", line=lineno))
            continue
        parts = line.split()
        if len(parts) not in (7, 10):
            errors.append(
                RecordError(source, f"expected 7 or 10 columns, got {len(parts)}", line=lineno)
            )
            continue
        seg.add(parts, lineno)
    if seg is not None:
        seg.finish(segments, errors)
    errors.sort(key=lambda e: e.line or 0)  # value errors are found when a segment ends
    return segments, errors


# --- XML ---------------------------------------------------------------------------------------


_XML_STATE = ("EPOCH", "X", "Y", "Z", "X_DOT", "Y_DOT", "Z_DOT")
_XML_FIELD = dict(zip(_STATE_FIELDS, _XML_STATE, strict=True))
_SV_CLOSE = re.compile(r"</(?:[\w.-]+:)?stateVector\s*>")


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


class _XmlLines:
    """Line numbers of XML elements, found only when an error needs one (ElementTree, which
    parses the file, does not keep them): the k-th ``<segment>`` / ``<stateVector>`` start by a
    scan of the text, and a field's own line within its state vector."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._starts: dict[str, list[int]] = {}
        self._newlines: list[int] | None = None

    def _nth(self, tag: str, k: int) -> int:
        if tag not in self._starts:
            pattern = re.compile(rf"<(?:[\w.-]+:)?{tag}[\s>/]")
            self._starts[tag] = [m.start() for m in pattern.finditer(self.text)]
        starts = self._starts[tag]
        return starts[k] if k < len(starts) else -1

    def line(self, tag: str, k: int, field: str | None = None) -> int | None:
        pos = self._nth(tag, k)
        if pos < 0:
            return None
        if field is not None:
            close = _SV_CLOSE.search(self.text, pos)
            end = close.start() if close else -1
            m = re.compile(rf"<(?:[\w.-]+:)?{_XML_FIELD.get(field, field)}[\s>/]").search(
                self.text, pos, end if end > 0 else len(self.text)
            )
            pos = m.start() if m else pos
        if self._newlines is None:
            self._newlines = [m.start() for m in re.finditer("\n", self.text)]
        return bisect.bisect_left(self._newlines, pos) + 1


def _read_xml(text: str, source: str) -> tuple[list[OemSegment], list[RecordError]]:
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        return [], [RecordError(source, f"not well-formed XML: {exc}", line=exc.position[0])]
    lines = _XmlLines(text)
    # a single <oem>, or an <ndm> combined instantiation holding several
    oems = [root] if _local(root.tag) == "oem" else [c for c in root if _local(c.tag) == "oem"]
    if not oems:
        return [], [RecordError(source, "no <oem> element: not an OEM in XML form", line=1)]
    segments: list[OemSegment] = []
    errors: list[RecordError] = []
    n_seg = n_sv = 0
    for oem in oems:
        ns = oem.tag[: oem.tag.index("}") + 1] if oem.tag.startswith("{") else ""
        state_tags = [ns + k for k in _XML_STATE]
        for seg_el in oem.iter(f"{ns}segment"):
            seg = _SegmentBuilder(
                source, lines.line("segment", n_seg) or 0,
                lambda k, field: lines.line("stateVector", k, field),
            )  # fmt: skip
            n_seg += 1
            for part in seg_el:
                tag = _local(part.tag)
                if tag == "metadata":
                    seg.meta = {
                        _local(c.tag).upper(): (c.text or "").strip()
                        for c in part
                        if _local(c.tag) != "COMMENT"
                    }
                elif tag == "data":
                    # covarianceMatrix (and accelerations) are accepted and skipped
                    for sv in part.iter(f"{ns}stateVector"):
                        values = {c.tag: (c.text or "").strip() for c in sv}
                        tokens = [values.get(k) for k in state_tags]
                        missing = [k for k, v in zip(_XML_STATE, tokens, strict=True) if v is None]
                        if missing:
                            errors.append(
                                RecordError(
                                    source,
                                    f"stateVector has no {', '.join(missing)}",
                                    line=lines.line("stateVector", n_sv),
                                    field=_STATE_FIELDS[_XML_STATE.index(missing[0])],
                                )
                            )
                        else:
                            seg.add(tokens, n_sv)  # type: ignore[arg-type]  # no None left
                        n_sv += 1
            seg.finish(segments, errors)
    errors.sort(key=lambda e: e.line or 0)
    return segments, errors


# --- writing -----------------------------------------------------------------------------------


def _iso(t: npt.NDArray[np.datetime64]) -> list[str]:
    return list(np.datetime_as_string(t.astype("datetime64[us]"), unit="us"))


def _iso_exact(t: npt.NDArray[np.datetime64]) -> list[str]:
    """ISO 8601 to the nanosecond with trailing zeros dropped (at least whole seconds)."""
    s = np.datetime_as_string(t.astype("datetime64[ns]"), unit="ns")
    return [x.rstrip("0").rstrip(".") for x in s]


def _num(x: float) -> str:
    """The shortest decimal that reads back as the same float64 (no exponent)."""
    return np.format_float_positional(x, unique=True, trim="0")


def _segments_from_arrays(
    times: npt.NDArray[np.datetime64],
    r_km: npt.NDArray[np.float64],
    v_kmps: npt.NDArray[np.float64],
    object_names: Sequence[str],
    object_ids: Sequence[str],
    frame: str,
) -> list[OemSegment]:
    if frame not in OEM_FRAMES:
        raise ValueError(f"unknown frame {frame!r}; use one of {', '.join(OEM_FRAMES)}")
    t = np.asarray(times, dtype="datetime64[ns]")
    out = []
    for k, (name, oid) in enumerate(zip(object_names, object_ids, strict=True)):
        good = np.isfinite(r_km[k]).all(axis=1) & np.isfinite(v_kmps[k]).all(axis=1)
        if good.any():
            out.append(
                OemSegment(
                    name, oid, OEM_FRAMES[frame], "EARTH", "UTC", t[good], r_km[k][good],
                    v_kmps[k][good],
                )
            )  # fmt: skip
    return out


def write_oem(
    times: npt.NDArray[np.datetime64],
    r_km: npt.NDArray[np.float64],
    v_kmps: npt.NDArray[np.float64],
    object_names: Sequence[str],
    object_ids: Sequence[str],
    frame: str = "teme",
    originator: str = "starbrain",
    comment: str | None = None,
) -> str:
    """OEM KVN text for ``n_sat`` objects: ``times`` (n_time,) UTC, states (n_sat, n_time, 3).

    ``frame`` is one of ``OEM_FRAMES`` (teme, gcrs, itrf). States that are not finite (a failed
    propagation) are left out of their segment. Positions are written to the millimetre, velocities
    to the micrometre per second, times to the microsecond.
    """
    segs = _segments_from_arrays(times, r_km, v_kmps, object_names, object_ids, frame)
    return _format(segs, "kvn", originator, comment, None, exact=False)


def write_oem_xml(
    times: npt.NDArray[np.datetime64],
    r_km: npt.NDArray[np.float64],
    v_kmps: npt.NDArray[np.float64],
    object_names: Sequence[str],
    object_ids: Sequence[str],
    frame: str = "teme",
    originator: str = "starbrain",
    comment: str | None = None,
) -> str:
    """As :func:`write_oem`, in the CCSDS NDM/XML form (``<oem>`` with one ``<segment>`` each)."""
    segs = _segments_from_arrays(times, r_km, v_kmps, object_names, object_ids, frame)
    return _format(segs, "xml", originator, comment, None, exact=False)


def write_oem_segments(
    segments: Sequence[OemSegment],
    fmt: str = "kvn",
    originator: str = "starbrain",
    comment: str | None = None,
    created: str | None = None,
) -> str:
    """Segments as OEM text, ``fmt`` 'kvn' or 'xml', every value written exactly.

    Times are UTC to the nanosecond (trailing zeros dropped), numbers in their shortest exact
    decimal form, so reading the text back gives the same float64 values. Segments must carry
    velocities (OEM state vectors have six components). ``created`` is the CREATION_DATE (now
    when None).
    """
    if fmt not in ("kvn", "xml"):
        raise ValueError(f"unknown OEM format {fmt!r}; use kvn or xml")
    for seg in segments:
        if not np.isfinite(seg.v_kmps).all():
            raise ValueError(
                f"object {seg.object_id or seg.object_name} has states without velocity; "
                "an OEM state vector needs all six components"
            )
    return _format(segments, fmt, originator, comment, created, exact=True)


def _rows(seg: OemSegment, exact: bool) -> tuple[list[str], list[list[str]]]:
    if exact:
        stamps = _iso_exact(seg.times)
        vals = [[_num(float(x)) for x in row] for row in np.hstack([seg.r_km, seg.v_kmps])]
    else:
        stamps = _iso(seg.times)
        vals = [
            [f"{x:.6f}" for x in r] + [f"{x:.9f}" for x in v]
            for r, v in zip(seg.r_km, seg.v_kmps, strict=True)
        ]
    return stamps, vals


def _format(
    segments: Sequence[OemSegment],
    fmt: str,
    originator: str,
    comment: str | None,
    created: str | None,
    exact: bool,
) -> str:
    if created is None:
        created = str(np.datetime_as_string(timeconv.utc_now().astype("datetime64[s]"), unit="s"))
    heads = []
    for seg in segments:
        stamps, vals = _rows(seg, exact)
        meta = [
            ("OBJECT_NAME", seg.object_name),
            ("OBJECT_ID", seg.object_id),
            ("CENTER_NAME", seg.center or "EARTH"),
            ("REF_FRAME", seg.frame),
            ("TIME_SYSTEM", "UTC"),
            ("START_TIME", stamps[0]),
            ("STOP_TIME", stamps[-1]),
        ]
        heads.append((meta, stamps, vals))
    if fmt == "kvn":
        lines = ["CCSDS_OEM_VERS = 2.0", f"CREATION_DATE = {created}", f"ORIGINATOR = {originator}"]
        for meta, stamps, vals in heads:
            lines += ["", "META_START", *(f"{k} = {v}" for k, v in meta), "META_STOP", ""]
            if comment:
                lines.append(f"COMMENT {comment}")
            lines += [f"{t} {' '.join(v)}" for t, v in zip(stamps, vals, strict=True)]
        return "\n".join(lines) + "\n"
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<oem xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:noNamespaceSchemaLocation='
        '"https://sanaregistry.org/r/ndmxml_unqualified/ndmxml-2.0.0-master-2.0.xsd" '
        'id="CCSDS_OEM_VERS" version="2.0">',
        "  <header>",
        f"    <CREATION_DATE>{escape(created)}</CREATION_DATE>",
        f"    <ORIGINATOR>{escape(originator)}</ORIGINATOR>",
        "  </header>",
        "  <body>",
    ]
    for meta, stamps, vals in heads:
        out += ["    <segment>", "      <metadata>"]
        out += [f"        <{k}>{escape(str(v))}</{k}>" for k, v in meta]
        out += ["      </metadata>", "      <data>"]
        if comment:
            out.append(f"        <COMMENT>{escape(comment)}</COMMENT>")
        for t, v in zip(stamps, vals, strict=True):
            out.append(
                "        <stateVector><EPOCH>"
                + t
                + "</EPOCH>"
                + "".join(f"<{k}>{x}</{k}>" for k, x in zip(_XML_STATE[1:], v, strict=True))
                + "</stateVector>"
            )
        out += ["      </data>", "    </segment>"]
    out += ["  </body>", "</oem>"]
    return "\n".join(out) + "\n"


# --- the ephemeris stream ---------------------------------------------------------------------


def segments_to_table(segments: Sequence[OemSegment], source: str) -> pa.Table:
    """Segments as rows of the ephemeris stream (``EPHEMERIS_SCHEMA``)."""
    if not segments:
        return EPHEMERIS_SCHEMA.empty_table()
    n = [s.times.size for s in segments]
    r = np.concatenate([s.r_km for s in segments])
    v = np.concatenate([s.v_kmps for s in segments])
    v_ok = np.isfinite(v).all(axis=1)

    def rep(values: list[str]) -> pa.Array:
        return pa.array(np.repeat(np.asarray(values, dtype=object), n), pa.string())

    return pa.table(
        {
            "object_id": rep([s.object_id or s.object_name for s in segments]),
            "object_name": rep([s.object_name for s in segments]),
            "time": pa.array(
                np.concatenate([s.times for s in segments]), EPHEMERIS_SCHEMA.field("time").type
            ),
            "x": r[:, 0],
            "y": r[:, 1],
            "z": r[:, 2],
            **{
                c: pa.array(v[:, i], pa.float64(), mask=~v_ok)
                for i, c in enumerate(("vx", "vy", "vz"))
            },
            "frame": rep([s.frame for s in segments]),
            "center": rep([s.center or "EARTH" for s in segments]),
            "source": pa.array([source] * int(sum(n)), pa.string()),
        },
        schema=EPHEMERIS_SCHEMA,
    )


def segments_from_table(table: pa.Table) -> list[OemSegment]:
    """Ephemeris-stream rows -> one segment per (object, frame, centre, source), time-ordered.

    Missing velocities come back as NaN."""
    cols: dict[str, Any] = {
        c: table.column(c).to_numpy(zero_copy_only=False)
        for c in ("object_id", "object_name", "frame", "center", "source")
    }
    t = table.column("time").to_numpy().astype("datetime64[ns]")
    r = np.column_stack([table.column(c).to_numpy(zero_copy_only=False) for c in "xyz"]).astype(
        np.float64
    )
    v = np.column_stack(
        [
            table.column(c).fill_null(np.nan).to_numpy(zero_copy_only=False)
            for c in ("vx", "vy", "vz")
        ]
    ).astype(np.float64)
    groups: dict[tuple[str, str, str, str], list[int]] = {}
    for i, key in enumerate(
        zip(cols["object_id"], cols["frame"], cols["center"], cols["source"], strict=True)
    ):
        groups.setdefault(key, []).append(i)
    out = []
    for (oid, frame, center, _src), idx in groups.items():
        ix = np.asarray(idx)
        ix = ix[np.argsort(t[ix], kind="stable")]
        name = cols["object_name"][ix[0]] or oid
        out.append(OemSegment(name, oid, frame, center, "UTC", t[ix], r[ix], v[ix]))
    return out


def load_ephemeris(path: str | Path, fmt: str = "auto") -> LoadResult:
    """Read a precise-ephemeris file (OEM KVN, OEM XML or SP3-c/d) as ephemeris-stream rows.

    gzip, bzip2 and xz files are decompressed (found from their magic bytes, capped at
    ``STARBRAIN_MAX_DECOMPRESSED_MB``, see :mod:`starbrain.sources.compressed`); a UTF-8
    byte-order mark is dropped.

    ``fmt`` is 'auto' (sniffed), 'oem', 'oem-xml' or 'sp3'. Bad records are in the result's
    ``errors``; raises :class:`StarbrainError` only when the file cannot be read at all.
    """
    location = str(path)
    p = Path(location).expanduser()
    if not p.is_file():
        raise StarbrainError(f"{location}: no such file")
    # IGS products are distributed gzipped; read_input decompresses (capped, checked) by magic
    text = read_input(p, location).decode("utf-8", errors="replace").removeprefix("\ufeff")
    if fmt == "auto":
        sniffed = sniff_ephemeris_format(text)
        if sniffed is None:
            raise StarbrainError(
                f"{location}: not an OEM (KVN or XML) or SP3 file; name the format with --format"
            )
        fmt = sniffed
    if fmt == "sp3":
        from starbrain.sources.sp3 import read_sp3

        return read_sp3(text, location).to_load_result()
    if fmt not in ("oem", "oem-xml"):
        raise StarbrainError(f"unknown ephemeris format {fmt!r}; use auto, oem, oem-xml or sp3")
    if fmt == "oem" and re.search(r"^[ \t]*META_START[ \t]*\r?$", text, re.MULTILINE) is None:
        raise StarbrainError(f"{location}: not an OEM in KVN form (it has no META_START line)")
    segments, errors = read_oem(text, location, fmt)
    return LoadResult(segments_to_table(segments, location), errors, location)
