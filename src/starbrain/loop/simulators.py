"""What feeds the loop when no real source is configured: a catalogue that keeps producing
fresh element sets, and a satellite's housekeeping telemetry as real CCSDS packets.

:class:`PresetCatalog` regenerates a constellation preset (plus, optionally, a generated debris
population crossing its shells) at each refresh time: same orbits,
mean anomaly advanced by the Kozai mean motion since the first epoch (two-body, no J2 secular
terms), so SGP4 predictions from the previous sets disagree with the new ones by a few km (the
world model's drift check sees a real, growing difference). :class:`FileCatalog` re-reads a
catalogue file or URL. :class:`PowerSimulator` encodes the ``POWER`` packet (APID 0x102) of the
example definitions: bus voltage and current following a 95-minute day/night cycle, battery
temperature and charge, with a battery-temperature excursion injected every ``anomaly_every_s``
simulated seconds; the packets are decoded by the same :class:`PacketDecoder` as a real link.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pyarrow as pa

from starbrain.core.errors import StarbrainError
from starbrain.core.timeconv import NS_PER_S, to_ns
from starbrain.sources.generators.constellation import generate_preset
from starbrain.sources.telemetry.ccsds import PacketDecoder, encode_packets
from starbrain.sources.telemetry.packets import load_example_definitions

__all__ = ["FileCatalog", "PowerSimulator", "PresetCatalog", "injected_anomalies"]


def _ns(t: np.datetime64) -> int:
    """One UTC instant as integer nanoseconds (:func:`starbrain.core.timeconv.to_ns`)."""
    return int(to_ns(t))


class PresetCatalog:
    """Element sets of a generated preset at any epoch (see the module docstring)."""

    def __init__(
        self,
        preset: str,
        epoch: np.datetime64,
        max_objects: int | None = None,
        debris: int = 0,
    ) -> None:
        # the preset's own convention: element sets at 00:00 UTC of the day (as ``starbrain
        # constellation generate`` and the demo store them), advanced from there
        epoch = epoch.astype("datetime64[D]").astype("datetime64[ns]")
        base = generate_preset(preset, epoch=epoch)
        if max_objects is not None:
            base = base.slice(0, max_objects)
        if debris:
            from starbrain.sources.generators.debris import generate_debris

            base = pa.concat_tables([base, generate_debris(debris, epoch).cast(base.schema)])
        self.name = f"generated:{preset}" + (f"+{debris}-debris" if debris else "")
        self.base = base
        self.epoch0 = epoch.astype("datetime64[ns]")

    def at(self, t: np.datetime64) -> pa.Table:
        dt_days = (_ns(t) - _ns(self.epoch0)) / 86400e9
        n = self.base.column("mean_motion_rev_per_day").to_numpy()
        m0 = self.base.column("mean_anomaly_deg").to_numpy()
        m = np.mod(m0 + 360.0 * n * dt_days, 360.0)
        table = self.base.set_column(
            self.base.schema.get_field_index("mean_anomaly_deg"), "mean_anomaly_deg", pa.array(m)
        )
        epoch = pa.array(
            np.full(table.num_rows, t.astype("datetime64[ns]")), pa.timestamp("ns", tz="UTC")
        )
        return table.set_column(table.schema.get_field_index("epoch"), "epoch", epoch)


class FileCatalog:
    """A catalogue file or http(s) URL, re-read at every refresh (what it holds is what it is)."""

    def __init__(self, source: str, max_objects: int | None = None) -> None:
        self.name, self.max_objects = source, max_objects

    def at(self, t: np.datetime64) -> pa.Table:
        from starbrain.sources.catalogs.catalog import load_catalog

        result = load_catalog(self.name)
        if result.n_good == 0:
            raise StarbrainError(f"no valid element sets in {self.name}")
        table = result.table
        return table if self.max_objects is None else table.slice(0, self.max_objects)


def injected_anomalies(
    start: np.datetime64, stop: np.datetime64, every_s: float, duration_s: float
) -> list[tuple[np.datetime64, np.datetime64]]:
    """The battery-temperature excursions :class:`PowerSimulator` injects in [start, stop)."""
    every, dur = round(every_s * NS_PER_S), round(duration_s * NS_PER_S)
    a, b = _ns(start), _ns(stop)
    k = -(-(a - dur) // every)
    out = []
    while k * every < b:
        s = k * every
        out.append((np.datetime64(s, "ns"), np.datetime64(s + dur, "ns")))
        k += 1
    return [(s, e) for s, e in out if e > np.datetime64(a, "ns")]


class PowerSimulator:
    """POWER housekeeping packets (APID 0x102) at ``rate_hz`` for any window of simulated time.

    Deterministic: a packet's values depend only on its time (noise seeded by the time), so a
    restarted loop produces the very packets it would have produced without the restart.
    """

    source = "sim:power"
    period_s = 95.6 * 60.0  # a 550 km orbit

    def __init__(
        self,
        rate_hz: float = 1.0,
        *,
        anomaly_every_s: float = 1800.0,
        anomaly_duration_s: float = 90.0,
        anomaly_kelvin: float = 25.0,
    ) -> None:
        defs = load_example_definitions()
        packets = {p.name: p for p in defs.packets}
        self.packet = packets["POWER"]
        self.decoder = PacketDecoder(defs, source=self.source)
        self.rate_hz = rate_hz
        self.anomaly_every_s = anomaly_every_s
        self.anomaly_duration_s = anomaly_duration_s
        self.anomaly_kelvin = anomaly_kelvin

    def window(self, start: np.datetime64, stop: np.datetime64) -> list[pa.RecordBatch]:
        """Decoded telemetry (``TELEMETRY_SCHEMA`` batches) of the packets in [start, stop)."""
        step = round(NS_PER_S / self.rate_hz)
        a, b = _ns(start), _ns(stop)
        first = -(-a // step)
        k = np.arange(first, -(-b // step), dtype=np.int64)
        if k.size == 0:
            return []
        t_ns = k * step
        rng = np.random.default_rng([a & 0x7FFFFFFF, k.size])
        phase = 2.0 * math.pi * (t_ns / NS_PER_S % self.period_s) / self.period_s
        # sunlight fades in and out over about a minute (no step for detectors to flag)
        sunlit = 1.0 / (1.0 + np.exp(-(np.cos(phase) + 0.35) / 0.02))
        temperature = 293.0 + 4.0 * np.sin(phase) + rng.normal(0.0, 0.3, k.size)
        for s, e in injected_anomalies(start, stop, self.anomaly_every_s, self.anomaly_duration_s):
            inside = (t_ns >= _ns(s)) & (t_ns < _ns(e))
            temperature[inside] += self.anomaly_kelvin
        values: dict[str, Any] = {
            "bus_voltage": 28.0 + 0.4 * sunlit + rng.normal(0.0, 0.05, k.size),
            "bus_current": -2.5 + 6.5 * sunlit + rng.normal(0.0, 0.1, k.size),
            "battery_temperature": temperature,
            "battery_charge": np.clip(0.8 + 0.1 * np.sin(phase - 1.0), 0.0, 1.0),
            "pyro_armed": np.zeros(k.size),
        }
        packets = encode_packets(
            self.packet, k % (1 << 14), times=t_ns.astype("datetime64[ns]"), values=values
        )
        return self.decoder.feed(packets.tobytes())
