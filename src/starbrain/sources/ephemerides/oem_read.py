"""Reading OEM text (CCSDS 502.0-B, KVN and NDM/XML) into :class:`OemSegment` objects.

Each segment's tokens are converted in bulk; only a segment holding a bad value is converted
state by state, so that every bad state is a ``RecordError`` naming its line and field. What is
accepted is described in ``starbrain.sources.ephemerides.oem``, which re-exports :func:`read_oem`
and
:func:`sniff_ephemeris_format`.
"""

from __future__ import annotations

import bisect
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence

import numpy as np
import numpy.typing as npt

from starbrain.core import timeconv
from starbrain.sources.ephemerides.oem_frames import (
    _FRAME_ALIASES,
    TIME_SYSTEMS,
    normalise_frame,
    to_utc,
)
from starbrain.sources.ephemerides.oem_segment import (
    _STATE_FIELDS,
    OemSegment,
    implausible_states,
)
from starbrain.sources.records import RecordError

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
