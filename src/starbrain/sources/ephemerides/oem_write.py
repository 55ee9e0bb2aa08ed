"""Writing OEM text (CCSDS 502.0-B, KVN and NDM/XML) from propagated arrays or segments.

Re-exported by ``starbrain.sources.ephemerides.oem``.
"""

from __future__ import annotations

from collections.abc import Sequence
from xml.sax.saxutils import escape

import numpy as np
import numpy.typing as npt

from starbrain.core import timeconv
from starbrain.sources.ephemerides.oem_frames import OEM_FRAMES
from starbrain.sources.ephemerides.oem_read import _XML_STATE
from starbrain.sources.ephemerides.oem_segment import OemSegment


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
