"""Truth ephemerides made by peers, not by starbrain: python-sgp4 / Skyfield propagating real
TLEs of Vallado's verification set (``SGP4-VER.TLE`` in the installed ``sgp4`` package, see
tests/data/README.md), with Skyfield's frames (TEME, GCRS, ITRS) on the timescale of
skyfield-data's IERS table; written as OEM (the project's writer, the numbers are the peer's)
or as SP3-c (a fixed-column writer here, per the SP3-c layout)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import sgp4
from skyfield.api import EarthSatellite
from skyfield.framelib import itrs
from skyfield.sgp4lib import TEME

from starbrain.physics.frames import timescale
from starbrain.sources.ephemerides.oem import write_oem

SGP4_VER = Path(sgp4.__file__).with_name("SGP4-VER.TLE")


def vallado_tle(norad: int) -> tuple[str, str]:
    """Lines 1 and 2 (69 columns) of one satellite of SGP4-VER.TLE."""
    lines = SGP4_VER.read_text().splitlines()
    for k, line in enumerate(lines):
        if line.startswith("1 ") and int(line[2:7]) == norad:
            return line[:69], lines[k + 1][:69]
    raise KeyError(norad)


def _skyfield_utc(times: np.ndarray) -> object:
    """Skyfield Time of UTC datetime64 ``times``: whole days since 1970 and seconds of day, so
    that Skyfield applies each day's leap seconds."""
    ns = (times - np.datetime64("1970-01-01", "ns")).astype(np.int64)
    days, rem = np.divmod(ns, 86_400 * 10**9)
    return timescale().utc(1970, 1, 1 + days, 0, 0, rem / 1e9)


def peer_states(
    norad: int, hours: float, step_min: float, frame: str, start_min: float = 0.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(UTC times (n,) datetime64[ns], r (n, 3) km, v (n, 3) km/s) of one Vallado satellite by
    Skyfield's SGP4 from ``start_min`` after its TLE epoch, in ``frame`` 'teme', 'gcrs', 'itrf'."""
    ts = timescale()
    sat = EarthSatellite(*vallado_tle(norad), ts=ts)
    epoch = np.datetime64(sat.epoch.utc_datetime().replace(tzinfo=None), "ns")
    offsets = start_min + np.arange(0.0, hours * 60.0 + 1e-9, step_min)
    times = epoch + (offsets * 60e9).round().astype("timedelta64[ns]")
    t = _skyfield_utc(times)
    if frame == "gcrs":
        at = sat.at(t)
        r, v = at.position.km, at.velocity.km_per_s
    elif frame == "itrf":
        rr, vv = sat.at(t).frame_xyz_and_velocity(itrs)
        r, v = rr.km, vv.km_per_s
    elif frame == "teme":
        rr, vv = sat.at(t).frame_xyz_and_velocity(TEME)
        r, v = rr.km, vv.km_per_s
    else:
        raise ValueError(frame)
    return times, np.asarray(r).T.copy(), np.asarray(v).T.copy()


def peer_oem(norads: list[int], hours: float, step_min: float, frame: str = "gcrs") -> str:
    """An OEM (one segment per satellite, OBJECT_ID the catalogue number) of peer states."""
    parts = [peer_states(n, hours, step_min, frame) for n in norads]
    if len({p[0].size for p in parts}) != 1:
        raise ValueError("peer_oem: one time count for all satellites")
    # each satellite keeps its own epoch: write one OEM per satellite and join the segments
    texts = []
    for n, (times, r, v) in zip(norads, parts, strict=True):
        text = write_oem(times, r[None], v[None], [str(n)], [str(n)], frame=frame)
        texts.append(text)
    head, *rest = texts
    return head + "".join(t[t.index("META_START") :] for t in rest)


def _sp3_epoch(t: np.datetime64) -> str:
    s = str(t.astype("datetime64[us]"))  # YYYY-MM-DDTHH:MM:SS.ffffff
    y, mo, d, hh, mi = s[0:4], s[5:7], s[8:10], s[11:13], s[14:16]
    sec = float(s[17:])
    return f"*  {y} {int(mo):2d} {int(d):2d} {int(hh):2d} {int(mi):2d} {sec:11.8f}"


def peer_sp3(norad: int, sat_id: str, hours: float, step_min: float) -> str:
    """An SP3-c position file (ITRF 'IGS14', GPS time) of one Vallado satellite by Skyfield's
    SGP4 and ITRS; epochs in GPS time = UTC + (TAI - UTC) - 19 s, TAI - UTC from the same
    timescale (constant over the arc)."""
    times, r, _ = peer_states(norad, hours, step_min, "itrf")
    secs = (times[0] - np.datetime64("1970-01-01", "ns")) / np.timedelta64(1, "s")
    tai_minus_utc = round((_skyfield_utc(times[:1]).tai[0] - 2440587.5 - secs / 86400) * 86400)
    gps = times + np.timedelta64(int(tai_minus_utc - 19) * 10**9, "ns")
    head = _sp3_epoch(gps[0])[3:]
    lines = [
        f"#cP{head} {times.size:7d} ORBIT IGS14 FIT  IGS",
        "## 1936 172800.00000000   900.00000000 57798 0.0000000000000",
        f"+    1   {sat_id}" + "  0" * 16,
        "%c G  cc GPS ccc cccc cccc cccc cccc ccccc ccccc ccccc ccccc",
        "/* peer truth: Skyfield SGP4 and ITRS",
    ]
    for k, t in enumerate(gps):
        lines.append(_sp3_epoch(t))
        x, y, z = r[k]
        lines.append(f"P{sat_id}{x:14.6f}{y:14.6f}{z:14.6f}    999999.999999")
    lines.append("EOF")
    return "\n".join(lines) + "\n"
