"""Simulated launches as a loop source: launch-vehicle telemetry (:mod:`starbrain.physics.
flight_sim`, with labelled injected anomalies) stored window by window as simulated time passes,
and scored after each flight by the trained anomaly detector of
:mod:`starbrain.models.anomaly` when one is available.

Launches lift off at the multiples of ``every_s`` since 1970-01-01 UTC (so the schedule does
not depend on when the loop started): launch ``k`` at ``k * every_s`` with seed ``k`` and
``n_anomalies`` random anomalies, named ``flight-YYYYMMDDTHHMMSS``. A flight is re-simulated
(deterministically) when a window needs it, so a restarted loop continues a flight where its
checkpoint stopped. Packets are CCSDS-encoded and decoded by
the same :class:`~starbrain.sources.telemetry.ccsds.PacketDecoder` as a real link.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from starbrain.core.timeconv import NS_PER_S

__all__ = ["FlightSource", "FlightWindow"]


@dataclass(frozen=True, slots=True)
class FlightWindow:
    """What one window of simulated time produced."""

    telemetry: pa.Table  # TELEMETRY_SCHEMA rows with times in the window
    launched: list[str]  # flight ids lifting off in the window
    landed: list[tuple[str, pa.Table, int]]  # (flight id, anomalies, injected anomalies)


@functools.lru_cache(maxsize=4)
def _flight(seed: int, start_ns: int, duration_s: float, rate_hz: float, n_anomalies: int) -> Any:
    from starbrain.physics.flight_sim import FlightConfig, random_anomalies, simulate_flight

    anomalies = random_anomalies(seed, n_anomalies, duration_s) if n_anomalies else ()
    start = f"{np.datetime_as_string(np.datetime64(start_ns, 'ns'), unit='ms')}Z"
    stamp = np.datetime_as_string(np.datetime64(start_ns, "ns"), unit="s")
    config = FlightConfig(
        seed=seed % (1 << 32), duration_s=duration_s, rate_hz=rate_hz, start=start,
        anomalies=anomalies, name="flight-" + stamp.replace("-", "").replace(":", ""),
    )  # fmt: skip
    return simulate_flight(config)


@functools.lru_cache(maxsize=4)
def _decoded(seed: int, start_ns: int, duration_s: float, rate_hz: float, n: int) -> pa.Table:
    from starbrain.physics.flight_sim import launch_vehicle_definitions
    from starbrain.sources.telemetry.ccsds import PacketDecoder

    flight = _flight(seed, start_ns, duration_s, rate_hz, n)
    decoder = PacketDecoder(launch_vehicle_definitions(), source=flight.config.flight_id)
    batches = decoder.feed(flight.packet_bytes()) + decoder.flush()
    return pa.Table.from_batches(batches).sort_by("time")


class FlightSource:
    """Launches every ``every_s`` simulated seconds (see the module docstring)."""

    def __init__(
        self,
        every_s: float,
        *,
        duration_s: float = 400.0,
        rate_hz: float = 10.0,
        n_anomalies: int = 2,
        detector_path: str | Path | None = None,
    ) -> None:
        self.first_ns = 0
        self.every_ns = round(every_s * NS_PER_S)
        self.duration_s, self.rate_hz, self.n_anomalies = duration_s, rate_hz, n_anomalies
        self.detector_path = Path(detector_path) if detector_path else None
        self._detector: Any = None

    def detector(self) -> Any:
        """The trained detector (None when there is no detector file)."""
        if self._detector is None and self.detector_path and self.detector_path.is_file():
            from starbrain.models.anomaly.detector import AnomalyDetector

            self._detector = AnomalyDetector.load(self.detector_path)
        return self._detector

    def _key(self, k: int) -> tuple[int, int, float, float, int]:
        return (k, self.first_ns + k * self.every_ns, self.duration_s, self.rate_hz,
                self.n_anomalies)  # fmt: skip

    def window(self, start: np.datetime64, stop: np.datetime64) -> FlightWindow:
        """Telemetry of every flight in the air during [start, stop); detections of those
        landing in it."""
        a = int(start.astype("datetime64[ns]").astype(np.int64))
        b = int(stop.astype("datetime64[ns]").astype(np.int64))
        span = round(self.duration_s * NS_PER_S)
        k0 = max(0, -(-(a - span - self.first_ns) // self.every_ns))
        parts: list[pa.Table] = []
        launched: list[str] = []
        landed: list[tuple[str, pa.Table, int]] = []
        k = k0
        while self.first_ns + k * self.every_ns < b:
            key = self._key(k)
            lift_off = key[1]
            if lift_off + span + NS_PER_S >= a:  # in the air during the window (1 s margin)
                table = _decoded(*key)
                t = table.column("time").cast(pa.int64())
                sel = pc.and_(pc.greater_equal(t, a), pc.less(t, b))
                parts.append(table.filter(sel))
                flight = _flight(*key)
                if a <= lift_off < b:
                    launched.append(flight.config.flight_id)
                end = int(flight.times_ns[-1])
                if a <= end < b:
                    landed.append(
                        (flight.config.flight_id, self._detect(flight), len(flight.labels))
                    )
            k += 1
        from starbrain.core.schemas.telemetry import TELEMETRY_SCHEMA

        telemetry = (
            pa.concat_tables([p.cast(TELEMETRY_SCHEMA) for p in parts])
            if parts
            else TELEMETRY_SCHEMA.empty_table()
        )
        return FlightWindow(telemetry, launched, landed)

    def _detect(self, flight: Any) -> pa.Table:
        from starbrain.core.schemas.anomalies import ANOMALIES_SCHEMA

        det = self.detector()
        if det is None:
            return ANOMALIES_SCHEMA.empty_table()
        from starbrain.models.anomaly.data import frame_from_flight
        from starbrain.models.anomaly.detector import detections_table, label_detections

        found = label_detections(det.detect(frame_from_flight(flight)), flight.labels)
        return detections_table(found)
