"""The loop's ``arm`` task (issue #16): the arm under a payload that changes mid-run.

Each window of ``arm_interval_s`` simulated seconds is one reach episode of the MuJoCo arm
(:mod:`starbrain.sources.robots`, ``WORN_ARM`` as the truth) planned by MPC over the current arm
world model, through :func:`starbrain.loop.arm_adapt.run_payload_change` (one task at a time):
the episode's telemetry is drift-checked against the model's validation baseline
(``models.dynamics.drift_check``: mean standardised one-step error over ``arm_drift_factor``
times the baseline); on drift the physical parameters are re-fitted from the episode and the
model registered in the store as ``arm_model``, and the next episode plans on it. The payload
becomes ``arm_new_payload_kg`` for windows starting ``arm_change_after_s`` simulated seconds
after the configured ``start`` (without one, after this process's first arm window; windows are
numbered from the UTC epoch, so a restart keeps each window's reach task and payload).

Live rows (issue #16 item 2): ``arm_subject`` (core NATS on ``arm_nats_url``, default
``nats_url``) and/or UDP ``127.0.0.1:arm_udp_port`` carry JSON Lines rows of the ``arm`` schema
(:mod:`starbrain.loop.live_rows`; ``starbrain robot simulate --send`` sends them). Each window
stores what arrived in the ``arm`` stream (with the simulated episode's rows, in the window's
transaction) and drift-checks the model on it the same way (``loop.arm_adapt.check_and_refit``:
re-fit from the last three drifted tables, registered, alerted).

Every drifted episode raises an alert on ``starbrain.alerts`` (``kind`` "arm-drift", ``model``
the registry name, ``channel`` "arm.joint_torque"; drift ratio, re-fitted payload in kg). The
world model: the newest ``arm_model`` in the store; with none, a small residual model is fitted
on simulated excitation episodes of the truth at the first window (a few seconds) and
registered. Episodes are CPU-heavy (about 3 s each on 2 cores): the task is off by default.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from typing import Any

import numpy as np
import pyarrow as pa

from starbrain.loop.live_rows import live_rows

__all__ = ["ArmTask", "arm_tasks"]

log = logging.getLogger("starbrain.loop")


def _stamped(table: pa.Table, k: int, a: np.datetime64) -> pa.Table:
    """The episode's rows numbered ``k`` and timed from the window's start ``a``."""
    t = table["time"].cast(pa.int64()).to_numpy()
    t = t - t[0] + np.datetime64(a, "ns").astype(np.int64)
    table = table.set_column(1, "episode", pa.array(np.full(len(t), k, np.int32)))
    return table.set_column(
        2, "time", pa.array(t, pa.int64()).cast(table.schema.field("time").type)
    )


class ArmTask:
    """One ``arm`` task over a :class:`~starbrain.loop.service.LoopService` (see the module)."""

    def __init__(self, service: Any) -> None:
        self.service = service
        self.cfg = service.config
        self.model: Any = None
        self.first: np.datetime64 | None = None
        self.recent: list[pa.Table] = []  # the drifted live tables of the last windows
        from starbrain.core.schemas.arm import ARM_SCHEMA

        self.live = live_rows(service, "arm", ARM_SCHEMA)

    def _model(self) -> Any:
        import torch

        from starbrain.core.errors import StarbrainError
        from starbrain.models.arm import fit_arm_model
        from starbrain.models.dynamics import FitConfig, load_world_model, register_world_model
        from starbrain.sources.robots import WORN_ARM, simulate_arm

        store, name = self.service.store, self.cfg.arm_model
        try:
            return load_world_model(store, name)[0]
        except StarbrainError:
            torch.manual_seed(self.cfg.arm_seed)
            data = simulate_arm(WORN_ARM, n_episodes=3, n_steps=150, seed=self.cfg.arm_seed + 1)
            fit = FitConfig(n_members=3, hidden=32, depth=2, epochs=15, patience=5, batch_size=128)
            model, _ = fit_arm_model("residual", data, config=fit, n_substeps=2)
            with store.transaction():
                register_world_model(store, name, model, metrics={"reason": "initial"})
            return model

    def _episode(self, k: int, changed: bool, a: np.datetime64) -> dict[str, Any]:
        from starbrain.loop.arm_adapt import run_payload_change
        from starbrain.models.dynamics import load_world_model
        from starbrain.planners.arm_tasks import reach_mpc_config, sample_reach_tasks
        from starbrain.sources.robots import WORN_ARM

        if self.model is None:
            self.model = self._model()
        cfg = self.cfg
        truth = replace(WORN_ARM, payload_kg=cfg.arm_new_payload_kg) if changed else WORN_ARM
        task = sample_reach_tasks(1, seed=cfg.arm_seed * 100_003 + k)[0]
        mpc = reach_mpc_config(WORN_ARM, n_samples=128, horizon=15)
        run = run_payload_change(
            self.model, [task], truth, truth.payload_kg, 1, mpc=mpc,
            store=self.service.store, name=cfg.arm_model, factor=cfg.arm_drift_factor,
        )  # fmt: skip
        row = dict(run.episodes[0], episode=k, table=_stamped(run.tables[0], k, a))
        if row["drifted"]:  # the re-fitted model was registered: plan on it from now on
            self.model = load_world_model(self.service.store, cfg.arm_model)[0]
        return row

    def _check_live(self, table: pa.Table) -> dict[str, Any]:
        """Drift-check (and on drift re-fit and register) the model on live rows."""
        from starbrain.core.errors import StarbrainError
        from starbrain.loop.arm_adapt import check_and_refit

        if self.model is None:
            self.model = self._model()
        episode = int(table["episode"][0].as_py())
        try:
            drifted, ratio = check_and_refit(
                self.model, table, self.recent, factor=self.cfg.arm_drift_factor,
                store=self.service.store, name=self.cfg.arm_model, episode=episode,
            )  # fmt: skip
        except StarbrainError as exc:  # too few rows for one transition window
            log.warning("arm: live rows of episode %d not checked: %s", episode, exc)
            drifted, ratio = False, float("nan")
        return {"episode": episode, "drifted": drifted, "drift_ratio": ratio, "success": None,
                "payload_est_kg": float(self.model.theta[0])}  # fmt: skip

    async def window(self, a: np.datetime64, b: np.datetime64) -> None:
        cfg = self.cfg
        if self.first is None:  # the run's configured start survives a restart; "now" does not
            self.first = np.datetime64(cfg.start.rstrip("Z"), "ns") if cfg.start else a
        k = int(a.astype("datetime64[s]").astype(np.int64) // int(cfg.arm_interval_s))
        changed = (a - self.first) / np.timedelta64(1, "s") >= cfg.arm_change_after_s
        rows = []
        if cfg.arm_sim:
            rows.append(await asyncio.to_thread(self._episode, k, bool(changed), a))
            self.service._defer("arm", rows[-1].pop("table"), "loop-arm")
        if self.live is not None and (got := await self.live.poll()) is not None:
            self.service._defer("arm", got, "loop-arm-live")
            rows.append(await asyncio.to_thread(self._check_live, got))
        for row in rows:
            await self._alert(row)

    async def _alert(self, row: dict[str, Any]) -> None:
        if row["drifted"]:
            await self.service._alert(
                "arm-drift",
                f"arm episode {row['episode']}: one-step error {row['drift_ratio']:.1f}x the "
                f"model's baseline; re-fitted payload {row['payload_est_kg']:.2f} kg, "
                f"registered as {self.cfg.arm_model}",
                model=self.cfg.arm_model,
                channel="arm.joint_torque",
                episode=row["episode"],
                drift_ratio=round(float(row["drift_ratio"]), 3),
                payload_est_kg=round(float(row["payload_est_kg"]), 4),
                success=None if row["success"] is None else bool(row["success"]),
            )


def arm_tasks(service: Any, task: Any) -> list[Any]:
    """The ``arm`` scheduled task when ``arm_sim``, ``arm_subject`` or ``arm_udp_port`` is
    set, else none."""
    cfg = service.config
    if not (cfg.arm_sim or cfg.arm_subject or cfg.arm_udp_port is not None):
        return []
    return [task("arm", service.config.arm_interval_s, ArmTask(service).window)]
