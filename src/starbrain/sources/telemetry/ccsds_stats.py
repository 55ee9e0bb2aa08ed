"""Decoder errors and statistics: :class:`PacketError` (one malformed packet or stream event at a
byte offset) and :class:`DecodeStats` (counts per kind, the first ``max_errors`` kept).

Re-exported by ``starbrain.sources.telemetry.ccsds``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

ErrorKind = Literal["unknown_apid", "bad_length", "bad_header", "crc", "seq_gap", "truncated"]


# -- errors and statistics ------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class PacketError:
    """One malformed packet or stream event, at a byte offset counted from the stream's start."""

    kind: ErrorKind
    offset: int
    reason: str
    source: str = ""
    apid: int | None = None
    seq: int | None = None

    def __str__(self) -> str:
        where = f"{self.source}: " if self.source else ""
        apid = (
            f" (APID {self.apid:#x}" + (f", seq {self.seq})" if self.seq is not None else ")")
            if self.apid is not None
            else ""
        )
        return f"{where}byte {self.offset}: {self.kind}: {self.reason}{apid}"


@dataclass(slots=True)
class DecodeStats:
    """Counters of one decoded source, and its first ``max_errors`` errors."""

    source: str = ""
    max_errors: int = 100
    bytes: int = 0  # bytes fed
    packets: int = 0  # packets decoded into rows
    parameters: int = 0  # parameter values decoded (long-layout rows)
    by_apid: dict[int, int] = field(default_factory=dict)  # packets decoded per APID
    idle_packets: int = 0
    unknown_apid: int = 0
    unknown_by_apid: dict[int, int] = field(default_factory=dict)  # unknown_apid per APID
    bad_length: int = 0
    bad_header: int = 0  # headers that made no sense; the decoder re-synchronised
    skipped_bytes: int = 0  # bytes not part of any decoded packet
    crc: int = 0
    seq_gaps: int = 0
    missing_packets: int = 0  # packets the sequence counts say were lost
    truncated: int = 0
    duplicates: int = 0  # repeats of decoded packets (APID, sequence count, time): dropped
    errors: list[PacketError] = field(default_factory=list)

    @property
    def n_errors(self) -> int:
        """Malformed packets and stream events (sequence gaps included)."""
        return (
            self.unknown_apid
            + self.bad_length
            + self.bad_header
            + self.crc
            + self.seq_gaps
            + self.truncated
        )

    def add(
        self,
        kind: ErrorKind,
        offset: int,
        reason: str,
        apid: int | None = None,
        seq: int | None = None,
        count: int = 1,
    ) -> None:
        counter = "seq_gaps" if kind == "seq_gap" else kind
        setattr(self, counter, getattr(self, counter) + count)
        if len(self.errors) < self.max_errors:
            self.errors.append(PacketError(kind, offset, reason, self.source, apid, seq))

    def summary(self) -> str:
        parts = [f"{self.packets} packets", f"{self.parameters} parameters"]
        for name in (
            "unknown_apid",
            "bad_length",
            "bad_header",
            "crc",
            "seq_gaps",
            "missing_packets",
            "truncated",
            "duplicates",
            "idle_packets",
            "skipped_bytes",
        ):
            v = getattr(self, name)
            if v:
                parts.append(f"{name} {v}")
        return f"{self.source or 'telemetry'}: " + ", ".join(parts)
