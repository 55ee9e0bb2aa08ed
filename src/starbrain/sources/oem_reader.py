"""Reading CCSDS Orbit Ephemeris Messages (OEM, CCSDS 502.0-B) in KVN form into state segments.

One :class:`OemSegment` per metadata block: object name and id, reference frame, time system,
UTC times and states in km, km/s. Bad input never aborts the file: a bad data line is skipped
and reported as a :class:`~starbrain.sources.records.RecordError` (source, line, field, reason);
a segment without usable metadata or data is dropped with an error. Covariance blocks and
acceleration columns are accepted and ignored. Only UTC segments are read (others are reported).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from starbrain import timeconv
from starbrain.sources.records import RecordError

__all__ = ["OemSegment", "read_oem"]

_STATE_FIELDS = ("epoch", "x", "y", "z", "x_dot", "y_dot", "z_dot")


@dataclass
class OemSegment:
    """One OEM segment: ``times`` (n,) UTC datetime64[ns], ``r_km``/``v_kmps`` (n, 3).

    ``frame`` is the REF_FRAME value as written (e.g. 'TEME', 'GCRF', 'EME2000'); ``line`` is the
    1-based line of its META_START.
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


def read_oem(text: str, source: str = "<oem>") -> tuple[list[OemSegment], list[RecordError]]:
    """Parse OEM KVN ``text``; returns the good segments and the errors (never raises for data)."""
    segments: list[OemSegment] = []
    errors: list[RecordError] = []
    meta: dict[str, str] | None = None
    meta_line = 0
    in_meta = in_cov = False
    times: list[np.datetime64] = []
    states: list[list[float]] = []

    def finish() -> None:
        nonlocal meta
        if meta is None:
            return
        m, meta = meta, None
        name = m.get("OBJECT_NAME", "")
        ts = m.get("TIME_SYSTEM", "UTC").upper()
        if ts != "UTC":
            errors.append(RecordError(source, f"time system {ts} is not supported (UTC only)",
                                      line=meta_line, field="TIME_SYSTEM"))  # fmt: skip
            return
        if not states:
            errors.append(RecordError(source, f"segment {name!r} has no valid state lines",
                                      line=meta_line))  # fmt: skip
            return
        arr = np.asarray(states, dtype=np.float64)
        t = np.asarray(times, dtype="datetime64[ns]")
        order = np.argsort(t, kind="stable")
        segments.append(
            OemSegment(
                name, m.get("OBJECT_ID", ""), m.get("REF_FRAME", "").upper(),
                m.get("CENTER_NAME", "").upper(), ts, t[order], arr[order, :3], arr[order, 3:6],
                meta_line, m,
            )
        )  # fmt: skip

    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("COMMENT"):
            continue
        key = line.split("=", 1)[0].strip().upper() if "=" in line else line.upper()
        if key == "META_START":
            finish()
            meta, meta_line, in_meta = {}, lineno, True
            times, states = [], []
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
            value = line.split("=", 1)[1].strip()
            if in_meta and meta is not None:
                meta[key] = value
            continue  # header keys (CCSDS_OEM_VERS, CREATION_DATE, ORIGINATOR)
        if meta is None or in_meta:
            errors.append(RecordError(source, "data line outside a segment", line=lineno))
            continue
        parts = line.split()
        if len(parts) not in (7, 10):
            errors.append(RecordError(source, f"expected 7 or 10 columns, got {len(parts)}",
                                      line=lineno))  # fmt: skip
            continue
        try:
            t = np.datetime64(timeconv.to_datetime64(parts[0]), "ns")
        except ValueError as exc:
            errors.append(RecordError(source, str(exc), line=lineno, field="epoch"))
            continue
        vals: list[float] = []
        for name, tok in zip(_STATE_FIELDS[1:], parts[1:7], strict=True):
            try:
                x = float(tok)
            except ValueError:
                errors.append(RecordError(source, f"not a number: {tok!r}", line=lineno,
                                          field=name))  # fmt: skip
                break
            if not np.isfinite(x):
                errors.append(RecordError(source, f"not finite: {tok!r}", line=lineno, field=name))
                break
            vals.append(x)
        else:
            times.append(t)
            states.append(vals)
    finish()
    return segments, errors
