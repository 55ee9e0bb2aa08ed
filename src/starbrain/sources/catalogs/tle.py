"""Two- and three-line element sets: vectorised parsing with per-record validation, and formatting.

Reads the NORAD/Space-Track TLE format (line layout as documented by CelesTrak's "NORAD Two-Line
Element Set Format" and Vallado et al. 2006, Appendix B), with optional name lines ("0 NAME" or a
bare name), '#' comments, alpha-5 catalogue numbers (A-Z without I and O for 100000-339999) and
text after column 69 (the SGP4 verification file puts its start/stop/step there; it is ignored).

Every field of every record is checked at once on a (n_record, 69) character matrix; a record with
any bad field is reported as one ``RecordError`` naming the line and field, and every good record
is kept. The original 69-column lines are kept with each record, so an export reproduces them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from starbrain.core import timeconv
from starbrain.core.schemas.elements import ELEMENTS_SCHEMA
from starbrain.sources.catalogs import fixedwidth as fw
from starbrain.sources.records import LoadResult, RecordError

__all__ = [
    "alpha5_decode",
    "alpha5_encode",
    "format_tle",
    "parse_tle",
    "parse_tle_lines",
]

TLE_WIDTH = 69
_ALPHA5_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"  # A=10 ... Z=33, skipping I and O
_ALPHA5_VALUE = np.full(256, -1, dtype=np.int64)
_ALPHA5_VALUE[ord("0") : ord("9") + 1] = np.arange(10)
for _i, _c in enumerate(_ALPHA5_LETTERS):
    _ALPHA5_VALUE[ord(_c)] = 10 + _i
_UTF8_BOM = b"\xef\xbb\xbf"
# above 18 rev/day (an 80-minute period) the semi-major axis is inside the Earth
MAX_MEAN_MOTION_REV_PER_DAY = 18.0
_NS_PER_FRAC_DIGIT = timeconv.NS_PER_DAY // 10**8  # one unit of the 8th decimal of a day, in ns


def alpha5_decode(text: str) -> int:
    """'25544' -> 25544, 'A0001' -> 100001, 'Z9999' -> 339999. Raises ValueError on bad input."""
    text = text.strip()
    if len(text) == 5 and text[0] in _ALPHA5_LETTERS and text[1:].isdigit():
        return (10 + _ALPHA5_LETTERS.index(text[0])) * 10000 + int(text[1:])
    if text.isdigit():
        return int(text)
    raise ValueError(f"{text!r} is not a catalogue number (digits, or alpha-5 like 'A0001')")


def alpha5_encode(number: int) -> str:
    """25544 -> '25544', 100001 -> 'A0001'. Valid for 0..339999."""
    if not 0 <= number <= 339999:
        raise ValueError(f"catalogue number {number} does not fit the 5-column TLE field")
    if number < 100000:
        return f"{number:05d}"
    return _ALPHA5_LETTERS[number // 10000 - 10] + f"{number % 10000:04d}"


@dataclass(frozen=True, slots=True)
class _Lines:
    """A text's lines as offsets into one byte buffer (no per-line Python objects)."""

    buf: npt.NDArray[np.uint8]
    starts: npt.NDArray[np.int64]
    lengths: npt.NDArray[np.int64]  # without the line terminator

    @classmethod
    def of(cls, data: bytes) -> _Lines:
        buf = np.frombuffer(data, dtype=np.uint8)
        newlines = np.flatnonzero(buf == 10)
        starts = np.concatenate(([0], newlines + 1))
        ends = np.concatenate((newlines, [len(buf)]))
        if len(starts) and starts[-1] == len(buf):  # a final newline ends the last line
            starts, ends = starts[:-1], ends[:-1]
        cr = (ends > starts) & (buf[np.maximum(ends - 1, 0)] == 13)
        return cls(buf, starts, ends - starts - cr)

    def char(self, line: npt.NDArray[np.int64], col: int) -> npt.NDArray[np.uint8]:
        """Byte at ``col`` of each line, or 0 past its end."""
        inside = self.lengths[line] > col
        pos = np.where(inside, self.starts[line] + col, 0)
        return np.where(inside, self.buf[pos] if len(self.buf) else 0, 0).astype(np.uint8)

    def matrix(self, line: npt.NDArray[np.int64], width: int) -> npt.NDArray[np.uint8]:
        """(n, width) bytes of the given lines, blank-padded past each line's end."""
        cols = np.arange(width)
        inside = cols[None, :] < self.lengths[line][:, None]
        pos = np.where(inside, self.starts[line][:, None] + cols[None, :], 0)
        return np.where(inside, self.buf[pos], fw.SPACE).astype(np.uint8)

    def text(self, line: int, skip: int = 0) -> str:
        a = int(self.starts[line]) + skip
        b = int(self.starts[line] + self.lengths[line])
        return self.buf[a:b].tobytes().decode("utf-8", errors="replace")


def _group_lines(
    lines: _Lines, source: str
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], list[RecordError]]:
    """Pair each line 1 with the line 2 after it; the name is the nearest preceding significant
    line when that is neither a line 1 nor a line 2. Returns (line-1 indices, name-line indices
    (-1 for none), errors for orphan lines)."""
    n = len(lines.starts)
    idx = np.arange(n)
    c0, c1 = lines.char(idx, 0), lines.char(idx, 1)
    # significant: has a non-blank character and is not a '#' comment. Only lines that start
    # with white space need a look past their first character; they are rare.
    significant = (lines.lengths > 0) & (c0 != ord("#"))
    starts_blank = significant & ((c0 == fw.SPACE) | (c0 == 9))
    for i in np.flatnonzero(starts_blank):
        significant[i] = bool(lines.text(int(i)).strip())
    second_ok = (c1 == fw.SPACE) | (lines.lengths == 1)
    is1 = significant & (c0 == ord("1")) & second_ok
    is2 = significant & (c0 == ord("2")) & second_ok
    follows = np.zeros(n, dtype=bool)
    follows[:-1] = is2[1:]
    paired1 = is1 & follows
    paired2 = np.zeros(n, dtype=bool)
    paired2[1:] = paired1[:-1]
    # a line 2 right after a line 1 that itself completed a pair cannot start one (1,2 handled)
    l1 = np.flatnonzero(paired1)
    # nearest significant line before each line
    last_sig = np.maximum.accumulate(np.where(significant, idx, -1))
    prev_sig = np.concatenate(([-1], last_sig[:-1]))
    cand = prev_sig[l1]
    is_name = (cand >= 0) & ~is1[np.maximum(cand, 0)] & ~is2[np.maximum(cand, 0)]
    names = np.where(is_name, cand, -1)
    errors = [
        RecordError(source, "line 1 is not followed by a line 2", line=int(i) + 1)
        for i in np.flatnonzero(is1 & ~paired1)
    ] + [
        RecordError(source, "line 2 without a preceding line 1", line=int(i) + 1)
        for i in np.flatnonzero(is2 & ~paired2)
    ]
    return l1, names, errors


# (field name, line, start, stop (0-based, exclusive)) for every checked field, in report order
_L1 = {
    "catalog_number": (2, 7),
    "classification": (7, 8),
    "epoch_year": (18, 20),
    "epoch_day": (20, 32),
    "mean_motion_dot": (33, 43),
    "mean_motion_ddot": (44, 52),
    "bstar": (53, 61),
    "ephemeris_type": (62, 63),
    "element_set_no": (64, 68),
}
_L2 = {
    "catalog_number": (2, 7),
    "inclination": (8, 16),
    "ra_of_asc_node": (17, 25),
    "eccentricity": (26, 33),
    "arg_of_pericenter": (34, 42),
    "mean_anomaly": (43, 51),
    "mean_motion": (52, 63),
    "rev_at_epoch": (63, 68),
}


def _alpha5_vec(
    chars: npt.NDArray[np.uint8],
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
    lead = _ALPHA5_VALUE[chars[:, 0]]
    rest, rest_ok = fw.parse_int(chars[:, 1:])
    rest_digits = ((chars[:, 1:] >= fw.ZERO) & (chars[:, 1:] <= fw.NINE)).all(axis=1)
    # classic TLEs may blank-pad the number ('  123'); alpha-5 requires all four digits
    plain, plain_ok = fw.parse_int(chars)
    is_alpha = lead >= 10
    value = np.where(is_alpha, lead * 10000 + rest, plain)
    ok = np.where(is_alpha, rest_digits & rest_ok, plain_ok & (plain >= 0))
    return value, ok


def _epoch_ns(chars: npt.NDArray[np.uint8]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
    """'yyddd.dddddddd' (14 columns) -> ns since 1970, exactly, via the digits."""
    yy, yy_ok = fw.parse_int(chars[:, 0:2])
    day, day_ok = fw.parse_int(chars[:, 2:5])
    point_ok = chars[:, 5] == fw.POINT
    # eight decimals of a day; short fractions padded with trailing blanks read as zeros
    frac_chars = chars[:, 6:14]
    is_space = frac_chars == fw.SPACE
    is_digit = (frac_chars >= fw.ZERO) & (frac_chars <= fw.NINE)
    trailing_blanks_only = ~(is_space[:, :-1] & ~is_space[:, 1:]).any(axis=1)
    frac_ok = (is_digit | is_space).all(axis=1) & trailing_blanks_only & is_digit[:, 0]
    frac, _ = fw.parse_int(np.where(is_space, fw.ZERO, frac_chars).astype(np.uint8))
    year = np.where(yy < 57, 2000 + yy, 1900 + yy)
    ok = yy_ok & day_ok & point_ok & frac_ok & (day >= 1) & (day <= 366)
    year_start = (
        (np.clip(year, 1957, 2056) - 1970).astype("datetime64[Y]").astype("datetime64[ns]")
    ).astype(np.int64)
    ns = year_start + (day - 1) * timeconv.NS_PER_DAY + frac * _NS_PER_FRAC_DIGIT
    # day 366 only exists in leap years
    is_leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    ok &= (day <= 365) | is_leap
    return ns, ok


def _designator(chars: npt.NDArray[np.uint8]) -> list[str | None]:
    """'98067A  ' -> '1998-067A'; blank -> None. Left as written if it does not parse."""
    out: list[str | None] = []
    for raw in _rows(chars):
        s = raw.strip()
        if not s:
            out.append(None)
        elif len(s) >= 5 and s[:5].isdigit():
            yy = int(s[:2])
            out.append(f"{2000 + yy if yy < 57 else 1900 + yy}-{s[2:5]}{s[5:]}")
        else:
            out.append(s)
    return out


def _rows(chars: npt.NDArray[np.uint8]) -> list[str]:
    width = chars.shape[1]
    blob = np.ascontiguousarray(chars).tobytes().decode("latin-1")
    return [blob[i : i + width] for i in range(0, len(blob), width)]


def parse_tle(
    text: str | bytes,
    source: str = "<text>",
    on_progress: Callable[[int, int], None] | None = None,
    chunk: int = 50_000,
    check_checksums: bool = True,
) -> LoadResult:
    """Parse TLE text (2-line or 3-line) into an element-set table plus per-record errors.

    ``source`` names the file in error messages; line numbers are 1-based.
    ``on_progress(done, total)`` is called after each chunk of records.
    ``check_checksums=False`` accepts lines whose checksum digit is wrong (hand-edited files
    such as the three error-code cases 33333-33335 of the SGP4 verification set); every other
    check still applies. A leading UTF-8 byte-order mark is ignored.
    """
    data = text.encode("utf-8") if isinstance(text, str) else text
    if data.startswith(_UTF8_BOM):  # a byte-order mark would hide the first line's "0 "/"1 "
        data = data[len(_UTF8_BOM) :]
    lines = _Lines.of(data)
    l1, names, errors = _group_lines(lines, source)
    tables: list[pa.Table] = []
    total = len(l1)
    for start in range(0, total, chunk):
        part = slice(start, start + chunk)
        table, errs = _parse_groups(lines, l1[part], names[part], source, check_checksums)
        tables.append(table)
        errors.extend(errs)
        if on_progress is not None:
            on_progress(min(start + chunk, total), total)
    errors.sort(key=lambda e: e.line or 0)
    table = pa.concat_tables(tables) if tables else ELEMENTS_SCHEMA.empty_table()
    return LoadResult(table, errors, source)


def parse_tle_lines(lines: Sequence[str], source: str = "<lines>", **kwargs: Any) -> LoadResult:
    """Parse TLE lines (without terminators). See ``parse_tle``."""
    return parse_tle("\n".join(lines), source, **kwargs)


class _Flags:
    """The first problem found in each record: (1-based line, field, reason) or None."""

    def __init__(self, line1: npt.NDArray[np.int64]) -> None:
        self.line1, self.line2 = line1, line1 + 1
        self.reasons: list[tuple[int, str, str] | None] = [None] * len(line1)

    def flag(self, mask: npt.NDArray[np.bool_], which: int, field: str, reason: str) -> None:
        """Record ``reason`` against line ``which`` (1 or 2) of every record in ``mask`` that
        has no problem yet."""
        for k in np.flatnonzero(mask):
            if self.reasons[k] is None:
                line = self.line1[k] if which == 1 else self.line2[k]
                self.reasons[k] = (int(line) + 1, field, reason)

    def good(self) -> npt.NDArray[np.bool_]:
        return np.array([r is None for r in self.reasons], dtype=bool)

    def errors(self, source: str, norad: npt.NDArray[np.int64]) -> list[RecordError]:
        """One ``RecordError`` per flagged record, with its catalogue number where readable."""
        return [
            RecordError(
                source,
                reason,
                line=line,
                field=field,
                norad_id=int(norad[k]) if norad[k] >= 0 else None,
            )
            for k, r in enumerate(self.reasons)
            if r is not None
            for (line, field, reason) in [r]
        ]


def _line1_fields(l1: npt.NDArray[np.uint8], flags: _Flags) -> dict[str, Any]:
    """Classification, epoch (ns), n-dot, n-ddot, B*, ephemeris type (and whether blank) and
    element set number of line 1 (rows of ``TLE_WIDTH`` bytes); unreadable fields flagged."""
    f: dict[str, Any] = {"cls": l1[:, 7]}
    flags.flag(
        ~np.isin(f["cls"], np.frombuffer(b"UCS ", dtype=np.uint8)),
        1,
        "classification",
        "must be U, C or S",
    )
    f["epoch"], ok = _epoch_ns(l1[:, 18:32])
    flags.flag(~ok, 1, "epoch", "not a valid yyddd.dddddddd epoch")
    f["ndot"], ok = fw.parse_decimal(l1[:, slice(*_L1["mean_motion_dot"])])
    flags.flag(~ok, 1, "mean_motion_dot", "not a decimal number")
    f["nddot"], ok = fw.parse_exponent(l1[:, slice(*_L1["mean_motion_ddot"])])
    flags.flag(~ok, 1, "mean_motion_ddot", "not an exponent field like ' 12345-6'")
    f["bstar"], ok = fw.parse_exponent(l1[:, slice(*_L1["bstar"])])
    flags.flag(~ok, 1, "bstar", "not an exponent field like ' 12345-6'")
    f["eph"], ok = fw.parse_int(l1[:, 62:63], blank_ok=True)
    flags.flag(~ok, 1, "ephemeris_type", "not a digit")
    f["eph_blank"] = l1[:, 62] == fw.SPACE
    f["elset"], ok = fw.parse_int(l1[:, 64:68], blank_ok=True)
    flags.flag(~ok, 1, "element_set_no", "not an integer")
    return f


def _line2_fields(l2: npt.NDArray[np.uint8], flags: _Flags) -> dict[str, Any]:
    """Inclination, RAAN, eccentricity, argument of perigee, mean anomaly (deg), mean motion
    (rev/day) and revolution number of line 2; unreadable fields flagged, then the ranges."""
    f: dict[str, Any] = {}
    for key, name in (("incl", "inclination"), ("raan", "ra_of_asc_node")):
        f[key], ok = fw.parse_decimal(l2[:, slice(*_L2[name])])
        flags.flag(~ok, 2, name, "not a decimal number")
    f["ecc"], ok = fw.parse_implied_decimal(l2[:, slice(*_L2["eccentricity"])])
    flags.flag(~ok, 2, "eccentricity", "not 7 digits")
    for key, name in (("argp", "arg_of_pericenter"), ("mo", "mean_anomaly"), ("no", "mean_motion")):
        f[key], ok = fw.parse_decimal(l2[:, slice(*_L2[name])])
        flags.flag(~ok, 2, name, "not a decimal number")
    f["revs"], ok = fw.parse_int(l2[:, slice(*_L2["rev_at_epoch"])], blank_ok=True)
    flags.flag(~ok, 2, "rev_at_epoch", "not an integer")
    return f


def _check_ranges(f2: dict[str, Any], flags: _Flags) -> None:
    """Flag line-2 angles outside their ranges and mean motions that are not physical."""
    incl, no = f2["incl"], f2["no"]
    flags.flag((incl < 0) | (incl > 180), 2, "inclination", "outside 0-180 degrees")
    for name, key in (
        ("ra_of_asc_node", "raan"),
        ("arg_of_pericenter", "argp"),
        ("mean_anomaly", "mo"),
    ):
        flags.flag((f2[key] < 0) | (f2[key] > 360), 2, name, "outside 0-360 degrees")
    flags.flag(~(no > 0), 2, "mean_motion", "must be positive")
    flags.flag(
        no > MAX_MEAN_MOTION_REV_PER_DAY,
        2,
        "mean_motion",
        "above 18 rev/day (the semi-major axis would be inside the Earth)",
    )


def _parse_groups(
    lines: _Lines,
    line1: npt.NDArray[np.int64],
    name_line: npt.NDArray[np.int64],
    source: str,
    check_checksums: bool = True,
) -> tuple[pa.Table, list[RecordError]]:
    """Element sets of the records whose line 1 is at 0-based ``line1`` (line 2 follows it;
    ``name_line`` is the title line or -1), and one error per rejected record."""
    flags = _Flags(line1)
    line2 = flags.line2
    flags.flag(lines.lengths[line1] < TLE_WIDTH, 1, "line 1", "truncated: fewer than 69 columns")
    flags.flag(lines.lengths[line2] < TLE_WIDTH, 2, "line 2", "truncated: fewer than 69 columns")
    l1 = lines.matrix(line1, TLE_WIDTH)
    l2 = lines.matrix(line2, TLE_WIDTH)
    flags.flag(np.asarray((l1 >= 128).any(axis=1)), 1, "line 1", "has a non-ASCII character")
    flags.flag(np.asarray((l2 >= 128).any(axis=1)), 2, "line 2", "has a non-ASCII character")

    sat1, ok = _alpha5_vec(l1[:, slice(*_L1["catalog_number"])])
    flags.flag(~ok, 1, "catalog_number", "not a catalogue number")
    sat2, ok = _alpha5_vec(l2[:, slice(*_L2["catalog_number"])])
    flags.flag(~ok, 2, "catalog_number", "not a catalogue number")
    f1 = _line1_fields(l1, flags)
    f2 = _line2_fields(l2, flags)
    if check_checksums:
        flags.flag(~fw.checksum_ok(l1), 1, "checksum", "checksum digit does not match line 1")
        flags.flag(~fw.checksum_ok(l2), 2, "checksum", "checksum digit does not match line 2")
    flags.flag(sat1 != sat2, 2, "catalog_number", "differs between line 1 and line 2")
    _check_ranges(f2, flags)

    idx = np.flatnonzero(flags.good())
    cls = f1["cls"][idx]
    table = pa.table(
        {
            "norad_id": pa.array(sat1[idx], pa.int32()),
            "epoch": pa.array(f1["epoch"][idx], pa.timestamp("ns", tz="UTC")),
            "object_name": pa.array(_names(lines, name_line[idx]), pa.string()),
            "object_id": pa.array(_designator(l1[idx, 9:17]), pa.string()),
            "classification": pa.array(
                np.where(cls == fw.SPACE, ord("U"), cls).astype(np.uint8).view("S1").astype(str),
                pa.string(),
            ),
            "mean_motion_rev_per_day": f2["no"][idx],
            "eccentricity": f2["ecc"][idx],
            "inclination_deg": f2["incl"][idx],
            "ra_of_asc_node_deg": f2["raan"][idx],
            "arg_of_pericenter_deg": f2["argp"][idx],
            "mean_anomaly_deg": f2["mo"][idx],
            "ephemeris_type": pa.array(f1["eph"][idx], pa.int8(), mask=f1["eph_blank"][idx]),
            "element_set_no": pa.array(f1["elset"][idx], pa.int32()),
            "rev_at_epoch": pa.array(f2["revs"][idx], pa.int32()),
            "bstar_per_earth_radius": f1["bstar"][idx],
            "mean_motion_dot_rev_per_day2": f1["ndot"][idx],
            "mean_motion_ddot_rev_per_day3": f1["nddot"][idx],
            "tle_line1": _ascii_column(l1[idx]),
            "tle_line2": _ascii_column(l2[idx]),
            "source": pa.array([source] * len(idx), pa.string()),
        },
        schema=ELEMENTS_SCHEMA,
    )
    return table, flags.errors(source, sat1)


def _names(lines: _Lines, name_line: npt.NDArray[np.int64]) -> pa.Array:
    """Name-line text (without a leading '0 ', stripped) per record; null where there is none."""
    has = name_line >= 0
    which = name_line[has]
    lengths = lines.lengths[which]
    offsets = np.concatenate(([0], np.cumsum(lengths))).astype(np.int32)
    pos = np.repeat(lines.starts[which] - offsets[:-1], lengths) + np.arange(offsets[-1])
    raw = pa.StringArray.from_buffers(
        len(which), pa.py_buffer(offsets.tobytes()), pa.py_buffer(lines.buf[pos].tobytes())
    )
    try:
        raw.validate(full=True)
    except pa.ArrowInvalid:  # not UTF-8: decode line by line, replacing what cannot be read
        raw = pa.array([lines.text(int(i)) for i in which], pa.string())
    text = pc.utf8_trim_whitespace(pc.replace_substring_regex(raw, r"^0 ", ""))
    out = pa.nulls(len(name_line), pa.string()).to_pylist() if not has.all() else None
    if out is None:
        return text
    for k, value in zip(np.flatnonzero(has), text.to_pylist(), strict=True):
        out[k] = value
    return pa.array(out, pa.string())


def _ascii_column(rows: npt.NDArray[np.uint8]) -> pa.Array:
    """(n, width) ASCII bytes -> an Arrow string column without a Python object per row."""
    n, width = rows.shape
    offsets = pa.py_buffer((np.arange(n + 1, dtype=np.int32) * width).tobytes())
    data = pa.py_buffer(np.ascontiguousarray(rows).tobytes())
    return pa.StringArray.from_buffers(n, offsets, data)


# ---------------------------------------------------------------------------------------------
# formatting


def _exp_field(v: float) -> str:
    """0.28098e-4 -> ' 28098-4' (8 columns: sign, 5 digits, exponent sign, digit)."""
    if v == 0 or not np.isfinite(v):
        return " 00000-0"  # the common convention for zero (SGP4-VER.TLE, CelesTrak)
    sign = "-" if v < 0 else " "
    a = abs(v)
    e = int(np.floor(np.log10(a))) + 1
    m = round(a / 10.0**e * 1e5)
    if m >= 100000:
        m //= 10
        e += 1
    if e > 9 or e < -9:
        raise ValueError(f"{v} does not fit the TLE exponent field")
    return f"{sign}{m:05d}{'+' if e > 0 else '-'}{abs(e)}"


def _ndot_field(v: float) -> str:
    """0.00000023 -> ' .00000023', -0.00000084 -> '-.00000084'."""
    body = f"{abs(v):.8f}"
    if body.startswith("0"):
        body = body[1:]
    return ("-" if v < 0 else " ") + body


def _designator_field(object_id: str | None) -> str:
    if not object_id:
        return " " * 8
    s = object_id.strip()
    if len(s) >= 9 and s[4] == "-" and s[:4].isdigit():
        s = s[2:4] + s[5:]
    return f"{s[:8]:<8}"


def format_tle(table: pa.Table, names: bool = False, prefer_original: bool = True) -> list[str]:
    """Format element sets as TLE lines (2 per record, 3 with ``names``).

    With ``prefer_original`` the lines a record was loaded from are written back unchanged, so a
    load/export round trip reproduces the input. Otherwise (or for records that did not come
    from a TLE) canonical lines are written with fresh checksums.
    """
    cols = table.to_pydict()
    epochs = table.column("epoch").to_numpy().astype("datetime64[ns]")
    yy, doy, ns_of_day = timeconv.datetime64_to_tle_epoch(epochs)
    out: list[str] = []
    for k in range(table.num_rows):
        if names:
            out.append(f"0 {cols['object_name'][k] or ''}".rstrip())
        o1, o2 = cols["tle_line1"][k], cols["tle_line2"][k]
        if prefer_original and o1 and o2:
            out += [o1, o2]
            continue
        sat = alpha5_encode(int(cols["norad_id"][k]))
        frac = round(int(ns_of_day[k]) / _NS_PER_FRAC_DIGIT)
        day = int(doy[k])
        if frac >= 10**8:  # rounding carried into the next day
            frac -= 10**8
            day += 1
        eph = cols["ephemeris_type"][k]
        elset = cols["element_set_no"][k]
        l1 = (
            f"1 {sat}{cols['classification'][k] or 'U'} {_designator_field(cols['object_id'][k])} "
            f"{int(yy[k]):02d}{day:03d}.{frac:08d} "
            f"{_ndot_field(cols['mean_motion_dot_rev_per_day2'][k] or 0.0)} "
            f"{_exp_field(cols['mean_motion_ddot_rev_per_day3'][k] or 0.0)} "
            f"{_exp_field(cols['bstar_per_earth_radius'][k])} "
            f"{' ' if eph is None else eph} {(elset or 0) % 10000:4d}"
        )
        ecc = round(cols["eccentricity"][k] * 1e7)
        if ecc >= 10**7:
            raise ValueError(f"eccentricity {cols['eccentricity'][k]} cannot be written in a TLE")
        l2 = (
            f"2 {sat} {cols['inclination_deg'][k]:8.4f} {cols['ra_of_asc_node_deg'][k]:8.4f} "
            f"{ecc:07d} {cols['arg_of_pericenter_deg'][k]:8.4f} "
            f"{cols['mean_anomaly_deg'][k]:8.4f} {cols['mean_motion_rev_per_day'][k]:11.8f}"
            f"{(cols['rev_at_epoch'][k] or 0) % 100000:5d}"
        )
        out += [l1 + str(fw.checksum_digit(l1)), l2 + str(fw.checksum_digit(l2))]
    return out
