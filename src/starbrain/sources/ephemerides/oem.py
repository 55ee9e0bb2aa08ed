"""CCSDS Orbit Ephemeris Messages (OEM, CCSDS 502.0-B-2/3): KVN and XML reading and writing.

An OEM holds segments, each a metadata block (object, centre, frame, time system, span) and
``epoch x y z vx vy vz`` state vectors in km and km/s. :func:`read_oem` reads KVN or NDM/XML
(sniffed) into :class:`OemSegment` objects; :func:`write_oem` / :func:`write_oem_xml` write
propagated arrays and :func:`write_oem_segments` writes segments (e.g. read back from the store).

This module also owns the ``ephemeris`` store stream (precise ephemerides from OEM and SP3):
its Arrow schema, the normalisation of reference-frame names and the conversion of the time
scales ephemeris files use (UTC, TAI, TT, GPS and other GNSS times) to UTC.

Bad input never aborts a file: a bad state line is skipped and reported as a
:class:`~starbrain.sources.records.RecordError` (source, line, field, reason); a segment without
usable metadata or data is dropped with an error. Covariance blocks (KVN ``COVARIANCE_START`` and
XML ``covarianceMatrix``) are accepted and skipped; acceleration columns are accepted and ignored.

Nothing is guessed: a segment needs ``OBJECT_ID``, ``CENTER_NAME``, a supported ``TIME_SYSTEM``
and a ``REF_FRAME`` :func:`normalise_frame` knows (no default UTC, EARTH or frame). Epochs must
be CCSDS ASCII time codes (calendar or ordinal, day 001-365/366, years 1678-2261 so that
``datetime64[ns]`` holds them); numbers must be plain ASCII decimals; positions beyond
``MAX_POSITION_KM`` and speeds not below ``SPEED_OF_LIGHT_KMPS`` are rejected
(:func:`implausible_states`). Each is a ``RecordError`` naming the line and field. A UTF-8
byte-order mark is dropped.

Where the parts live (all re-exported here): frames and time scales in ``oem_frames``, the
segment type and physical bounds in ``oem_segment``, reading in ``oem_read``, writing in
``oem_write``; this module keeps the ephemeris stream's schema, its table conversions and
:func:`load_ephemeris`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from starbrain.core.errors import StarbrainError
from starbrain.core.schemas.ephemeris import EPHEMERIS_KEY as EPHEMERIS_KEY
from starbrain.core.schemas.ephemeris import EPHEMERIS_SCHEMA as EPHEMERIS_SCHEMA
from starbrain.sources.compressed import read_input
from starbrain.sources.ephemerides.oem_frames import (
    OEM_FRAMES,
    TIME_SYSTEMS,
    normalise_frame,
    to_utc,
)
from starbrain.sources.ephemerides.oem_read import read_oem, sniff_ephemeris_format
from starbrain.sources.ephemerides.oem_segment import (
    MAX_POSITION_KM,
    SPEED_OF_LIGHT_KMPS,
    OemSegment,
    implausible_states,
)
from starbrain.sources.ephemerides.oem_write import write_oem, write_oem_segments, write_oem_xml
from starbrain.sources.records import LoadResult

__all__ = [
    "EPHEMERIS_KEY",
    "EPHEMERIS_SCHEMA",
    "MAX_POSITION_KM",
    "OEM_FRAMES",
    "SPEED_OF_LIGHT_KMPS",
    "TIME_SYSTEMS",
    "OemSegment",
    "implausible_states",
    "load_ephemeris",
    "normalise_frame",
    "read_oem",
    "segments_from_table",
    "segments_to_table",
    "sniff_ephemeris_format",
    "to_utc",
    "write_oem",
    "write_oem_segments",
    "write_oem_xml",
]


# --- the ephemeris stream ---------------------------------------------------------------------


def segments_to_table(segments: Sequence[OemSegment], source: str) -> pa.Table:
    """Segments as rows of the ephemeris stream (``EPHEMERIS_SCHEMA``)."""
    if not segments:
        return EPHEMERIS_SCHEMA.empty_table()
    n = [s.times.size for s in segments]
    r = np.concatenate([s.r_km for s in segments])
    v = np.concatenate([s.v_kmps for s in segments])
    v_ok = np.isfinite(v).all(axis=1)

    def rep(values: list[str]) -> pa.Array:
        return pa.array(np.repeat(np.asarray(values, dtype=object), n), pa.string())

    return pa.table(
        {
            "object_id": rep([s.object_id or s.object_name for s in segments]),
            "object_name": rep([s.object_name for s in segments]),
            "time": pa.array(
                np.concatenate([s.times for s in segments]), EPHEMERIS_SCHEMA.field("time").type
            ),
            "x": r[:, 0],
            "y": r[:, 1],
            "z": r[:, 2],
            **{
                c: pa.array(v[:, i], pa.float64(), mask=~v_ok)
                for i, c in enumerate(("vx", "vy", "vz"))
            },
            "frame": rep([s.frame for s in segments]),
            "center": rep([s.center or "EARTH" for s in segments]),
            "source": pa.array([source] * int(sum(n)), pa.string()),
        },
        schema=EPHEMERIS_SCHEMA,
    )


def segments_from_table(table: pa.Table) -> list[OemSegment]:
    """Ephemeris-stream rows -> one segment per (object, frame, centre, source), time-ordered.

    Missing velocities come back as NaN."""
    cols: dict[str, Any] = {
        c: table.column(c).to_numpy(zero_copy_only=False)
        for c in ("object_id", "object_name", "frame", "center", "source")
    }
    t = table.column("time").to_numpy().astype("datetime64[ns]")
    r = np.column_stack([table.column(c).to_numpy(zero_copy_only=False) for c in "xyz"]).astype(
        np.float64
    )
    v = np.column_stack(
        [
            table.column(c).fill_null(np.nan).to_numpy(zero_copy_only=False)
            for c in ("vx", "vy", "vz")
        ]
    ).astype(np.float64)
    groups: dict[tuple[str, str, str, str], list[int]] = {}
    for i, key in enumerate(
        zip(cols["object_id"], cols["frame"], cols["center"], cols["source"], strict=True)
    ):
        groups.setdefault(key, []).append(i)
    out = []
    for (oid, frame, center, _src), idx in groups.items():
        ix = np.asarray(idx)
        ix = ix[np.argsort(t[ix], kind="stable")]
        name = cols["object_name"][ix[0]] or oid
        out.append(OemSegment(name, oid, frame, center, "UTC", t[ix], r[ix], v[ix]))
    return out


def load_ephemeris(path: str | Path, fmt: str = "auto") -> LoadResult:
    """Read a precise-ephemeris file (OEM KVN, OEM XML or SP3-c/d) as ephemeris-stream rows.

    gzip, bzip2 and xz files are decompressed (found from their magic bytes, capped at
    ``STARBRAIN_MAX_DECOMPRESSED_MB``, see :mod:`starbrain.sources.compressed`); a UTF-8
    byte-order mark is dropped.

    ``fmt`` is 'auto' (sniffed), 'oem', 'oem-xml' or 'sp3'. Bad records are in the result's
    ``errors``; raises :class:`StarbrainError` only when the file cannot be read at all.
    """
    location = str(path)
    p = Path(location).expanduser()
    if not p.is_file():
        raise StarbrainError(f"{location}: no such file")
    # IGS products are distributed gzipped; read_input decompresses (capped, checked) by magic
    text = read_input(p, location).decode("utf-8", errors="replace").removeprefix("\ufeff")
    if fmt == "auto":
        sniffed = sniff_ephemeris_format(text)
        if sniffed is None:
            raise StarbrainError(
                f"{location}: not an OEM (KVN or XML) or SP3 file; name the format with --format"
            )
        fmt = sniffed
    if fmt == "sp3":
        from starbrain.sources.ephemerides.sp3 import read_sp3

        return read_sp3(text, location).to_load_result()
    if fmt not in ("oem", "oem-xml"):
        raise StarbrainError(f"unknown ephemeris format {fmt!r}; use auto, oem, oem-xml or sp3")
    if fmt == "oem" and re.search(r"^[ \t]*META_START[ \t]*\r?$", text, re.MULTILINE) is None:
        raise StarbrainError(f"{location}: not an OEM in KVN form (it has no META_START line)")
    segments, errors = read_oem(text, location, fmt)
    return LoadResult(segments_to_table(segments, location), errors, location)
