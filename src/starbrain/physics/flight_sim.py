"""Launch-vehicle flight telemetry simulator with injectable, labelled anomalies.

A two-stage ascent is flown with the planar point-mass dynamics of
:mod:`starbrain.physics.launch_vehicle` (the same ``planar_derivatives``; the engine's throttle
``k(t)`` scales thrust and mass flow, 1 when nominal) under a pitch programme (vertical rise, then
linear pitch-over per stage). From the trajectory, 50 telemetry parameters (the packets of
``sources/definitions/launch_vehicle.yaml``: propulsion, thermal, IMU/attitude/vibration, GNSS,
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
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, get_args

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from starbrain.core.constants import G0_MPS2
from starbrain.core.errors import StarbrainError
from starbrain.physics.launch_vehicle import (
    FALCON9_LIKE,
    OMEGA_EARTH_RADPS,
    R_EARTH_M,
    Atmosphere,
    LaunchVehicle,
    Stage,
    planar_derivatives,
)
from starbrain.sources.packets import PacketSet, load_definitions

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
MIXTURE_RATIO = 2.36  # LOX / RP-1 by mass
SPEED_OF_SOUND_MPS = 320.0
PC_NOMINAL_PA = (9.7e6, 9.7e6)  # chamber pressure per stage at full throttle
PUMP_SPEED_RADPS = (3600.0, 4000.0)
TANK_HEAD_M = (20.0, 6.0)
RHO_LOX, RHO_FUEL = 1141.0, 810.0
Q_REF_PA = 35_000.0

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

LABELS_SCHEMA = pa.schema(
    [
        pa.field("flight", pa.string(), nullable=False),
        pa.field("kind", pa.string(), nullable=False),
        pa.field("channels", pa.string(), nullable=False),  # comma-separated
        pa.field("start", pa.timestamp("ns", tz="UTC"), nullable=False),
        pa.field("end", pa.timestamp("ns", tz="UTC"), nullable=False),
        pa.field("magnitude", pa.float64()),
    ],
    metadata={"table": "anomaly labels"},
)


def launch_vehicle_definitions() -> PacketSet:
    """The packet definitions of the simulated launcher (``launch_vehicle.yaml``)."""
    from importlib import resources

    ref = resources.files("starbrain.sources").joinpath("definitions/launch_vehicle.yaml")
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
        from starbrain.sources.ccsds import encode_packets

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

        from starbrain.sources.telemetry_io import definitions_sidecar

        data = self.packet_bytes()
        Path(packets_path).write_bytes(data)
        ref = resources.files("starbrain.sources").joinpath("definitions/launch_vehicle.yaml")
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


# -- dynamics -------------------------------------------------------------------------------------
def _pitch_programme(
    t: FloatArray, rise: float, meco: float, ignition: float, end2: float, d: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Commanded pitch (rad above the horizontal) and its rate: vertical for ``rise`` s, then
    linear to ``0.45 + d[0]`` rad at MECO; from ``0.35 + d[1]`` to ``-0.10`` rad over the second
    burn."""
    p1_end = 0.45 + d[0]
    p2_start, p2_end = 0.35 + d[1], -0.10
    rate1 = (p1_end - math.pi / 2) / (meco - rise)
    rate2 = (p2_end - p2_start) / (end2 - ignition)
    pitch = np.where(
        t < rise,
        math.pi / 2,
        np.where(
            t < meco,
            math.pi / 2 + rate1 * (t - rise),
            np.where(t < ignition, p1_end, p2_start + rate2 * (np.minimum(t, end2) - ignition)),
        ),
    )
    rate = np.where(
        t < rise,
        0.0,
        np.where(t < meco, rate1, np.where((t >= ignition) & (t < end2), rate2, 0.0)),
    )
    return pitch, rate


def _throttle_windows(anomalies: Sequence[Anomaly]) -> list[tuple[float, float, float]]:
    return [(a.start_s, a.end_s, 1.0 - a.value) for a in anomalies if a.kind == "thrust_loss"]


def _mean_throttle(t: FloatArray, windows: Sequence[tuple[float, float, float]]) -> FloatArray:
    k = np.ones_like(t)
    for a, b, level in windows:
        k = np.where((t >= a) & (t < b), level, k)
    return k


def _fly(
    cfg: FlightConfig, vehicle: LaunchVehicle, m0: float, d_pitch: FloatArray, t: FloatArray
) -> tuple[FloatArray, FloatArray, float, float]:
    """Integrate the ascent; returns the states ``(n, 5)`` and stage numbers at ``t`` (1: first
    stage burning, 1.5: coasting between stages, 2: second stage burning, 3: burnt out), and the
    MECO and second-stage ignition times."""
    from scipy.integrate import solve_ivp

    s1, s2 = vehicle.stages
    windows = _throttle_windows(cfg.anomalies)
    lat = math.radians(cfg.latitude_deg)
    omega = OMEGA_EARTH_RADPS * math.cos(lat)
    atm = Atmosphere()
    # MECO without thrust loss; the pitch programme is fixed before flight from nominal times.
    meco_nominal = s1.burn_time_s
    coast = 3.0
    end2_nominal = meco_nominal + coast + s2.burn_time_s

    def segment(
        x0: FloatArray, t0: float, t1: float, stage: Stage, ign: float, thrust: bool, m_dry: float
    ) -> tuple[list[tuple[float, float, Any]], float]:
        def rhs(tt: float, x: FloatArray) -> FloatArray:
            pitch, _ = _pitch_programme(
                np.array([tt]), cfg.vertical_rise_s, meco_nominal, ign, end2_nominal, d_pitch
            )
            if not thrust:
                return planar_derivatives(
                    x, pitch[0], stage, vehicle, atmosphere=atm, omega_plane_radps=omega,
                    thrust_on=False,
                )  # fmt: skip
            k = _mean_throttle(np.array([tt]), windows)[0]
            f0 = planar_derivatives(
                x, pitch[0], stage, vehicle, atmosphere=atm, omega_plane_radps=omega,
                thrust_on=False,
            )  # fmt: skip
            f1 = planar_derivatives(
                x, pitch[0], stage, vehicle, atmosphere=atm, omega_plane_radps=omega
            )
            return f0 + k * (f1 - f0)  # thrust and mass flow scale with the throttle

        def burnout(_tt: float, x: FloatArray) -> float:
            return float(x[4] - m_dry)

        burnout.terminal = True  # type: ignore[attr-defined]
        breaks = sorted({t0, t1, *(w for a, b, _ in windows for w in (a, b) if t0 < w < t1)})
        sols: list[tuple[float, float, Any]] = []
        x = x0
        t_end = t1
        for a, b in itertools.pairwise(breaks):
            sol = solve_ivp(
                rhs, (a, b), x, method="DOP853", rtol=1e-9, atol=1e-6, dense_output=True,
                events=burnout if thrust else None,
            )  # fmt: skip
            sols.append((a, sol.t[-1], sol.sol))
            x = sol.y[:, -1]
            if thrust and sol.status == 1:
                t_end = float(sol.t[-1])
                break
        return sols, t_end

    x0 = np.array([R_EARTH_M, 0.0, 0.0, omega * R_EARTH_M, m0])
    horizon = max(cfg.duration_s, 1.0) + 1.0
    seg1, meco = segment(
        x0, 0.0, min(horizon, meco_nominal * 1.5), s1, 1e9, True, m0 - s1.propellant_mass_kg
    )
    pieces: list[tuple[float, float, Any, float]] = [(a, b, s, 1.0) for a, b, s in seg1]
    ignition = meco + coast
    if meco < horizon:
        x_meco = seg1[-1][2](meco).copy()
        x_meco[4] -= s1.dry_mass_kg + (x_meco[4] - (m0 - s1.propellant_mass_kg))
        seg_c, _ = segment(x_meco, meco, ignition, s2, ignition, False, 0.0)
        pieces += [(a, b, s, 1.5) for a, b, s in seg_c]
        if ignition < horizon:
            x_ign = seg_c[-1][2](ignition)
            m_dry2 = x_ign[4] - s2.propellant_mass_kg
            seg2, end2 = segment(x_ign, ignition, horizon, s2, ignition, True, m_dry2)
            pieces += [(a, b, s, 2.0) for a, b, s in seg2]
            if end2 < horizon:
                x_end = seg2[-1][2](end2)
                seg3, _ = segment(x_end, end2, horizon, s2, ignition, False, 0.0)
                pieces += [(a, b, s, 3.0) for a, b, s in seg3]
    states = np.empty((len(t), 5))
    stage = np.empty(len(t))
    for a, b, sol, st in pieces:
        sel = (t >= a) & (t <= b)
        if sel.any():
            states[sel] = sol(t[sel]).T
            stage[sel] = st
    return states, stage, meco, ignition


def _lag(
    target: FloatArray, dt: float, tau: float, y0: float, resets: Sequence[int] = ()
) -> FloatArray:
    """First-order lag ``tau dy/dt = target - y`` sampled every ``dt`` (exact for a target held
    over each step), starting from ``y0`` and restarting from ``y0`` at each index in
    ``resets`` (a new engine)."""
    from scipy.signal import lfilter

    a = math.exp(-dt / tau)
    out = np.empty_like(target)
    bounds = [0, *sorted(r for r in resets if 0 < r < len(target)), len(target)]
    for i, j in itertools.pairwise(bounds):
        out[i:j], _ = lfilter([1.0 - a], [1.0, -a], target[i:j], zi=[a * y0])
    return out


def simulate_flight(config: FlightConfig) -> Flight:
    """Fly ``config`` and return its telemetry, trajectory and labels (deterministic per seed)."""
    cfg = config
    rng = np.random.default_rng([cfg.seed, 0x5EED])
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
    s1, s2 = stages
    m0 = vehicle.gross_mass_without_payload_kg + payload

    dt = 1.0 / cfg.rate_hz
    n = round(cfg.duration_s * cfg.rate_hz)
    t: FloatArray = np.arange(n, dtype=np.float64) * dt
    x, stage, meco, ignition = _fly(cfg, vehicle, m0, d_pitch, t)
    r, theta, vr, vt, m = x.T
    firing = (stage == 1.0) | (stage == 2.0)
    upper = stage >= 1.5
    si = upper.astype(np.int64)
    end2 = meco + 3.0 + s2.burn_time_s
    pitch, pitch_rate = _pitch_programme(
        t, cfg.vertical_rise_s, s1.burn_time_s, ignition, end2, d_pitch
    )

    # throttle: mean level (thrust loss) times the valve oscillation, zero when not firing
    k_mean = _mean_throttle(t, _throttle_windows(cfg.anomalies))
    valve_osc = np.zeros(n)
    f_osc = min(4.0, cfg.rate_hz / 5.0)
    for a in cfg.anomalies:
        if a.kind == "valve_oscillation":
            w = (t >= a.start_s) & (t < a.end_s)
            valve_osc += np.where(w, a.value * np.sin(2 * np.pi * f_osc * (t - a.start_s)), 0.0)
    k = np.where(firing, k_mean * (1.0 + 0.5 * valve_osc), 0.0)

    # air data
    atm = Atmosphere()
    h = r - R_EARTH_M
    p_amb = atm.pressure(h)
    rho = atm.density(h)
    omega = OMEGA_EARTH_RADPS * math.cos(math.radians(cfg.latitude_deg))
    wr, wt = vr, vt - omega * r
    v_air = np.hypot(wr, wt)
    q = 0.5 * rho * v_air**2
    gamma_air = np.arctan2(wr, np.maximum(wt, 1e-3))
    aoa = np.where(t < cfg.vertical_rise_s, 0.0, pitch - gamma_air)

    # propulsion
    thrust_full = np.where(upper, s2.thrust_n(p_amb), s1.thrust_n(p_amb))
    thrust = k * thrust_full
    mdot = k * np.where(upper, s2.mass_flow_kgps, s1.mass_flow_kgps)
    pc = k * np.take(PC_NOMINAL_PA, si)
    m_empty = np.where(upper, (m0 - s1.propellant_mass_kg - s1.dry_mass_kg) - s2.propellant_mass_kg,
                       m0 - s1.propellant_mass_kg)  # fmt: skip
    prop = np.where(upper, s2.propellant_mass_kg, s1.propellant_mass_kg)
    level = np.clip((m - m_empty) / prop, 0.0, 1.0)
    drag = q * vehicle.drag_coefficient * vehicle.reference_area_m2
    accel_axial = (thrust - drag * np.cos(aoa)) / m
    accel_normal = drag * np.sin(aoa) / m
    tank_lox = np.where(upper, 3.8e5, 3.5e5) * (1.0 - 0.03 * (1.0 - level))
    tank_fuel = np.where(upper, 3.2e5, 3.0e5) * (1.0 - 0.03 * (1.0 - level))
    head = np.take(TANK_HEAD_M, si) * level
    pump_speed = k * np.take(PUMP_SPEED_RADPS, si)
    speed_ratio = pump_speed / np.take(PUMP_SPEED_RADPS, si)
    valve_nominal = np.where(firing, 0.98, 0.0)

    # thermal (engine temperatures restart cold on the second-stage engine)
    i_ign = int(np.searchsorted(t, ignition))
    nozzle = _lag(300.0 + 1400.0 * k, dt, 8.0, 300.0, [i_ign])
    turbine = _lag(300.0 + 650.0 * k, dt, 1.5, 300.0, [i_ign])
    bearing = _lag(300.0 + 60.0 * speed_ratio**2, dt, 40.0, 300.0, [i_ign])
    base = _lag(300.0 + 500.0 * k * np.exp(-h / 30e3) + 80.0 * k, dt, 10.0, 300.0)
    fairing = _lag(290.0 + 2.5e-6 * rho * v_air**3, dt, 20.0, 290.0)

    rw = rng.uniform(0, 2 * np.pi, 6)  # phases of slow attitude wander
    sats = np.clip(np.rint(10 + 1.5 * np.sin(2 * np.pi * t / 170 + rw[3])), 4, 14)
    bus_current = 30.0 + 15.0 * firing + 5.0 * q / Q_REF_PA
    truth_cols: dict[str, FloatArray] = {
        "stage": np.where(upper, 2.0, 1.0),
        "engine_state": np.where(firing, 4.0, np.where(stage == 3.0, 5.0, 6.0)),
        "thrust": thrust,
        "chamber_pressure_a": pc,
        "chamber_pressure_b": pc,
        "lox_flow": mdot * MIXTURE_RATIO / (1 + MIXTURE_RATIO),
        "fuel_flow": mdot / (1 + MIXTURE_RATIO),
        "mixture_ratio": np.where(firing, MIXTURE_RATIO * (1.0 + 0.5 * valve_osc), 0.0),
        "lox_level": level,
        "fuel_level": level,
        "lox_tank_pressure": tank_lox,
        "fuel_tank_pressure": tank_fuel,
        "lox_pump_inlet_pressure": tank_lox + RHO_LOX * np.maximum(accel_axial, 0) * head,
        "fuel_pump_inlet_pressure": tank_fuel + RHO_FUEL * np.maximum(accel_axial, 0) * head,
        "lox_injector_pressure": 1.22 * pc,
        "fuel_injector_pressure": 1.18 * pc,
        "turbopump_speed": pump_speed,
        "lox_valve_position": valve_nominal * (1.0 + np.where(firing, valve_osc, 0.0)),
        "fuel_valve_position": valve_nominal,
        "nozzle_temperature": nozzle,
        "turbine_inlet_temperature": turbine,
        "bearing_temperature": bearing,
        "lox_temperature": 90.5 + 3.0 * (1.0 - level) + 0.002 * t,
        "fuel_temperature": 288.0 - 2.0 * (1.0 - level),
        "avionics_temperature": 300.0 + 0.02 * t,
        "base_temperature": base,
        "fairing_temperature": fairing,
        "accel_axial": accel_axial,
        "accel_normal": accel_normal,
        "accel_lateral": 0.05 * np.sin(2 * np.pi * t / 23 + rw[0]),
        "roll_rate": 0.01 * np.sin(2 * np.pi * t / 31 + rw[1]),
        "pitch_rate": pitch_rate,
        "yaw_rate": 0.003 * np.sin(2 * np.pi * t / 17 + rw[2]),
        "pitch_angle": pitch,
        "vibration_axial": np.where(firing, 5.0 + 20.0 * k + 10.0 * q / Q_REF_PA, 1.0),
        "vibration_lateral": np.where(firing, 3.0, 0.5) + 12.0 * q / Q_REF_PA,
        "vibration_turbopump": np.where(firing, 2.0 + 30.0 * speed_ratio**2, 0.5),
        "dynamic_pressure": q,
        "mach": v_air / SPEED_OF_SOUND_MPS,
        "altitude": h,
        "downrange": R_EARTH_M * theta,
        "velocity_radial": vr,
        "velocity_horizontal": vt,
        "speed": np.hypot(vr, vt),
        "flight_path_angle": np.arctan2(vr, vt),
        "sats_tracked": sats,
        "gdop": 1.6 + 0.2 * np.sin(2 * np.pi * t / 90 + rw[4]),
        "bus_voltage": 28.0 - 0.02 * bus_current,
        "bus_current": bus_current,
        "battery_temperature": 295.0 + 0.01 * t,
    }
    names = tuple(CHANNELS)
    truth = np.stack([truth_cols[c] for c in names], axis=1)
    sigma = np.array([CHANNELS[c][1] for c in names])
    values = truth + sigma * rng.standard_normal(truth.shape)

    # sensor faults, dropouts and labels
    present = np.ones((n, len(PACKET_NAMES)), dtype=bool)
    t0_ns = int(np.datetime64(cfg.start.rstrip("Z"), "ns").astype(np.int64))
    times_ns = t0_ns + np.rint(t * 1e9).astype(np.int64)
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
    labels = pa.Table.from_pylist(rows, schema=LABELS_SCHEMA)
    return Flight(
        config=cfg,
        t_s=t,
        times_ns=times_ns,
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
