"""The live loop's settings: what to ingest, what to plan, how often, where to publish.

A :class:`LoopConfig` is a validated pydantic model, read from a TOML or JSON file
(``starbrain run --config FILE``) and overridden by command-line options. Times are simulated
seconds (the loop's clock may run faster than the wall clock, see ``speed``); distances km.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from starbrain.core.errors import StarbrainError

__all__ = ["LoopConfig", "load_config"]


class LoopConfig(BaseModel):
    """Everything ``starbrain run`` needs; every field has a working default (the Starlink
    preset, three known stations, in-process publishing)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # -- catalogue ------------------------------------------------------------------------------
    preset: str | None = Field(
        default="starlink-gen1",
        description="Generated constellation preset refreshed at each catalogue tick (used when "
        "catalog_source is not set).",
    )
    catalog_source: str | None = Field(
        default=None, description="A catalogue file or http(s) URL (TLE/OMM) re-read at each tick."
    )
    max_objects: int | None = Field(
        default=None, ge=1, le=1_000_000, description="Keep only the first N objects (small runs)."
    )
    debris: int = Field(
        default=0, ge=0, le=100_000, description="Generated debris objects added to the preset."
    )
    catalog_interval_s: float = Field(default=600.0, ge=1.0, le=86400.0)
    # -- telemetry ------------------------------------------------------------------------------
    telemetry_sim: bool = Field(
        default=True, description="Run the built-in housekeeping simulator."
    )
    telemetry_rate_hz: float = Field(
        default=1.0, gt=0.0, le=100.0, description="Simulated packet rate."
    )
    telemetry_interval_s: float = Field(default=30.0, ge=1.0, le=3600.0)
    udp_port: int | None = Field(
        default=None,
        ge=0,
        le=65535,
        description="Listen for CCSDS packets on 127.0.0.1:PORT (0: any).",
    )
    flight_every_s: float | None = Field(
        default=None,
        ge=400.0,
        le=30 * 86400.0,
        description="Simulate a launch (launch-vehicle telemetry with injected anomalies) every "
        "this many seconds; None: no launches.",
    )
    flight_duration_s: float = Field(default=400.0, ge=20.0, le=600.0)
    flight_rate_hz: float = Field(default=10.0, ge=1.0, le=100.0)
    flight_anomalies: int = Field(default=2, ge=0, le=20)
    flight_interval_s: float = Field(default=60.0, ge=1.0, le=3600.0)
    flight_detector: str | None = Field(
        default=None,
        description="Trained anomaly detector (starbrain anomalies train) scoring each flight "
        "after landing; default DATA/models/anomaly-detector.pt when present.",
    )
    telemetry_flush_rows: int = Field(default=50_000, ge=1, le=10_000_000)
    telemetry_flush_s: float = Field(default=2.0, gt=0.0, le=600.0, description="Wall seconds.")
    # -- planners -------------------------------------------------------------------------------
    stations: list[str] = Field(
        default_factory=list,
        max_length=8,
        description='Known station names or "NAME:LAT,LON[,ALT_M]"; empty: the known stations.',
    )
    passes_interval_s: float = Field(default=600.0, ge=10.0, le=86400.0)
    passes_lookahead_s: float = Field(default=3600.0, ge=0.0, le=14 * 86400.0)
    min_elevation_deg: float = Field(default=10.0, ge=-5.0, lt=90.0)
    conjunctions_interval_s: float = Field(default=600.0, ge=10.0, le=86400.0)
    conjunctions_lookahead_s: float = Field(default=3600.0, ge=0.0, le=14 * 86400.0)
    threshold_km: float = Field(default=5.0, gt=0.0, le=100.0)
    alert_pc: float = Field(default=1e-4, ge=0.0, le=1.0, description="Pc that raises an alert.")
    alert_miss_km: float = Field(
        default=1.0, gt=0.0, le=100.0, description="Miss that raises an alert."
    )
    anomaly_detector: Literal["robust-z", "none"] = Field(
        default="robust-z", description="Score stored telemetry for anomalies."
    )
    anomalies_interval_s: float = Field(default=60.0, ge=1.0, le=86400.0)
    # -- posts (issue #17) ----------------------------------------------------------------------
    posts_sim: bool = Field(
        default=False, description="Simulate posts about synthetic fleet events (loop.posts_task)."
    )
    posts_subject: str | None = Field(
        default=None,
        min_length=1,
        description="Core NATS subject of live posts (JSON Lines bodies, one post a line).",
    )
    posts_nats_url: str | None = Field(
        default=None, description="Broker of posts_subject; default nats_url."
    )
    posts_interval_s: float = Field(default=60.0, ge=1.0, le=3600.0)
    posts_events_per_day: int = Field(default=8, ge=1, le=40)
    posts_seed: int = Field(default=0, ge=0)
    # -- arm (issue #16) ------------------------------------------------------------------------
    arm_sim: bool = Field(
        default=False,
        description="One MPC reach episode of the simulated arm per window, drift-checked, "
        "re-fitted and registered on drift (loop.arm_task; about 3 s of CPU each).",
    )
    arm_subject: str | None = Field(
        default=None,
        min_length=1,
        description="Core NATS subject of live arm rows (JSON Lines, the arm schema).",
    )
    arm_nats_url: str | None = Field(
        default=None, description="Broker of arm_subject; default nats_url."
    )
    arm_udp_port: int | None = Field(
        default=None,
        ge=0,
        le=65535,
        description="Live arm rows as UDP datagrams on 127.0.0.1:PORT.",
    )
    arm_interval_s: float = Field(default=60.0, ge=1.0, le=86400.0)
    arm_new_payload_kg: float = Field(default=1.5, ge=0.0, le=3.0)
    arm_change_after_s: float = Field(
        default=120.0, ge=0.0, description="Simulated seconds before the payload changes."
    )
    arm_drift_factor: float = Field(default=3.0, gt=1.0, le=100.0)
    arm_model: str = Field(default="arm-residual", min_length=1, max_length=64)
    arm_seed: int = Field(default=0, ge=0)
    # -- vehicle (issue #15) --------------------------------------------------------------------
    vehicle_sim: bool = Field(
        default=False,
        description="Simulate one driving-log segment of a car per window (CommonRoad multi-body "
        "model), drift-check the vehicle world model, re-fit and register it on drift "
        "(loop.vehicle_task; about 2 s of CPU a window, 5-10 s a re-fit).",
    )
    vehicle_subject: str | None = Field(
        default=None,
        min_length=1,
        description="Core NATS subject of live vehicle rows (JSON Lines, the vehicle schema).",
    )
    vehicle_nats_url: str | None = Field(
        default=None, description="Broker of vehicle_subject; default nats_url."
    )
    vehicle_udp_port: int | None = Field(
        default=None,
        ge=0,
        le=65535,
        description="Live vehicle rows as UDP datagrams on 127.0.0.1:PORT.",
    )
    vehicle_interval_s: float = Field(default=60.0, ge=1.0, le=86400.0)
    vehicle_segment_s: float = Field(
        default=6.0, ge=2.0, le=600.0, description="Simulated driving per window (s, <= interval)."
    )
    vehicle_id: Literal["ford-escort", "bmw-320i", "vw-vanagon"] = Field(
        default="bmw-320i", description="The modelled car (fleet simulator parameter set)."
    )
    vehicle_driver: Literal["calm", "sporty", "weaving"] = Field(
        default="sporty", description="The simulated driver (calm barely excites the tyres)."
    )
    vehicle_friction: float = Field(default=1.0, gt=0.05, le=1.5, description="Road friction.")
    vehicle_new_friction: float = Field(
        default=0.6, gt=0.05, le=1.5, description="Road friction after vehicle_change_after_s."
    )
    vehicle_change_after_s: float = Field(
        default=120.0, ge=0.0, description="Simulated seconds before the friction changes."
    )
    vehicle_drift_factor: float = Field(default=3.0, gt=1.0, le=100.0)
    vehicle_model: str = Field(default="vehicle-residual", min_length=1, max_length=64)
    vehicle_seed: int = Field(default=0, ge=0)
    # -- compute (issue #18) --------------------------------------------------------------------
    compute_sim: bool = Field(
        default=False,
        description="Simulate a GPU data centre at 1 Hz, forecast and drift-check its thermal "
        "world model per coolant loop, alert and re-fit on a degrading pump, re-plan the "
        "power-capped job schedule (loop.compute_task; a fit takes 15-40 s of CPU).",
    )
    compute_interval_s: int = Field(default=300, ge=180, le=3600, description="Whole seconds.")
    compute_gpus: int = Field(
        default=64, ge=32, le=4096, description="Simulated GPUs, 32 a rack (a multiple of 32)."
    )
    compute_pump_fault_loop: int | None = Field(
        default=1, ge=0, description="Coolant loop (rack) whose pump degrades; None: no fault."
    )
    compute_pump_fault_after_s: float = Field(
        default=600.0, ge=0.0, description="Simulated seconds before the pump starts degrading."
    )
    compute_pump_fault_per_h: float = Field(
        default=1.5, gt=0.0, le=10.0, description="Fraction of the flow lost per hour."
    )
    compute_drift_factor: float = Field(default=3.0, gt=1.0, le=100.0)
    compute_refit_cooldown_s: float = Field(
        default=1800.0, ge=0.0, description="Simulated seconds between two drift re-fits."
    )
    compute_horizon_s: float = Field(
        default=3600.0, gt=0.0, le=30 * 86400.0, description="Each job's remaining work planned."
    )
    compute_budget_frac: float = Field(
        default=0.8, gt=0.1, le=1.0, description="Site power budget / uncapped draw."
    )
    compute_model: str = Field(default="compute-thermal", min_length=1, max_length=64)
    compute_seed: int = Field(default=0, ge=0)
    # -- world model ----------------------------------------------------------------------------
    drift_threshold_km: float = Field(
        default=1.0,
        gt=0.0,
        le=1e6,
        description="Median position error of the previous element sets' prediction at the new "
        "epochs above which the orbit world model is re-fitted.",
    )
    refit: bool = True
    refit_cooldown_s: float = Field(
        default=21600.0, ge=0.0, le=365 * 86400.0, description="Simulated time between two re-fits."
    )
    refit_objects: int = Field(default=6, ge=1, le=256)
    refit_epochs: int = Field(default=30, ge=1, le=5000)
    model_name: str = Field(default="loop-orbit", min_length=1, max_length=64)
    # -- clock and outputs ----------------------------------------------------------------------
    start: str | None = Field(
        default=None, description="Simulated start (ISO 8601 UTC); default now."
    )
    speed: float = Field(
        default=1.0,
        ge=0.0,
        le=1e6,
        description="Simulated seconds per wall second; 0: as fast as possible.",
    )
    duration_s: float | None = Field(
        default=None, gt=0.0, le=365 * 86400.0, description="Simulated."
    )
    resume: bool = Field(
        default=True, description="Continue from the store's checkpoint when present."
    )
    nats_url: str | None = None
    mqtt_url: str | None = None

    @field_validator("nats_url", "mqtt_url", "posts_nats_url", "vehicle_nats_url", "arm_nats_url")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        if v is not None and "://" not in v:
            raise ValueError("a broker URL looks like nats://127.0.0.1:4222 or mqtt://host:1883")
        return v

    @model_validator(mode="after")
    def _one_broker(self) -> LoopConfig:
        if self.nats_url and self.mqtt_url:
            raise ValueError("publish to NATS or to MQTT, not both")
        if self.posts_subject and not (self.posts_nats_url or self.nats_url):
            raise ValueError("posts_subject needs posts_nats_url or nats_url")
        for name in ("vehicle", "arm"):
            if getattr(self, f"{name}_subject") and not (
                getattr(self, f"{name}_nats_url") or self.nats_url
            ):
                raise ValueError(f"{name}_subject needs {name}_nats_url or nats_url")
        if self.vehicle_segment_s > self.vehicle_interval_s:
            raise ValueError("vehicle_segment_s must not exceed vehicle_interval_s")
        if self.compute_gpus % 32:
            raise ValueError("compute_gpus must be a multiple of 32 (one rack)")
        loop = self.compute_pump_fault_loop
        if loop is not None and loop >= self.compute_gpus // 32:
            raise ValueError(f"compute_pump_fault_loop {loop} is not one of the racks' loops")
        return self


def load_config(path: str | Path | None = None, **overrides: Any) -> LoopConfig:
    """A :class:`LoopConfig` from a TOML or JSON file (None: defaults), with ``overrides``
    (None values ignored) applied on top; raises :class:`StarbrainError` on any bad value."""
    data: dict[str, Any] = {}
    if path is not None:
        p = Path(path)
        try:
            text = p.read_text()
        except OSError as exc:
            raise StarbrainError(f"cannot read the loop config {p}: {exc.strerror}") from None
        try:
            data = json.loads(text) if p.suffix == ".json" else tomllib.loads(text)
        except (ValueError, tomllib.TOMLDecodeError) as exc:
            raise StarbrainError(f"cannot parse the loop config {p}: {exc}") from None
        data = data.get("loop", data) if isinstance(data, dict) else data
    data = {**data, **{k: v for k, v in overrides.items() if v is not None}}
    try:
        return LoopConfig.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first["loc"]) or "config"
        raise StarbrainError(f"loop config {where}: {first['msg']}") from None
