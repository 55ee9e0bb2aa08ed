"""The force-model configuration (:class:`ForceModel`, :class:`Spacecraft`) and the total
acceleration :func:`acceleration` that sums the kernels of gravity, drag and radiation.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol

import numpy as np

from starbrain.core.constants import (
    EARTH_ROTATION_RADPS,
    EGM2008_MU_KM3_S2,
    EGM2008_RADIUS_KM,
    MU_MOON_KM3_S2,
    MU_SUN_KM3_S2,
    SOLAR_PRESSURE_NPM2,
    SUN_RADIUS_KM,
)
from starbrain.physics.forces.drag import (
    _AP_MODES,
    _DENSITY_MODELS,
    _MSIS_VERSION,
    accel_drag,
    density_msis_kgm3,
    geodetic_latitude_height,
)
from starbrain.physics.forces.gravity import (
    EGM2008_C_BAR_ZONAL,
    accel_harmonics_body,
    accel_point_mass,
    accel_third_body,
    accel_zonal,
    load_gravity_field,
    zonal_j,
)
from starbrain.physics.forces.radiation import _SHADOWS, accel_srp
from starbrain.physics.space_weather import DEFAULT_SPACE_WEATHER


@dataclass(frozen=True)
class ForceModel:
    """Which forces act and with which constants; serialisable to JSON with the truth data.

    Gravity: ``gravity_degree`` / ``gravity_order`` truncate the field. With order 0 only the
    zonal terms J_2..J_degree act (degree 0 or 1: point mass), from the built-in EGM2008
    coefficients (to degree 6) or from ``gravity_file``. Order > 0 (tesseral and sectorial
    terms) needs ``gravity_file``: ``"brahe:EGM2008"`` (to degree 90 here; embedded in the
    ``brahe`` wheel, also GGM05S, JGM3), an ICGEM ``.gfc`` path or ``"satkit-data:EGM96"``
    (also JGM3, JGM2, ITU_GRACE16), the fields shipped offline by the ``satkit-data`` package
    on PyPI (Orekit's ``orekitdata`` is not on PyPI). E.g. ``ForceModel(gravity_degree=20,
    gravity_order=20, gravity_file="satkit-data:EGM96")``.
    The central term uses ``mu_km3s2``; the harmonics use the file's own GM and radius. The
    field is evaluated in the Earth-fixed frame of :mod:`~starbrain.physics.environment`
    (IAU 2000A/2006 precession-nutation and GAST from Skyfield, polar motion neglected).

    Drag (``drag``): ``density_model`` 'vallado_exponential' (Vallado's piecewise exponential
    atmosphere, static: no solar or geomagnetic activity) at the WGS84 geodetic height, or
    'nrlmsise00' / 'nrlmsis21' (pymsis) at the geodetic position and UTC time, driven by the
    observed F10.7 and ap of ``space_weather`` ("brahe:cssi", the CelesTrak file shipped in
    brahe's wheel, or a CSSI file path; see :mod:`starbrain.physics.space_weather`), with
    ``ap_mode`` 'storm' (the 3-hour ap history) or 'daily' (daily Ap only);
    atmosphere co-rotating at ``earth_rotation_radps`` about the CIP; per-satellite Cd*A/m
    from :class:`Spacecraft`. :meth:`full` is EGM2008 30x30 + NRLMSISE-00 + Sun, Moon, SRP.

    Third bodies (``sun``, ``moon``): point masses at their DE421 geocentric positions
    (``ephemeris``, from ``skyfield-data``), tabulated every ``table_step_s`` seconds.

    Radiation pressure (``srp``): cannonball, ``srp_pressure_npm2`` at 1 AU, per-satellite
    Cr*A/m; Earth shadow ``shadow`` = 'conical' (umbra + penumbra of a spherical Earth of
    ``radius_km`` and a Sun of ``sun_radius_km``; the integrator cuts its steps at the shadow
    boundaries), 'cylindrical' or 'none'. No Moon shadow, no Earth albedo or infrared.
    """

    gravity_degree: int = 6
    gravity_order: int = 0
    gravity_file: str | None = None
    mu_km3s2: float = EGM2008_MU_KM3_S2
    radius_km: float = EGM2008_RADIUS_KM
    drag: bool = True
    density_model: str = "vallado_exponential"
    earth_rotation_radps: float = EARTH_ROTATION_RADPS
    sun: bool = True
    moon: bool = True
    mu_sun_km3s2: float = MU_SUN_KM3_S2
    mu_moon_km3s2: float = MU_MOON_KM3_S2
    ephemeris: str = "de421"
    srp: bool = True
    srp_pressure_npm2: float = SOLAR_PRESSURE_NPM2
    shadow: str = "conical"
    sun_radius_km: float = SUN_RADIUS_KM
    table_step_s: float = 3600.0
    space_weather: str = DEFAULT_SPACE_WEATHER
    ap_mode: str = "storm"

    def __post_init__(self) -> None:
        if self.gravity_degree < 0 or self.gravity_order < 0:
            raise ValueError("gravity_degree and gravity_order must be >= 0")
        if self.gravity_order > self.gravity_degree:
            raise ValueError(
                f"gravity_order {self.gravity_order} exceeds gravity_degree {self.gravity_degree}"
            )
        if self.gravity_file is None:
            if self.gravity_order > 0:
                raise ValueError(
                    "tesseral terms (gravity_order > 0) need gravity_file, an ICGEM .gfc path or "
                    "'satkit-data:EGM96': only the EGM2008 zonals J2..J6 are built in"
                )
            if self.gravity_degree > max(EGM2008_C_BAR_ZONAL):
                raise ValueError(
                    f"built-in zonals stop at J{max(EGM2008_C_BAR_ZONAL)}; for degree "
                    f"{self.gravity_degree} pass gravity_file"
                )
        if self.shadow not in _SHADOWS:
            raise ValueError(f"unknown shadow model {self.shadow!r}; choose one of {_SHADOWS}")
        if self.ap_mode not in _AP_MODES:
            raise ValueError(f"unknown ap_mode {self.ap_mode!r}; choose one of {_AP_MODES}")
        if self.density_model not in _DENSITY_MODELS:
            raise ValueError(
                f"unknown density model {self.density_model!r}; choose one of {_DENSITY_MODELS}"
            )

    @classmethod
    def two_body(cls, mu_km3s2: float = EGM2008_MU_KM3_S2) -> ForceModel:
        """Point-mass Earth only."""
        return cls(
            gravity_degree=0, drag=False, sun=False, moon=False, srp=False, mu_km3s2=mu_km3s2
        )

    @classmethod
    def full(cls, degree: int = 30, density_model: str = "nrlmsise00", **kw: Any) -> ForceModel:
        """The truth-grade model: EGM2008 ``degree`` x ``degree`` (from brahe's wheel),
        ``density_model`` (NRLMSISE-00 by default) with observed F10.7/Ap, Sun and Moon (DE421),
        SRP with the conical shadow. ``kw`` overrides any other field."""
        return cls(
            **{
                "gravity_degree": degree,
                "gravity_order": degree,
                "gravity_file": "brahe:EGM2008",
                "density_model": density_model,
                **kw,
            }
        )

    @property
    def needs_rotation(self) -> bool:
        """Whether any term needs the Earth's orientation (gravity harmonics or drag)."""
        return (self.gravity_degree >= 2) or self.drag

    @property
    def needs_space_weather(self) -> bool:
        """Whether drag uses an MSIS model and so observed F10.7 / Ap."""
        return self.drag and self.density_model in _MSIS_VERSION

    def to_dict(self) -> dict[str, Any]:
        meta = {"schema": "starbrain.physics.ForceModel/1", "frame": "GCRS"}
        return {**meta, **dataclasses.asdict(self)}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ForceModel:
        d = {k: v for k, v in d.items() if k not in ("schema", "frame")}
        return cls(**d)

    @classmethod
    def from_json(cls, text: str) -> ForceModel:
        return cls.from_dict(json.loads(text))


@dataclass(frozen=True)
class Spacecraft:
    """Per-satellite physical parameters; each a scalar or an array of shape (n_sat,).

    Drag uses ``cd * drag_area_m2 / mass_kg`` (the ballistic coefficient Cd*A/m, m^2/kg);
    radiation pressure uses ``cr * srp_area_m2 / mass_kg``.
    """

    mass_kg: Any = 100.0
    drag_area_m2: Any = 1.0
    srp_area_m2: Any = 1.0
    cd: Any = 2.2
    cr: Any = 1.3

    def ballistic_m2kg(self, n_sat: int) -> np.ndarray:
        """Cd*A/m per satellite, (n_sat,) m^2/kg."""
        b = np.asarray(self.cd, float) * np.asarray(self.drag_area_m2, float)
        return np.broadcast_to(b / np.asarray(self.mass_kg, float), (n_sat,)).copy()

    def srp_m2kg(self, n_sat: int) -> np.ndarray:
        """Cr*A/m per satellite, (n_sat,) m^2/kg."""
        b = np.asarray(self.cr, float) * np.asarray(self.srp_area_m2, float)
        return np.broadcast_to(b / np.asarray(self.mass_kg, float), (n_sat,)).copy()

    def to_dict(self) -> dict[str, Any]:
        return {k: np.asarray(v).tolist() for k, v in dataclasses.asdict(self).items()}


class Environment(Protocol):
    """What :func:`acceleration` needs from a time-dependent environment (duck-typed)."""

    #: With an MSIS density model: the F10.7/ap table (``at(mjd) -> (f107, f107a, ap)``).
    space_weather: Any

    def sample(self, t: np.ndarray, rotation: bool = False) -> Any: ...

    def utc_mjd(self, t: np.ndarray) -> np.ndarray: ...


@lru_cache(maxsize=16)
def _zonal_j_for(fm: ForceModel) -> tuple[np.ndarray, float, float]:
    if fm.gravity_file is None:
        return zonal_j(EGM2008_C_BAR_ZONAL, fm.gravity_degree), fm.mu_km3s2, fm.radius_km
    field = load_gravity_field(fm.gravity_file)
    if fm.gravity_degree >= field.c_bar.shape[0]:
        raise ValueError(f"{fm.gravity_file} stops at degree {field.c_bar.shape[0] - 1}")
    zon = {n: float(field.c_bar[n, 0]) for n in range(2, fm.gravity_degree + 1)}
    return zonal_j(zon, fm.gravity_degree), field.mu_km3s2, field.radius_km


def acceleration(
    fm: ForceModel,
    env: Environment | None,
    t: np.ndarray,
    r: np.ndarray,
    v: np.ndarray,
    ballistic_m2kg: np.ndarray | float = 0.0,
    srp_m2kg: np.ndarray | float = 0.0,
) -> np.ndarray:
    """Total acceleration (k, 3) km/s^2 in GCRS of the force model ``fm`` (NumPy).

    t: (k,) TT seconds since the environment's epoch (one time per row); r, v: (k, 3) GCRS.
    ``env`` supplies the pole, Earth rotation and Sun/Moon positions (a
    :class:`~starbrain.physics.environment.ForceEnvironment`); it may be None for two-body.
    """
    a = accel_point_mass(r, fm.mu_km3s2)
    needs_env = fm.gravity_degree >= 2 or fm.drag or fm.sun or fm.moon or fm.srp
    if not needs_env:
        return a
    if env is None:
        raise ValueError(
            "this force model needs an environment (Earth orientation, Sun and Moon): "
            "pass a starbrain.physics.environment.ForceEnvironment"
        )
    tesseral = fm.gravity_degree >= 2 and fm.gravity_order > 0
    msis = fm.drag and fm.density_model in _MSIS_VERSION
    smp = env.sample(t, rotation=tesseral or msis)
    if fm.gravity_degree >= 2:
        if not tesseral:
            j, mu_h, re_h = _zonal_j_for(fm)
            a = a + accel_zonal(r, smp.pole, j, mu_h, re_h)
        else:
            assert fm.gravity_file is not None  # checked in ForceModel
            field = load_gravity_field(fm.gravity_file)
            if fm.gravity_degree >= field.c_bar.shape[0]:
                raise ValueError(f"{fm.gravity_file} stops at degree {field.c_bar.shape[0] - 1}")
            rot = smp.rotation
            rb = np.einsum("kij,kj->ki", rot, r)
            ab = accel_harmonics_body(
                rb, field.mu_km3s2, field.radius_km, field.c_bar, field.s_bar,
                fm.gravity_degree, fm.gravity_order,
            )  # fmt: skip
            a = a + np.einsum("kji,kj->ki", rot, ab)
    if fm.drag:
        rho = None
        if msis:
            rb = np.einsum("kij,kj->ki", smp.rotation, r)
            lon, lat, h = geodetic_latitude_height(rb)
            mjd = env.utc_mjd(t)
            f107, f107a, ap = env.space_weather.at(mjd)
            rho = density_msis_kgm3(
                mjd, np.degrees(lon), np.degrees(lat), h, f107, f107a, ap, fm.density_model,
                fm.ap_mode,
            )  # fmt: skip
        a = a + accel_drag(
            r, v, smp.pole, ballistic_m2kg, omega_radps=fm.earth_rotation_radps, density_kgm3=rho
        )
    if fm.sun:
        a = a + accel_third_body(r, smp.sun, fm.mu_sun_km3s2)
    if fm.moon:
        a = a + accel_third_body(r, smp.moon, fm.mu_moon_km3s2)
    if fm.srp:
        a = a + accel_srp(
            r, smp.sun, srp_m2kg, pressure_npm2=fm.srp_pressure_npm2, shadow=fm.shadow,
            radius_km=fm.radius_km, sun_radius_km=fm.sun_radius_km,
        )  # fmt: skip
    return a
