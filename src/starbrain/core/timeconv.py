"""The one converter between UTC datetimes, datetime64[ns], split Julian dates and TLE epochs.

Conventions (see DESIGN.md):

* Stored times are UTC ``datetime64[ns]`` (Arrow ``timestamp[ns, UTC]``).
* Physics works on split Julian dates ``(jd, fr)`` as SGP4 does: ``jd`` is the Julian date of the
  preceding 0h UTC (it always ends in ``.5``) and ``fr`` in ``[0, 1)`` is the fraction of the day.
  Keeping the two parts apart preserves sub-microsecond resolution in float64.
* Times are UTC throughout; no leap-second smearing is applied here. UT1, TT and the
  Earth-orientation data are handled by ``physics.frames`` through Skyfield's bundled files.
* ``datetime64[ns]`` holds 1677-09-21 to 2262-04-11 only, and NumPy wraps a value outside that
  range around silently (3000-01-01 would become 1830-11-23). Every conversion here accepts the
  whole years ``MIN_YEAR`` (1678) to ``MAX_YEAR`` (2261) and raises ``ValueError`` naming the
  value for anything outside them. ``NaT`` passes through as ``NaT``.

All functions accept scalars or arrays and are vectorised.
"""

from __future__ import annotations

import datetime as _dt
import re
from typing import Any, overload

import numpy as np
import numpy.typing as npt

NS_PER_DAY = 86_400_000_000_000
NS_PER_S = 1_000_000_000
JD_UNIX_EPOCH = 2440587.5  # Julian date of 1970-01-01T00:00:00 UTC
_UNIX_EPOCH_NS = np.datetime64(0, "ns")
MIN_YEAR = 1678  # first whole year datetime64[ns] holds
MAX_YEAR = 2261  # last whole year datetime64[ns] holds
_FIRST_DAY = np.datetime64(f"{MIN_YEAR}-01-01", "D")
_END_DAY = np.datetime64(f"{MAX_YEAR + 1}-01-01", "D")  # exclusive
_JD_FIRST = JD_UNIX_EPOCH + float(_FIRST_DAY.astype(np.int64))
_JD_END = JD_UNIX_EPOCH + float(_END_DAY.astype(np.int64))
_YEAR_RE = re.compile(r"\s*([+-]?\d+)(?:-|\s*$)", re.ASCII)
RANGE_TEXT = f"{MIN_YEAR}-01-01 to {MAX_YEAR}-12-31 UTC"

__all__ = [
    "JD_UNIX_EPOCH",
    "MAX_YEAR",
    "MIN_YEAR",
    "NS_PER_DAY",
    "NS_PER_S",
    "RANGE_TEXT",
    "check_range",
    "datetime64_to_jd",
    "datetime64_to_tle_epoch",
    "iso",
    "iso_list",
    "iso_ns",
    "jd_to_datetime64",
    "minutes_since",
    "naive_utc",
    "tle_epoch_to_datetime64",
    "to_datetime64",
    "to_instant",
    "to_ns",
    "utc_now",
]


def _out_of_range(value: Any) -> ValueError:
    return ValueError(
        f"{value!r} is outside the times starbrain can store ({RANGE_TEXT}, the range of "
        "datetime64[ns])"
    )


def check_range(t: Any) -> None:
    """Raise ``ValueError`` naming the first value of ``t`` (``datetime64`` of any unit, scalar
    or array) outside years ``MIN_YEAR``..``MAX_YEAR``; ``NaT`` is allowed. Nanosecond input,
    which cannot be out of range, is not checked."""
    a = np.asarray(t)
    if not np.issubdtype(a.dtype, np.datetime64) or np.datetime_data(a.dtype)[0] == "ns":
        return
    days = a.astype("datetime64[D]")  # to a coarser unit: never overflows
    bad = ~np.isnat(days) & ((days < _FIRST_DAY) | (days >= _END_DAY))
    if bad.any():
        raise _out_of_range(a.reshape(-1)[int(np.flatnonzero(bad.reshape(-1))[0])])


def _check_text_year(value: str, text: str) -> None:
    m = _YEAR_RE.match(text)
    if m is not None and not MIN_YEAR <= int(m[1]) <= MAX_YEAR:
        raise _out_of_range(value)


@overload
def to_datetime64(value: str | _dt.date | np.datetime64) -> np.datetime64: ...
@overload
def to_datetime64(
    value: npt.NDArray[Any] | list[Any] | tuple[Any, ...],
) -> npt.NDArray[np.datetime64]: ...
@overload
def to_datetime64(value: Any) -> Any: ...


def to_datetime64(value: Any) -> Any:
    """A datetime, ISO-8601 string, ``datetime64`` or a sequence of them -> UTC ``datetime64[ns]``.

    Naive datetimes and strings without an offset are taken as UTC; aware datetimes are converted
    to UTC. A trailing ``Z`` is accepted. Raises ``ValueError`` naming the value it cannot read,
    and naming a value outside years ``MIN_YEAR``..``MAX_YEAR`` (which ``datetime64[ns]`` cannot
    hold) instead of letting NumPy wrap it around.
    """
    if isinstance(value, np.ndarray):
        if np.issubdtype(value.dtype, np.datetime64):
            check_range(value)
            return value.astype("datetime64[ns]")
        flat = [to_datetime64(v.item() if isinstance(v, np.generic) else v) for v in value.ravel()]
        return np.array(flat, dtype="datetime64[ns]").reshape(value.shape)
    if isinstance(value, np.datetime64):
        check_range(value)
        return value.astype("datetime64[ns]")
    if isinstance(value, _dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(_dt.UTC).replace(tzinfo=None)
        if not MIN_YEAR <= value.year <= MAX_YEAR:
            raise _out_of_range(value)
        return np.datetime64(value, "ns")
    if isinstance(value, _dt.date):
        if not MIN_YEAR <= value.year <= MAX_YEAR:
            raise _out_of_range(value)
        return np.datetime64(value, "ns")
    if isinstance(value, str):
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1]
        elif len(text) > 6 and text[-6] in "+-" and text[-3] == ":":
            try:
                parsed = _dt.datetime.fromisoformat(text)
            except ValueError as exc:
                raise ValueError(
                    f"cannot read {value!r} as a UTC time (expected ISO 8601)"
                ) from exc
            return to_datetime64(parsed)
        _check_text_year(value, text)
        try:
            return np.datetime64(text, "ns")
        except ValueError as exc:
            raise ValueError(f"cannot read {value!r} as a UTC time (expected ISO 8601)") from exc
    if isinstance(value, list | tuple):
        return np.array([to_datetime64(v) for v in value], dtype="datetime64[ns]")
    raise ValueError(f"cannot read {value!r} as a UTC time")


def to_instant(value: Any, what: str = "time") -> np.datetime64:
    """One UTC time as ``datetime64[ns]``; ``ValueError`` naming ``what`` if several are given."""
    t = np.asarray(to_datetime64(value), dtype="datetime64[ns]")
    if t.ndim:
        raise ValueError(f"{what} must be a single time, not {t.size} of them")
    return t.reshape(1)[0]


def to_ns(t: Any) -> npt.NDArray[np.int64]:
    """UTC times (anything :func:`to_datetime64` reads) -> integer nanoseconds since 1970-01-01
    (int64, same shape; NaT becomes NumPy's NaT integer, the minimum int64)."""
    return np.asarray(to_datetime64(t)).astype("datetime64[ns]").astype(np.int64)


def iso(t: Any) -> str | None:
    """One UTC time (anything :func:`to_datetime64` reads) -> ISO 8601 with millisecond precision
    and a Z, as the console and the loop write times; NaT or None -> None."""
    if t is None:
        return None
    t64 = np.asarray(to_datetime64(t), dtype="datetime64[ns]").reshape(()).astype("datetime64[ms]")
    if np.isnat(t64):
        return None
    return f"{np.datetime_as_string(t64, unit='ms')}Z"


def iso_ns(ns: Any) -> str | None:
    """Integer nanoseconds since 1970-01-01 UTC (e.g. DuckDB's ``epoch_ns``) -> :func:`iso`;
    None -> None."""
    return None if ns is None else iso(np.datetime64(int(ns), "ns"))


def iso_list(times: npt.ArrayLike) -> list[str | None]:
    """UTC times (datetime64) -> ISO 8601 strings as :func:`iso` writes them; NaT -> None."""
    t = np.asarray(times).astype("datetime64[ms]")
    text = np.datetime_as_string(t, unit="ms")
    return [None if bad else f"{s}Z" for s, bad in zip(text.tolist(), np.isnat(t), strict=True)]


def naive_utc(t: Any) -> _dt.datetime:
    """One UTC time -> a naive ``datetime`` (microseconds, no tzinfo), the form DuckDB's
    TIMESTAMP / TIMESTAMP_NS query parameters take."""
    value: _dt.datetime = (
        np.asarray(to_datetime64(t), dtype="datetime64[ns]")
        .reshape(())
        .astype("datetime64[us]")
        .item()
    )
    return value


def utc_now() -> np.datetime64:
    """The current UTC time as ``datetime64[ns]``."""
    return to_datetime64(_dt.datetime.now(_dt.UTC))


def datetime64_to_jd(t: Any) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """UTC ``datetime64`` (any unit) -> split Julian date ``(jd, fr)``, exactly to the nanosecond.

    ``jd`` is the Julian date of the preceding 0h UTC (ends in .5), ``fr`` the day fraction.
    """
    ns = np.asarray(to_datetime64(t)).astype("datetime64[ns]").astype(np.int64)
    days, rem = np.divmod(ns, NS_PER_DAY)
    return JD_UNIX_EPOCH + days.astype(np.float64), rem.astype(np.float64) / NS_PER_DAY


def jd_to_datetime64(jd: npt.ArrayLike, fr: npt.ArrayLike = 0.0) -> npt.NDArray[np.datetime64]:
    """Split Julian date ``(jd, fr)`` (UTC) -> ``datetime64[ns]``, rounded to the nanosecond.

    The two parts may be split anywhere (``jd`` need not end in .5); the split is renormalised so
    that precision is kept for dates near the present. A non-finite date gives ``NaT``; one
    outside years ``MIN_YEAR``..``MAX_YEAR`` raises ``ValueError`` naming it.
    """
    jd = np.asarray(jd, dtype=np.float64)
    fr = np.asarray(fr, dtype=np.float64)
    total = jd + fr
    finite = np.isfinite(total)
    bad = finite & ((total < _JD_FIRST) | (total >= _JD_END))
    if bad.any():
        k = np.flatnonzero(np.broadcast_to(bad, total.shape).reshape(-1))[0]
        raise ValueError(
            f"Julian date {float(total.reshape(-1)[k])!r} is outside the times starbrain can "
            f"store ({RANGE_TEXT}, the range of datetime64[ns])"
        )
    if not finite.all():
        jd, fr = np.where(finite, jd, JD_UNIX_EPOCH), np.where(finite, fr, 0.0)
    jd_whole = np.floor(jd - 0.5) + 0.5
    frac = (jd - jd_whole) + fr
    carry = np.floor(frac)
    days = (jd_whole - JD_UNIX_EPOCH + carry).astype(np.int64)
    ns = days * NS_PER_DAY + np.rint((frac - carry) * NS_PER_DAY).astype(np.int64)
    out = _UNIX_EPOCH_NS + ns.astype("timedelta64[ns]")
    if not finite.all():
        out = np.where(finite, out, np.datetime64("NaT", "ns"))
    return out


def minutes_since(t: Any, epoch: Any) -> npt.NDArray[np.float64]:
    """Minutes from ``epoch`` to ``t`` (both UTC), broadcast, as SGP4's ``tsince``."""
    dt_ns = np.asarray(to_datetime64(t)).astype(np.int64) - np.asarray(to_datetime64(epoch)).astype(
        np.int64
    )
    return dt_ns / 60e9


def _year_start_ns(year: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    y = np.asarray(year).astype("int64") - 1970
    return y.astype("datetime64[Y]").astype("datetime64[ns]").astype(np.int64)


def tle_epoch_to_datetime64(
    year2: npt.ArrayLike, day_of_year: npt.ArrayLike
) -> npt.NDArray[np.datetime64]:
    """TLE epoch (two-digit year, fractional day of year, day 1.0 = Jan 1 0h) -> ``datetime64[ns]``.

    Two-digit years 57-99 are 1957-1999 and 00-56 are 2000-2056, as in the TLE convention.
    For exact round trips of the 8-decimal TLE field use the parser in ``sources.tle``, which
    works on the digits; this float version is accurate to about a microsecond.
    """
    yy = np.asarray(year2, dtype=np.int64)
    year = np.where(yy < 57, 2000 + yy, 1900 + yy)
    doy = np.asarray(day_of_year, dtype=np.float64)
    ns = _year_start_ns(year) + np.rint((doy - 1.0) * NS_PER_DAY).astype(np.int64)
    return _UNIX_EPOCH_NS + ns.astype("timedelta64[ns]")


def datetime64_to_tle_epoch(
    t: Any,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """UTC time -> (two-digit year, day of year starting at 1, nanoseconds into that day)."""
    ns = np.asarray(to_datetime64(t)).astype("datetime64[ns]")
    year = ns.astype("datetime64[Y]")
    day0 = year.astype("datetime64[D]")
    days = ns.astype("datetime64[D]")
    doy = (days - day0).astype(np.int64) + 1
    ns_of_day = (ns - days.astype("datetime64[ns]")).astype(np.int64)
    return (year.astype(np.int64) + 1970) % 100, doy, ns_of_day
