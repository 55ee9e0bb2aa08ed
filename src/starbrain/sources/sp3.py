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
velocity leaves it null. Clocks are not stored. ``EP``/``EV`` correlation records are skipped.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from starbrain.sources.oem import EPHEMERIS_SCHEMA, normalise_frame, to_utc
from starbrain.sources.records import LoadResult, RecordError

__all__ = ["Sp3", "read_sp3"]

# 0-based [start, stop) columns of a P or V record's x, y, z (F14.6) fields
_XYZ_COLS = ((4, 18), (18, 32), (32, 46))


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
def _sat_id(token: str) -> str:
    """'G01', 'R24', or SP3-a style ' 1' (GPS without a letter) -> 'G01'."""
    t = token.strip()
    if not t:
        return ""
    if t[0].isdigit():
        return f"G{int(t):02d}"
    return f"{t[0]}{int(t[1:]):02d}" if t[1:].strip().isdigit() else t


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
        return np.array(chunk, dtype=f"S{b - a}").astype(np.float64)
    except (ValueError, UnicodeEncodeError):
        pass
    out = np.empty(len(lines), dtype=np.float64)
    for i, tok in enumerate(chunk):
        try:
            out[i] = float(tok) if tok.strip() else np.nan
        except ValueError:
            out[i] = np.nan
        if not np.isfinite(out[i]):
            what = "missing" if not tok.strip() else f"not a number: {tok.strip()!r}"
            errors.append(RecordError(source, what, line=int(line_nos[i]), field=name))
    return out


def _epoch(line: str) -> np.datetime64:
    """The time of an epoch line ``*  2017  2 14  0 15  0.00000000``, in the file's scale."""
    parts = line[1:].split()
    if len(parts) < 6:
        raise ValueError(f"expected year month day hour minute second, got {line[1:].strip()!r}")
    y, mo, d, h, mi = (int(p) for p in parts[:5])
    sec = float(parts[5])
    if not (1 <= mo <= 12 and 1 <= d <= 31 and 0 <= h <= 23 and 0 <= mi <= 59 and 0 <= sec < 61):
        raise ValueError(f"date or time out of range: {line[1:].strip()!r}")
    day = np.datetime64(f"{y:04d}-{mo:02d}-{d:02d}", "ns")
    return day + np.timedelta64((h * 3600 + mi * 60) * 10**9 + round(sec * 1e9), "ns")


def _records(
    lines: list[str],
    rows: list[int],
    names: tuple[str, str, str],
    source: str,
    errors: list[RecordError],
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.object_]]:
    """x, y, z (n, 3) and satellite ids (n,) of the P or V records at 0-based ``rows``."""
    recs = [lines[i] for i in rows]
    line_nos = np.asarray(rows, dtype=np.int64) + 1
    cols = zip(_XYZ_COLS, names, strict=True)
    xyz = np.column_stack([_columns(recs, c, source, line_nos, n, errors) for c, n in cols])
    return xyz, np.array([_sat_id(s[1:4]) for s in recs], dtype=object)


def read_sp3(text: str, source: str = "<sp3>") -> Sp3:
    """Parse SP3-c/d ``text``; bad records are reported in ``errors`` and never abort the file."""
    errors: list[RecordError] = []
    lines = text.splitlines()
    first = lines[0] if lines else ""
    if not (first.startswith("#") and first[1:2] in ("a", "b", "c", "d") and first[2:3] in "PV"):
        errors.append(RecordError(source, "not an SP3 file (no '#cP'/'#dV'-style first line)", 1))
        return Sp3(source, "", False, "", "", "", [], EPHEMERIS_SCHEMA.empty_table(), errors)
    frame_written = first[46:51].strip()
    time_system, ts_line = "GPS", 1  # SP3-a/b files, and %c lines left as 'ccc'
    satellites: list[str] = []
    epoch_rows: list[int] = []  # 0-based line index of each '*' line
    epoch_times: list[np.datetime64] = []
    p_rows: list[int] = []
    v_rows: list[int] = []
    for i, line in enumerate(lines[1:], start=1):
        c = line[:1]
        if c == "P":
            p_rows.append(i)
        elif c == "V":
            v_rows.append(i)
        elif c == "*":
            try:
                epoch_times.append(_epoch(line))
            except ValueError as exc:
                errors.append(RecordError(source, str(exc), line=i + 1, field="epoch"))
                epoch_times.append(np.datetime64("NaT", "ns"))
            epoch_rows.append(i)
        elif line.startswith("+ "):
            body = line[9:60]  # 17 ids of 3 columns from column 10; unused slots are '  0'
            ids = (body[k : k + 3].strip() for k in range(0, len(body), 3))
            satellites += [_sat_id(s) for s in ids if s.strip("0")]
        elif line.startswith("%c") and ts_line == 1:
            ts_line = i + 1
            if line[9:12].strip().upper() not in ("", "CCC"):
                time_system = line[9:12].strip().upper()
        # '##', '++', '%f', '%i', '/*', 'EP', 'EV', 'EOF' and blank lines carry nothing we store
    frame = normalise_frame(frame_written) if frame_written else "ITRF"
    ep_starts = np.asarray(epoch_rows, dtype=np.int64)
    t_file = np.asarray([*epoch_times, np.datetime64("NaT", "ns")], dtype="datetime64[ns]")

    r, sats = _records(lines, p_rows, ("x", "y", "z"), source, errors)
    ep_idx = np.searchsorted(ep_starts, np.asarray(p_rows, dtype=np.int64), side="right") - 1
    t = t_file[ep_idx]  # -1 (before any epoch line) picks the NaT at the end
    for k in np.flatnonzero(ep_idx < 0):
        errors.append(RecordError(source, "position record before the first epoch line",
                                  line=p_rows[k] + 1))  # fmt: skip
    for k in np.flatnonzero(sats == ""):
        errors.append(RecordError(source, "no satellite id", line=p_rows[k] + 1, field="satellite"))
    bad_epochs = np.flatnonzero(np.isnat(t_file[:-1]))
    if bad_epochs.size:  # say what an unreadable epoch line costs
        n_lost = np.bincount(ep_idx[ep_idx >= 0], minlength=len(epoch_rows))
        lost = {epoch_rows[k] + 1: int(n_lost[k]) for k in bad_epochs}
        errors[:] = [
            RecordError(e.source, f"{e.reason}; its {lost[e.line]} records are skipped",
                        line=e.line, field=e.field)
            if e.field == "epoch" and e.line in lost else e
            for e in errors
        ]  # fmt: skip
    absent = (r == 0.0).any(axis=1)
    good = np.isfinite(r).all(axis=1) & ~np.isnat(t) & ~absent & (sats != "")

    v = np.full_like(r, np.nan)
    if v_rows:
        vv, v_sats = _records(lines, v_rows, ("vx", "vy", "vz"), source, errors)
        vv = vv * 1e-4  # dm/s -> km/s
        vv[(vv == 0.0).any(axis=1)] = np.nan  # the format's "absent velocity"
        v_ep = np.searchsorted(ep_starts, np.asarray(v_rows, dtype=np.int64), side="right") - 1
        at = {key: k for k, key in enumerate(zip(ep_idx.tolist(), sats.tolist(), strict=True))}
        for j, key in enumerate(zip(v_ep.tolist(), v_sats.tolist(), strict=True)):
            row = at.get(key)
            if row is None:
                errors.append(RecordError(source, f"velocity of {key[1]} has no position record "
                                          "at its epoch", line=v_rows[j] + 1))  # fmt: skip
            else:
                v[row] = vv[j]
    try:
        t_utc = to_utc(t[good], time_system)
    except ValueError as exc:
        errors.append(RecordError(source, str(exc), line=ts_line, field="time system"))
        good[:] = False
        t_utc = t[good]
    n = int(good.sum())
    vg = v[good]
    v_ok = np.isfinite(vg).all(axis=1)
    table = pa.table(
        {
            "object_id": pa.array(sats[good], pa.string()),
            "object_name": pa.nulls(n, pa.string()),
            "time": pa.array(t_utc, EPHEMERIS_SCHEMA.field("time").type),
            "x": r[good, 0],
            "y": r[good, 1],
            "z": r[good, 2],
            "vx": pa.array(vg[:, 0], pa.float64(), mask=~v_ok),
            "vy": pa.array(vg[:, 1], pa.float64(), mask=~v_ok),
            "vz": pa.array(vg[:, 2], pa.float64(), mask=~v_ok),
            "frame": pa.array([frame] * n, pa.string()),
            "center": pa.array(["EARTH"] * n, pa.string()),
            "source": pa.array([source] * n, pa.string()),
        },
        schema=EPHEMERIS_SCHEMA,
    )
    errors.sort(key=lambda e: e.line or 0)
    return Sp3(
        source, first[1], first[2] == "V", time_system, frame_written, first[56:60].strip(),
        satellites, table, errors, int(absent.sum()),
    )  # fmt: skip
