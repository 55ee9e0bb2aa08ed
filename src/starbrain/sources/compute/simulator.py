"""A GPU data-centre simulator: racks, nodes, GPUs, coolant loops and a site feed, emitting the
``compute`` stream's metrics.

Layout: ``n_racks`` racks of ``nodes_per_rack`` nodes of ``gpus_per_node`` GPUs; every
``racks_per_loop`` racks share a coolant loop (one CDU and pump). Each GPU's temperatures follow
the three-node truth of ``thermal_truth`` with the loop's supply temperature and flow; the
CDU's supply temperature rises with the loop's heat (first order, 120 s).

Power follows the job each GPU runs: training iterations (compute at full activity, then a
collective wait at 40%), and every few minutes a checkpoint stall near idle, synchronised over
all GPUs of the job so thousands swing together. A per-GPU power limit caps the draw (and slows
the clock). Faults: a pump degrading (its loop's flow falls linearly from a start time) and a
fan/cold-plate degrading on one node (its resistances grow, optionally with a step at
``fan_fault_start_s``: a fan that stops). :func:`fault_labels` writes them as a fault table
(``sources.faults.FAULT_SCHEMA``, kinds ``pump_degrading`` and ``fan_failure``, one row per
affected GPU).

Everything is vectorised over GPUs (numpy, float64); the only Python loop is over time steps.
Units as in the ``compute`` schema: W, deg C, L/min, MHz, %, mJ; time in s from the start.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from starbrain.core.errors import StarbrainError
from starbrain.core.schemas.compute import COMPUTE_SCHEMA, THROTTLE_SW_POWER_CAP
from starbrain.sources.compute.thermal_truth import ThermalTruth, truth_step
from starbrain.sources.faults import Fault, fault_rows, fault_table

__all__ = ["Fleet", "FleetConfig", "Recording", "fault_labels", "simulate_fleet"]

ACTIVITY_COMPUTE, ACTIVITY_COMM, ACTIVITY_CKPT = 1.0, 0.4, 0.12
SM_CLOCK_MAX_MHZ, MEM_CLOCK_MHZ = 1980.0, 2619.0


@dataclass(frozen=True)
class FleetConfig:
    """The simulated site. ``pump_fault_loop``: the loop whose pump degrades from
    ``pump_fault_start_s``, losing ``pump_fault_per_h`` of its flow per hour (floored at 20%);
    ``fan_fault_node``: a node whose cooling resistances grow ``fan_fault_per_h`` per hour
    from ``fan_fault_start_s``, after a step of ``fan_fault_step`` (fraction) there."""

    n_racks: int = 8
    nodes_per_rack: int = 4
    gpus_per_node: int = 8
    racks_per_loop: int = 4
    n_jobs: int = 6
    idle_node_frac: float = 0.1
    dt_s: float = 1.0
    p_idle_w: float = 70.0
    p_tdp_w: float = 700.0
    supply_temp_c: float = 30.0
    flow_lpm: float = 2.0  # per GPU at a healthy pump
    cdu_rise_k: float = 3.0  # supply-temperature rise of a fully loaded loop
    pump_fault_loop: int | None = None
    pump_fault_start_s: float = 0.0
    pump_fault_per_h: float = 0.6
    fan_fault_node: int | None = None
    fan_fault_per_h: float = 0.5
    fan_fault_start_s: float = 0.0
    fan_fault_step: float = 0.0
    thermal: ThermalTruth = field(default_factory=ThermalTruth)
    seed: int = 0

    @property
    def n_gpus(self) -> int:
        return self.n_racks * self.nodes_per_rack * self.gpus_per_node

    @property
    def n_loops(self) -> int:
        return -(-self.n_racks // self.racks_per_loop)

    def __post_init__(self) -> None:
        for name in ("n_racks", "nodes_per_rack", "gpus_per_node", "racks_per_loop", "n_jobs"):
            if getattr(self, name) < 1:
                raise StarbrainError(f"FleetConfig.{name} must be at least 1")
        if self.dt_s <= 0:
            raise StarbrainError("FleetConfig.dt_s must be positive")


class Fleet:
    """The simulator's state; ``step()`` advances it ``cfg.dt_s`` and returns the metrics."""

    def __init__(self, cfg: FleetConfig) -> None:
        self.cfg = c = cfg
        rng = np.random.default_rng(c.seed)
        n, n_nodes = c.n_gpus, c.n_racks * c.nodes_per_rack
        self.node = np.arange(n) // c.gpus_per_node
        self.rack = self.node // c.nodes_per_rack
        self.loop = self.rack // c.racks_per_loop
        self.spread = rng.normal(1.0, 0.06, n).clip(0.8, 1.25)
        self.power_factor = rng.normal(1.0, 0.03, n).clip(0.9, 1.1)
        self.inlet_offset = rng.uniform(0.0, 1.0, n)  # manifold position
        # jobs over contiguous node blocks; idle nodes get job -1
        node_job = np.sort(rng.integers(0, c.n_jobs, n_nodes))
        node_job[rng.random(n_nodes) < c.idle_node_frac] = -1
        self.job = node_job[self.node]
        self.iter_s = rng.uniform(1.5, 4.0, c.n_jobs)
        self.comm_frac = rng.uniform(0.15, 0.35, c.n_jobs)
        self.ckpt_every_s = rng.uniform(240.0, 600.0, c.n_jobs)
        self.ckpt_s = rng.uniform(20.0, 50.0, c.n_jobs)
        self.phase0 = rng.uniform(0.0, 600.0, c.n_jobs)
        self.power_limit_w = np.full(n, c.p_tdp_w)
        self.t_s = 0.0
        t0 = c.supply_temp_c + 8.0
        self.tg, self.tp, self.tm = np.full(n, t0 + 10), np.full(n, t0), np.full(n, t0 + 5)
        self.t_supply = np.full(c.n_loops, c.supply_temp_c)
        self.energy_mj = np.zeros(n)
        self._loop_n = np.bincount(self.loop, minlength=c.n_loops)

    def activity(self, t_s: float) -> np.ndarray:
        """Per-GPU activity in [0, 1] at time ``t_s`` (0: idle, 1: compute at full power)."""
        tt = t_s + self.phase0
        in_ckpt = (tt % self.ckpt_every_s) < self.ckpt_s
        in_comm = (tt % self.iter_s) / self.iter_s > 1.0 - self.comm_frac
        a_job = np.where(in_ckpt, ACTIVITY_CKPT, np.where(in_comm, ACTIVITY_COMM, ACTIVITY_COMPUTE))
        return np.where(self.job >= 0, a_job[np.maximum(self.job, 0)], 0.0)

    def flow_factor(self, t_s: float) -> np.ndarray:
        """Per-loop pump health (1 healthy)."""
        c, f = self.cfg, np.ones(self.cfg.n_loops)
        if c.pump_fault_loop is not None:
            lost = c.pump_fault_per_h * max(0.0, t_s - c.pump_fault_start_s) / 3600.0
            f[c.pump_fault_loop] = max(0.2, 1.0 - lost)
        return f

    def step(self) -> dict[str, np.ndarray]:
        """Advance one ``dt_s``; the metrics (``(n_gpu,)`` arrays, schema column names) at the
        end of the step, ``power_w`` being the mean draw over the step."""
        c = self.cfg
        t_mid = self.t_s + 0.5 * c.dt_s
        demand = c.p_idle_w + (c.p_tdp_w - c.p_idle_w) * self.activity(t_mid) * self.power_factor
        power = np.minimum(demand, self.power_limit_w)
        ff = self.flow_factor(t_mid)
        flow = c.flow_lpm * ff[self.loop]
        q_loop = np.bincount(self.loop, weights=power, minlength=c.n_loops)
        full = self._loop_n * c.p_tdp_w
        target = c.supply_temp_c + c.cdu_rise_k * q_loop / full / ff
        self.t_supply = target + (self.t_supply - target) * np.exp(-c.dt_s / 120.0)
        t_in = self.t_supply[self.loop] + self.inlet_offset
        spread = self.spread.copy()
        if c.fan_fault_node is not None:
            on = self.t_s >= c.fan_fault_start_s
            since = max(0.0, self.t_s - c.fan_fault_start_s)  # == t_s when the start is 0
            grow = 1.0 + c.fan_fault_step * on + c.fan_fault_per_h * since / 3600.0
            spread[self.node == c.fan_fault_node] *= grow
        self.tg, self.tp, self.tm = truth_step(
            self.tg, self.tp, self.tm, power, t_in, flow, c.thermal, spread, c.dt_s
        )
        self.energy_mj = self.energy_mj + power * c.dt_s * 1e3
        self.t_s += c.dt_s
        capped = demand > self.power_limit_w
        ratio = np.where(capped, self.power_limit_w / np.maximum(demand, 1e-9), 1.0)
        return {
            "power_w": power,
            "energy_mj": self.energy_mj,
            "gpu_temp_c": self.tg,
            "memory_temp_c": self.tm,
            "sm_clock_mhz": SM_CLOCK_MAX_MHZ * ratio**0.5,
            "mem_clock_mhz": np.full(power.shape, MEM_CLOCK_MHZ),
            "gpu_util_pct": np.where(demand > c.p_idle_w + 1.0, 100.0, 0.0),
            "throttle_reasons": np.where(capped, THROTTLE_SW_POWER_CAP, 0).astype(np.uint64),
            "power_limit_w": self.power_limit_w.copy(),
            "inlet_temp_c": t_in,
            "coolant_flow_lpm": flow,
        }


@dataclass(frozen=True)
class Recording:
    """``n_time`` samples of every GPU: ``metrics[name]`` is ``(n_time, n_gpu)``;
    ``time_s`` ``(n_time,)`` is the end of each step in s from the start."""

    cfg: FleetConfig
    time_s: np.ndarray
    metrics: dict[str, np.ndarray]
    job: np.ndarray
    node: np.ndarray
    rack: np.ndarray
    loop: np.ndarray

    def gpu_ids(self) -> list[str]:
        g = self.cfg.gpus_per_node
        return [
            f"r{r:04d}-n{n:05d}-g{i % g}"
            for i, (r, n) in enumerate(zip(self.rack, self.node, strict=True))
        ]

    def to_table(self, start_ns: int = 0, gpus: Any = None) -> pa.Table:
        """The ``compute`` rows (time-major) for the GPUs ``gpus`` (indices; default all)."""
        idx = np.arange(self.job.size) if gpus is None else np.asarray(gpus)
        nt, ng = self.time_s.size, idx.size
        ids = np.asarray(self.gpu_ids(), dtype=object)[idx]
        t_ns = start_ns + np.round(self.time_s * 1e9).astype(np.int64)
        cols: dict[str, Any] = {
            "gpu_id": np.tile(ids, nt),
            "time": pa.array(np.repeat(t_ns, ng), pa.timestamp("ns", tz="UTC")),
            "node_id": np.tile(np.array([f"n{v:05d}" for v in self.node[idx]], object), nt),
            "rack_id": np.tile(np.array([f"r{v:04d}" for v in self.rack[idx]], object), nt),
            "job_id": np.tile(
                np.array([f"job{v}" if v >= 0 else None for v in self.job[idx]], object), nt
            ),
            "source": np.full(nt * ng, f"sim:seed{self.cfg.seed}", object),
        }
        for name, arr in self.metrics.items():
            cols[name] = arr[:, idx].reshape(-1)
        return pa.table({f.name: cols[f.name] for f in COMPUTE_SCHEMA}, schema=COMPUTE_SCHEMA)


def simulate_fleet(
    cfg: FleetConfig, duration_s: float, power_limit_w: np.ndarray | None = None
) -> Recording:
    """Run the fleet for ``duration_s`` s; ``power_limit_w`` ``(n_gpu,)`` optionally caps it."""
    fleet = Fleet(cfg)
    if power_limit_w is not None:
        fleet.power_limit_w = np.broadcast_to(power_limit_w, (cfg.n_gpus,)).astype(float)
    n = round(duration_s / cfg.dt_s)
    if n < 1:
        raise StarbrainError(f"duration_s {duration_s} is shorter than one step of {cfg.dt_s} s")
    out: dict[str, list[np.ndarray]] = {}
    for _ in range(n):
        for k, v in fleet.step().items():
            out.setdefault(k, []).append(
                np.asarray(v, dtype=np.uint64 if k == "throttle_reasons" else np.float64).copy()
            )
    metrics = {k: np.stack(v) for k, v in out.items()}
    t = cfg.dt_s * np.arange(1, n + 1)
    return Recording(cfg, t, metrics, fleet.job, fleet.node, fleet.rack, fleet.loop)


def fault_labels(rec: Recording, start_ns: int = 0) -> pa.Table:
    """The recording's faults as a fault table: ``pump_degrading`` on every GPU of the pump's
    loop (magnitude: flow fraction lost per hour) and ``fan_failure`` on every GPU of the fan's
    node (magnitude: the resistance step), from their start to the last sample; ``start_ns`` as
    in :meth:`Recording.to_table`."""
    c, ids = rec.cfg, rec.gpu_ids()
    last = start_ns + round(float(rec.time_s[-1]) * 1e9)
    t0 = start_ns + round(float(rec.time_s[0] - c.dt_s) * 1e9)  # the recording's time zero
    rows: list[dict[str, object]] = []
    faults: list[tuple[np.ndarray, Fault]] = []
    if c.pump_fault_loop is not None:
        f = Fault("pump_degrading", c.pump_fault_start_s, magnitude=c.pump_fault_per_h)
        faults.append((np.flatnonzero(rec.loop == c.pump_fault_loop), f))
    if c.fan_fault_node is not None:
        f = Fault("fan_failure", c.fan_fault_start_s, magnitude=c.fan_fault_step,
                  channel="cold_plate")  # fmt: skip
        faults.append((np.flatnonzero(rec.node == c.fan_fault_node), f))
    for gpus, f in faults:
        for g in gpus.tolist():
            rows += fault_rows([f], stream="compute", object_id=ids[g], run_id=None, t0_ns=t0,
                               last_ns=last, source=f"sim:seed{c.seed}")  # fmt: skip
    return fault_table(rows)
