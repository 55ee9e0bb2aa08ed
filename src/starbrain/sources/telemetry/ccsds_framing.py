"""Framing a byte stream of CCSDS space packets: finding where each packet starts.

:class:`PacketFramer` walks the primary headers, one table lookup per packet on the first two
header bytes; a header that does not match a definition is classified (unknown APID, bad length,
bad header, idle packet) and counted in the stream's ``DecodeStats``, and either skipped by its
length field when the following headers chain plausibly, or re-synchronised by scanning for the
next valid header. Used by :class:`~starbrain.sources.telemetry.ccsds.PacketDecoder`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from starbrain.sources.telemetry.ccsds_stats import DecodeStats, ErrorKind
from starbrain.sources.telemetry.packets import IDLE_APID, PRIMARY_HEADER_BYTES, PacketSet

# Headers of unknown APIDs followed (length field to length field) before their length is trusted.
_CHAIN_HOPS = 3


class PacketFramer:
    """The header tables of one packet set, and the framing of a stream counted into ``stats``."""

    def __init__(self, definitions: PacketSet, stats: DecodeStats) -> None:
        self.stats = stats
        # Expected packet length for each possible first two header bytes (version 0 only):
        # 0 = not a defined packet, -1 = an idle packet (any length).
        lut = np.zeros(1 << 16, dtype=np.int64)
        for p in definitions.packets:
            lut[p.header_key] = p.length
        for ptype in (0, 1):
            lut[ptype << 12 | IDLE_APID] = -1
        self._lut_np = lut
        self._lut = lut.tolist()
        self._length_fields = np.where(lut > 0, lut - 7, -1).tolist()
        self._known_apids = {p.apid for p in definitions.packets}
        self._packets = {p.apid: p for p in definitions.packets}

    # walking headers ------------------------------------------------------------------------------
    def frame(
        self, b: Any, start: int, end: int, *, final: bool, base: int
    ) -> tuple[list[int], int]:
        """Walk packet headers from ``start``; return the starts of well-formed packets and the
        position where the walk stopped (an incomplete packet, or ``end``)."""
        fields = self._length_fields
        starts: list[int] = []
        append = starts.append
        p = start
        last = end - PRIMARY_HEADER_BYTES
        npb: npt.NDArray[np.uint8] | None = None
        while p <= last:
            # The hot loop: one table lookup on the first two header bytes gives the length
            # field a defined packet must carry.
            want = fields[b[p] << 8 | b[p + 1]]
            if want == (b[p + 4] << 8 | b[p + 5]):
                q = p + want + 7
                if q > end:
                    break
                append(p)
                p = q
                continue
            key = b[p] << 8 | b[p + 1]
            total = (b[p + 4] << 8 | b[p + 5]) + 7
            if npb is None:
                npb = np.frombuffer(b, dtype=np.uint8)
            q = self._recover(b, npb, p, key, total, end, final, base)
            if q is None:
                break
            p = q
        return starts, p

    def _plausible_at(self, b: Any, q: int, end: int, final: bool) -> bool | None:
        """Does a packet start at ``q``? None: cannot tell yet (more bytes are coming)."""
        if q == end:
            return True
        if q > end or end - q < PRIMARY_HEADER_BYTES:
            return None if not final else q < end
        want = self._lut[b[q] << 8 | b[q + 1]]
        return want == -1 or want == (b[q + 4] << 8 | b[q + 5]) + 7

    def _chain_plausible(self, b: Any, q: int, end: int, final: bool) -> bool | None:
        """After a packet of an unknown APID ending at ``q``: do the length fields lead, within
        ``_CHAIN_HOPS`` headers of unsegmented version-0 packets, to a defined or idle packet or
        the end of the stream? (So a stream of packets nobody defined is counted per packet,
        while random bytes, which rarely look like such a chain, are re-synchronised.)"""
        for _ in range(_CHAIN_HOPS):
            here = self._plausible_at(b, q, end, final)
            if here is None or here:
                return here
            if b[q] >> 5 != 0 or b[q + 2] >> 6 != 3:  # not version 0, not unsegmented
                return False
            q += (b[q + 4] << 8 | b[q + 5]) + 7
        return True

    def _recover(
        self,
        b: Any,
        npb: npt.NDArray[np.uint8],
        p: int,
        key: int,
        total: int,
        end: int,
        final: bool,
        base: int,
    ) -> int | None:
        """Classify the bad header at ``p`` and return where to continue (None: wait for more)."""
        st = self.stats
        version, apid = key >> 13, key & 0x7FF
        if version != 0:
            trusted: bool | None = False
        elif apid in self._known_apids or apid == IDLE_APID:
            trusted = self._plausible_at(b, p + total, end, final)
        else:
            trusted = self._chain_plausible(b, p + total, end, final)
        if trusted is None:
            return None
        if version == 0 and apid == IDLE_APID and trusted:
            st.idle_packets += 1
            st.skipped_bytes += total
            return p + total
        if version == 0 and apid in self._known_apids:
            want = self._packets[apid]
            kind: ErrorKind = "bad_length" if want.header_key == key else "bad_header"
            reason = (
                f"packet length {total} bytes, the definition of {want.name} says {want.length}"
                if kind == "bad_length"
                else f"header flags (type, secondary header) do not match {want.name}"
            )
        elif version == 0:
            kind, reason = "unknown_apid", f"no packet definition for APID {apid:#x}"
            st.unknown_by_apid[apid] = st.unknown_by_apid.get(apid, 0) + 1
        else:
            kind, reason = "bad_header", f"packet version {version}, not a Space Packet header"
        if trusted:
            st.add(
                kind,
                base + p,
                reason + f"; skipped {total} bytes",
                apid=apid if version == 0 else None,
                seq=(b[p + 2] << 8 | b[p + 3]) & 0x3FFF,
            )
            st.skipped_bytes += total
            return p + total
        # The length cannot be trusted: scan for the next header that looks right.
        q = self._resync(npb, p + 1, end)
        if q is None:
            # Keep the last 5 bytes when more are coming: they may begin the next good header.
            q = end if final else max(p + 1, end - (PRIMARY_HEADER_BYTES - 1))
        st.add(
            kind,
            base + p,
            reason + f"; lost sync, skipped {q - p} bytes to the next valid header",
            apid=apid if version == 0 else None,
        )
        st.skipped_bytes += q - p
        return q

    def _resync(self, npb: npt.NDArray[np.uint8], frm: int, end: int) -> int | None:
        """First offset >= ``frm`` where a defined packet's header (type, flags, APID and length
        all as defined) starts, or None."""
        window = 1 << 16
        s = frm
        while end - s >= PRIMARY_HEADER_BYTES:
            e = min(end, s + window + PRIMARY_HEADER_BYTES - 1)
            v = npb[s:e].astype(np.int64)
            n = len(v) - (PRIMARY_HEADER_BYTES - 1)
            keys = v[:n] << 8 | v[1 : n + 1]
            totals = (v[4 : n + 4] << 8 | v[5 : n + 5]) + 7
            hit = np.flatnonzero(self._lut_np[keys] == totals)
            if hit.size:
                return s + int(hit[0])
            s += n
        return None

    def truncated(self, b: Any, p: int, e: int, base: int) -> None:
        """Count the ``e - p`` bytes left at ``p`` (stream offset ``base + p``) as a truncated
        packet."""
        n = e - p
        if n >= PRIMARY_HEADER_BYTES:
            key = b[p] << 8 | b[p + 1]
            total = (b[p + 4] << 8 | b[p + 5]) + 7
            reason = f"{n} of {total} bytes of a packet at the end of the stream"
            apid = key & 0x7FF if key >> 13 == 0 else None
        else:
            reason, apid = f"{n} bytes at the end of the stream, less than a packet header", None
        self.stats.add("truncated", base + p, reason, apid=apid)
        self.stats.skipped_bytes += n
