"""Telemetry as detectors see it: one regular time grid, one column per channel, gaps as NaN.

A ``TelemetryFrame`` holds sample times ``t_ns`` ``(n,)`` (UTC ns since 1970), engineering values
``values`` ``(n, C)`` float64 with NaN where a packet was missing, and the channel names and the
packet (group) each belongs to. It is built from a simulated flight, from decoded wide-layout
tables, or straight from a packet file.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from starbrain.core.errors import StarbrainError
from starbrain.physics.flight_sim import CHANNELS, Flight, launch_vehicle_definitions
from starbrain.sources.telemetry.packets import PacketSet

__all__ = ["TelemetryFrame", "frame_from_flight", "frame_from_packets", "frame_from_tables"]

FloatArray = npt.NDArray[np.float64]


@dataclass
class TelemetryFrame:
    """Channels on a regular grid of period ``dt_s``; ``groups`` maps a group (packet) name to
    its channel names; ``source`` names the flight or stream."""

    t_ns: npt.NDArray[np.int64]
    values: FloatArray
    channels: tuple[str, ...]
    groups: dict[str, tuple[str, ...]]
    source: str = ""

    @property
    def dt_s(self) -> float:
        return float(np.median(np.diff(self.t_ns))) / 1e9 if len(self.t_ns) > 1 else 0.0

    def columns(self, names: tuple[str, ...] | list[str]) -> FloatArray:
        idx = [self.channels.index(c) for c in names]
        return self.values[:, idx]

    def filled(self) -> FloatArray:
        """Values with each gap filled by the last reading before it (the first rows by the
        first reading)."""
        v = self.values
        n = v.shape[0]
        ok = ~np.isnan(v)
        idx = np.where(ok, np.arange(n)[:, None], 0)
        np.maximum.accumulate(idx, axis=0, out=idx)
        out = np.take_along_axis(v, idx, axis=0)
        first = np.argmax(ok, axis=0)
        head = np.arange(n)[:, None] < first[None, :]
        out = np.where(head, v[first, np.arange(v.shape[1])][None, :], out)
        return np.nan_to_num(out)


def _groups(defs: PacketSet) -> dict[str, tuple[str, ...]]:
    return {p.name: tuple(q.name for q in p.parameters) for p in defs.packets}


def frame_from_flight(flight: Flight) -> TelemetryFrame:
    """The measured values of a simulated flight, missing packets as NaN (no encoding)."""
    from starbrain.physics.flight_sim import PACKET_NAMES

    v = flight.values.copy()
    for k, name in enumerate(PACKET_NAMES):
        cols = [i for i, c in enumerate(flight.channels) if CHANNELS[c][0] == name]
        v[np.ix_(~flight.present[:, k], np.asarray(cols, dtype=np.intp))] = np.nan
    # what the packets carry: float32 values, integer channels rounded
    v = v.astype(np.float32).astype(np.float64)
    defs = launch_vehicle_definitions()
    return TelemetryFrame(
        flight.times_ns, v, flight.channels, _groups(defs), flight.config.flight_id
    )


def frame_from_tables(
    tables: Mapping[str, pa.Table], definitions: PacketSet | None = None, source: str = ""
) -> TelemetryFrame:
    """Wide-layout decoded tables (packet name -> table with ``time`` and one column per
    parameter) on one regular grid: the median packet period, from the first to the last time.
    Rows are placed at the nearest grid point; grid points no packet reached are NaN."""
    defs = definitions or launch_vehicle_definitions()
    groups = {k: v for k, v in _groups(defs).items() if k in tables}
    if not groups:
        raise StarbrainError("no packets of the launch-vehicle definitions in this stream")
    times = {
        k: tables[k].column("time").cast(pa.int64()).to_numpy(zero_copy_only=False) for k in groups
    }
    all_t = np.unique(np.concatenate(list(times.values())))
    if all_t.size < 2:
        raise StarbrainError("too few packets to form a time series (need at least 2)")
    dt = int(np.median(np.diff(all_t)))
    t0 = int(all_t[0])
    n = round((all_t[-1] - t0) / dt) + 1
    channels = tuple(c for g in groups.values() for c in g)
    values = np.full((n, len(channels)), np.nan)
    col = 0
    for k, names in groups.items():
        i = np.clip(np.rint((times[k] - t0) / dt).astype(np.int64), 0, n - 1)
        block = np.stack(
            [tables[k].column(c).to_numpy(zero_copy_only=False) for c in names], axis=1
        )
        values[i, col : col + len(names)] = block
        col += len(names)
    t_ns = t0 + np.arange(n, dtype=np.int64) * dt
    return TelemetryFrame(t_ns, values, channels, groups, source)


def frame_from_packets(
    data: bytes | str | Path, definitions: PacketSet | None = None, source: str = ""
) -> TelemetryFrame:
    """Decode a packet stream (bytes or a file) and grid it (:func:`frame_from_tables`)."""
    from starbrain.sources.telemetry.ccsds import decode

    defs = definitions or launch_vehicle_definitions()
    if isinstance(data, str | Path) and not Path(data).is_file():
        raise StarbrainError(f"{data}: no such packet file")
    name = source or ("<bytes>" if isinstance(data, bytes) else str(data))
    result = decode(data, defs, source=name, layout="wide")
    return frame_from_tables(result.tables, defs, source=name)
