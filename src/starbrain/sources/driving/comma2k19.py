"""Reader for comma2k19's processed-log layout (one route segment folder) into the ``vehicle``
stream: every channel resampled onto the 20 Hz ``global_pose`` clock (fast channels averaged
over each pose interval, slow ones interpolated).

A segment folder holds ``global_pose/frame_{times,gps_times,positions,velocities}`` and
``processed_log/{CAN,IMU,GNSS}/<channel>/{t,value}``, each a NumPy array written by ``np.save``
without the ``.npy`` suffix. comma's IMU axes are [forward, right, down] (the dataset's README;
its ``processed_readers`` notebook plots ``gyro/value[:, 2]`` as the yaw rate, negatively
correlated with the CAN steering angle); they are turned into ISO 8855 (forward, left, up) here,
so the yaw rate is ``-gyro[:, 2]``. On the example log it follows the heading rate of the
pose's ``frame_orientations`` quaternion (correlation 0.91 after the interval averaging, 0.82
with point interpolation); the heading of the velocity direction, differentiated at 20 Hz, is
much noisier (0.33 against the quaternion's). Bad samples (NaN, time not increasing) are dropped and
reported; pose rows they leave uncovered split the log into segments; a missing optional channel
gives nulls, a missing required one gives no rows. Every problem is a ``RecordError`` naming the
file and channel.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from starbrain.core.constants import WGS84_A_KM, WGS84_E2
from starbrain.core.schemas.vehicle import VEHICLE_SCHEMA
from starbrain.sources.records import LoadResult, RecordError

__all__ = ["gps_to_unix_ns", "read_comma2k19"]

Array = npt.NDArray[np.float64]
GPS_EPOCH_UNIX_S = 315_964_800  # 1980-01-06T00:00:00Z
# GPS - UTC (s) from each date on (IERS Bulletin C); comma2k19 was recorded in 2018
_LEAPS = [("2006-01-01", 14), ("2009-01-01", 15), ("2012-07-01", 16), ("2015-07-01", 17),
          ("2017-01-01", 18)]  # fmt: skip
MAX_GAP_S = 0.25  # a channel with no sample within this of a pose row leaves that row invalid


def gps_to_unix_ns(week: Array, tow_s: Array) -> npt.NDArray[np.int64]:
    """GPS week and seconds of week -> UTC nanoseconds since 1970 (leap seconds from 2006 on)."""
    tow = np.asarray(tow_s, np.float64)
    whole = np.floor(tow)
    unix_gps = np.asarray(week, np.float64).astype(np.int64) * 604_800 + whole.astype(np.int64)
    unix_gps = unix_gps + GPS_EPOCH_UNIX_S
    if (unix_gps < np.datetime64(_LEAPS[0][0], "s").astype(np.int64)).any():
        raise ValueError("GPS times before 2006 are outside this converter's leap-second table")
    offset = np.zeros_like(unix_gps)
    for day, leap in _LEAPS:
        start = np.datetime64(day, "s").astype(np.int64) + leap
        offset = np.where(unix_gps >= start, leap, offset)
    return (unix_gps - offset) * 1_000_000_000 + np.round((tow - whole) * 1e9).astype(np.int64)


@dataclass
class _Channel:
    t: Array
    value: Array  # (n, k)


def _load(path: Path, errors: list[RecordError], field: str) -> npt.NDArray[np.float64] | None:
    if not path.is_file():
        errors.append(RecordError(str(path), "file missing", field=field))
        return None
    try:
        a = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        errors.append(RecordError(str(path), f"not a NumPy array file ({exc})", field=field))
        return None
    return np.asarray(a, np.float64)


def _channel(root: Path, rel: str, width: int, errors: list[RecordError]) -> _Channel | None:
    """``rel/t`` and ``rel/value`` with bad samples dropped and reported."""
    name = rel.rsplit("/", 1)[-1]
    t = _load(root / rel / "t", errors, name)
    v = _load(root / rel / "value", errors, name)
    if t is None or v is None:
        return None
    v = v.reshape(len(v), -1)
    if v.shape[1] < width:
        why = f"{v.shape[1]} columns, expected {width}"
        errors.append(RecordError(str(root / rel / "value"), why, field=name))
        return None
    v = v[:, :width]
    if len(t) != len(v):
        errors.append(RecordError(str(root / rel), f"{len(t)} times but {len(v)} values; "
                                  "the extra samples are dropped", field=name))  # fmt: skip
        n = min(len(t), len(v))
        t, v = t[:n], v[:n]
    return _clean(t, v, str(root / rel), name, errors)


def _clean(t: Array, v: Array, src: str, name: str, errors: list[RecordError]) -> _Channel:
    bad = ~np.isfinite(v).all(axis=1) | ~np.isfinite(t)
    for i in np.flatnonzero(bad)[:20]:
        errors.append(RecordError(f"{src}/value", "not a number", record=int(i), field=name))
    if bad.sum() > 20:
        errors.append(RecordError(f"{src}/value", f"{int(bad.sum()) - 20} more NaN samples",
                                  field=name))  # fmt: skip
    keep = ~bad
    tt = np.where(keep, t, -np.inf)
    run_max = np.maximum.accumulate(tt)
    back = keep & (np.concatenate([[False], tt[1:] <= run_max[:-1]]))
    for i in np.flatnonzero(back)[:20]:
        errors.append(RecordError(
            f"{src}/t", f"time goes backwards or repeats ({t[i]:.6f} s after "
            f"{run_max[i - 1]:.6f} s); sample dropped", record=int(i), field=name,
        ))  # fmt: skip
    keep &= ~back
    return _Channel(t[keep], v[keep])


def _resample(ch: _Channel, t: Array) -> tuple[Array, npt.NDArray[np.bool_]]:
    """``ch`` on the pose times ``t`` and the rows it covers (a sample within MAX_GAP_S on
    both sides). A channel sampled at least twice as fast as the poses (IMU ~100 Hz, CAN
    ~83 Hz) is averaged over each pose's interval (edges halfway between pose times), so
    vibration above the 10 Hz Nyquist limit of the 20 Hz clock is not aliased into it; a
    slower one (GNSS) is interpolated linearly."""
    if len(ch.t) < 2:
        return np.full((len(t), ch.value.shape[1]), np.nan), np.zeros(len(t), bool)
    out = np.stack([np.interp(t, ch.t, ch.value[:, j]) for j in range(ch.value.shape[1])], 1)
    if len(t) > 1 and 2 * np.median(np.diff(ch.t)) <= np.median(np.diff(t)):
        mid = 0.5 * (t[1:] + t[:-1])
        edges = np.concatenate([[2 * t[0] - mid[0]], mid, [2 * t[-1] - mid[-1]]])
        idx = np.searchsorted(ch.t, edges)
        n = np.diff(idx)
        sums = np.concatenate([np.zeros((1, ch.value.shape[1])), np.cumsum(ch.value, 0)])
        mean = (sums[idx[1:]] - sums[idx[:-1]]) / np.maximum(n, 1)[:, None]
        out = np.where((n > 0)[:, None], mean, out)  # an empty interval keeps the interpolant
    i = np.clip(np.searchsorted(ch.t, t), 1, len(ch.t) - 1)
    ok = (t - ch.t[i - 1] <= MAX_GAP_S) & (ch.t[i] - t <= MAX_GAP_S) & (t >= ch.t[0] - 1e-9)
    ok &= t <= ch.t[-1] + 1e-9
    return out, ok


def _enu(ecef: Array) -> tuple[Array, Array]:
    """East/north/up ``(n, 3)`` of ``ecef`` (m) relative to its first point, and the ECEF->ENU
    rotation there (geodetic latitude by Bowring's formula, ~1e-9 rad near the surface)."""
    a = WGS84_A_KM * 1e3
    x, y, z = ecef[0]
    lon = np.arctan2(y, x)
    p = np.hypot(x, y)
    b = a * np.sqrt(1 - WGS84_E2)
    ep2 = (a**2 - b**2) / b**2
    th = np.arctan2(z * a, p * b)
    lat = np.arctan2(z + ep2 * b * np.sin(th) ** 3, p - WGS84_E2 * a * np.cos(th) ** 3)
    sl, cl, so, co = np.sin(lat), np.cos(lat), np.sin(lon), np.cos(lon)
    rot = np.array([[-so, co, 0.0], [-sl * co, -sl * so, cl], [cl * co, cl * so, sl]])
    return (ecef - ecef[0]) @ rot.T, rot


def read_comma2k19(
    path: str | Path, vehicle_id: str = "comma2k19", log_id: str | None = None
) -> LoadResult:
    """Read one comma2k19 segment folder; rows at the 20 Hz pose times, in ``VEHICLE_SCHEMA``."""
    root = Path(path)
    errors: list[RecordError] = []
    empty = LoadResult(VEHICLE_SCHEMA.empty_table(), errors, str(root))
    gp = root / "global_pose"
    t = _load(gp / "frame_times", errors, "frame_times")
    gps = _load(gp / "frame_gps_times", errors, "frame_gps_times")
    pos = _load(gp / "frame_positions", errors, "frame_positions")
    vel = _load(gp / "frame_velocities", errors, "frame_velocities")
    speed = _channel(root, "processed_log/CAN/speed", 1, errors)
    steer = _channel(root, "processed_log/CAN/steering_angle", 1, errors)
    if t is None or gps is None or pos is None or vel is None or speed is None or steer is None:
        return empty  # required channels: the errors say which
    n = min(len(t), len(gps), len(pos), len(vel))
    if len({len(t), len(gps), len(pos), len(vel)}) > 1:
        errors.append(RecordError(str(gp), f"pose files differ in length; first {n} rows used",
                                  field="global_pose"))  # fmt: skip
    pose = _clean(t[:n], np.hstack([gps[:n].reshape(n, -1), pos[:n], vel[:n]]), str(gp),
                  "global_pose", errors)  # fmt: skip
    tp = pose.t
    if len(tp) < 2:
        errors.append(RecordError(str(gp), "fewer than two valid poses", field="global_pose"))
        return empty
    time_ns = gps_to_unix_ns(pose.value[:, 0], pose.value[:, 1])
    ecef, v_ecef = pose.value[:, 2:5], pose.value[:, 5:8]
    cols, valid = _channels(root, speed, steer, tp, errors)
    enu, rot = _enu(ecef)
    v_enu = v_ecef @ rot.T  # heading from the velocity: no heading channel, the mount is skewed
    cols.update({"x_m": enu[:, 0], "y_m": enu[:, 1],
                 "yaw_rad": np.unwrap(np.arctan2(v_enu[:, 1], v_enu[:, 0]))})  # fmt: skip
    cols.update({f"ecef_{c}_m": ecef[:, i] for i, c in enumerate("xyz")})
    if not valid.any():
        errors.append(RecordError(str(root), "no pose row is covered by speed and steering",
                                  field="global_pose"))  # fmt: skip
        return empty
    seg = np.cumsum(valid & ~np.concatenate([[False], valid[:-1]])) - 1  # runs of valid rows
    m = int(valid.sum())
    fixed = {
        "vehicle_id": pa.array([vehicle_id] * m, pa.string()),
        "log_id": pa.array([log_id or root.name] * m, pa.string()),
        "segment": pa.array(seg[valid].astype(np.int32)),
        "time": pa.array(time_ns[valid], pa.timestamp("ns", tz="UTC")),
        "driver": pa.nulls(m, pa.string()),
        "source": pa.array([str(root)] * m, pa.string()),
    }
    arrays = [fixed[f.name] if f.name in fixed else _column(cols.get(f.name), valid)
              for f in VEHICLE_SCHEMA]  # fmt: skip
    return LoadResult(pa.Table.from_arrays(arrays, schema=VEHICLE_SCHEMA), errors, str(root))


def _column(v: Array | None, keep: npt.NDArray[np.bool_]) -> pa.Array:
    """The kept rows of a float channel, NaN as null; all null for a channel that is absent."""
    if v is None:
        return pa.nulls(int(keep.sum()), pa.float64())
    vv = v[keep]
    return pa.array(vv, pa.float64(), mask=~np.isfinite(vv))


def _channels(
    root: Path, speed: _Channel, steer: _Channel, tp: Array, errors: list[RecordError]
) -> tuple[dict[str, Array | None], npt.NDArray[np.bool_]]:
    """Every channel on the pose times ``tp`` in schema units and ISO 8855 axes, and the pose
    rows the required channels (speed, steering) cover."""
    valid = np.ones(len(tp), bool)
    cols: dict[str, Array | None] = {}
    for ch, names, signs, required in (
        (speed, ["speed_mps"], [1.0], True),
        (steer, ["steering_wheel_angle_rad"], [np.pi / 180], True),
        (_channel(root, "processed_log/CAN/wheel_speed", 4, errors),
         ["wheel_speed_fl_mps", "wheel_speed_fr_mps", "wheel_speed_rl_mps", "wheel_speed_rr_mps"],
         [1.0] * 4, False),
        (_channel(root, "processed_log/IMU/accelerometer", 3, errors),
         ["accel_x_mps2", "accel_y_mps2", "accel_z_mps2"], [1.0, -1.0, -1.0], False),
        (_channel(root, "processed_log/IMU/gyro", 3, errors),
         ["gyro_x_radps", "gyro_y_radps", "yaw_rate_radps"], [1.0, -1.0, -1.0], False),
        (_channel(root, "processed_log/GNSS/live_gnss_ublox", 2, errors),
         ["lat_deg", "lon_deg"], [1.0, 1.0], False),
    ):  # fmt: skip
        if ch is None:
            cols.update(dict.fromkeys(names))
            continue
        vals, ok = _resample(ch, tp)
        if required:
            valid &= ok
        vals[~ok] = np.nan  # optional channels: null where not covered
        for j, name in enumerate(names):
            cols[name] = vals[:, j] * signs[j]
    return cols, valid
