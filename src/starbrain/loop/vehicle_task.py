"""The loop's ``vehicle`` task (issue #15): driving logs stream in, the vehicle world model is
drift-checked on each, and a drift (the road's friction dropping) triggers a re-fit that is
registered in the store.

Each window ``[a, b)`` of ``vehicle_interval_s`` simulated seconds:

1. takes the window's log segments: with ``vehicle_sim``, one ``vehicle_segment_s`` segment of
   the CommonRoad multi-body fleet simulator (:func:`starbrain.sources.driving.simulate_log`:
   car ``vehicle_id``, driver ``vehicle_driver``, starting at ``a``, seeded by
   ``vehicle_seed`` and the window number); from ``vehicle_subject`` (core NATS on
   ``vehicle_nats_url``, default ``nats_url``) and/or UDP ``127.0.0.1:vehicle_udp_port`` every
   row received since the last window, JSON Lines rows of the ``vehicle`` schema (see
   :mod:`starbrain.loop.live_rows`; ``starbrain vehicle simulate --send`` sends them); the rows
   go in the ``vehicle`` stream in the window's transaction;
2. drift-checks the model on the segments of ``vehicle_id`` (``models.dynamics.drift_check``:
   the mean standardised one-step error of speed, lateral velocity and yaw rate over
   ``vehicle_drift_factor`` times the model's validation baseline; 20-step windows at 20 Hz);
3. on drift, re-fits the residual ensemble (:func:`starbrain.models.vehicle_kinds.
   build_vehicle_model`, over the single-track prior with the car's parameters from the initial
   fit: a road change is the residual's to learn, and tyres past their peak make a parameter
   re-estimate meaningless) on the drifted segments of the last three windows, registers it as
   ``vehicle_model`` (metrics: reason "drift", window, drift ratio, channel, sigma, the
   parameters) and checks the next segments against it; and
   publishes an alert on ``starbrain.alerts``: ``kind`` "vehicle-drift", ``model`` the registry
   name, ``channel`` the worst state (for example "vehicle.yaw_rate_radps"), ``sigma`` its RMS
   standardised one-step error (in the model's predicted standard deviations), ``drift_ratio``.

Friction schedule: the simulated road's friction is ``vehicle_friction`` and becomes
``vehicle_new_friction`` for windows starting ``vehicle_change_after_s`` simulated seconds after
the configured ``start`` (without one, after this process's first window; windows are numbered
from the UTC epoch, so a restart keeps each window's drive). The world model: the newest
``vehicle_model`` in the store; with none, the residual model is fitted on two 8 s simulated
logs (sporty and weaving drivers) at ``vehicle_friction`` at the first window (about 15 s of
CPU) and registered (reason "initial"). A 6 s segment costs about 2 s of CPU to simulate; a
check, a few tenths; a re-fit, 5-10 s. Off by default.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from starbrain.loop.live_rows import live_rows

__all__ = ["VehicleTask", "vehicle_tasks"]

log = logging.getLogger("starbrain.loop")
WINDOW_STEPS = 20  # one drift-check window: 1 s at 20 Hz


def _fit_config(seed: int) -> Any:
    from starbrain.models.dynamics import FitConfig
    from starbrain.models.vehicle_model import BODY

    return FitConfig(epochs=40, patience=10, n_members=3, hidden=32, depth=2,
                     state_features=BODY, residual_dims=BODY, seed=seed)  # fmt: skip


class VehicleTask:
    """One ``vehicle`` task over a :class:`~starbrain.loop.service.LoopService` (see the
    module)."""

    def __init__(self, service: Any) -> None:
        from starbrain.core.schemas.vehicle import VEHICLE_SCHEMA

        self.service = service
        self.cfg = service.config
        self.model: Any = None
        self.params: dict[str, float] = {}  # the car's single-track parameters (initial fit)
        self.first: np.datetime64 | None = None
        self.recent: list[pa.Table] = []  # the drifted segments of the last windows
        self.live = live_rows(service, "vehicle", VEHICLE_SCHEMA)

    # -- the model ------------------------------------------------------------------------------
    def _spec(self) -> Any:
        from starbrain.sources.driving.simulator import FLEET

        return next(v for v in FLEET if v.vehicle_id == self.cfg.vehicle_id)

    def _fit(
        self, table: pa.Table, params: dict[str, float] | None = None
    ) -> tuple[Any, dict[str, Any], Any]:
        """The residual model of the configured car fitted on ``table`` (the single-track
        parameters estimated, or ``params``): model, summary, data."""
        import torch

        from starbrain.models.vehicle_kinds import build_vehicle_model
        from starbrain.models.vehicle_model import vehicle_trajectories
        from starbrain.physics.vehicles import VehicleParams
        from starbrain.sources.driving.simulator import vehicle_parameters

        spec = self._spec()
        nominal = VehicleParams.from_commonroad(vehicle_parameters(spec), spec.steering_ratio)
        torch.manual_seed(self.cfg.vehicle_seed)
        model, info = build_vehicle_model(
            "residual", table, spec.vehicle_id, nominal, _fit_config(self.cfg.vehicle_seed),
            window_steps=WINDOW_STEPS, params=params,
        )  # fmt: skip
        return model, info, vehicle_trajectories(table, WINDOW_STEPS).trajectories

    def _load_model(self) -> tuple[Any, dict[str, float]]:
        """The registered model and its single-track parameters; fitted first if none."""
        from starbrain.core.errors import StarbrainError
        from starbrain.models.dynamics import load_world_model, register_world_model
        from starbrain.physics.vehicles import THETA_NAMES
        from starbrain.sources.driving.simulator import DRIVERS, simulate_log

        store, cfg = self.service.store, self.cfg
        try:
            model = load_world_model(store, cfg.vehicle_model)[0]
            return model, {n: float(v) for n, v in zip(THETA_NAMES, model.theta, strict=True)}
        except StarbrainError:
            logs = [simulate_log(self._spec(), cfg.vehicle_friction, d, 8.0, cfg.vehicle_seed)
                    for d in DRIVERS[1:]]  # fmt: skip
            model, info, data = self._fit(pa.concat_tables(logs))
            metrics = {"reason": "initial", "params": info["params"]}
            with store.transaction():
                register_world_model(store, cfg.vehicle_model, model, data, metrics=metrics)
            return model, info["params"]

    # -- one window -----------------------------------------------------------------------------
    def _segment(self, k: int, friction: float, a: np.datetime64) -> pa.Table:
        from starbrain.sources.driving.simulator import DRIVERS, simulate_log

        cfg = self.cfg
        driver = next(d for d in DRIVERS if d.name == cfg.vehicle_driver)
        start = str(np.datetime_as_string(a, unit="ns"))
        seed = cfg.vehicle_seed * 100_003 + k
        return simulate_log(self._spec(), friction, driver, cfg.vehicle_segment_s, seed, start)

    def _check(self, table: pa.Table, k: int) -> dict[str, Any] | None:
        """Drift-check the configured car's rows of ``table``; re-fit and register on drift.
        Returns the check's summary, or None when no segment of the car was long enough."""
        from starbrain.core.errors import StarbrainError
        from starbrain.loop.drift_channels import channel_sigmas
        from starbrain.models.dynamics import drift_check, register_world_model
        from starbrain.models.vehicle_model import VEHICLE_STATE, vehicle_trajectories

        cfg = self.cfg
        rows = table.filter(pc.equal(table["vehicle_id"], cfg.vehicle_id))
        try:
            data = vehicle_trajectories(rows, WINDOW_STEPS).trajectories
        except StarbrainError as exc:
            log.warning("vehicle: window %d not checked: %s", k, exc)
            return None
        if self.model is None:
            self.model, self.params = self._load_model()
        rep = drift_check(self.model, data, cfg.vehicle_drift_factor, max_ood=1.0)
        sig = channel_sigmas(self.model, data, VEHICLE_STATE)
        channel, sigma = next(iter(sig.items()))
        out = {"window": k, "drifted": rep.drifted, "drift_ratio": rep.ratio,
               "channel": f"vehicle.{channel}", "sigma": sigma, "n": rep.n}  # fmt: skip
        if not rep.drifted:
            self.recent.clear()
            return out
        self.recent = [*self.recent[-2:], rows]
        model, _, fitted = self._fit(pa.concat_tables(self.recent), self.params)
        metrics = {"reason": "drift", "params": self.params, **out}
        register_world_model(self.service.store, cfg.vehicle_model, model, fitted, metrics=metrics)
        self.model = model
        return out

    async def window(self, a: np.datetime64, b: np.datetime64) -> None:
        cfg, svc = self.cfg, self.service
        if self.first is None:  # the run's configured start survives a restart; "now" does not
            self.first = np.datetime64(cfg.start.rstrip("Z"), "ns") if cfg.start else a
        k = int(a.astype("datetime64[s]").astype(np.int64) // int(cfg.vehicle_interval_s))
        changed = (a - self.first) / np.timedelta64(1, "s") >= cfg.vehicle_change_after_s
        friction = cfg.vehicle_new_friction if changed else cfg.vehicle_friction
        tables = []
        if cfg.vehicle_sim:
            tables.append(await asyncio.to_thread(self._segment, k, friction, a))
        if self.live is not None and (got := await self.live.poll()) is not None:
            tables.append(got)
        for t in tables:
            svc._defer("vehicle", t, "loop-vehicle")
        if not tables:
            return
        res = await asyncio.to_thread(self._check, pa.concat_tables(tables), k)
        if res is not None and res["drifted"]:
            await svc._alert(
                "vehicle-drift",
                f"{cfg.vehicle_id} window {k}: one-step error {res['drift_ratio']:.1f}x the "
                f"model's baseline, worst {res['channel']} at {res['sigma']:.1f} sigma; "
                f"re-fitted and registered as {cfg.vehicle_model}",
                model=cfg.vehicle_model,
                channel=res["channel"],
                sigma=round(float(res["sigma"]), 3),
                drift_ratio=round(float(res["drift_ratio"]), 3),
                vehicle_id=cfg.vehicle_id,
                window=k,
            )


def vehicle_tasks(service: Any, task: Any) -> list[Any]:
    """The ``vehicle`` scheduled task when the config asks for it (``vehicle_sim``,
    ``vehicle_subject`` or ``vehicle_udp_port``), else none."""
    cfg = service.config
    if not (cfg.vehicle_sim or cfg.vehicle_subject or cfg.vehicle_udp_port is not None):
        return []
    return [task("vehicle", cfg.vehicle_interval_s, VehicleTask(service).window)]
