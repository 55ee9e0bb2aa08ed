"""NVML collector: samples every visible NVIDIA GPU into ``compute`` rows (up to 10 Hz).

Reads, per GPU: instantaneous board power (``NVML_FI_DEV_POWER_INSTANT``; the plain
``nvmlDeviceGetPowerUsage`` is a one-second average on Ampere and newer, so it lags), the energy
counter (mJ), GPU and memory temperature, SM and memory clocks, the clocks-event (throttle)
reasons, utilisation and the enforced power limit. It never changes a setting of the GPU.

``nvidia-ml-py`` (BSD) provides the ``pynvml`` module; a module with the same functions can be
injected (the tests do, since there is no GPU here). Without a driver or a GPU, ``open`` raises a
``StarbrainError`` that says so.
"""

from __future__ import annotations

import importlib
import time as _time
from collections.abc import Callable
from types import ModuleType
from typing import Any

import pyarrow as pa

from starbrain.core.errors import StarbrainError
from starbrain.core.schemas.compute import COMPUTE_SCHEMA

__all__ = ["MAX_RATE_HZ", "NvmlCollector", "gpu_status"]

MAX_RATE_HZ = 10.0
_FI_POWER_INSTANT = 186  # NVML_FI_DEV_POWER_INSTANT (mW)
_FI_MEMORY_TEMP = 82  # NVML_FI_DEV_MEMORY_TEMP (deg C)


def _load_nvml() -> ModuleType:
    try:
        return importlib.import_module("pynvml")
    except ImportError as exc:  # pragma: no cover - nvidia-ml-py is installed in dev
        raise StarbrainError(
            "GPU telemetry needs the NVML bindings: pip install nvidia-ml-py"
        ) from exc


def gpu_status(nvml: ModuleType | None = None) -> tuple[int, str]:
    """``(number of GPUs, sentence)``: 0 and the reason when NVML or a GPU is missing."""
    try:
        with NvmlCollector(nvml) as c:
            return c.n_gpus, f"{c.n_gpus} NVIDIA GPU(s) visible through NVML"
    except StarbrainError as exc:
        return 0, str(exc)


class NvmlCollector:
    """A sampler over NVML. Use as a context manager (``nvmlInit``/``nvmlShutdown``)."""

    def __init__(self, nvml: ModuleType | None = None, hostname: str | None = None) -> None:
        self.nvml = nvml if nvml is not None else _load_nvml()
        self.hostname = hostname
        self.handles: list[Any] = []
        self.uuids: list[str] = []

    @property
    def n_gpus(self) -> int:
        return len(self.handles)

    def __enter__(self) -> NvmlCollector:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def open(self) -> None:
        """Initialise NVML and enumerate the GPUs; a clear error when there is none."""
        nv = self.nvml
        try:
            nv.nvmlInit()
        except nv.NVMLError as exc:
            raise StarbrainError(
                f"no NVIDIA driver found (NVML: {exc}); GPU telemetry needs a GPU node, "
                "or use `starbrain compute simulate` for a simulated fleet"
            ) from exc
        n = int(nv.nvmlDeviceGetCount())
        if n == 0:
            nv.nvmlShutdown()
            raise StarbrainError("NVML is loaded but reports no GPU on this machine")
        self.handles = [nv.nvmlDeviceGetHandleByIndex(i) for i in range(n)]
        self.uuids = [_text(nv.nvmlDeviceGetUUID(h)) for h in self.handles]

    def close(self) -> None:
        if self.handles:
            self.nvml.nvmlShutdown()
            self.handles = []

    def _read(self, h: Any) -> dict[str, Any]:
        nv = self.nvml
        fv = nv.nvmlDeviceGetFieldValues(h, [_FI_POWER_INSTANT, _FI_MEMORY_TEMP])
        inst = fv[0].value.uiVal / 1000.0 if fv[0].nvmlReturn == 0 else None
        mem_t = float(fv[1].value.uiVal) if fv[1].nvmlReturn == 0 else None
        power = inst if inst is not None else nv.nvmlDeviceGetPowerUsage(h) / 1000.0
        return {
            "power_w": power,
            "energy_mj": float(_maybe(nv.nvmlDeviceGetTotalEnergyConsumption, h)),
            "gpu_temp_c": float(nv.nvmlDeviceGetTemperature(h, nv.NVML_TEMPERATURE_GPU)),
            "memory_temp_c": mem_t,
            "sm_clock_mhz": float(nv.nvmlDeviceGetClockInfo(h, nv.NVML_CLOCK_SM)),
            "mem_clock_mhz": float(nv.nvmlDeviceGetClockInfo(h, nv.NVML_CLOCK_MEM)),
            "gpu_util_pct": float(nv.nvmlDeviceGetUtilizationRates(h).gpu),
            "throttle_reasons": int(nv.nvmlDeviceGetCurrentClocksEventReasons(h)),
            "power_limit_w": nv.nvmlDeviceGetEnforcedPowerLimit(h) / 1000.0,
        }

    def sample(self, time_ns: int | None = None) -> list[dict[str, Any]]:
        """One ``compute`` row (a dict of schema columns) per GPU, stamped ``time_ns``."""
        if not self.handles:
            raise StarbrainError("the NVML collector is not open")
        t = _time.time_ns() if time_ns is None else time_ns
        rows = []
        for uuid, h in zip(self.uuids, self.handles, strict=True):
            row = {"gpu_id": uuid, "time": t, "node_id": self.hostname, "source": "nvml"}
            rows.append(row | self._read(h))
        return rows

    def collect(
        self,
        duration_s: float,
        rate_hz: float = MAX_RATE_HZ,
        clock: Callable[[], int] = _time.time_ns,
        sleep: Callable[[float], None] = _time.sleep,
    ) -> pa.Table:
        """Sample at ``rate_hz`` (at most 10 Hz) for ``duration_s`` s into a ``compute`` table."""
        if not 0 < rate_hz <= MAX_RATE_HZ:
            raise StarbrainError(f"rate_hz must be in (0, {MAX_RATE_HZ}], got {rate_hz}")
        period_ns = round(1e9 / rate_hz)
        n = max(1, round(duration_s * rate_hz))
        t0 = clock()
        rows: list[dict[str, Any]] = []
        for k in range(n):
            due = t0 + k * period_ns
            wait = (due - clock()) / 1e9
            if wait > 0:
                sleep(wait)
            rows += self.sample(clock())
        return rows_to_table(rows)


def rows_to_table(rows: list[dict[str, Any]]) -> pa.Table:
    """``compute`` rows (dicts; missing columns null) to a table of ``COMPUTE_SCHEMA``."""
    cols = {f.name: [r.get(f.name) for r in rows] for f in COMPUTE_SCHEMA}
    return pa.table(cols, schema=COMPUTE_SCHEMA)


def _maybe(fn: Callable[[Any], Any], h: Any) -> float:
    try:
        return float(fn(h))
    except Exception:  # energy counter is Volta+ only
        return float("nan")


def _text(v: bytes | str) -> str:
    return v.decode() if isinstance(v, bytes) else v
