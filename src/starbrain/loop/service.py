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
from starbrain.loop.clock import ScheduledTask, SimClock, iso, ns64, td
from starbrain.loop.config import LoopConfig
from starbrain.loop.fleet_tasks import fleet_tasks
from starbrain.loop.publish import Publisher
from starbrain.loop.simulators import FileCatalog, PowerSimulator, PresetCatalog
from starbrain.loop.tables import TelemetryBuffer, conjunction_rows, label_injected, merge_current
from starbrain.store.database import Store

__all__ = ["AnomalyDetector", "LoopService", "LoopSummary", "SimClock", "iso"]

log = logging.getLogger("starbrain.loop")
#: ``detector(telemetry, window_start, window_stop) -> anomalies`` (``ANOMALIES_SCHEMA`` table)
AnomalyDetector = Callable[[pa.Table, np.datetime64, np.datetime64], pa.Table]


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
        self._closers: list[Callable[[], Awaitable[None]]] = []  # fleet tasks' (posts_task)
        self._events: list[dict[str, Any]] = []
        # a window's appends to append-only streams, committed with its checkpoint (_save)
        self._pending: list[tuple[str, pa.Table, str | None]] = []
        self._elements: pa.Table | None = None
        self._refit: asyncio.Task[None] | None = None
        self._last_refit: np.datetime64 | None = None
        self._sim: PowerSimulator | None = None
        self._tasks: list[ScheduledTask] = []
        self._telemetry: TelemetryBuffer | None = None
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
        start = _start_time(cfg, saved)
        self.summary.resumed = bool(saved)
        self.clock = SimClock(start, cfg.speed)
        self.summary.start = iso(start)
        end = ns64(start + td(cfg.duration_s)) if cfg.duration_s is not None else None
        catalog = self._build_tasks(start, saved)

        await self.publisher.start()
        self.summary.publisher = self.publisher.target
        background: list[asyncio.Task[Any]] = []
        listener = None
        try:
            elements = await self._initial_elements(catalog, start)
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
            await self._shut_down(listener, background)
            now = self.clock.now()
            self.summary.end = iso(now if end is None or now < end else end)
            self.summary.wall_s = time.perf_counter() - wall0
            await self._report_stopped()
        return self.summary

    def _build_tasks(
        self, start: np.datetime64, saved: dict[str, np.datetime64]
    ) -> PresetCatalog | FileCatalog:
        """The scheduled tasks the config asks for, each resuming at its checkpoint in ``saved``
        (else at ``start``), in the order that breaks ties between windows due at once; returns
        the catalogue source. Also builds the telemetry buffer, the housekeeping simulator and,
        for ``anomaly_detector = "robust-z"``, the default detector."""
        cfg = self.config
        catalog = (
            FileCatalog(cfg.catalog_source, cfg.max_objects)
            if cfg.catalog_source
            else PresetCatalog(cfg.preset or "starlink-gen1", start, cfg.max_objects, cfg.debris)
        )
        sim = PowerSimulator(cfg.telemetry_rate_hz) if cfg.telemetry_sim else None
        self._telemetry = TelemetryBuffer(self.store, self.summary.stored, cfg.telemetry_flush_rows)

        def task(name: str, interval: float, handler: Any) -> ScheduledTask:
            return ScheduledTask(name, interval, handler, saved.get(name, start))

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
        self._tasks += fleet_tasks(self, task)  # posts, arm (loop.fleet_tasks)
        self._sim = sim
        if self.detector is not None:
            self._tasks.append(task("anomalies", cfg.anomalies_interval_s, self._anomalies))
        return catalog

    async def _initial_elements(
        self, catalog: PresetCatalog | FileCatalog, start: np.datetime64
    ) -> pa.Table:
        """The store's current element sets; an empty store is seeded from ``catalog`` at
        ``start`` first."""
        elements = await asyncio.to_thread(self.store.current_elements)
        if elements.num_rows == 0:
            elements = await asyncio.to_thread(catalog.at, start)
            result = await asyncio.to_thread(self.store.append, "elements", elements, catalog.name)
            self.summary.stored["elements"] += result.n_new
        self._elements = elements
        return elements

    async def _shut_down(self, listener: Any, background: list[asyncio.Task[Any]]) -> None:
        """Close the UDP listener and let its consumer drain (10 s at most), cancel the other
        background jobs, store buffered telemetry and wait for a running re-fit."""
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
        await asyncio.gather(*(close() for close in self._closers), return_exceptions=True)
        assert self._telemetry is not None
        await self._telemetry.flush()
        if self._refit is not None:
            with contextlib.suppress(Exception):
                await self._refit

    async def _report_stopped(self) -> None:
        """Per-task counters into the summary, the "stopped" message, the last checkpoint, and
        the publisher closed."""
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

    async def _save(self, task: ScheduledTask | None) -> None:
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
            self._elements = merge_current(previous, table)
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
                recent = self._last_refit is not None and b - self._last_refit < td(
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
            from starbrain.loop.detectors import alert_payloads
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
                        # model, channel, sigmas out and console link per event (first 20)
                        "alerts": alert_payloads(found),
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
        t0 = a + td(cfg.conjunctions_lookahead_s)
        days = float((b - a).astype(np.int64)) / NS / 86400.0
        table, _ = await asyncio.to_thread(
            lambda: screen(elements, start=t0, days=days, threshold_km=cfg.threshold_km)
        )
        self._defer("conjunctions", table, "loop:screening")
        top = table.sort_by([("miss_distance_km", "ascending")]).slice(0, 5)
        rows = conjunction_rows(top)
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
        for row in conjunction_rows(table.take(pa.array(hot[np.argsort(miss[hot])][:10]))):
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
        t0 = a + td(cfg.passes_lookahead_s)
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
            params=[timeconv.naive_utc(a), timeconv.naive_utc(b)],
        )
        if telemetry.num_rows == 0:
            return
        found = await asyncio.to_thread(self.detector, telemetry, a, b)
        if found.num_rows and self._sim is not None:
            found = label_injected(found, self._sim, a, b)
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
        from starbrain.sources.telemetry.ccsds import PacketDecoder
        from starbrain.sources.telemetry.packets import load_example_definitions
        from starbrain.sources.transport.udp import UdpListener

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


def _start_time(cfg: LoopConfig, saved: dict[str, np.datetime64]) -> np.datetime64:
    """Where the run starts: the configured ``start``, else the earliest checkpoint of a
    resumed run, else now (UTC, whole seconds)."""
    if cfg.start is not None:
        return ns64(timeconv.to_datetime64(cfg.start))
    if saved:
        return ns64(min(saved.values()))
    return timeconv.utc_now().astype("datetime64[s]").astype("datetime64[ns]")
