"""Force models for the numerical propagator: gravity field, drag, third bodies, radiation pressure.

Every kernel is a plain vectorised function of row-wise batches, ``(k, 3)`` positions (and
velocities) in km and km/s, returning accelerations in km/s^2. The kernels marked *array-agnostic*
accept NumPy arrays or PyTorch tensors (CPU or CUDA, differentiable) and return the same kind.

Frames: the inertial frame is the GCRS (see :mod:`starbrain.physics.environment`); the gravity
field is evaluated in the Earth-fixed frame given by the environment's rotation (ITRF less polar
motion). Zonal terms need only the direction of the rotation axis, so they are computed directly
in GCRS from the pole vector.

References
----------
* [MG] O. Montenbruck, E. Gill, *Satellite Orbits*, Springer 2000: Sect. 3.2 (gravity field,
  V/W recursion of eqs. 3.29-3.33), 3.3 (third bodies, eq. 3.37), 3.4 (radiation pressure and
  the conical shadow model, eqs. 3.75, 3.85-3.87), 3.5 (drag, eq. 3.97).
* [V] D. Vallado, *Fundamentals of Astrodynamics and Applications*, 4th ed. 2013, Table 8-4:
  the exponential atmosphere (CIRA-72 based nominal densities and scale heights).
* [EGM2008] N. Pavlis et al., "The development and evaluation of the Earth Gravitational Model
  2008 (EGM2008)", J. Geophys. Res. 117 (2012), B04406; coefficient file
  ``EGM2008_to2190_TideFree``: GM = 3.986004415e14 m^3/s^2, a = 6378136.3 m, and the fully
  normalised zonal coefficients C(2..6, 0) below.
* IERS Conventions (2010), Table 1.1: GM of the Sun (TDB-compatible), Earth rotation rate.

Layout: :mod:`.gravity` (point mass, zonals, harmonics, field files, third bodies),
:mod:`.drag` (atmospheres, geodetic height, drag), :mod:`.radiation` (SRP and shadows),
:mod:`.model` (:class:`ForceModel`, :class:`Spacecraft`, :func:`acceleration`); every name is
re-exported here.
"""

from __future__ import annotations

from starbrain.core.constants import (
    AU_KM,
    EARTH_ROTATION_RADPS,
    EGM2008_MU_KM3_S2,
    EGM2008_RADIUS_KM,
    MU_MOON_KM3_S2,
    MU_SUN_KM3_S2,
    SOLAR_PRESSURE_NPM2,
    SUN_RADIUS_KM,
)
from starbrain.physics.forces.drag import (
    DENSITY_MODELS,
    VALLADO_EXPONENTIAL_TABLE,
    WGS84_FLATTENING,
    WGS84_RADIUS_KM,
    accel_drag,
    density_exponential_kgm3,
    density_msis_kgm3,
    geodetic_height_km,
    geodetic_latitude_height,
)
from starbrain.physics.forces.gravity import (
    BRAHE_GRAVITY_FIELDS,
    EGM2008_C_BAR_ZONAL,
    PACKAGED_GRAVITY_FIELDS,
    GravityField,
    accel_harmonics_body,
    accel_point_mass,
    accel_third_body,
    accel_zonal,
    gravity_file_path,
    load_gravity_field,
    read_icgem,
    zonal_j,
)
from starbrain.physics.forces.model import Environment as Environment
from starbrain.physics.forces.model import ForceModel, Spacecraft, acceleration
from starbrain.physics.forces.radiation import (
    accel_srp,
    shadow_conical,
    shadow_cylindrical,
    shadow_switches,
)

__all__ = [
    "AU_KM",
    "BRAHE_GRAVITY_FIELDS",
    "DENSITY_MODELS",
    "EARTH_ROTATION_RADPS",
    "EGM2008_C_BAR_ZONAL",
    "EGM2008_MU_KM3_S2",
    "EGM2008_RADIUS_KM",
    "MU_MOON_KM3_S2",
    "MU_SUN_KM3_S2",
    "PACKAGED_GRAVITY_FIELDS",
    "SOLAR_PRESSURE_NPM2",
    "SUN_RADIUS_KM",
    "VALLADO_EXPONENTIAL_TABLE",
    "WGS84_FLATTENING",
    "WGS84_RADIUS_KM",
    "ForceModel",
    "GravityField",
    "Spacecraft",
    "accel_drag",
    "accel_harmonics_body",
    "accel_point_mass",
    "accel_srp",
    "accel_third_body",
    "accel_zonal",
    "acceleration",
    "density_exponential_kgm3",
    "density_msis_kgm3",
    "geodetic_height_km",
    "geodetic_latitude_height",
    "gravity_file_path",
    "load_gravity_field",
    "read_icgem",
    "shadow_conical",
    "shadow_cylindrical",
    "shadow_switches",
    "zonal_j",
]
