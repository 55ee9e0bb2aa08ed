"""Per-APID sequence-count and repeat tracking of one packet stream.

:class:`SequenceTracker` keeps, for each APID, the last sequence count and the keys (packet
time, sequence count) of the last ``_RECENT_PACKETS`` packets, and reports into the stream's
:class:`~starbrain.sources.telemetry.ccsds_stats.DecodeStats`: a packet repeating one already
decoded is a
duplicate (dropped, never a gap); a forward step of ``d > 1`` counts ``d - 1`` missing packets; a
count that repeats or steps back by less than half the 14-bit range is a late packet (a gap
event, no packets missing). Used by :class:`~starbrain.sources.telemetry.ccsds.PacketDecoder`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from starbrain.sources.telemetry.ccsds_header import SEQ_MODULO
from starbrain.sources.telemetry.ccsds_stats import DecodeStats, PacketError

# Packet keys (time, sequence count) remembered per APID to recognise repeated packets.
_RECENT_PACKETS = SEQ_MODULO


class SequenceTracker:
    """Sequence counts and recent packet keys per APID, counted into ``stats``."""

    def __init__(self, stats: DecodeStats) -> None:
        self.stats = stats
        self._last_seq: dict[int, int] = {}
        self._last_time: dict[int, int] = {}  # per APID: the latest packet time decoded
        self._recent: dict[int, tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]] = {}

    def duplicates(
        self, apid: int, seq: npt.NDArray[Any], t: npt.NDArray[np.int64]
    ) -> npt.NDArray[np.bool_] | None:
        """Which of these packets repeat one decoded before (same sequence count and time,
        among the last ``_RECENT_PACKETS`` of the APID, or earlier in this batch); None: none.
        Packets in increasing time after the latest one seen take one comparison."""
        s = seq.astype(np.int64)
        last = self._last_time.get(apid)
        past_t, past_s = self._recent.get(apid, (np.zeros(0, np.int64), np.zeros(0, np.int64)))
        fresh = (last is None or t[0] > last) and bool(np.all(t[1:] > t[:-1]))
        dup: npt.NDArray[np.bool_] | None = None
        if not fresh:
            all_t = np.concatenate((past_t, t))
            all_s = np.concatenate((past_s, s))
            order = np.arange(-len(past_t), len(t))  # earlier packets first among equals
            k = np.lexsort((order, all_s, all_t))
            same = (all_t[k][1:] == all_t[k][:-1]) & (all_s[k][1:] == all_s[k][:-1])
            later = order[k][1:][same]
            if later.size:
                dup = np.zeros(len(t), dtype=bool)
                dup[later] = True  # the second of two equal keys is always in this batch
        keep_t, keep_s = (t, s) if dup is None else (t[~dup], s[~dup])
        self._last_time[apid] = max(int(t.max()), last if last is not None else int(t.max()))
        self._recent[apid] = (
            np.concatenate((past_t, keep_t))[-_RECENT_PACKETS:],
            np.concatenate((past_s, keep_s))[-_RECENT_PACKETS:],
        )
        return dup

    def check(
        self, apid: int, seq: npt.NDArray[Any], starts: npt.NDArray[np.intp], base: int
    ) -> None:
        """Count forward jumps of the sequence count as gaps (``d - 1`` packets missing). A count
        that repeats or steps back by less than half the range is a late packet: a gap event,
        no packets missing, and the expected count does not move back."""
        if not len(seq):
            return
        s = seq.astype(np.int64)
        prev = self._last_seq.get(apid)
        before = np.concatenate(([prev], s[:-1])) if prev is not None else s[:-1]
        after = s if prev is not None else s[1:]
        first = 0 if prev is not None else 1
        d = (after - before) % SEQ_MODULO
        half = SEQ_MODULO // 2
        if np.any((d == 0) | (d >= half)):
            self._check_slow(apid, s, starts, base, prev)
            return
        self._last_seq[apid] = int(s[-1])
        gaps = np.flatnonzero(d != 1)
        if not gaps.size:
            return
        st = self.stats
        st.seq_gaps += int(gaps.size)
        st.missing_packets += int((d[gaps] - 1).sum())
        for g in gaps[: max(0, st.max_errors - len(st.errors))].tolist():
            k = g + first
            self._gap_error(
                apid,
                int(s[k]),
                (int(before[g]) + 1) % SEQ_MODULO,
                int(d[g]) - 1,
                base + int(starts[k]),
            )

    def _check_slow(
        self,
        apid: int,
        s: npt.NDArray[np.int64],
        starts: npt.NDArray[np.intp],
        base: int,
        prev: int | None,
    ) -> None:
        """``check`` for a batch with late or repeated counts, packet by packet."""
        st = self.stats
        half = SEQ_MODULO // 2
        for k, count in enumerate(s.tolist()):
            if prev is None:
                prev = count
                continue
            d = (count - prev) % SEQ_MODULO
            if d == 1:
                prev = count
                continue
            st.seq_gaps += 1
            late = d == 0 or d >= half
            if not late:
                st.missing_packets += d - 1
            if len(st.errors) < st.max_errors:
                self._gap_error(
                    apid,
                    count,
                    (prev + 1) % SEQ_MODULO,
                    -1 if late else d - 1,
                    base + int(starts[k]),
                )
            if not late:
                prev = count
        if prev is not None:
            self._last_seq[apid] = prev

    def _gap_error(self, apid: int, count: int, expected: int, missing: int, offset: int) -> None:
        st = self.stats
        what = "late or repeated, not a gap" if missing < 0 else f"{missing} packets missing"
        st.errors.append(
            PacketError(
                "seq_gap",
                offset,
                f"sequence count {count}, expected {expected} ({what})",
                st.source,
                apid,
                count,
            )
        )
