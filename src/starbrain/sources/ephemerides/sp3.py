"""IGS SP3-c and SP3-d precise orbit files: header and position/velocity records, read in bulk.

SP3 (Hilla 2010, "The Extended Standard Product 3 Orbit Format (SP3-c)"; Hilla 2016, SP3-d)
gives, per epoch (``*`` line), one ``P`` record per satellite (x, y, z in km, clock in
microseconds) and, in ``V`` files, one ``V`` record (velocity in dm/s, clock rate). The header
carries the time system (``%c`` line: GPS, UTC, TAI, GLO, GAL, QZS, BDT, IRN) and the coordinate
frame (``IGS14``, ``IGb14``, ``ITRF`` ... all stored as ITRF). Times are converted to UTC with the
leap seconds of Skyfield's bundled table; velocities to km/s.

Fixed-column fields are converted column by column with NumPy (a 100 000-line file reads in a
fraction of a second); only a column holding a bad value is re-read value by value to name it.
Bad or absent values as the format writes them (a position component of 0.000000, a velocity of
0.000000) are not errors: an absent position drops that state (counted in ``n_absent``), an absent
velocity leaves it null. Clocks are not stored, so the absent-clock value 999999.999999 needs no
handling. ``EP``/``EV`` correlation records are skipped.

Everything else that is not a value is a :class:`RecordError` naming the line and field, and
the rest of the file loads: a satellite id that is not a system letter and two ASCII digits
(``1x``, ``60.``, a non-ASCII digit), in a ``P``/``V`` record or the ``+`` header; a coordinate
that is not a plain ASCII decimal (``nan``, ``inf``, ``1_0``, Arabic-Indic digits: each is
reported, never dropped silently); a position beyond ``MAX_POSITION_KM`` or a speed not below
the speed of light (``sources.oem.implausible_states``); an epoch outside 1678-2261 (what
``datetime64[ns]`` holds). A file whose first line is not an SP3 version line (``#cP``,
``#dV`` ...) is one :class:`StarbrainError`. A UTF-8 byte-order mark is dropped.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from starbrain.core import timeconv
from starbrain.core.errors import StarbrainError
from starbrain.core.schemas.ephemeris import EPHEMERIS_SCHEMA
from starbrain.sources.ephemerides.oem import implausible_states, normalise_frame, to_utc
from starbrain.sources.records import LoadResult, RecordError

__all__ = ["Sp3", "read_sp3"]

# 0-based [start, stop) columns of a P or V record's x, y, z (F14.6) fields
_XYZ_COLS = ((4, 18), (18, 32), (32, 46))
# a fixed-format decimal as Fortran writes it: ASCII digits only, no nan/inf, no underscores
_NUMBER_RE = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)
_NUMBER_BYTES = b"0123456789+-.eE \0"  # every byte a column of such numbers may hold
_SAT_RE = re.compile(r"([A-Z ])([ 0-9][0-9])", re.ASCII)
_INT_RE = re.compile(r"\d+", re.ASCII)


@dataclass
class Sp3:
    """One SP3 file read: header facts and the states as ephemeris-stream rows.

    ``table`` is in ``EPHEMERIS_SCHEMA`` (km, km/s, UTC, frame normalised); ``frame_as_written``
    and ``time_system`` are the header's values; ``satellites`` is the header's list.
    """

    source: str
    version: str  # 'c' or 'd' (also 'a'/'b', read the same way)
    has_velocity: bool
    time_system: str
    frame_as_written: str
    agency: str
    satellites: list[str]
    table: pa.Table
    errors: list[RecordError] = field(default_factory=list)
    n_absent: int = 0  # P records whose position is the format's "absent" 0.000000

    def to_load_result(self) -> LoadResult:
        return LoadResult(self.table, self.errors, self.source)


@functools.cache
def _sat_id(token: str) -> str | None:
    """A 3-column satellite field -> 'G01': a system letter (G, R, E, C, J, ...) or, SP3-a style,
    a blank (GPS) and a number 1-99 of ASCII digits ('G01', 'G 1', ' 01', '  1'). '' for a blank
    field; None when the field is not a satellite id ('1x', '60.', 'G٠1', 'G00')."""
    if not token.strip():
        return ""
    m = _SAT_RE.fullmatch(token)
    if m is None or m[2].strip() == "" or int(m[2]) == 0:
        return None
    return f"{m[1].strip() or 'G'}{int(m[2]):02d}"


def _columns(
    lines: list[str],
    cols: tuple[int, int],
    source: str,
    line_nos: npt.NDArray[np.int64],
    name: str,
    errors: list[RecordError],
) -> npt.NDArray[np.float64]:
    """One fixed-width float column of many records; NaN (and an error) where unreadable."""
    a, b = cols
    chunk = [s[a:b] for s in lines]
    try:  # the common case: every value reads; bytes convert ~4x faster than str
        raw = np.array(chunk, dtype=f"S{b - a}")
        if raw.tobytes().translate(None, _NUMBER_BYTES):  # nan, inf, 1_0 ... : value by value
            raise ValueError("not plain decimals")
        fast = raw.astype(np.float64)
        if np.isfinite(fast).all():
            return fast
    except (ValueError, UnicodeEncodeError):
        pass
    out = np.empty(len(lines), dtype=np.float64)
    for i, tok in enumerate(chunk):
        text = tok.strip()
        out[i] = float(text) if _NUMBER_RE.fullmatch(text) else np.nan
        if not np.isfinite(out[i]):
            if not text:
                what = "missing"
            elif _NUMBER_RE.fullmatch(text):
                what = f"too large to be a number: {text!r}"
            else:
                what = f"not a number: {text!r}"
            errors.append(RecordError(source, what, line=int(line_nos[i]), field=name))
    return out


def _epoch(line: str) -> np.datetime64:
    """The time of an epoch line ``*  2017  2 14  0 15  0.00000000``, in the file's scale."""
    parts = line[1:].split()
    if len(parts) < 6:
        raise ValueError(f"expected year month day hour minute second, got {line[1:].strip()!r}")
    if not all(_INT_RE.fullmatch(p) for p in parts[:5]) or not _NUMBER_RE.fullmatch(parts[5]):
        raise ValueError(f"not an epoch of ASCII numbers: {line[1:].strip()!r}")
    y, mo, d, h, mi = (int(p) for p in parts[:5])
    sec = float(parts[5])
    if not (1 <= mo <= 12 and 1 <= d <= 31 and 0 <= h <= 23 and 0 <= mi <= 59 and 0 <= sec < 61):
        raise ValueError(f"date or time out of range: {line[1:].strip()!r}")
    # the range check (years 1678-2261) before nanoseconds, which would wrap around silently
    day = timeconv.to_datetime64(np.datetime64(f"{y:04d}-{mo:02d}-{d:02d}", "D"))
    return day + np.timedelta64((h * 3600 + mi * 60) * 10**9 + round(sec * 1e9), "ns")


def _records(
    lines: list[str],
    rows: list[int],
    names: tuple[str, str, str],
    source: str,
    errors: list[RecordError],
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.object_]]:
    """x, y, z (n, 3) and satellite ids (n,) of the P or V records at 0-based ``rows``.

    An id that is not one is reported (field 'satellite') and comes back as ''."""
    recs = [lines[i] for i in rows]
    line_nos = np.asarray(rows, dtype=np.int64) + 1
    cols = zip(_XYZ_COLS, names, strict=True)
    xyz = np.empty((len(recs), 3)) if not recs else np.column_stack(
        [_columns(recs, c, source, line_nos, n, errors) for c, n in cols]
    )  # fmt: skip
    sats = []
    for k, rec in enumerate(recs):
        sat = _sat_id(rec[1:4])
        if sat is None:
            errors.append(RecordError(source, f"not a satellite id: {rec[1:4]!r}",
                                      line=int(line_nos[k]), field="satellite"))  # fmt: skip
            sat = ""
        elif sat == "":
            errors.append(RecordError(source, "no satellite id", line=int(line_nos[k]),
                                      field="satellite"))  # fmt: skip
        sats.append(sat)
    return xyz, np.array(sats, dtype=object)


@dataclass
class _Layout:
    """Where a file's records are (0-based line indices) and what its header says."""

    time_system: str = "GPS"  # SP3-a/b files, and %c lines left as 'ccc'
    ts_line: int = 1  # 1-based line the time system came from
    satellites: list[str] = field(default_factory=list)
    epoch_rows: list[int] = field(default_factory=list)  # each '*' line
    epoch_times: list[np.datetime64] = field(default_factory=list)  # NaT where unreadable
    p_rows: list[int] = field(default_factory=list)
    v_rows: list[int] = field(default_factory=list)


def _satellite_list(line: str, line_no: int, source: str, errors: list[RecordError]) -> list[str]:
    """The satellite ids of one '+ ' header line (17 ids of 3 columns from column 10; unused
    slots are '  0'); an id that is not one is reported."""
    sats = []
    body = line[9:60]
    for slot in (body[k : k + 3] for k in range(0, len(body), 3)):
        if not slot.strip(" 0"):
            continue
        sat = _sat_id(slot)
        if sat:
            sats.append(sat)
        else:
            errors.append(RecordError(source, f"not a satellite id: {slot!r}",
                                      line=line_no, field="satellite"))  # fmt: skip
    return sats


def _scan(lines: list[str], source: str, errors: list[RecordError]) -> _Layout:
    """One pass over the lines after the version line: epochs parsed, P/V records located,
    satellite list and time system read from the header."""
    out = _Layout()
    for i, line in enumerate(lines[1:], start=1):
        c = line[:1]
        if c == "P":
            out.p_rows.append(i)
        elif c == "V":
            out.v_rows.append(i)
        elif c == "*":
            try:
                out.epoch_times.append(_epoch(line))
            except ValueError as exc:
                errors.append(RecordError(source, str(exc), line=i + 1, field="epoch"))
                out.epoch_times.append(np.datetime64("NaT", "ns"))
            out.epoch_rows.append(i)
        elif line.startswith("+ "):
            out.satellites += _satellite_list(line, i + 1, source, errors)
        elif line.startswith("%c") and out.ts_line == 1:
            out.ts_line = i + 1
            if line[9:12].strip().upper() not in ("", "CCC"):
                out.time_system = line[9:12].strip().upper()
        # '##', '++', '%f', '%i', '/*', 'EP', 'EV', 'EOF' and blank lines carry nothing we store
    return out


def _count_lost_records(
    errors: list[RecordError], epoch_rows: list[int], bad_epochs: npt.NDArray[np.int64],
    ep_idx: npt.NDArray[np.int64],
) -> None:  # fmt: skip
    """Append to each unreadable epoch line's error how many records it costs (in place)."""
    n_lost = np.bincount(ep_idx[ep_idx >= 0], minlength=len(epoch_rows))
    lost = {epoch_rows[k] + 1: int(n_lost[k]) for k in bad_epochs}
    errors[:] = [
        RecordError(e.source, f"{e.reason}; its {lost[e.line]} records are skipped",
                    line=e.line, field=e.field)
        if e.field == "epoch" and e.line in lost else e
        for e in errors
    ]  # fmt: skip


def _velocities(
    lines: list[str], lay: _Layout, ep_starts: npt.NDArray[np.int64],
    at: dict[tuple[int, str], int], n: int, source: str, errors: list[RecordError],
) -> npt.NDArray[np.float64]:  # fmt: skip
    """(n, 3) velocities (km/s) matched to the position rows ``at[(epoch index, satellite)]``;
    NaN where absent (a 0 component), implausible or missing. A V record with no position at
    its epoch is reported."""
    v = np.full((n, 3), np.nan)
    if not lay.v_rows:
        return v
    vv, v_sats = _records(lines, lay.v_rows, ("vx", "vy", "vz"), source, errors)
    vv = vv * 1e-4  # dm/s -> km/s
    vv[(vv == 0.0).any(axis=1)] = np.nan  # the format's "absent velocity"
    names = {"x_dot": "vx", "y_dot": "vy", "z_dot": "vz"}
    for bad_row, fld, why in implausible_states(np.zeros_like(vv), vv):
        errors.append(RecordError(source, why, line=lay.v_rows[bad_row] + 1, field=names[fld]))
        vv[bad_row] = np.nan
    v_ep = np.searchsorted(ep_starts, np.asarray(lay.v_rows, dtype=np.int64), side="right") - 1
    for j, key in enumerate(zip(v_ep.tolist(), v_sats.tolist(), strict=True)):
        if not key[1]:
            continue  # no satellite id: reported by _records
        row = at.get(key)
        if row is None:
            errors.append(RecordError(source, f"velocity of {key[1]} has no position record "
                                      "at its epoch", line=lay.v_rows[j] + 1))  # fmt: skip
        else:
            v[row] = vv[j]
    return v


def _states_table(
    sats: npt.NDArray[np.object_], t_utc: npt.NDArray[np.datetime64],
    r: npt.NDArray[np.float64], v: npt.NDArray[np.float64], frame: str, source: str,
) -> pa.Table:  # fmt: skip
    """``EPHEMERIS_SCHEMA`` rows of geocentric states (km, km/s, UTC); velocities null where
    any component is NaN."""
    n = len(sats)
    v_ok = np.isfinite(v).all(axis=1)
    return pa.table(
        {
            "object_id": pa.array(sats, pa.string()),
            "object_name": pa.nulls(n, pa.string()),
            "time": pa.array(t_utc, EPHEMERIS_SCHEMA.field("time").type),
            "x": r[:, 0],
            "y": r[:, 1],
            "z": r[:, 2],
            "vx": pa.array(v[:, 0], pa.float64(), mask=~v_ok),
            "vy": pa.array(v[:, 1], pa.float64(), mask=~v_ok),
            "vz": pa.array(v[:, 2], pa.float64(), mask=~v_ok),
            "frame": pa.array([frame] * n, pa.string()),
            "center": pa.array(["EARTH"] * n, pa.string()),
            "source": pa.array([source] * n, pa.string()),
        },
        schema=EPHEMERIS_SCHEMA,
    )


def read_sp3(text: str, source: str = "<sp3>") -> Sp3:
    """Parse SP3-c/d ``text``; bad records are reported in ``errors`` and never abort the file.

    Raises :class:`StarbrainError` when the text is not SP3 at all (its first line is not a
    version line such as ``#cP`` or ``#dV``)."""
    errors: list[RecordError] = []
    lines = text.removeprefix("\ufeff").splitlines()
    first = lines[0] if lines else ""
    if not (first[:1] == "#" and first[1:2] in ("a", "b", "c", "d") and first[2:3] in ("P", "V")):
        raise StarbrainError(
            f"{source}: not an SP3 file (its first line {first[:24]!r} is not an SP3 version "
            "line such as '#cP' or '#dV')"
        )
    frame_written = first[46:51].strip()
    lay = _scan(lines, source, errors)
    frame = normalise_frame(frame_written) if frame_written else "ITRF"
    ep_starts = np.asarray(lay.epoch_rows, dtype=np.int64)
    t_file = np.asarray([*lay.epoch_times, np.datetime64("NaT", "ns")], dtype="datetime64[ns]")

    r, sats = _records(lines, lay.p_rows, ("x", "y", "z"), source, errors)
    ep_idx = np.searchsorted(ep_starts, np.asarray(lay.p_rows, dtype=np.int64), side="right") - 1
    t = t_file[ep_idx]  # -1 (before any epoch line) picks the NaT at the end
    for k in np.flatnonzero(ep_idx < 0):
        errors.append(RecordError(source, "position record before the first epoch line",
                                  line=lay.p_rows[k] + 1))  # fmt: skip
    for bad_row, fld, why in implausible_states(r):
        errors.append(RecordError(source, why, line=lay.p_rows[bad_row] + 1, field=fld))
        r[bad_row] = np.nan
    bad_epochs = np.flatnonzero(np.isnat(t_file[:-1]))
    if bad_epochs.size:  # say what an unreadable epoch line costs
        _count_lost_records(errors, lay.epoch_rows, bad_epochs, ep_idx)
    absent = (r == 0.0).any(axis=1)
    good = np.isfinite(r).all(axis=1) & ~np.isnat(t) & ~absent & (sats != "")

    at = {key: k for k, key in enumerate(zip(ep_idx.tolist(), sats.tolist(), strict=True))}
    v = _velocities(lines, lay, ep_starts, at, len(r), source, errors)
    try:
        t_utc = to_utc(t[good], lay.time_system)
    except ValueError as exc:
        errors.append(RecordError(source, str(exc), line=lay.ts_line, field="time system"))
        good[:] = False
        t_utc = t[good]
    table = _states_table(sats[good], t_utc, r[good], v[good], frame, source)
    errors.sort(key=lambda e: e.line or 0)
    return Sp3(
        source, first[1], first[2] == "V", lay.time_system, frame_written, first[56:60].strip(),
        lay.satellites, table, errors, int(absent.sum()),
    )  # fmt: skip
