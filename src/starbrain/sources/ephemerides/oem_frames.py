"""Reference frames and time scales of ephemeris files (OEM and SP3).

Frame names as written (EME2000, J2000, GCRS, ITRF93, IGS20, WGS84, ...) are normalised to the
names the ephemeris stream stores; times written in TAI, TT, GPS and the other GNSS scales are
converted to UTC with the leap seconds in effect. Re-exported by
``starbrain.sources.ephemerides.oem``.
"""

from __future__ import annotations

import functools
import re

import numpy as np
import numpy.typing as npt

from starbrain.core import timeconv

# our frame names -> CCSDS REF_FRAME values (SANA registry)
OEM_FRAMES = {"teme": "TEME", "gcrs": "GCRF", "itrf": "ITRF"}


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
