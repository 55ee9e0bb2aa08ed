"""The running service: sources -> store -> world models -> planners -> published decisions.

:class:`LoopService` runs on asyncio with a simulated clock (:class:`SimClock`; ``speed``
simulated seconds per wall second, 0 for as fast as the computer can). Each scheduled task
processes consecutive, non-overlapping windows ``[a, a + interval)`` of simulated time:

=============  ====================================================================================
catalog        new element sets (a preset regenerated at ``a + interval``, or a file/URL re-read)
               stored; drift of the previous predictions measured; the orbit world model
               re-fitted in the background when the drift passes ``drift_threshold_km``
telemetry      the housekeeping simulator's packets for the window, decoded and stored
flights        simulated launches (``flight_every_s``): telemetry stored as it is "received",
               each flight scored by the trained anomaly detector after landing
conjunctions   a screening of the window shifted ``conjunctions_lookahead_s`` ahead, stored
passes         passes over the stations in the window shifted ``passes_lookahead_s`` ahead
anomalies      the window's telemetry scored by an anomaly detector (when one is given)
=============  ====================================================================================

A UDP listener (``udp_port``) stores real packets as they arrive, in batches. Each finished
window's rows for append-only streams (telemetry, conjunctions, anomalies), the messages it
published (``loop_events``) and its checkpoint (``loop_state``) are stored in one transaction:
a kill keeps a window whole or not at all, and a restart resumes every task at its checkpoint,
so no window is processed twice, none is skipped and no row is stored twice.
:meth:`LoopService.stop` (wired to SIGINT/SIGTERM by the CLI) lets the running window finish,
stops the listener, stores buffered telemetry, waits for a running re-fit, checkpoints and
closes the publisher.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from starbrain.core import timeconv
from starbrain.core.errors import StarbrainError
from starbrain.core.timeconv import NS_PER_S as NS
from starbrain.loop.checkpoint import Checkpoint
from starbrain.loop.config import LoopConfig
from starbrain.loop.publish import Publisher
from starbrain.loop.simulators import (
    FileCatalog,
    PowerSimulator,
    PresetCatalog,
    injected_anomalies,
)
from starbrain.store.database import Store

__all__ = ["AnomalyDetector", "LoopService", "LoopSummary", "SimClock", "iso"]

log = logging.getLogger("starbrain.loop")
#: ``detector(telemetry, window_start, window_stop) -> anomalies`` (``ANOMALIES_SCHEMA`` table)
AnomalyDetector = Callable[[pa.Table, np.datetime64, np.datetime64], pa.Table]


def iso(t: np.datetime64) -> str:
    """UTC ISO 8601 with milliseconds and a Z (:func:`starbrain.core.timeconv.iso`)."""
    return timeconv.iso(t) or ""


def _ns64(t: Any) -> np.datetime64:
    """One instant as a ``datetime64[ns]`` scalar."""
    value: Any = np.asarray(t, dtype="datetime64[ns]")[()]
    return value


def _td(seconds: float) -> np.timedelta64:
    return np.timedelta64(round(seconds * NS), "ns")


class SimClock:
    """Simulated UTC time: ``speed`` simulated seconds per wall second from an anchor; with
    ``speed == 0`` the clock stands still except when :meth:`sleep_until` moves it (run as
    fast as possible)."""

    def __init__(self, start: np.datetime64, speed: float = 1.0) -> None:
        self._sim = start.astype("datetime64[ns]")
        self._wall = time.monotonic()
        self.speed = speed

    def now(self) -> np.datetime64:
        if self.speed == 0:
            return self._sim
        return self._sim + _td((time.monotonic() - self._wall) * self.speed)

    def set_speed(self, speed: float) -> None:
        self._sim, self._wall, self.speed = self.now(), time.monotonic(), speed

    async def sleep_until(self, t: np.datetime64, stop: asyncio.Event) -> bool:
        """Wait until simulated time ``t``; False when ``stop`` was set meanwhile."""
        if self.speed == 0:
            self._sim = max(self._sim, t.astype("datetime64[ns]"))
            await asyncio.sleep(0)
            return not stop.is_set()
        while not stop.is_set():
            wait = float((t - self.now()).astype(np.int64)) / NS / self.speed
            if wait <= 0:
                return True
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), min(wait, 1.0))  # speed may change
        return False


@dataclass
class _Task:
    name: str
    interval_s: float
    handler: Callable[[np.datetime64, np.datetime64], Awaitable[None]]
    done_until: np.datetime64
    runs: int = 0
    seconds: float = 0.0
    errors: int = 0

    @property
    def due(self) -> np.datetime64:
        return self.done_until + _td(self.interval_s)


@dataclass
class LoopSummary:
    """What a run did (for the terminal and the tests)."""

    start: str
    end: str
    resumed: bool
    wall_s: float
    tasks: dict[str, dict[str, Any]] = field(default_factory=dict)
    stored: Counter[str] = field(default_factory=Counter)
    published: Counter[str] = field(default_factory=Counter)
    drift: list[dict[str, Any]] = field(default_factory=list)
    refits: list[dict[str, Any]] = field(default_factory=list)
    alerts: int = 0
    publisher: str = ""
    udp_address: tuple[str, int] | None = None


class _TelemetryBuffer:
    """Decoded telemetry batches waiting to be stored in one append."""

    def __init__(self, store: Store, summary: LoopSummary, flush_rows: int) -> None:
        self.store, self.summary, self.flush_rows = store, summary, flush_rows
        self.batches: list[pa.RecordBatch] = []
        self.rows = 0
        self.lock = asyncio.Lock()

    async def add(self, batches: list[pa.RecordBatch]) -> None:
        self.batches.extend(b for b in batches if b.num_rows)
        self.rows += sum(b.num_rows for b in batches)
        if self.rows >= self.flush_rows:
            await self.flush()

    async def flush(self) -> int:
        async with self.lock:
            if not self.batches:
                return 0
            batches, self.batches, self.rows = self.batches, [], 0
            table = pa.Table.from_batches(batches)
            await asyncio.to_thread(self.store.append, "telemetry", table)
            self.summary.stored["telemetry"] += table.num_rows
            return table.num_rows


class LoopService:
    """The live loop over one store (see the module docstring).

    Args:
        config: what to run (:class:`LoopConfig`).
        store: the open store every task writes to (the console may share it).
        publisher: where messages go (default: the in-process bus only).
        detector: an anomaly detector for the telemetry (see :data:`AnomalyDetector`); without
            one the anomalies task does not run.
    """

    def __init__(
        self,
        config: LoopConfig,
        store: Store,
        publisher: Publisher | None = None,
        *,
        detector: AnomalyDetector | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.publisher = publisher if publisher is not None else Publisher()
        self.detector = detector
        self.checkpoint = Checkpoint(store)
        self.clock = SimClock(timeconv.utc_now(), config.speed)
        self._stop = asyncio.Event()
        self._events: list[dict[str, Any]] = []
        # a window's appends to append-only streams, committed with its checkpoint (_save)
        self._pending: list[tuple[str, pa.Table, str | None]] = []
        self._elements: pa.Table | None = None
        self._refit: asyncio.Task[None] | None = None
        self._last_refit: np.datetime64 | None = None
        self._sim: PowerSimulator | None = None
        self._tasks: list[_Task] = []
        self._telemetry: _TelemetryBuffer | None = None
        self.summary = LoopSummary("", "", False, 0.0, publisher=self.publisher.target)
        self.running = False
        self.ready = asyncio.Event()

    # -- control --------------------------------------------------------------------------------
    def stop(self) -> None:
        """Ask the loop to stop after the window it is processing (safe from signal handlers)."""
        self._stop.set()

    @property
    def bus(self) -> Any:
        return self.publisher.bus

    def status(self) -> dict[str, Any]:
        """Tasks, their checkpoints and counters, for the console."""
        return {
            "running": self.running,
            "sim_time": iso(self.clock.now()),
            "speed": self.clock.speed,
            "publisher": self.publisher.target,
            "tasks": [
                {
                    "name": t.name,
                    "interval_s": t.interval_s,
                    "done_until": iso(t.done_until),
                    "runs": t.runs,
                    "seconds": round(t.seconds, 3),
                    "errors": t.errors,
                }
                for t in self._tasks
            ],
            "stored": dict(self.summary.stored),
            "published": dict(self.summary.published),
        }

    # -- main -----------------------------------------------------------------------------------
    async def run(self) -> LoopSummary:
        """Run until :meth:`stop` or until ``duration_s`` of simulated time has been processed."""
        cfg = self.config
        wall0 = time.perf_counter()
        saved = await asyncio.to_thread(self.checkpoint.load) if cfg.resume else {}
        self._last_refit = saved.pop("refit", None)
        start: np.datetime64
        if cfg.start is not None:
            start = _ns64(timeconv.to_datetime64(cfg.start))
        elif saved:
            start = _ns64(min(saved.values()))
        else:
            start = timeconv.utc_now().astype("datetime64[s]").astype("datetime64[ns]")
        self.summary.resumed = bool(saved)
        self.clock = SimClock(start, cfg.speed)
        self.summary.start = iso(start)
        end = _ns64(start + _td(cfg.duration_s)) if cfg.duration_s is not None else None

        catalog = (
            FileCatalog(cfg.catalog_source, cfg.max_objects)
            if cfg.catalog_source
            else PresetCatalog(cfg.preset or "starlink-gen1", start, cfg.max_objects, cfg.debris)
        )
        sim = PowerSimulator(cfg.telemetry_rate_hz) if cfg.telemetry_sim else None
        self._telemetry = _TelemetryBuffer(self.store, self.summary, cfg.telemetry_flush_rows)

        def task(name: str, interval: float, handler: Any) -> _Task:
            return _Task(name, interval, handler, saved.get(name, start))

        self._tasks = [task("catalog", cfg.catalog_interval_s, self._catalog_window(catalog))]
        if sim is not None:
            self._tasks.append(
                task("telemetry", cfg.telemetry_interval_s, self._telemetry_window(sim))
            )
        if cfg.flight_every_s is not None:
            from starbrain.config import settings
            from starbrain.loop.flights import FlightSource

            flights = FlightSource(
                cfg.flight_every_s,
                duration_s=cfg.flight_duration_s,
                rate_hz=cfg.flight_rate_hz,
                n_anomalies=cfg.flight_anomalies,
                detector_path=cfg.flight_detector
                or settings().data_dir / "models" / "anomaly-detector.pt",
            )
            self._tasks.append(task("flights", cfg.flight_interval_s, self._flights(flights)))
        self._tasks.append(task("conjunctions", cfg.conjunctions_interval_s, self._conjunctions))
        self._tasks.append(task("passes", cfg.passes_interval_s, self._passes))
        if self.detector is None and cfg.anomaly_detector == "robust-z":
            from starbrain.loop.detectors import RobustZDetector

            power_apid = sim.packet.apid if sim is not None else -1
            self.detector = RobustZDetector(
                source_of=lambda apid: (
                    PowerSimulator.source if apid == power_apid else f"apid-{apid}"
                ),
                # launches are scored per flight, by their own trained detector
                apids=None if cfg.flight_every_s is None else {power_apid},
            )
        self._sim = sim
        if self.detector is not None:
            self._tasks.append(task("anomalies", cfg.anomalies_interval_s, self._anomalies))

        await self.publisher.start()
        self.summary.publisher = self.publisher.target
        background: list[asyncio.Task[Any]] = []
        listener = None
        try:
            elements = await asyncio.to_thread(self.store.current_elements)
            if elements.num_rows == 0:
                elements = await asyncio.to_thread(catalog.at, start)
                result = await asyncio.to_thread(
                    self.store.append, "elements", elements, catalog.name
                )
                self.summary.stored["elements"] += result.n_new
            self._elements = elements
            if cfg.udp_port is not None:
                listener, consumer = await self._start_udp(cfg.udp_port)
                background.append(consumer)
            background.append(asyncio.create_task(self._flusher()))
            self.running = True
            await self._publish(
                "starbrain.loop",
                {
                    "kind": "started",
                    "start": self.summary.start,
                    "resumed": self.summary.resumed,
                    "objects": elements.num_rows,
                    "tasks": [t.name for t in self._tasks],
                },
            )
            await self._save(None)
            self.ready.set()
            await self._schedule(end)
        finally:
            self.running = False
            self.ready.set()
            if listener is not None:
                await listener.close()
            for job in background:
                if job.get_name() == "udp":
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(job, 10)
                else:
                    job.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await job
            await self._telemetry.flush()
            if self._refit is not None:
                with contextlib.suppress(Exception):
                    await self._refit
            now = self.clock.now()
            self.summary.end = iso(now if end is None or now < end else end)
            self.summary.wall_s = time.perf_counter() - wall0
            self.summary.tasks = {
                t.name: {
                    "runs": t.runs,
                    "done_until": iso(t.done_until),
                    "seconds": round(t.seconds, 3),
                    "errors": t.errors,
                }
                for t in self._tasks
            }
            with contextlib.suppress(Exception):
                await self._publish(
                    "starbrain.loop",
                    {
                        "kind": "stopped",
                        "tasks": self.summary.tasks,
                        "stored": dict(self.summary.stored),
                    },
                )
            await self._save(None)
            await self.publisher.close()
        return self.summary

    async def _schedule(self, end: np.datetime64 | None) -> None:
        while not self._stop.is_set():
            task = min(self._tasks, key=lambda t: t.due)  # first in list order on ties
            if end is not None and task.due > end:
                if self.clock.speed and self.clock.now() < end:
                    await self.clock.sleep_until(end, self._stop)
                return
            if not await self.clock.sleep_until(task.due, self._stop):
                return
            a, b = task.done_until, task.due
            t0 = time.perf_counter()
            try:
                await task.handler(a, b)
            except Exception as exc:  # one failed window must not stop the service
                task.errors += 1
                log.exception("loop task %s failed for %s..%s", task.name, iso(a), iso(b))
                await self._alert(
                    "task-failed",
                    f"{task.name} failed for {iso(a)}..{iso(b)}: {type(exc).__name__}: {exc}",
                    task=task.name,
                )
            task.seconds += time.perf_counter() - t0
            task.runs += 1
            task.done_until = b
            await self._save(task)

    def _defer(self, stream: str, table: pa.Table, source: str | None = None) -> None:
        """Queue a window's rows for an append-only stream: :meth:`_save` stores them in the
        transaction that advances the task's checkpoint, so a kill either keeps the window
        whole or redoes it without a duplicate row."""
        if table.num_rows:
            self._pending.append((stream, table, source))

    async def _save(self, task: _Task | None) -> None:
        """Store the window's queued rows, its published messages and the task's checkpoint
        in one transaction (all or nothing)."""
        events, self._events = self._events, []
        pending, self._pending = self._pending, []
        if task is not None and task.name == "telemetry" and self._telemetry is not None:
            await self._telemetry.flush()  # UDP telemetry received so far (no window of ours)

        def write() -> None:
            with self.store.transaction():
                for stream, table, source in pending:
                    self.store.append(stream, table, source)
                self.checkpoint.log(events)
                if task is not None:
                    self.checkpoint.save(task.name, task.done_until)

        await asyncio.to_thread(write)
        for stream, table, _ in pending:
            self.summary.stored[stream] += table.num_rows

    # -- publishing -----------------------------------------------------------------------------
    async def _publish(self, subject: str, message: dict[str, Any]) -> None:
        message = {"sim_time": iso(self.clock.now()), **message}
        await self.publisher.publish(subject, message)
        self._events.append({"subject": subject, **message})
        self.summary.published[subject] += 1

    async def _alert(self, kind: str, text: str, **extra: Any) -> None:
        self.summary.alerts += 1
        await self._publish("starbrain.alerts", {"kind": kind, "message": text, **extra})

    # -- tasks ----------------------------------------------------------------------------------
    def _catalog_window(
        self, catalog: PresetCatalog | FileCatalog
    ) -> Callable[[np.datetime64, np.datetime64], Awaitable[None]]:
        async def run(a: np.datetime64, b: np.datetime64) -> None:
            from starbrain.loop.worldmodel import measure_drift

            table = await asyncio.to_thread(catalog.at, b)
            previous = self._elements
            result = await asyncio.to_thread(self.store.append, "elements", table, catalog.name)
            self.summary.stored["elements"] += result.n_new
            self._elements = _merge_current(previous, table)
            epochs = table.column("epoch").to_numpy().astype("datetime64[ns]")
            await self._publish(
                "starbrain.catalog",
                {
                    "kind": "refresh",
                    "source": catalog.name,
                    "objects": self._elements.num_rows,
                    "offered": table.num_rows,
                    "new": result.n_new,
                    "newest_epoch": iso(epochs.max()),
                },
            )
            if previous is None or previous.num_rows == 0 or result.n_new == 0:
                return
            drift = await asyncio.to_thread(measure_drift, previous, table)
            if drift is None:
                return
            record = {
                "kind": "drift",
                **drift.as_dict(),
                "threshold_km": self.config.drift_threshold_km,
            }
            self.summary.drift.append(record)
            await self._publish("starbrain.models", record)
            if drift.median_km > self.config.drift_threshold_km:
                busy = self._refit is not None and not self._refit.done()
                recent = self._last_refit is not None and b - self._last_refit < _td(
                    self.config.refit_cooldown_s
                )
                action = (
                    "re-fit disabled"
                    if not self.config.refit
                    else "re-fit already running"
                    if busy
                    else "re-fitted recently"
                    if recent
                    else "re-fitting the world model"
                )
                await self._alert(
                    "model-drift",
                    f"orbit predictions drifted {drift.median_km:.2f} km (median over "
                    f"{drift.n} objects) > {self.config.drift_threshold_km:g} km: {action}",
                    **drift.as_dict(),
                )
                if self.config.refit and not busy and not recent:
                    self._last_refit = b
                    await asyncio.to_thread(self.checkpoint.save, "refit", b)
                    self._refit = asyncio.create_task(self._refit_job(record))

        return run

    async def _refit_job(self, trigger: dict[str, Any]) -> None:
        from starbrain.loop.worldmodel import refit_orbit_model

        cfg = self.config
        elements = self._elements
        if elements is None:
            return
        try:
            metrics = await asyncio.to_thread(
                refit_orbit_model,
                self.store,
                elements,
                name=cfg.model_name,
                n_objects=cfg.refit_objects,
                epochs=cfg.refit_epochs,
                trigger={k: v for k, v in trigger.items() if k != "kind"},
            )
        except Exception as exc:
            log.exception("world-model re-fit failed")
            await self._alert("refit-failed", f"re-fit of {cfg.model_name} failed: {exc}")
            return
        record = {"kind": "refit", "model": cfg.model_name, **metrics}
        self.summary.refits.append(record)
        await self._publish("starbrain.models", record)

    def _telemetry_window(
        self, sim: PowerSimulator
    ) -> Callable[[np.datetime64, np.datetime64], Awaitable[None]]:
        async def run(a: np.datetime64, b: np.datetime64) -> None:
            assert self._telemetry is not None
            batches = [x for x in await asyncio.to_thread(sim.window, a, b) if x.num_rows]
            rows = sum(x.num_rows for x in batches)
            if batches:
                self._defer("telemetry", pa.Table.from_batches(batches))
            stats = sim.decoder.stats
            await self._publish(
                "starbrain.telemetry",
                {
                    "kind": "window",
                    "source": sim.source,
                    "from": iso(a),
                    "to": iso(b),
                    "rows": rows,
                    "packets": stats.packets,
                    "errors": stats.n_errors,
                },
            )

        return run

    def _flights(self, source: Any) -> Callable[[np.datetime64, np.datetime64], Awaitable[None]]:
        async def run(a: np.datetime64, b: np.datetime64) -> None:
            from starbrain.store.streams import STREAMS

            w = await asyncio.to_thread(source.window, a, b)
            self._defer("telemetry", w.telemetry)
            for flight_id in w.launched:
                await self._publish(
                    "starbrain.telemetry", {"kind": "lift-off", "source": flight_id}
                )
            for flight_id, found, injected in w.landed:
                if "anomalies" in STREAMS:
                    self._defer("anomalies", found, flight_id)
                labels = found.column("label").to_pylist()
                hits = sorted({x for x in labels if x})
                await self._publish(
                    "starbrain.anomalies",
                    {
                        "kind": "flight",
                        "source": flight_id,
                        "count": found.num_rows,
                        "injected": injected,
                        "matched_labels": hits,
                        "detector": source.detector() is not None,
                    },
                )
                if found.num_rows:
                    await self._alert(
                        "anomaly",
                        f"{found.num_rows} anomalies in {flight_id} ({injected} injected; "
                        f"found kinds: {', '.join(hits) or 'none labelled'})",
                        source=flight_id,
                    )

        return run

    async def _conjunctions(self, a: np.datetime64, b: np.datetime64) -> None:
        from starbrain.planners.conjunctions import screen

        elements = self._elements
        if elements is None or elements.num_rows < 2:
            return
        cfg = self.config
        t0 = a + _td(cfg.conjunctions_lookahead_s)
        days = float((b - a).astype(np.int64)) / NS / 86400.0
        table, _ = await asyncio.to_thread(
            lambda: screen(elements, start=t0, days=days, threshold_km=cfg.threshold_km)
        )
        self._defer("conjunctions", table, "loop:screening")
        top = table.sort_by([("miss_distance_km", "ascending")]).slice(0, 5)
        rows = _conjunction_rows(top)
        await self._publish(
            "starbrain.conjunctions",
            {
                "kind": "screening",
                "from": iso(t0),
                "to": iso(t0 + (b - a)),
                "objects": elements.num_rows,
                "threshold_km": cfg.threshold_km,
                "count": table.num_rows,
                "closest": rows,
            },
        )
        miss = table.column("miss_distance_km").to_numpy()
        pc = table.column("collision_probability").to_numpy()
        hot = np.flatnonzero((pc >= cfg.alert_pc) | (miss <= cfg.alert_miss_km))
        for row in _conjunction_rows(table.take(pa.array(hot[np.argsort(miss[hot])][:10]))):
            await self._alert(
                "conjunction",
                f"NORAD {row['norad_id_1']} and {row['norad_id_2']} pass {row['miss_km']:.3f} km "
                f"apart at {row['tca']} (Pc {row['pc']:.2e})",
                **row,
            )

    async def _passes(self, a: np.datetime64, b: np.datetime64) -> None:
        from starbrain.planners.passes import (
            KNOWN_STATIONS,
            find_passes,
            parse_station,
            sgp4_propagator,
        )

        elements = self._elements
        if elements is None or elements.num_rows == 0:
            return
        cfg = self.config
        try:
            stations = (
                [parse_station(s, KNOWN_STATIONS) for s in cfg.stations]
                if cfg.stations
                else list(KNOWN_STATIONS.values())
            )
        except ValueError as exc:
            raise StarbrainError(str(exc)) from None
        t0 = a + _td(cfg.passes_lookahead_s)
        t1 = t0 + (b - a)
        found = await asyncio.to_thread(
            find_passes,
            sgp4_propagator(elements),
            elements.column("norad_id").to_numpy(),
            stations,
            t0,
            t1,
            min_elevation_deg=cfg.min_elevation_deg,
        )
        # a pass belongs to the window its rise falls in (cut passes: its culmination)
        key = np.where(np.isnat(found.rise), found.culminate, found.rise)
        mine = np.flatnonzero((key >= t0) & (key < t1))
        order = mine[np.argsort(key[mine], kind="stable")]
        per_station = Counter(str(s) for s in found.station[order])
        await self._publish(
            "starbrain.passes",
            {
                "kind": "plan",
                "from": iso(t0),
                "to": iso(t1),
                "min_elevation_deg": cfg.min_elevation_deg,
                "count": int(order.size),
                "per_station": dict(per_station),
                "next": [
                    {
                        "norad_id": int(found.norad_id[k]),
                        "station": str(found.station[k]),
                        "rise": None if np.isnat(found.rise[k]) else iso(found.rise[k]),
                        "max_elevation_deg": round(float(found.max_elevation_deg[k]), 2),
                    }
                    for k in order[:5]
                ],
            },
        )

    async def _anomalies(self, a: np.datetime64, b: np.datetime64) -> None:
        from starbrain.store.streams import STREAMS

        assert self.detector is not None
        if self._telemetry is not None:
            await self._telemetry.flush()
        telemetry = await asyncio.to_thread(
            self.store.read,
            "telemetry",
            where="time >= ? AND time < ?",
            params=[_naive(a), _naive(b)],
        )
        if telemetry.num_rows == 0:
            return
        found = await asyncio.to_thread(self.detector, telemetry, a, b)
        if found.num_rows and self._sim is not None:
            found = _label_injected(found, self._sim, a, b)
        if "anomalies" in STREAMS:
            self._defer("anomalies", found, "loop:anomalies")
        rows = [
            {
                "source": r["source"],
                "parameter": r["parameter"],
                "start": iso(np.datetime64(r["start"].replace(tzinfo=None), "ns")),
                "score": round(float(r["score"]), 3),
                "method": r["method"],
            }
            for r in found.slice(0, 20).to_pylist()
        ]
        await self._publish(
            "starbrain.anomalies",
            {
                "kind": "window",
                "from": iso(a),
                "to": iso(b),
                "count": found.num_rows,
                "found": rows,
            },
        )
        for r in rows[:5]:
            await self._alert(
                "anomaly", f"{r['parameter']} of {r['source']} anomalous from {r['start']}", **r
            )

    # -- telemetry over UDP ---------------------------------------------------------------------
    async def _start_udp(self, port: int) -> tuple[Any, asyncio.Task[None]]:
        from starbrain.sources.ccsds import PacketDecoder
        from starbrain.sources.packets import load_example_definitions
        from starbrain.sources.telemetry_io import UdpListener

        decoder = PacketDecoder(load_example_definitions(), source=f"udp://127.0.0.1:{port}")
        listener = UdpListener(decoder, "127.0.0.1", port)
        self.summary.udp_address = await listener.start()
        buffer = self._telemetry
        assert buffer is not None

        async def consume() -> None:
            async with contextlib.aclosing(listener.batches()) as stream:
                async for batches in stream:
                    await buffer.add(batches)

        return listener, asyncio.create_task(consume(), name="udp")

    async def _flusher(self) -> None:
        while True:
            await asyncio.sleep(self.config.telemetry_flush_s)
            if self._telemetry is not None:
                await self._telemetry.flush()


def _merge_current(previous: pa.Table | None, new: pa.Table) -> pa.Table:
    """The newest element set per object after ``new`` arrived (as the store's current view)."""
    import pyarrow.compute as pc

    if previous is None or previous.num_rows == 0:
        both = new
    else:
        both = pa.concat_tables([previous, new.cast(previous.schema)])
    ids = both.column("norad_id").to_numpy()
    epochs = both.column("epoch").to_numpy().astype("datetime64[ns]").astype(np.int64)
    order = np.lexsort((-epochs, ids))  # per object, newest first
    first = np.ones(order.size, dtype=bool)
    first[1:] = ids[order][1:] != ids[order][:-1]
    current = both.take(pa.array(order[first]))
    return current.take(pc.sort_indices(current, [("norad_id", "ascending")]))


def _label_injected(
    found: pa.Table, sim: PowerSimulator, a: np.datetime64, b: np.datetime64
) -> pa.Table:
    """Label the detections on the simulator's battery temperature that overlap an excursion it
    injected (the truth a simulated source knows)."""
    margin = np.timedelta64(int(sim.anomaly_duration_s * 2e9), "ns")
    windows = injected_anomalies(
        a - margin, b + margin, sim.anomaly_every_s, sim.anomaly_duration_s
    )
    starts = found.column("start").to_numpy().astype("datetime64[ns]")
    ends = found.column("end").to_numpy().astype("datetime64[ns]")
    params = found.column("parameter").to_pylist()
    sources = found.column("source").to_pylist()
    labels = found.column("label").to_pylist()
    for i in range(found.num_rows):
        if sources[i] == sim.source and params[i] == "battery_temperature":
            if any(s0 <= ends[i] and starts[i] <= e0 for s0, e0 in windows):
                labels[i] = "battery-temperature-excursion"
    return found.set_column(
        found.schema.get_field_index("label"),
        found.schema.field("label"),
        pa.array(labels, pa.string()),
    )


_naive = timeconv.naive_utc  # a UTC instant for DuckDB's TIMESTAMP_NS parameters (us)


def _conjunction_rows(table: pa.Table) -> list[dict[str, Any]]:
    if table.num_rows == 0:
        return []
    tca = table.column("tca").to_numpy().astype("datetime64[ns]")
    return [
        {
            "norad_id_1": int(n1),
            "norad_id_2": int(n2),
            "tca": iso(t),
            "tca_ns": int(t.astype(np.int64)),
            "miss_km": round(float(m), 4),
            "relative_speed_kmps": round(float(v), 4),
            "pc": float(p),
        }
        for n1, n2, t, m, v, p in zip(
            table.column("norad_id_1").to_pylist(),
            table.column("norad_id_2").to_pylist(),
            tca,
            table.column("miss_distance_km").to_pylist(),
            table.column("relative_speed_kmps").to_pylist(),
            table.column("collision_probability").to_pylist(),
            strict=True,
        )
    ]
