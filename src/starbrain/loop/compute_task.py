"""The loop's ``compute`` task (issue #18): GPU-fleet telemetry in, the thermal world model
forecasting and drift-checked per coolant loop, a degrading pump alerted and re-fitted, and the
power-capped schedule re-planned with the telemetry.

Each window ``[a, b)`` of ``compute_interval_s`` simulated seconds:

1. the GPU data-centre simulator (:mod:`starbrain.sources.compute.simulator`: ``compute_gpus``
   GPUs, 32 a rack, one coolant loop per rack, seeded by ``compute_seed``) advances over the
   window at 1 Hz and its samples go in the ``compute`` stream in the window's transaction;
   the pump of loop ``compute_pump_fault_loop`` degrades (``compute_pump_fault_per_h`` of its
   flow lost per hour) from ``compute_pump_fault_after_s`` simulated seconds after the
   configured ``start`` (without one, after this process's first window);
2. the thermal world model (:mod:`starbrain.models.compute_model`: three-node RC prior plus
   residual ensemble, state die / HBM / plate temperature, inputs power, inlet temperature,
   coolant flow) forecasts each 60-s stretch of the window from its first sample and the
   measured inputs (``forecast_rmse_c``: die temperature at 60 s, deg C), and is drift-checked
   on each coolant loop's GPUs (``models.dynamics.drift_check``: the standardised one-step error
   over ``compute_drift_factor`` times the validation baseline, or more than half the inputs
   out of the training distribution, which is how a pump losing flow shows first);
3. each drifted loop raises an alert on ``starbrain.alerts``: ``kind`` "compute-drift",
   ``model`` the registry name, ``channel`` the worst state (for example
   "compute.gpu_temp_c"), ``sigma`` its RMS standardised one-step error (in the model's
   predicted standard deviations), ``loop``, ``flow_lpm`` (the loop's mean coolant flow at the
   window's end) and ``ood_fraction``; and the model is re-fitted on the window's telemetry and
   registered as ``compute_model`` (metrics: reason "drift", loops, ratios), at most once per
   ``compute_refit_cooldown_s`` simulated seconds;
4. the power-capped schedule (:func:`starbrain.planners.power_schedule.plan_schedule`, policy
   "starbrain") is re-planned with the telemetry: one job per simulated training job, its GPUs
   and uncapped draw (the 95th percentile of its GPUs' power over the window) measured, its
   remaining work ``compute_horizon_s`` at full power, the site budget ``compute_budget_frac``
   of the uncapped draw and a ramp limit of 5% of it a minute (at least the largest job's
   uncapped draw, so that a small site's jobs can start at all). The plan is not applied to
   the simulated GPUs (a power limit is an NVML setting this loop never changes; and the
   thermal model, trained on uncapped telemetry, would see capped power as drift on every
   loop). There is no stream for schedules:
   the plan (limits, starts, energy, peak power) is published on ``starbrain.compute`` (kind
   "compute-window"), which the store's ``loop_events`` log keeps.

The world model: the newest ``compute_model`` in the store; with none, it is fitted on the first
window's telemetry (so the pump fault must start after it) and registered (reason "initial").
After a restart the simulator is re-run from the configured start to the window (without the
power limits planned before the restart; a few tenths of a second per simulated hour for 64
GPUs). CPU: a window of 64 GPUs x 300 s simulates in about 0.3 s and checks in about 1 s; a
fit takes 15-40 s on the shared 2-core machine. Off by default.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import numpy as np

__all__ = ["ComputeTask", "compute_tasks"]

log = logging.getLogger("starbrain.loop")
WARMUP_S = 60  # the plate observer's warm-up before each window's first transition
HORIZON_STEPS = 60  # forecast and drift-check windows, 1 Hz
GPUS_PER_RACK = 32


class ComputeTask:
    """One ``compute`` task over a :class:`~starbrain.loop.service.LoopService` (see the
    module)."""

    def __init__(self, service: Any) -> None:
        self.service = service
        self.cfg = service.config
        self.fleet: Any = None
        self.first: np.datetime64 | None = None
        self.tail: dict[str, np.ndarray] = {}  # the last WARMUP_S samples before the window
        self.model: Any = None
        self.last_refit: np.datetime64 | None = None

    # -- the simulator --------------------------------------------------------------------------
    def _fleet_config(self) -> Any:
        from starbrain.sources.compute.simulator import FleetConfig

        cfg = self.cfg
        return FleetConfig(
            n_racks=cfg.compute_gpus // GPUS_PER_RACK, racks_per_loop=1, seed=cfg.compute_seed,
            pump_fault_loop=cfg.compute_pump_fault_loop,
            pump_fault_start_s=cfg.compute_pump_fault_after_s,
            pump_fault_per_h=cfg.compute_pump_fault_per_h,
        )  # fmt: skip

    def _advance(self, n: int) -> dict[str, np.ndarray]:
        """``n`` steps of the fleet: metrics ``(n, n_gpu)`` by schema column name."""
        out: dict[str, list[np.ndarray]] = {}
        for _ in range(n):
            for k, v in self.fleet.step().items():
                out.setdefault(k, []).append(np.array(v, copy=True))
        return {k: np.stack(v) for k, v in out.items()}

    def _simulate(self, a: np.datetime64, b: np.datetime64) -> tuple[Any, dict[str, np.ndarray]]:
        """The window's samples as ``compute`` rows and, with the warm-up tail before them,
        the metrics ``(WARMUP_S + n, n_gpu)`` (fewer at the first window)."""
        from starbrain.sources.compute.simulator import Fleet, Recording

        assert self.first is not None
        sec = np.timedelta64(1, "s")
        if self.fleet is None:  # a fresh process: re-run the fleet up to the window
            self.fleet = Fleet(self._fleet_config())
            skip = int((a - self.first) // sec)
            if skip > 0:
                before = self._advance(skip)
                self.tail = {k: v[-WARMUP_S:] for k, v in before.items()}
        t0 = self.fleet.t_s
        m = self._advance(int((b - a) // sec))
        fl = self.fleet
        rec = Recording(fl.cfg, t0 + np.arange(1, len(m["power_w"]) + 1) * fl.cfg.dt_s, m,
                        fl.job, fl.node, fl.rack, fl.loop)  # fmt: skip
        table = rec.to_table(start_ns=int(self.first.astype("datetime64[ns]").astype(np.int64)))
        full = {k: np.concatenate([self.tail[k], v]) if self.tail else v for k, v in m.items()}
        self.tail = {k: v[-WARMUP_S:] for k, v in full.items()}
        return table, full

    # -- the model ------------------------------------------------------------------------------
    def _data(self, metrics: dict[str, np.ndarray], gpus: np.ndarray) -> Any:
        from starbrain.models.compute_model import compute_trajectories
        from starbrain.physics.thermal import PlateRCPrior

        theta = PlateRCPrior().theta_default().tolist()
        n = len(metrics["power_w"])
        warm = WARMUP_S if n - 1 - WARMUP_S >= HORIZON_STEPS else 0
        return compute_trajectories(metrics, gpus, 1.0, HORIZON_STEPS, theta, warmup_steps=warm)

    def _fit(self, metrics: dict[str, np.ndarray], reason: dict[str, Any]) -> Any:
        import torch

        from starbrain.models.compute_model import fit_compute_model
        from starbrain.models.dynamics import register_world_model

        torch.manual_seed(self.cfg.compute_seed)
        data = self._data(metrics, np.arange(self.fleet.job.size))
        cm = fit_compute_model(data)
        store = self.service.store
        with store.transaction():
            register_world_model(store, self.cfg.compute_model, cm.model, data, metrics=reason)
        return cm.model

    def _forecast_rmse(self, data: Any) -> float:
        """Die-temperature error (deg C, RMS over windows) 60 s after each window's start."""
        x, _ = self.model.rollout(data.x[:, 0], data.u)
        return float((x[:, -1, 0] - data.x[:, -1, 0]).double().pow(2).mean().sqrt())

    def _check(self, metrics: dict[str, np.ndarray], b: np.datetime64) -> dict[str, Any]:
        """Forecast, per-loop drift check and (on drift, outside the cool-down) a re-fit."""
        from starbrain.core.errors import StarbrainError
        from starbrain.loop.drift_channels import channel_sigmas
        from starbrain.models.dynamics import drift_check, load_world_model

        cfg, fl = self.cfg, self.fleet
        if self.model is None:
            try:
                self.model = load_world_model(self.service.store, cfg.compute_model)[0]
            except StarbrainError:
                self.model = self._fit(metrics, {"reason": "initial"})
                return {"fitted": "initial", "drifted": [], "forecast_rmse_c": None}
        out: dict[str, Any] = {"drifted": [], "fitted": None}
        out["forecast_rmse_c"] = self._forecast_rmse(self._data(metrics, np.arange(fl.job.size)))
        names = ("gpu_temp_c", "memory_temp_c", "plate_temp_c")
        for lp in range(fl.cfg.n_loops):
            gpus = np.flatnonzero(fl.loop == lp)
            data = self._data(metrics, gpus)
            rep = drift_check(self.model, data, cfg.compute_drift_factor)
            if rep.drifted:
                channel, sigma = next(iter(channel_sigmas(self.model, data, names).items()))
                out["drifted"].append({
                    "loop": lp, "drift_ratio": rep.ratio, "ood_fraction": rep.ood_fraction,
                    "channel": f"compute.{channel}", "sigma": sigma,
                    "flow_lpm": float(metrics["coolant_flow_lpm"][-1, gpus].mean()),
                })  # fmt: skip
        cool = np.timedelta64(int(cfg.compute_refit_cooldown_s * 1e9), "ns")
        if out["drifted"] and (self.last_refit is None or b - self.last_refit >= cool):
            why = {"reason": "drift", "loops": out["drifted"]}
            self.model, self.last_refit, out["fitted"] = self._fit(metrics, why), b, "drift"
        return out

    # -- the schedule ---------------------------------------------------------------------------
    def _replan(self, metrics: dict[str, np.ndarray]) -> dict[str, Any]:
        """Plan the simulated jobs' power limits and starts from the window's telemetry."""
        from starbrain.planners.power_schedule import Jobs, Site, evaluate_schedule, plan_schedule

        cfg, fl = self.cfg, self.fleet
        ids = np.unique(fl.job[fl.job >= 0])
        p95 = np.percentile(metrics["power_w"][-int(cfg.compute_interval_s) :], 95, axis=0)
        n = np.array([np.sum(fl.job == j) for j in ids], float)
        demand = np.array([p95[fl.job == j].mean() for j in ids]).clip(100.0, fl.cfg.p_tdp_w)
        k = ids.size
        jobs = Jobs(n, np.full(k, cfg.compute_horizon_s), demand, np.full(k, 0.4),
                    np.full(k, np.inf), np.zeros(k))  # fmt: skip
        draw = n * (demand + 90.0)  # W per job, uncapped (90 W a GPU not capped: Site default)
        full = float(draw.sum())
        ramp = max(0.05 * full, 1.01 * float(draw.max()))  # W a minute; a small site: one job
        site = Site(budget_w=cfg.compute_budget_frac * full, ramp_w_per_s=ramp / 60.0)
        plan = plan_schedule(jobs, site, "starbrain")
        ev = evaluate_schedule(jobs, site, plan)
        nocap = evaluate_schedule(jobs, site, plan_schedule(jobs, site, "nocap"))
        return {
            "jobs": [f"job{j}" for j in ids.tolist()],
            "power_limit_w": [round(float(v), 1) for v in plan.power_limit_w],
            "start_s": [round(float(v), 1) for v in plan.start_s],
            "budget_w": round(site.budget_w, 1),
            **{key: v for key, v in ev.items() if key != "policy"},
            "nocap_energy_mwh": nocap["energy_mwh"],
            "nocap_makespan_s": nocap["makespan_s"],
        }

    # -- the window -----------------------------------------------------------------------------
    async def window(self, a: np.datetime64, b: np.datetime64) -> None:
        cfg, svc = self.cfg, self.service
        if self.first is None:  # the run's configured start survives a restart; "now" does not
            self.first = np.datetime64(cfg.start.rstrip("Z"), "ns") if cfg.start else a
        table, metrics = await asyncio.to_thread(self._simulate, a, b)
        svc._defer("compute", table, "loop-compute")
        res = await asyncio.to_thread(self._check, metrics, b)
        plan = await asyncio.to_thread(self._replan, metrics)
        for d in res["drifted"]:
            await svc._alert(
                "compute-drift",
                f"coolant loop {d['loop']}: thermal model off its training data "
                f"({d['ood_fraction']:.0%} of inputs out of distribution, flow "
                f"{d['flow_lpm']:.2f} L/min), worst {d['channel']} at {d['sigma']:.1f} sigma"
                + (f"; re-fitted and registered as {cfg.compute_model}" if res["fitted"] else ""),
                model=cfg.compute_model,
                channel=d["channel"],
                sigma=round(float(d["sigma"]), 3),
                loop=d["loop"],
                flow_lpm=round(d["flow_lpm"], 4),
                ood_fraction=round(float(d["ood_fraction"]), 3),
                drift_ratio=round(float(d["drift_ratio"]), 3),
                refitted=res["fitted"] == "drift",
            )
        fc = res["forecast_rmse_c"]
        await svc._publish(
            "starbrain.compute",
            {
                "kind": "compute-window",
                "rows": table.num_rows,
                "model": cfg.compute_model,
                "fitted": res["fitted"],
                "forecast_rmse_c": None if fc is None else round(fc, 4),
                "drifted_loops": [d["loop"] for d in res["drifted"]],
                "plan": plan,
            },
        )


def compute_tasks(service: Any, task: Any) -> list[Any]:
    """The ``compute`` scheduled task when ``compute_sim`` is set, else none."""
    if not service.config.compute_sim:
        return []
    return [task("compute", service.config.compute_interval_s, ComputeTask(service).window)]
