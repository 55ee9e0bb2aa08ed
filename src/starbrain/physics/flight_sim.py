"""Launch-vehicle flight telemetry simulator with injectable, labelled anomalies.

A two-stage ascent is flown with the planar point-mass dynamics of
:mod:`starbrain.physics.launch_vehicle` (the same ``planar_derivatives``; the engine's throttle
``k(t)`` scales thrust and mass flow, 1 when nominal) under a pitch programme (vertical rise, then
linear pitch-over per stage). From the trajectory, 50 telemetry parameters (the packets of
``sources/telemetry/definitions/launch_vehicle.yaml``: propulsion, thermal, IMU/attitude/vibration,
GNSS,
power) are derived at ``rate_hz`` (10-100 Hz) with sensor noise, then encoded as CCSDS Space
Packets. Every derived quantity is a vectorised function of the sampled trajectory; the only
time-stepping is the ODE solver (SciPy DOP853 with dense output) and first-order thermal lags
(``scipy.signal.lfilter``).

Simplifications, stated: point mass (attitude = the commanded pitch, rates = its derivative plus
noise), constant speed of sound (320 m/s) for the Mach number, levels of the two tanks follow the
stage's total propellant, temperatures are first-order lags towards algebraic targets, vibration
RMS levels are algebraic in throttle, dynamic pressure and pump speed. The vehicle is
:data:`starbrain.physics.launch_vehicle.FALCON9_LIKE`, the one the ascent planner optimises.

Anomalies (``Anomaly``; each becomes a row of the label table: kind, channels, start, end):

* sensor faults on one channel: ``bias`` (constant offset), ``drift`` (linear ramp from 0),
  ``stuck`` (holds the last good reading), ``spike`` (isolated wild samples); magnitudes in
  units of the channel's noise sigma;
* ``thrust_loss``: the throttle drops to ``1 - magnitude`` in the dynamics, so thrust, chamber
  pressures, flows, pump speed, acceleration and vibration change together and the burn lasts
  longer;
* ``valve_oscillation``: the LOX valve oscillates (amplitude ``magnitude``, 4 Hz or a fifth of
  the sample rate if lower), modulating flows, chamber pressure, thrust, acceleration, pump
  speed and vibration; zero-mean, so the trajectory is integrated with the mean throttle;
* ``dropout``: packets of one packet type (``channel`` = packet name) or of all types are
  missing (sequence-count gaps in the stream).

The ascent is integrated in :mod:`starbrain.physics.flight_ascent`, the true channel values are
derived in :mod:`starbrain.physics.flight_channels`; this module draws the dispersions and the
noise, injects the anomalies and labels them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal, get_args

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from starbrain.core.constants import G0_MPS2
from starbrain.core.errors import StarbrainError
from starbrain.core.schemas.anomalies import FLIGHT_LABELS_SCHEMA as LABELS_SCHEMA
from starbrain.physics.flight_ascent import (
    fly_ascent,
    mean_throttle,
    pitch_programme,
    throttle_windows,
)
from starbrain.physics.flight_channels import (
    PUMP_SPEED_RADPS,
    air_data,
    propulsion_channels,
    state_channels,
    thermal_channels,
)
from starbrain.physics.launch_vehicle import (
    FALCON9_LIKE,
    LaunchVehicle,
)
from starbrain.sources.telemetry.packets import PacketSet, load_definitions

__all__ = [
    "ANOMALY_KINDS",
    "CHANNELS",
    "CONTINUOUS_CHANNELS",
    "LABELS_SCHEMA",
    "SIM_VEHICLE",
    "Anomaly",
    "Flight",
    "FlightConfig",
    "interleave_by_time",
    "launch_vehicle_definitions",
    "parse_anomaly",
    "random_anomalies",
    "read_labels",
    "simulate_flight",
]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
AnomalyKind = Literal[
    "bias", "drift", "stuck", "spike", "thrust_loss", "valve_oscillation", "dropout"
]
ANOMALY_KINDS: tuple[str, ...] = get_args(AnomalyKind)
SENSOR_KINDS = ("bias", "drift", "stuck", "spike")
DEFAULT_MAGNITUDE = {
    "bias": 12.0,  # noise sigmas
    "drift": 25.0,  # noise sigmas reached at the end of the ramp
    "spike": 40.0,  # noise sigmas
    "stuck": 0.0,
    "thrust_loss": 0.2,  # fraction of thrust lost
    "valve_oscillation": 0.08,  # valve position amplitude (fraction of full travel)
    "dropout": 0.0,
}

SIM_VEHICLE = FALCON9_LIKE
"""The flown vehicle: :data:`starbrain.physics.launch_vehicle.FALCON9_LIKE` (the ascent
planner's; its docstring gives the public numbers and their sources)."""

G0 = G0_MPS2

# Channel -> (packet, noise sigma in SI units). Order = the YAML's parameter order.
CHANNELS: dict[str, tuple[str, float]] = {
    "stage": ("LV_PROP", 0.0),
    "engine_state": ("LV_PROP", 0.0),
    "thrust": ("LV_PROP", 2.0e4),
    "chamber_pressure_a": ("LV_PROP", 3.0e4),
    "chamber_pressure_b": ("LV_PROP", 3.0e4),
    "lox_flow": ("LV_PROP", 6.0),
    "fuel_flow": ("LV_PROP", 2.5),
    "mixture_ratio": ("LV_PROP", 0.01),
    "lox_level": ("LV_PROP", 0.002),
    "fuel_level": ("LV_PROP", 0.002),
    "lox_tank_pressure": ("LV_PROP", 1.5e3),
    "fuel_tank_pressure": ("LV_PROP", 1.5e3),
    "lox_pump_inlet_pressure": ("LV_PROP", 2.5e3),
    "fuel_pump_inlet_pressure": ("LV_PROP", 2.5e3),
    "lox_injector_pressure": ("LV_PROP", 4.0e4),
    "fuel_injector_pressure": ("LV_PROP", 4.0e4),
    "turbopump_speed": ("LV_PROP", 8.0),
    "lox_valve_position": ("LV_PROP", 0.002),
    "fuel_valve_position": ("LV_PROP", 0.002),
    "nozzle_temperature": ("LV_THERMAL", 3.0),
    "turbine_inlet_temperature": ("LV_THERMAL", 2.0),
    "bearing_temperature": ("LV_THERMAL", 0.3),
    "lox_temperature": ("LV_THERMAL", 0.1),
    "fuel_temperature": ("LV_THERMAL", 0.1),
    "avionics_temperature": ("LV_THERMAL", 0.1),
    "base_temperature": ("LV_THERMAL", 2.0),
    "fairing_temperature": ("LV_THERMAL", 0.5),
    "accel_axial": ("LV_DYN", 0.05),
    "accel_normal": ("LV_DYN", 0.03),
    "accel_lateral": ("LV_DYN", 0.03),
    "roll_rate": ("LV_DYN", 0.002),
    "pitch_rate": ("LV_DYN", 0.001),
    "yaw_rate": ("LV_DYN", 0.001),
    "pitch_angle": ("LV_DYN", 0.001),
    "vibration_axial": ("LV_DYN", 0.1),
    "vibration_lateral": ("LV_DYN", 0.1),
    "vibration_turbopump": ("LV_DYN", 0.1),
    "dynamic_pressure": ("LV_DYN", 150.0),
    "mach": ("LV_DYN", 0.01),
    "altitude": ("LV_GNSS", 3.0),
    "downrange": ("LV_GNSS", 3.0),
    "velocity_radial": ("LV_GNSS", 0.1),
    "velocity_horizontal": ("LV_GNSS", 0.1),
    "speed": ("LV_GNSS", 0.1),
    "flight_path_angle": ("LV_GNSS", 2.0e-4),
    "sats_tracked": ("LV_GNSS", 0.0),
    "gdop": ("LV_GNSS", 0.01),
    "bus_voltage": ("LV_POWER", 0.02),
    "bus_current": ("LV_POWER", 0.2),
    "battery_temperature": ("LV_POWER", 0.1),
}
DISCRETE_CHANNELS = ("stage", "engine_state", "sats_tracked")
CONTINUOUS_CHANNELS: tuple[str, ...] = tuple(c for c in CHANNELS if c not in DISCRETE_CHANNELS)
PACKET_NAMES = ("LV_PROP", "LV_THERMAL", "LV_DYN", "LV_GNSS", "LV_POWER")
THRUST_LOSS_CHANNELS = (
    "thrust",
    "chamber_pressure_a",
    "chamber_pressure_b",
    "lox_flow",
    "fuel_flow",
    "lox_injector_pressure",
    "fuel_injector_pressure",
    "turbopump_speed",
    "accel_axial",
    "vibration_axial",
    "vibration_turbopump",
)
VALVE_CHANNELS = ("lox_valve_position", "mixture_ratio", *THRUST_LOSS_CHANNELS)


def launch_vehicle_definitions() -> PacketSet:
    """The packet definitions of the simulated launcher (``launch_vehicle.yaml``)."""
    from importlib import resources

    ref = resources.files("starbrain.sources.telemetry").joinpath("definitions/launch_vehicle.yaml")
    return load_definitions(Path(str(ref)))


# -- anomalies ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Anomaly:
    """One injected anomaly: ``kind``, start and duration in seconds after lift-off, the channel
    (sensor faults: a parameter name; dropout: a packet name or None for all packets) and a
    kind-specific magnitude (None: ``DEFAULT_MAGNITUDE``)."""

    kind: str
    start_s: float
    duration_s: float
    channel: str | None = None
    magnitude: float | None = None

    def __post_init__(self) -> None:
        if self.kind not in ANOMALY_KINDS:
            raise StarbrainError(
                f"unknown anomaly kind {self.kind!r} (known: {', '.join(ANOMALY_KINDS)})"
            )
        if self.duration_s <= 0 or self.start_s < 0:
            raise StarbrainError(f"anomaly {self.kind}: start must be >= 0 and duration > 0")
        if self.kind in SENSOR_KINDS and self.channel not in CONTINUOUS_CHANNELS:
            raise StarbrainError(
                f"anomaly {self.kind} needs a continuous channel, got {self.channel!r}"
            )
        if self.kind == "dropout" and self.channel not in (None, *PACKET_NAMES):
            raise StarbrainError(
                f"dropout channel must be a packet ({', '.join(PACKET_NAMES)}), "
                f"got {self.channel!r}"
            )

    @property
    def value(self) -> float:
        return DEFAULT_MAGNITUDE[self.kind] if self.magnitude is None else self.magnitude

    @property
    def end_s(self) -> float:
        return self.start_s + self.duration_s


_SPEC = re.compile(
    r"^(?P<kind>[a-z_]+)(?::(?P<channel>[A-Za-z_][\w.-]*))?@(?P<start>[0-9.]+)\+(?P<dur>[0-9.]+)"
    r"(?:=(?P<mag>[-+0-9.eE]+))?$"
)


def parse_anomaly(spec: str) -> Anomaly:
    """``kind[:channel]@start+duration[=magnitude]`` (seconds after lift-off), e.g.
    ``stuck:lox_level@60+20``, ``thrust_loss@100+8=0.25``, ``dropout:LV_GNSS@200+3``."""
    m = _SPEC.match(spec.strip())
    if m is None:
        raise StarbrainError(
            f"cannot read anomaly {spec!r}: expected kind[:channel]@start+duration[=magnitude], "
            "e.g. stuck:lox_level@60+20"
        )
    try:
        return Anomaly(
            kind=m["kind"],
            start_s=float(m["start"]),
            duration_s=float(m["dur"]),
            channel=m["channel"],
            magnitude=float(m["mag"]) if m["mag"] is not None else None,
        )
    except ValueError as exc:
        raise StarbrainError(f"cannot read anomaly {spec!r}: {exc}") from None


_DURATIONS = {
    "bias": (6.0, 20.0),
    "drift": (10.0, 30.0),
    "stuck": (6.0, 20.0),
    "spike": (0.5, 2.0),
    "thrust_loss": (4.0, 12.0),
    "valve_oscillation": (3.0, 10.0),
    "dropout": (1.0, 4.0),
}


def random_anomalies(
    seed: int, n: int, duration_s: float, kinds: Sequence[str] = ANOMALY_KINDS
) -> tuple[Anomaly, ...]:
    """``n`` non-overlapping anomalies drawn with ``seed``: kinds in turn from a shuffled list,
    sensor faults on random continuous channels, one per equal slot of ``[15 s, duration - 10 s]``
    (engine anomalies only while an engine burns: before 140 s or after 160 s)."""
    rng = np.random.default_rng([seed, 0xA11])
    lo, hi = 15.0, duration_s - 10.0
    slot = (hi - lo) / max(n, 1)
    if n and slot < 12.0:
        raise StarbrainError(f"{n} anomalies do not fit in a {duration_s:.0f} s flight")
    order = list(rng.permutation(np.resize(np.asarray(kinds), n)))
    out: list[Anomaly] = []
    for i, kind in enumerate(order):
        kind = str(kind)
        d_lo, d_hi = _DURATIONS[kind]
        d = float(rng.uniform(d_lo, min(d_hi, slot - 4.0)))
        a, b = lo + i * slot + 2.0, lo + (i + 1) * slot - 2.0 - d
        start = float(rng.uniform(a, max(a, b)))
        if kind in ("thrust_loss", "valve_oscillation") and start < 160.0 < start + d + 20:
            start = min(start, 140.0 - d) if start < 150 else max(start, 160.0)
        channel: str | None = None
        if kind in SENSOR_KINDS:
            channel = str(rng.choice(CONTINUOUS_CHANNELS))
        elif kind == "dropout":
            channel = str(rng.choice([*PACKET_NAMES, "ALL"]))
            channel = None if channel == "ALL" else channel
        out.append(Anomaly(kind, round(start, 2), round(d, 2), channel))
    return tuple(out)


# -- the flight -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class FlightConfig:
    """One simulated flight. ``seed`` draws the dispersions (thrust +-1.5 %, Isp +-0.5 %,
    payload 6-14 t, pitch programme +-0.03 rad) and the sensor noise; ``start`` is lift-off UTC."""

    seed: int = 0
    duration_s: float = 400.0
    rate_hz: float = 20.0
    start: str = "2026-01-01T12:00:00Z"
    anomalies: tuple[Anomaly, ...] = ()
    vertical_rise_s: float = 10.0
    latitude_deg: float = 28.5
    name: str = ""

    def __post_init__(self) -> None:
        if not 1.0 <= self.rate_hz <= 1000.0:
            raise StarbrainError(f"rate must be 1..1000 Hz, got {self.rate_hz}")
        if not 20.0 <= self.duration_s <= 600.0:
            raise StarbrainError(f"duration must be 20..600 s, got {self.duration_s}")

    @property
    def flight_id(self) -> str:
        return self.name or f"sim-{self.seed}"


@dataclass
class Flight:
    """A simulated flight: sample times (ns since 1970, UTC) ``(n,)``; ``values`` ``(n, 50)``
    measured engineering values in ``CHANNELS`` order (anomalies included); ``truth`` the same
    without noise or sensor faults; ``present`` ``(n, 5)`` whether each packet of
    ``PACKET_NAMES`` was sent; ``state`` ``(n, 5)`` the planar state ``[r, theta, v_r, v_t, m]``;
    ``throttle`` and ``pitch_rad`` ``(n,)``; ``labels`` the ground truth (``LABELS_SCHEMA``)."""

    config: FlightConfig
    t_s: FloatArray
    times_ns: npt.NDArray[np.int64]
    values: FloatArray
    truth: FloatArray
    present: npt.NDArray[np.bool_]
    state: FloatArray
    throttle: FloatArray
    pitch_rad: FloatArray
    stage_number: npt.NDArray[np.int64]
    vehicle: LaunchVehicle
    labels: pa.Table
    meco_s: float = 0.0
    channels: tuple[str, ...] = field(default_factory=lambda: tuple(CHANNELS))

    def column(self, name: str, truth: bool = False) -> FloatArray:
        return (self.truth if truth else self.values)[:, self.channels.index(name)]

    def packet_matrices(
        self, definitions: PacketSet | None = None
    ) -> list[tuple[int, npt.NDArray[np.uint8]]]:
        """Per packet: (APID, encoded ``(n_sent, length)`` uint8 matrix)."""
        from starbrain.sources.telemetry.ccsds import encode_packets

        defs = definitions or launch_vehicle_definitions()
        out = []
        seq = np.arange(len(self.t_s))
        for k, name in enumerate(PACKET_NAMES):
            pdef = defs[name]
            sent = self.present[:, k]
            values = {
                q.name: self.values[sent, self.channels.index(q.name)] for q in pdef.parameters
            }
            for q in pdef.parameters:
                if q.enum is not None or q.type != "float":
                    lo, hi = q.raw_range()
                    cal = q.calibration or (0.0, 1.0)
                    raw = np.rint((values[q.name] - cal[0]) / cal[1])
                    values[q.name] = (np.clip(raw, lo, hi) * cal[1] + cal[0]).astype(np.float64)
            m = encode_packets(pdef, seq[sent], times=self.times_ns[sent], values=values)
            out.append((pdef.apid, m))
        return out

    def packet_bytes(self, definitions: PacketSet | None = None) -> bytes:
        """The whole flight as one CCSDS packet stream, packets in time order (APID order within
        one sample time)."""
        mats = self.packet_matrices(definitions)
        t_by_apid = [self.times_ns[self.present[:, k]] for k in range(len(PACKET_NAMES))]
        return interleave_by_time([m for _, m in mats], t_by_apid)

    def write(self, packets_path: str | Path, labels_path: str | Path | None = None) -> int:
        """Write the packet stream (and the labels: Parquet for .parquet, else CSV); returns
        the number of bytes written. The definitions it is written with go beside it, as
        ``PACKETS.definitions.yaml`` (``telemetry_io.definitions_sidecar``), for replay."""
        from importlib import resources

        from starbrain.sources.transport.replay import definitions_sidecar

        data = self.packet_bytes()
        Path(packets_path).write_bytes(data)
        ref = resources.files("starbrain.sources.telemetry").joinpath(
            "definitions/launch_vehicle.yaml"
        )
        definitions_sidecar(packets_path).write_bytes(ref.read_bytes())
        if labels_path is not None:
            write_labels(self.labels, labels_path)
        return len(data)


def interleave_by_time(
    matrices: Sequence[npt.NDArray[np.uint8]], times: Sequence[npt.NDArray[np.int64]]
) -> bytes:
    """Rows of several packet matrices (different lengths) as one stream ordered by packet time,
    ties in the order the matrices are given; one gather, no Python loop over packets."""
    flat = np.concatenate([m.ravel() for m in matrices]) if matrices else np.zeros(0, np.uint8)
    lengths = np.concatenate([np.full(m.shape[0], m.shape[1], np.int64) for m in matrices])
    base = np.cumsum([0] + [m.size for m in matrices[:-1]])
    starts = np.concatenate(
        [
            b + np.arange(m.shape[0], dtype=np.int64) * m.shape[1]
            for b, m in zip(base, matrices, strict=True)
        ]
    )
    t = np.concatenate([np.asarray(x, dtype=np.int64) for x in times])
    which = np.concatenate([np.full(m.shape[0], k) for k, m in enumerate(matrices)])
    order = np.lexsort((which, t))
    lens, sts = lengths[order], starts[order]
    out_starts = np.cumsum(lens) - lens
    idx = np.repeat(sts - out_starts, lens) + np.arange(int(lens.sum()))
    return flat[idx].tobytes()


def write_labels(labels: pa.Table, path: str | Path) -> None:
    path = Path(path)
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        pq.write_table(labels, path)
    else:
        import pyarrow.csv as pcsv

        pcsv.write_csv(labels, path)


def read_labels(path: str | Path) -> pa.Table:
    """A label table written by :meth:`Flight.write` (CSV or Parquet) in ``LABELS_SCHEMA``."""
    path = Path(path)
    if not path.is_file():
        raise StarbrainError(f"{path}: no such labels file")
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        table = pq.read_table(path)
    else:
        import pyarrow.csv as pcsv

        table = pcsv.read_csv(
            path,
            convert_options=pcsv.ConvertOptions(
                column_types={n: LABELS_SCHEMA.field(n).type for n in LABELS_SCHEMA.names}
            ),
        )
    return table.select(LABELS_SCHEMA.names).cast(LABELS_SCHEMA)


def simulate_flight(config: FlightConfig) -> Flight:
    """Fly ``config`` and return its telemetry, trajectory and labels (deterministic per seed)."""
    cfg = config
    rng = np.random.default_rng([cfg.seed, 0x5EED])
    vehicle, m0, d_pitch = _dispersed_vehicle(rng)
    s1, s2 = vehicle.stages

    dt = 1.0 / cfg.rate_hz
    n = round(cfg.duration_s * cfg.rate_hz)
    t: FloatArray = np.arange(n, dtype=np.float64) * dt
    x, stage, meco, ignition = fly_ascent(cfg, vehicle, m0, d_pitch, t)
    firing = (stage == 1.0) | (stage == 2.0)
    upper = stage >= 1.5
    end2 = meco + 3.0 + s2.burn_time_s
    pitch, pitch_rate = pitch_programme(
        t, cfg.vertical_rise_s, s1.burn_time_s, ignition, end2, d_pitch
    )
    k, valve_osc = _throttle(cfg, t, firing)
    air = air_data(t, x, pitch, cfg.latitude_deg, cfg.vertical_rise_s)
    truth_cols = propulsion_channels(vehicle, m0, x[:, 4], upper, firing, k, valve_osc, air)
    speed_ratio = truth_cols["turbopump_speed"] / np.take(PUMP_SPEED_RADPS, upper.astype(np.int64))
    truth_cols |= thermal_channels(t, dt, ignition, k, speed_ratio, truth_cols["lox_level"], air)
    truth_cols |= state_channels(t, x, stage, firing, pitch, pitch_rate, k, speed_ratio, air, rng)
    names = tuple(CHANNELS)
    truth = np.stack([truth_cols[c] for c in names], axis=1)
    sigma = np.array([CHANNELS[c][1] for c in names])
    values = truth + sigma * rng.standard_normal(truth.shape)
    t0_ns = int(np.datetime64(cfg.start.rstrip("Z"), "ns").astype(np.int64))
    present, labels = _inject_faults(cfg, t, t0_ns, values, sigma, rng)
    return Flight(
        config=cfg,
        t_s=t,
        times_ns=t0_ns + np.rint(t * 1e9).astype(np.int64),
        values=values,
        truth=truth,
        present=present,
        state=x,
        throttle=k,
        pitch_rad=pitch,
        stage_number=np.where(upper, 2, 1),
        vehicle=vehicle,
        labels=labels,
        meco_s=meco,
    )


def _dispersed_vehicle(rng: np.random.Generator) -> tuple[LaunchVehicle, float, FloatArray]:
    """This flight's vehicle (thrust +-1.5 %, Isp +-0.5 % per stage), its lift-off mass (kg, with
    a 6-14 t payload) and the pitch-programme offsets (rad, per stage), drawn from ``rng``."""
    f_thrust = 1.0 + 0.015 * rng.uniform(-1, 1, 2)
    f_isp = 1.0 + 0.005 * rng.uniform(-1, 1, 2)
    payload = float(rng.uniform(6_000.0, 14_000.0))
    d_pitch = 0.03 * rng.uniform(-1, 1, 2)
    stages = tuple(
        replace(
            s,
            thrust_vac_n=s.thrust_vac_n * ft,
            thrust_sl_n=None if s.thrust_sl_n is None else s.thrust_sl_n * ft,
            isp_vac_s=s.isp_vac_s * fi,
        )
        for s, ft, fi in zip(SIM_VEHICLE.stages, f_thrust, f_isp, strict=True)
    )
    vehicle = replace(SIM_VEHICLE, stages=stages)
    return vehicle, vehicle.gross_mass_without_payload_kg + payload, d_pitch


def _throttle(
    cfg: FlightConfig, t: FloatArray, firing: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """The throttle ``k(t)`` (mean level of the thrust losses times the LOX-valve oscillation,
    zero when no engine fires) and the valve oscillation itself (relative, zero-mean)."""
    k_mean = mean_throttle(t, throttle_windows(cfg.anomalies))
    valve_osc = np.zeros(t.size)
    f_osc = min(4.0, cfg.rate_hz / 5.0)
    for a in cfg.anomalies:
        if a.kind == "valve_oscillation":
            w = (t >= a.start_s) & (t < a.end_s)
            valve_osc += np.where(w, a.value * np.sin(2 * np.pi * f_osc * (t - a.start_s)), 0.0)
    return np.where(firing, k_mean * (1.0 + 0.5 * valve_osc), 0.0), valve_osc


def _inject_faults(
    cfg: FlightConfig,
    t: FloatArray,
    t0_ns: int,
    values: FloatArray,
    sigma: FloatArray,
    rng: np.random.Generator,
) -> tuple[BoolArray, pa.Table]:
    """Apply the sensor faults of ``cfg.anomalies`` to ``values`` ``(n, 50)`` in place (in
    units of each channel's noise ``sigma``), and return which packets were sent ``(n, 5)``
    (dropouts) and the label table (``LABELS_SCHEMA``; times in ns since 1970 from lift-off
    ``t0_ns``)."""
    names = tuple(CHANNELS)
    present = np.ones((t.size, len(PACKET_NAMES)), dtype=bool)
    rows: list[dict[str, object]] = []
    for a in cfg.anomalies:
        w = (t >= a.start_s) & (t < a.end_s)
        idx = np.flatnonzero(w)
        if a.kind in SENSOR_KINDS:
            assert a.channel is not None
            c = names.index(a.channel)
            if a.kind == "bias":
                values[idx, c] += a.value * sigma[c]
            elif a.kind == "drift":
                values[idx, c] += a.value * sigma[c] * (t[idx] - a.start_s) / a.duration_s
            elif a.kind == "stuck":
                values[idx, c] = values[max(idx[0] - 1, 0), c] if idx.size else 0.0
            else:  # spikes: about two per second, random signs
                n_sp = max(1, round(2 * a.duration_s))
                at = rng.choice(idx, size=min(n_sp, idx.size), replace=False)
                values[at, c] += a.value * sigma[c] * rng.choice([-1.0, 1.0], size=at.size)
            channels = [a.channel]
        elif a.kind == "dropout":
            packets = [a.channel] if a.channel else list(PACKET_NAMES)
            for p in packets:
                present[idx, PACKET_NAMES.index(p)] = False
            channels = [c for c in names if CHANNELS[c][0] in packets]
        elif a.kind == "thrust_loss":
            channels = [*THRUST_LOSS_CHANNELS, "nozzle_temperature", "turbine_inlet_temperature"]
        else:
            channels = list(VALVE_CHANNELS)
        rows.append(
            {
                "flight": cfg.flight_id,
                "kind": a.kind,
                "channels": ",".join(channels),
                "start": t0_ns + round(a.start_s * 1e9),
                "end": t0_ns + round(min(a.end_s, cfg.duration_s) * 1e9),
                "magnitude": a.value,
            }
        )
    return present, pa.Table.from_pylist(rows, schema=LABELS_SCHEMA)
