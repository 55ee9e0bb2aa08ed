"""Every read the other layers make of the store, as typed functions: the only SQL outside
:mod:`starbrain.store.database` (and the telemetry ledger, :mod:`starbrain.store.telemetry`).

Each function takes a :class:`~starbrain.store.database.Store` and returns an Arrow table (UTC
times as ``timestamp[ns, UTC]`` where a stream's schema says so, else integer nanoseconds since
1970-01-01 UTC in columns named ``*_ns``) or a plain value. Callers never build SQL: filters are
keyword arguments, bound as parameters.

"Current conjunctions" is defined once, in :func:`latest_conjunctions`; the CLI (``starbrain
conjunctions show``/``avoid``), the REST API (``GET /api/conjunctions``) and the console's panel
all read it from there.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from starbrain.core import timeconv
from starbrain.core.schemas.decisions import CONJUNCTIONS_SCHEMA

if TYPE_CHECKING:
    from starbrain.store.database import Store

__all__ = [
    "DEFAULT_TCA_TOLERANCE_S",
    "LANE_CHANGES_TABLE",
    "LOOP_EVENTS_TABLE",
    "LOOP_STATE_TABLE",
    "SCREENINGS_TABLE",
    "anomalies",
    "arm_episodes",
    "arm_series",
    "compute_gpus",
    "compute_site",
    "conjunction",
    "ensure_loop_tables",
    "ephemeris_summary",
    "has_table",
    "lane_changes",
    "latest_conjunctions",
    "loop_done_until",
    "loop_events",
    "loop_tasks",
    "models",
    "recent_posts",
    "record_lane_change",
    "record_screening",
    "save_loop_task",
    "store_screening",
    "telemetry_count",
    "telemetry_parameters",
    "telemetry_series",
    "telemetry_span",
    "vehicle_logs",
    "vehicle_track",
]

# Two rows of one pair whose TCAs are at most this far apart are one encounter. Refinements of
# a TCA between screenings move it by seconds; two distinct encounters of one pair are at least
# about half an orbit apart (>= 44 min in LEO), so 5 minutes separates the two cases.
DEFAULT_TCA_TOLERANCE_S = 300.0


def _naive(t: Any) -> Any:
    """A UTC instant as DuckDB's TIMESTAMP_NS parameters take it (naive datetime, us)."""
    return timeconv.naive_utc(t)


def _scalar(table: pa.Table, column: str = "n") -> Any:
    return table.column(column)[0].as_py()


# ---------------------------------------------------------------------------------------------
# The store itself


def has_table(store: Store, name: str) -> bool:
    """Whether the store holds a table or view called ``name``."""
    t = store.query(
        "SELECT count(*) AS n FROM information_schema.tables WHERE table_name = ?", [name]
    )
    return bool(_scalar(t))


# ---------------------------------------------------------------------------------------------
# Conjunctions

SCREENINGS_TABLE = "screenings"
_SCREENINGS_DDL = (
    f"CREATE TABLE IF NOT EXISTS {SCREENINGS_TABLE} (screened_at TIMESTAMP_NS NOT NULL, "
    "screen_start TIMESTAMP_NS NOT NULL, screen_stop TIMESTAMP_NS NOT NULL, "
    "threshold_km DOUBLE NOT NULL, n_conjunctions BIGINT NOT NULL, source VARCHAR)"
)


def record_screening(
    store: Store,
    *,
    start: Any,
    stop: Any,
    threshold_km: float,
    screened_at: Any,
    n_conjunctions: int,
    source: str | None = None,
) -> None:
    """Record that a screening ran over ``[start, stop]`` (UTC) with ``threshold_km`` at
    ``screened_at`` (UTC, the ``screened_at`` of its rows) and found ``n_conjunctions``, in the
    ``screenings`` table (created when missing; inside :meth:`Store.transaction` it joins it).
    A screening that found nothing leaves no conjunction row: this record is what lets it retire
    older screenings' rows in :func:`latest_conjunctions`."""
    if not threshold_km > 0.0:
        raise ValueError(f"threshold_km must be positive, not {threshold_km!r}")
    store.execute(_SCREENINGS_DDL)
    store.execute(
        f"INSERT INTO {SCREENINGS_TABLE} VALUES (make_timestamp_ns(?), make_timestamp_ns(?), "
        "make_timestamp_ns(?), ?, ?, ?)",
        [
            *(int(np.asarray(timeconv.to_ns(t)).reshape(())) for t in (screened_at, start, stop)),
            float(threshold_km),
            int(n_conjunctions),
            source,
        ],
    )


def store_screening(
    store: Store,
    table: pa.Table,
    *,
    start: np.datetime64,
    days: float,
    threshold_km: float,
    source: str,
) -> None:
    """Store a screening: its conjunction rows (``table``, ``CONJUNCTIONS_SCHEMA``) and the
    record of the run over ``[start, start + days]`` (UTC; ``days`` in days) with
    ``threshold_km`` (:func:`record_screening`), in one transaction. The record's
    ``screened_at`` is its rows' (to the nanosecond), or now when it found nothing. ``source``
    names the caller (``"cli:conjunctions screen"``, ``"mcp:screen_conjunctions"``)."""
    if table.num_rows:
        ns = table["screened_at"].cast(pa.timestamp("ns")).cast(pa.int64())[0].as_py()
        screened_at = np.datetime64(int(ns), "ns")
    else:
        screened_at = timeconv.utc_now()
    with store.transaction():
        store.append("conjunctions", table)
        record_screening(
            store,
            start=start,
            stop=start + np.timedelta64(round(days * 86400e9), "ns"),
            threshold_km=threshold_km,
            screened_at=screened_at,
            n_conjunctions=table.num_rows,
            source=source,
        )


def latest_conjunctions(
    store: Store,
    *,
    norad_id: int | None = None,
    min_pc: float | None = None,
    max_miss_km: float | None = None,
    tca_tolerance_s: float = DEFAULT_TCA_TOLERANCE_S,
) -> pa.Table:
    """The current conjunctions: what the stored screenings, taken together, say now.

    A screening is the set of rows sharing one ``screened_at`` (and any run
    :func:`record_screening` recorded, rows or none); it covers its span
    ``[screen_start, screen_stop]`` (the span of its own TCAs when those are missing) and looked
    for every pair closer than its ``screening_threshold_km``. A stored row is **current** when

    1. no newer screening could have reported it and did not: none whose span holds the row's
       TCA and whose threshold is at least the row's miss distance (a pair the newest screening
       of that time span no longer finds is gone, a closer approach it would have seen); and
    2. no newer screening found the same encounter: none has a row of the same pair (in either
       order) whose TCA is within ``tca_tolerance_s`` (seconds, default
       :data:`DEFAULT_TCA_TOLERANCE_S`) of the row's TCA (a refined TCA replaces the old one).

    So every row of the newest screening is current, and older rows stay current only for the
    time outside newer screenings' spans (a live loop's earlier windows, say). Caveats: a
    screening that found nothing retires older rows only when :func:`record_screening` recorded
    it (``starbrain conjunctions screen`` does); one run with ``--primary`` or ``--min-pc`` is
    taken to answer for every pair over its span.

    ``norad_id`` (either object), ``min_pc`` and ``max_miss_km`` (km) filter the current rows;
    they never change which rows are current. Returns ``CONJUNCTIONS_SCHEMA`` rows ordered by
    TCA, then ``norad_id_1``, ``norad_id_2``.
    """
    if not tca_tolerance_s >= 0.0:
        raise ValueError(f"tca_tolerance_s must be at least 0 s, not {tca_tolerance_s!r}")
    tol_ns = round(float(tca_tolerance_s) * 1e9)
    where: list[str] = []
    params: list[Any] = [tol_ns]
    if norad_id is not None:
        where.append("(norad_id_1 = ? OR norad_id_2 = ?)")
        params += [int(norad_id), int(norad_id)]
    if min_pc is not None:
        where.append("collision_probability >= ?")
        params.append(float(min_pc))
    if max_miss_km is not None:
        where.append("miss_distance_km <= ?")
        params.append(float(max_miss_km))
    cols = ", ".join(f'c."{name}"' for name in CONJUNCTIONS_SCHEMA.names)
    ledger = (
        f" UNION ALL SELECT screened_at, screen_start, screen_stop, threshold_km "
        f"FROM {SCREENINGS_TABLE}"
        if has_table(store, SCREENINGS_TABLE)
        else ""
    )
    sql = (
        "WITH s AS (SELECT screened_at, coalesce(min(screen_start), min(tca)) AS lo, "
        "coalesce(max(screen_stop), max(tca)) AS hi, max(screening_threshold_km) AS thr "
        f"FROM conjunctions GROUP BY screened_at{ledger}), "
        f"live AS (SELECT {cols}, least(c.norad_id_1, c.norad_id_2) AS _a, "
        "greatest(c.norad_id_1, c.norad_id_2) AS _b FROM conjunctions c WHERE NOT EXISTS "
        "(SELECT 1 FROM s WHERE s.screened_at > c.screened_at AND c.tca >= s.lo "
        "AND c.tca <= s.hi AND s.thr >= c.miss_distance_km)), "
        f"cur AS (SELECT {cols} FROM live c WHERE NOT EXISTS (SELECT 1 FROM live n "
        "WHERE n._a = c._a AND n._b = c._b AND n.screened_at > c.screened_at "
        "AND abs(epoch_ns(n.tca) - epoch_ns(c.tca)) <= ?)) "
        f"SELECT * FROM cur{' WHERE ' + ' AND '.join(where) if where else ''} "
        "ORDER BY tca, norad_id_1, norad_id_2"
    )
    return store.query(sql, params).cast(CONJUNCTIONS_SCHEMA)


def conjunction(store: Store, norad_id_1: int, norad_id_2: int, tca_ns: int) -> pa.Table:
    """The newest stored row (``CONJUNCTIONS_SCHEMA``, 0 or 1 rows) of the conjunction of
    ``norad_id_1`` and ``norad_id_2`` (in that order) at TCA ``tca_ns`` (integer nanoseconds
    since 1970-01-01 UTC, exact)."""
    t = store.query(
        "SELECT * FROM conjunctions WHERE norad_id_1 = ? AND norad_id_2 = ? "
        "AND epoch_ns(tca) = ? ORDER BY screened_at DESC LIMIT 1",
        [int(norad_id_1), int(norad_id_2), int(tca_ns)],
    )
    return t.cast(CONJUNCTIONS_SCHEMA)


# ---------------------------------------------------------------------------------------------
# Ephemerides


def ephemeris_summary(store: Store) -> pa.Table:
    """One row per stored (object, frame, centre, source file): ``object_id``, ``name`` (any
    of the object's names), ``frame``, ``center``, ``source``, ``n`` (states), ``n_vel`` (states
    with a velocity), ``first`` and ``last`` (UTC times, naive as stored), ordered by object,
    source, frame."""
    return store.query(
        "SELECT object_id, any_value(object_name) AS name, frame, center, source, "
        "count(*) AS n, min(time) AS first, max(time) AS last, "
        "count(vx) AS n_vel FROM ephemeris "
        "GROUP BY object_id, frame, center, source ORDER BY object_id, source, frame"
    )


# ---------------------------------------------------------------------------------------------
# Telemetry and anomalies


def telemetry_parameters(store: Store, limit: int = 1000) -> pa.Table:
    """Every stored telemetry parameter per APID (at most ``limit``): ``apid``, ``parameter``,
    ``n`` (samples), ``first_ns``/``last_ns`` (ns since 1970 UTC), ordered by APID, name."""
    return store.query(
        "SELECT apid, parameter, count(*) AS n, epoch_ns(min(time)) AS first_ns, "
        "epoch_ns(max(time)) AS last_ns FROM telemetry GROUP BY apid, parameter "
        "ORDER BY apid, parameter LIMIT ?",
        [int(limit)],
    )


def _channel(parameter: str, apid: int | None) -> tuple[str, list[Any]]:
    cond, params = "parameter = ?", list[Any]([parameter])
    if apid is not None:
        cond += " AND apid = ?"
        params.append(int(apid))
    return cond, params


def telemetry_span(store: Store, parameter: str, apid: int | None = None) -> tuple[int, int] | None:
    """``(first, last)`` sample times (ns since 1970 UTC) of one parameter (of one APID, or of
    any); None when nothing is stored."""
    cond, params = _channel(parameter, apid)
    r = store.query(
        f"SELECT epoch_ns(min(time)) AS f, epoch_ns(max(time)) AS l FROM telemetry WHERE {cond}",
        params,
    ).to_pylist()[0]
    return None if r["l"] is None else (int(r["f"]), int(r["l"]))


def telemetry_count(store: Store, parameter: str, apid: int | None, start: Any, stop: Any) -> int:
    """Samples of one parameter with ``start <= time < stop`` (UTC instants)."""
    cond, params = _channel(parameter, apid)
    t = store.query(
        f"SELECT count(*) AS n FROM telemetry WHERE {cond} AND time >= ? AND time < ?",
        [*params, _naive(start), _naive(stop)],
    )
    return int(_scalar(t))


def telemetry_series(
    store: Store, parameter: str, apid: int | None, start: Any, stop: Any, stride: int = 1
) -> pa.Table:
    """Every ``stride``-th sample (by time, then packet sequence count) of one parameter with
    ``start <= time < stop``: ``t`` (ns since 1970 UTC) and ``value`` (engineering value)."""
    cond, params = _channel(parameter, apid)
    return store.query(
        f"SELECT epoch_ns(time) AS t, value FROM telemetry WHERE {cond} "
        "AND time >= ? AND time < ? "
        "QUALIFY (row_number() OVER (ORDER BY time, seq) - 1) % ? = 0 ORDER BY time, seq",
        [*params, _naive(start), _naive(stop), max(1, int(stride))],
    )


def anomalies(
    store: Store,
    *,
    parameter: str | None = None,
    source: str | None = None,
    start: Any = None,
    stop: Any = None,
    limit: int = 100,
) -> tuple[int, pa.Table]:
    """Stored anomalies, newest start first: ``(total matching, rows)``. Rows: ``source``,
    ``parameter``, ``start_ns``, ``end_ns``, ``detected_at_ns`` (ns since 1970 UTC), ``score``,
    ``method``, ``label``; at most ``limit``. ``start``/``stop`` (UTC, both or neither) keep the
    anomalies overlapping that window. The store must hold the ``anomalies`` table
    (:func:`has_table`)."""
    where: list[str] = ["TRUE"]
    params: list[Any] = []
    if parameter is not None:
        where.append("parameter = ?")
        params.append(parameter)
    if source is not None:
        where.append("source = ?")
        params.append(source)
    if start is not None and stop is not None:
        where.append('start < ? AND coalesce("end", start) >= ?')
        params += [_naive(stop), _naive(start)]
    t = store.query(
        'SELECT source, parameter, epoch_ns(start) AS start_ns, epoch_ns("end") AS end_ns, '
        "score, method, epoch_ns(detected_at) AS detected_at_ns, label, "
        f"count(*) OVER () AS total FROM anomalies WHERE {' AND '.join(where)} "
        "ORDER BY start DESC LIMIT ?",
        [*params, int(limit)],
    )
    total = int(t.column("total")[0].as_py()) if t.num_rows else 0
    return total, t.drop_columns(["total"])


# ---------------------------------------------------------------------------------------------
# World models


def models(store: Store, limit: int = 50) -> pa.Table:
    """The registry's newest ``limit`` entries (newest first, then by name): ``name``,
    ``created_ns`` (ns since 1970 UTC), ``kind``, ``device``, ``data_fingerprint``,
    ``metrics_json``; the weights stay in the store."""
    return store.query(
        "SELECT name, epoch_ns(created) AS created_ns, kind, device, data_fingerprint, "
        "metrics_json FROM models ORDER BY created DESC, name LIMIT ?",
        [int(limit)],
    )


# ---------------------------------------------------------------------------------------------
# The loop's own tables: per-task checkpoints and the log of published messages

LOOP_STATE_TABLE = "loop_state"
LOOP_EVENTS_TABLE = "loop_events"
_LOOP_DDL = (
    f"CREATE TABLE IF NOT EXISTS {LOOP_STATE_TABLE} (task VARCHAR PRIMARY KEY, "
    "done_until TIMESTAMP_NS NOT NULL, runs BIGINT NOT NULL, updated_at TIMESTAMP_NS NOT NULL)",
    f"CREATE TABLE IF NOT EXISTS {LOOP_EVENTS_TABLE} (sim_time TIMESTAMP_NS, published_at "
    "TIMESTAMP_NS NOT NULL, subject VARCHAR NOT NULL, payload VARCHAR NOT NULL)",
)


def ensure_loop_tables(store: Store) -> None:
    """Create ``loop_state`` (task, done_until, runs, updated_at) and ``loop_events``
    (sim_time, published_at, subject, payload JSON) when missing; times TIMESTAMP_NS, UTC."""
    for sql in _LOOP_DDL:
        store.execute(sql)


def loop_done_until(store: Store) -> dict[str, np.datetime64]:
    """``{task: done_until}`` (UTC ``datetime64[ns]``) of every task that has run."""
    t = store.query(f"SELECT task, epoch_ns(done_until) AS ns FROM {LOOP_STATE_TABLE}")
    return {
        task: np.datetime64(int(ns), "ns")
        for task, ns in zip(t.column("task").to_pylist(), t.column("ns").to_pylist(), strict=True)
    }


def save_loop_task(store: Store, task: str, done_until: Any, now: Any = None) -> None:
    """Record that ``task`` has processed its windows up to ``done_until`` (UTC): one more run,
    updated at ``now`` (default the current UTC time)."""
    ns = int(np.asarray(timeconv.to_ns(done_until)).reshape(()))
    at = int(np.asarray(timeconv.to_ns(timeconv.utc_now() if now is None else now)).reshape(()))
    store.execute(
        f"INSERT INTO {LOOP_STATE_TABLE} VALUES (?, make_timestamp_ns(?), 1, "
        "make_timestamp_ns(?)) ON CONFLICT (task) DO UPDATE SET done_until = "
        "excluded.done_until, runs = runs + 1, updated_at = excluded.updated_at",
        [task, ns, at],
    )


def loop_tasks(store: Store) -> pa.Table:
    """The loop's checkpoint, by task name: ``task``, ``done_until_ns`` (ns since 1970 UTC),
    ``runs``."""
    return store.query(
        f"SELECT task, epoch_ns(done_until) AS done_until_ns, runs FROM {LOOP_STATE_TABLE} "
        "ORDER BY task"
    )


def loop_events(store: Store, limit: int = 50) -> pa.Table:
    """The loop's newest ``limit`` published messages (by publication, then simulated time):
    ``subject``, ``sim_time_ns`` (ns since 1970 UTC, null when unknown), ``payload`` (JSON)."""
    return store.query(
        f"SELECT subject, epoch_ns(sim_time) AS sim_time_ns, payload FROM {LOOP_EVENTS_TABLE} "
        "ORDER BY published_at DESC, sim_time DESC LIMIT ?",
        [int(limit)],
    )


# ---------------------------------------------------------------------------------------------
# The other fleets: vehicles, the robot arm, the GPU hall and public posts (console panels)


def _thinned(
    store: Store, table: str, cols: str, where: str, params: list[Any], order: str, max_points: int
) -> tuple[int, int, pa.Table]:
    """Every ``stride``-th row (by ``order``) of ``table`` matching ``where`` so that at most
    ``max_points`` come back: ``(matching rows, stride, rows)``."""
    n = int(_scalar(store.query(f"SELECT count(*) AS n FROM {table} WHERE {where}", params)))
    stride = max(1, -(-n // max(1, int(max_points))))
    t = store.query(
        f"SELECT {cols} FROM {table} WHERE {where} "
        f"QUALIFY (row_number() OVER (ORDER BY {order}) - 1) % ? = 0 ORDER BY {order}",
        [*params, stride],
    )
    return n, stride, t


def vehicle_logs(store: Store, limit: int = 200) -> pa.Table:
    """One row per stored (vehicle, log): ``vehicle_id``, ``log_id``, ``n`` (samples),
    ``first_ns``/``last_ns`` (ns since 1970 UTC), ``friction`` (sim truth, null on a real car),
    ``driver``, ``x_extent_m``/``y_extent_m`` (the track's extent, m); by vehicle, then log."""
    return store.query(
        "SELECT vehicle_id, log_id, count(*) AS n, epoch_ns(min(time)) AS first_ns, "
        "epoch_ns(max(time)) AS last_ns, any_value(friction) AS friction, "
        "any_value(driver) AS driver, max(x_m) - min(x_m) AS x_extent_m, "
        "max(y_m) - min(y_m) AS y_extent_m FROM vehicle GROUP BY vehicle_id, log_id "
        "ORDER BY vehicle_id, log_id LIMIT ?",
        [int(limit)],
    )


def vehicle_track(
    store: Store, vehicle_id: str, log_id: str | None = None, max_points: int = 2000
) -> tuple[int, int, pa.Table]:
    """A vehicle's driven track, thinned to at most ``max_points``: ``(samples, stride,
    rows)``; rows ``log_id``, ``segment``, ``t_ns`` (ns since 1970 UTC), ``x_m``/``y_m`` (m, the
    log's local east/north), ``yaw_rad``, ``speed_mps``, by log then time."""
    where, params = "vehicle_id = ?", list[Any]([vehicle_id])
    if log_id is not None:
        where += " AND log_id = ?"
        params.append(log_id)
    cols = "log_id, segment, epoch_ns(time) AS t_ns, x_m, y_m, yaw_rad, speed_mps"
    return _thinned(store, "vehicle", cols, where, params, "log_id, time", max_points)


def arm_episodes(store: Store, limit: int = 200) -> pa.Table:
    """One row per stored (arm, episode): ``arm_id``, ``episode``, ``n`` (rows),
    ``first_ns``/``last_ns`` (ns since 1970 UTC), ``task``, ``payload_kg`` (sim truth)."""
    return store.query(
        "SELECT arm_id, episode, count(*) AS n, epoch_ns(min(time)) AS first_ns, "
        "epoch_ns(max(time)) AS last_ns, any_value(task) AS task, "
        "max(payload_kg) AS payload_kg FROM arm GROUP BY arm_id, episode "
        "ORDER BY arm_id, episode LIMIT ?",
        [int(limit)],
    )


def arm_series(
    store: Store, arm_id: str, episode: int | None = None, max_points: int = 2000
) -> tuple[int, int, pa.Table]:
    """An arm's telemetry, thinned to at most ``max_points``: ``(rows, stride, rows)``; columns
    ``episode``, ``t_ns`` (ns since 1970 UTC), joint angles ``q1_rad``/``q2_rad``, commanded and
    measured torques ``tau_cmd_*_nm``/``tau_meas_*_nm`` (N m), ``ee_x_m``/``ee_y_m`` (m, base
    frame), by episode then time."""
    where, params = "arm_id = ?", list[Any]([arm_id])
    if episode is not None:
        where += " AND episode = ?"
        params.append(int(episode))
    cols = (
        "episode, epoch_ns(time) AS t_ns, q1_rad, q2_rad, tau_cmd_1_nm, tau_cmd_2_nm, "
        "tau_meas_1_nm, tau_meas_2_nm, ee_x_m, ee_y_m"
    )
    return _thinned(store, "arm", cols, where, params, "episode, time", max_points)


def compute_site(store: Store, max_points: int = 2000) -> tuple[int, int, pa.Table]:
    """The GPU hall over time, one row per sample time (thinned to at most ``max_points``):
    ``(sample times, stride, rows)``; columns ``t_ns`` (ns since 1970 UTC), ``n_gpus``,
    ``site_power_w`` (sum of board power, W), ``power_limit_w`` (sum of the enforced limits,
    W), ``gpu_temp_mean_c``/``gpu_temp_max_c`` and ``memory_temp_max_c`` (deg C), by time."""
    cols = (
        "epoch_ns(time) AS t_ns, count(*) AS n_gpus, sum(power_w) AS site_power_w, "
        "sum(power_limit_w) AS power_limit_w, avg(gpu_temp_c) AS gpu_temp_mean_c, "
        "max(gpu_temp_c) AS gpu_temp_max_c, max(memory_temp_c) AS memory_temp_max_c"
    )
    grouped = f"(SELECT {cols} FROM compute GROUP BY time)"
    return _thinned(store, grouped, "*", "TRUE", [], "t_ns", max_points)


def compute_gpus(store: Store, limit: int = 20) -> pa.Table:
    """The ``limit`` hottest GPUs by their peak die temperature: ``gpu_id``, ``rack_id``,
    ``n`` (samples), ``gpu_temp_max_c``, ``memory_temp_max_c`` (deg C), ``power_mean_w`` (W)."""
    return store.query(
        "SELECT gpu_id, any_value(rack_id) AS rack_id, count(*) AS n, "
        "max(gpu_temp_c) AS gpu_temp_max_c, max(memory_temp_c) AS memory_temp_max_c, "
        "avg(power_w) AS power_mean_w FROM compute GROUP BY gpu_id "
        "ORDER BY gpu_temp_max_c DESC, gpu_id LIMIT ?",
        [int(limit)],
    )


def recent_posts(store: Store, limit: int = 50) -> tuple[int, pa.Table]:
    """The newest ``limit`` stored posts: ``(posts stored, rows)``; rows ``id``, ``t_ns`` (ns
    since 1970 UTC), ``author``, ``lang``, ``text``, ``entities`` (JSON), newest first."""
    t = store.query(
        "SELECT id, epoch_ns(time) AS t_ns, author, lang, text, entities, "
        "count(*) OVER () AS total FROM posts ORDER BY time DESC, id LIMIT ?",
        [int(limit)],
    )
    total = int(t.column("total")[0].as_py()) if t.num_rows else 0
    return total, t.drop_columns(["total"])


LANE_CHANGES_TABLE = "lane_changes"
_LANE_CHANGES_DDL = (
    f"CREATE TABLE IF NOT EXISTS {LANE_CHANGES_TABLE} (ran_at TIMESTAMP_NS NOT NULL, "
    "vehicle_id VARCHAR NOT NULL, model VARCHAR NOT NULL, friction DOUBLE NOT NULL, "
    "speed_mps DOUBLE NOT NULL, passed BOOLEAN NOT NULL, spun BOOLEAN NOT NULL, "
    "max_sideslip_deg DOUBLE, cones_struck VARCHAR NOT NULL, width_m DOUBLE NOT NULL, "
    "length_m DOUBLE NOT NULL, path_json VARCHAR NOT NULL)"
)


def record_lane_change(
    store: Store,
    *,
    vehicle_id: str,
    model: str,
    friction: float,
    summary: dict[str, Any],
    width_m: float,
    length_m: float,
    x_m: Any,
    y_m: Any,
    ran_at: Any = None,
) -> None:
    """Store one ISO 3888-2 double-lane-change run in ``lane_changes`` (created when missing):
    ``summary`` as :meth:`DLCResult.summary` gives it (``speed_mps`` entry speed, ``passed``,
    ``spun``, ``max_sideslip_deg``, ``cones`` struck), the car's ``width_m``/``length_m`` (the
    cone layout follows from the width) and its centre's path ``x_m``/``y_m`` (m, track frame:
    x along the track from section 1's entry, y left of section 1's right cone line), run at
    ``ran_at`` (UTC, default now)."""
    import json

    store.execute(_LANE_CHANGES_DDL)
    at = timeconv.utc_now() if ran_at is None else ran_at
    path = {"x_m": np.round(np.asarray(x_m, float), 3).tolist(),
            "y_m": np.round(np.asarray(y_m, float), 3).tolist()}  # fmt: skip
    store.execute(
        f"INSERT INTO {LANE_CHANGES_TABLE} VALUES (make_timestamp_ns(?), ?, ?, ?, ?, ?, ?, ?, "
        "?, ?, ?, ?)",
        [
            int(np.asarray(timeconv.to_ns(at)).reshape(())),
            vehicle_id,
            model,
            float(friction),
            float(summary["speed_mps"]),
            bool(summary["passed"]),
            bool(summary["spun"]),
            float(summary["max_sideslip_deg"]),
            json.dumps(list(summary["cones"])),
            float(width_m),
            float(length_m),
            json.dumps(path),
        ],
    )


def lane_changes(store: Store, vehicle_id: str | None = None, limit: int = 10) -> pa.Table:
    """Stored double-lane-change runs, newest first (see :func:`record_lane_change`; the
    store must hold the table, :func:`has_table`): ``ran_at_ns`` (ns since 1970 UTC) and every
    other column as stored."""
    where, params = ("vehicle_id = ?", [vehicle_id]) if vehicle_id else ("TRUE", [])
    return store.query(
        f"SELECT epoch_ns(ran_at) AS ran_at_ns, * EXCLUDE (ran_at) FROM {LANE_CHANGES_TABLE} "
        f"WHERE {where} ORDER BY ran_at DESC LIMIT ?",
        [*params, int(limit)],
    )
