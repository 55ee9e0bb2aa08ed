"""The ``compute`` stream, the NVML collector and the Prometheus endpoint.

There is no GPU on the machines these tests run on: the NVML tests use ``FakeNvml``, a stand-in
module with pynvml's function names and units (mW, mJ, deg C, MHz), to test the sampling and
the mapping onto DCGM names. The no-GPU path is tested against the real pynvml.
"""

from __future__ import annotations

import types
import urllib.request

import numpy as np
import pytest
from prometheus_client.parser import text_string_to_metric_families

from starbrain.core.errors import StarbrainError
from starbrain.sources.compute import (
    COMPUTE_SCHEMA,
    DCGM_NAMES,
    ComputeExporter,
    NvmlCollector,
    gpu_status,
    serve_metrics,
)
from starbrain.store import Store
from starbrain.store.streams import STREAMS


class _Err(Exception):
    pass


def fake_nvml(n_gpus: int = 2, fail_init: bool = False) -> types.ModuleType:
    """A stand-in for pynvml (no GPU here): GPU i draws 100 + 10 i W instant, 5 W less averaged."""
    m = types.ModuleType("fake_pynvml")
    m.NVMLError = _Err
    m.NVML_TEMPERATURE_GPU, m.NVML_CLOCK_SM, m.NVML_CLOCK_MEM = 0, 1, 2
    calls = {"n": 0}

    def init() -> None:
        if fail_init:
            raise _Err("NVML Shared Library Not Found")

    def field_values(h: int, ids: list[int]) -> list[types.SimpleNamespace]:
        vals = {186: (100 + 10 * h) * 1000, 82: 60 + h}
        return [
            types.SimpleNamespace(nvmlReturn=0, value=types.SimpleNamespace(uiVal=vals[i]))
            for i in ids
        ]

    def energy(h: int) -> int:
        calls["n"] += 1
        return 1_000_000 * h + 500 * calls["n"]

    m.nvmlInit = init
    m.nvmlShutdown = lambda: None
    m.nvmlDeviceGetCount = lambda: n_gpus
    m.nvmlDeviceGetHandleByIndex = lambda i: i
    m.nvmlDeviceGetUUID = lambda h: f"GPU-{h:04d}".encode()
    m.nvmlDeviceGetFieldValues = field_values
    m.nvmlDeviceGetPowerUsage = lambda h: (95 + 10 * h) * 1000
    m.nvmlDeviceGetTotalEnergyConsumption = energy
    m.nvmlDeviceGetTemperature = lambda h, s: 50 + h
    m.nvmlDeviceGetClockInfo = lambda h, c: {1: 1980, 2: 2619}[c]
    m.nvmlDeviceGetUtilizationRates = lambda h: types.SimpleNamespace(gpu=97, memory=40)
    m.nvmlDeviceGetCurrentClocksEventReasons = lambda h: 0x4 if h else 0
    m.nvmlDeviceGetEnforcedPowerLimit = lambda h: 700_000
    return m


def test_schema_names_follow_dcgm_exporter_and_is_a_store_stream(tmp_path) -> None:
    # names and units as in NVIDIA dcgm-exporter's etc/default-counters.csv
    assert DCGM_NAMES["power_w"] == "DCGM_FI_DEV_POWER_USAGE"
    assert DCGM_NAMES["gpu_temp_c"] == "DCGM_FI_DEV_GPU_TEMP"
    assert DCGM_NAMES["memory_temp_c"] == "DCGM_FI_DEV_MEMORY_TEMP"
    assert DCGM_NAMES["sm_clock_mhz"] == "DCGM_FI_DEV_SM_CLOCK"
    assert DCGM_NAMES["gpu_util_pct"] == "DCGM_FI_DEV_GPU_UTIL"
    assert DCGM_NAMES["energy_mj"] == "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION"
    assert DCGM_NAMES["throttle_reasons"] == "DCGM_FI_DEV_CLOCK_THROTTLE_REASONS"
    assert COMPUTE_SCHEMA.field("energy_mj").metadata[b"unit"] == b"mJ"
    assert STREAMS["compute"].schema.equals(COMPUTE_SCHEMA)
    with NvmlCollector(fake_nvml()) as c:
        t = c.collect(0.3, rate_hz=10, sleep=lambda s: None)
    with Store(tmp_path / "s.duckdb") as store:
        store.append("compute", t, source="nvml")
        back = store.read("compute", where="gpu_id = ?", params=["GPU-0001"])
    assert back.num_rows == 3
    np.testing.assert_allclose(back["power_w"].to_numpy(), 110.0)


def test_collector_maps_nvml_units_onto_the_schema() -> None:
    with NvmlCollector(fake_nvml(), hostname="node-a") as c:
        rows = c.sample(time_ns=1_000)
    assert [r["gpu_id"] for r in rows] == ["GPU-0000", "GPU-0001"]
    r = rows[1]
    assert r["power_w"] == pytest.approx(110.0)  # the instant field (mW -> W), not the average
    assert r["gpu_temp_c"] == 51.0 and r["memory_temp_c"] == 61.0
    assert r["sm_clock_mhz"] == 1980.0 and r["gpu_util_pct"] == 97.0
    assert r["throttle_reasons"] == 0x4 and r["power_limit_w"] == pytest.approx(700.0)
    assert r["node_id"] == "node-a" and r["time"] == 1_000


def test_collect_paces_at_the_requested_rate_and_caps_it_at_10_hz() -> None:
    now = [0]

    def clock() -> int:
        return now[0]

    def sleep(s: float) -> None:
        now[0] += round(s * 1e9)

    with NvmlCollector(fake_nvml(1)) as c:
        t = c.collect(1.0, rate_hz=5, clock=clock, sleep=sleep)
        with pytest.raises(StarbrainError, match="rate_hz"):
            c.collect(1.0, rate_hz=20)
    times = t["time"].to_numpy().astype("int64")
    assert t.num_rows == 5
    assert (np.diff(times) == 200_000_000).all()


def test_no_gpu_is_one_clear_sentence() -> None:
    with pytest.raises(StarbrainError, match="no NVIDIA driver"):
        NvmlCollector(fake_nvml(fail_init=True)).open()
    n, why = gpu_status(fake_nvml(n_gpus=0))
    assert n == 0 and "no GPU" in why
    # the real pynvml on this GPU-less machine
    n, why = gpu_status()
    if n == 0:
        assert "NVML" in why


def test_prometheus_endpoint_scraped_over_loopback() -> None:
    exp = ComputeExporter()
    with NvmlCollector(fake_nvml(), hostname="node-a") as c:
        exp.update(c.sample())
    server, port = serve_metrics(exp, port=0)
    try:
        body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read()
    finally:
        server.shutdown()
    fams = {f.name: f for f in text_string_to_metric_families(body.decode())}
    temps = {s.labels["UUID"]: s.value for s in fams["DCGM_FI_DEV_GPU_TEMP"].samples}
    assert temps == {"GPU-0000": 50.0, "GPU-0001": 51.0}
    power = fams["DCGM_FI_DEV_POWER_USAGE"].samples
    assert {s.labels["Hostname"] for s in power} == {"node-a"}
    assert sorted(s.value for s in power) == [100.0, 110.0]
    assert "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION" in fams
