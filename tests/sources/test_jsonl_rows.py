"""JSON Lines rows of a stream schema (sources.jsonl_rows): a simulated vehicle log survives the
round trip exactly; each bad line becomes one RecordError naming the line and column, the rest
are kept."""

from __future__ import annotations

import json

import pyarrow as pa

from starbrain.core.schemas.arm import ARM_SCHEMA
from starbrain.core.schemas.vehicle import VEHICLE_SCHEMA
from starbrain.sources.jsonl_rows import parse_rows_jsonl, rows_to_jsonl


def _vehicle_rows(n: int) -> pa.Table:
    ns = 1_795_000_000_000_000_000 + 50_000_000 * pa.array(range(n), pa.int64()).to_numpy()
    cols = {f.name: pa.nulls(n, f.type) for f in VEHICLE_SCHEMA}
    cols.update(
        vehicle_id=pa.array(["car-1"] * n), log_id=pa.array(["log-a"] * n),
        segment=pa.array([0] * n, pa.int32()),
        time=pa.array(ns, pa.timestamp("ns", tz="UTC")),
        x_m=pa.array([0.1 * i + 1e-9 for i in range(n)]), y_m=pa.array([0.0] * n),
        yaw_rad=pa.array([0.01] * n), speed_mps=pa.array([19.75] * n),
        steering_wheel_angle_rad=pa.array([-0.2] * n), yaw_rate_radps=pa.array([1 / 3] * n),
    )  # fmt: skip
    return pa.table(cols, schema=VEHICLE_SCHEMA)


def test_round_trip_is_exact() -> None:
    table = _vehicle_rows(5)
    got = parse_rows_jsonl(rows_to_jsonl(table), VEHICLE_SCHEMA, "nats:vehicle.live")
    assert not got.errors and got.table.equals(table)


def test_bad_lines_are_reported_and_skipped() -> None:
    good = rows_to_jsonl(_vehicle_rows(3)).decode().splitlines()
    row = json.loads(good[0])
    bad = [
        "{not json",
        json.dumps({k: v for k, v in row.items() if k != "speed_mps"}),  # required, missing
        json.dumps({**row, "segment": "0"}),
        json.dumps({**row, "time": "yesterday"}),
        json.dumps([1, 2]),
        json.dumps({**row, "x_m": True}),
    ]
    text = "\n".join([good[0], *bad, "", good[1], good[2]])
    got = parse_rows_jsonl(text, VEHICLE_SCHEMA, "udp://127.0.0.1:9")
    assert got.table.num_rows == 3
    where = [(e.line, e.field) for e in got.errors]
    assert where == [(2, None), (3, "speed_mps"), (4, "segment"), (5, "time"), (6, None),
                     (7, "x_m")]  # fmt: skip
    assert str(got.errors[1]) == "udp://127.0.0.1:9:3: speed_mps: is missing or null"


def test_integer_nanoseconds_and_other_schemas() -> None:
    line = {"arm_id": "arm-1", "episode": 2, "time": 1_795_000_000_123_456_789, "q1_rad": 0.5,
            "q2_rad": -0.5, "qd1_radps": 0.0, "qd2_radps": 0.1, "tau_cmd_1_nm": 1.0,
            "tau_cmd_2_nm": 2.0, "task": "reach"}  # fmt: skip
    got = parse_rows_jsonl(json.dumps(line).encode(), ARM_SCHEMA)
    assert not got.errors
    r = got.table.to_pylist()[0]
    assert r["episode"] == 2 and r["payload_kg"] is None
    assert got.table["time"].cast(pa.int64())[0].as_py() == 1_795_000_000_123_456_789
