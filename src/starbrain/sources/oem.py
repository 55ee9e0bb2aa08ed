"""CCSDS Orbit Ephemeris Messages (OEM, CCSDS 502.0-B-2/3) in KVN form: writing ephemerides.

One segment per object: a metadata block (object, centre, frame, UTC time system, span) then
one ``epoch x y z vx vy vz`` line per state, km and km/s. Reading OEM (KVN and XML) as a store
stream comes with the world-model truth data.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from starbrain import timeconv

__all__ = ["OEM_FRAMES", "write_oem"]

# our frame names -> CCSDS REF_FRAME values (SANA registry)
OEM_FRAMES = {"teme": "TEME", "gcrs": "GCRF", "itrf": "ITRF"}


def _iso(t: npt.NDArray[np.datetime64]) -> list[str]:
    return list(np.datetime_as_string(t.astype("datetime64[us]"), unit="us"))


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

    States that are not finite (a failed propagation) are left out of their segment.
    """
    if frame not in OEM_FRAMES:
        raise ValueError(f"unknown frame {frame!r}; use one of {', '.join(OEM_FRAMES)}")
    created = np.datetime_as_string(timeconv.utc_now().astype("datetime64[s]"), unit="s")
    lines = ["CCSDS_OEM_VERS = 2.0", f"CREATION_DATE = {created}", f"ORIGINATOR = {originator}"]
    stamps = _iso(np.asarray(times, dtype="datetime64[ns]"))
    for k, (name, oid) in enumerate(zip(object_names, object_ids, strict=True)):
        good = np.isfinite(r_km[k]).all(axis=1) & np.isfinite(v_kmps[k]).all(axis=1)
        if not good.any():
            continue
        first, last = np.flatnonzero(good)[[0, -1]]
        lines += [
            "",
            "META_START",
            f"OBJECT_NAME = {name}",
            f"OBJECT_ID = {oid}",
            "CENTER_NAME = EARTH",
            f"REF_FRAME = {OEM_FRAMES[frame]}",
            "TIME_SYSTEM = UTC",
            f"START_TIME = {stamps[first]}",
            f"STOP_TIME = {stamps[last]}",
            "META_STOP",
            "",
        ]
        if comment:
            lines.append(f"COMMENT {comment}")
        for i in np.flatnonzero(good):
            x, y, z = r_km[k, i]
            vx, vy, vz = v_kmps[k, i]
            lines.append(f"{stamps[i]} {x:.6f} {y:.6f} {z:.6f} {vx:.9f} {vy:.9f} {vz:.9f}")
    return "\n".join(lines) + "\n"
