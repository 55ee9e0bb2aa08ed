"""Physical constants and reference ellipsoids: each value defined once, with its source.

Orbital quantities are in km and s (as SGP4 and CCSDS), vehicle quantities in SI. Modules that
need a constant import it from here; the names say the unit.
"""

from __future__ import annotations

import math

__all__ = [
    "AU_KM",
    "C_KM_S",
    "EARTH_ROTATION_RADPS",
    "EARTH_SHADOW_RADIUS_KM",
    "EGM2008_MU_KM3_S2",
    "EGM2008_RADIUS_KM",
    "G0_MPS2",
    "MU_MOON_KM3_S2",
    "MU_SUN_KM3_S2",
    "SOLAR_PRESSURE_NPM2",
    "SUN_RADIUS_KM",
    "WGS72_J2",
    "WGS72_J3",
    "WGS72_J4",
    "WGS72_MU_KM3_S2",
    "WGS72_RADIUS_KM",
    "WGS72_XKE_PER_MIN",
    "WGS84_A_KM",
    "WGS84_B_KM",
    "WGS84_E2",
    "WGS84_F",
    "WGS84_MU_KM3_S2",
]

# --- WGS-72: the constants SGP4 is defined with (Vallado et al. 2006, getgravconst('wgs72')) ---
WGS72_MU_KM3_S2 = 398600.8
WGS72_RADIUS_KM = 6378.135
WGS72_J2 = 0.001082616
WGS72_J3 = -0.00000253881
WGS72_J4 = -0.00000165597
#: sqrt(GM) in Earth radii^1.5 per minute, computed exactly as getgravconst('wgs72') does.
WGS72_XKE_PER_MIN = 60.0 / math.sqrt(WGS72_RADIUS_KM**3 / WGS72_MU_KM3_S2)

# --- WGS-84 ellipsoid (NIMA TR8350.2) ---
WGS84_A_KM = 6378.137  # semi-major axis
WGS84_F = 1.0 / 298.257223563  # flattening
WGS84_B_KM = WGS84_A_KM * (1.0 - WGS84_F)  # semi-minor axis
WGS84_E2 = WGS84_F * (2.0 - WGS84_F)  # first eccentricity squared
WGS84_MU_KM3_S2 = 398600.4418  # WGS-84 / EGM96 gravitational parameter

# --- EGM2008 gravity model reference values (Pavlis et al. 2012) ---
EGM2008_MU_KM3_S2 = 398600.4415
EGM2008_RADIUS_KM = 6378.1363

# --- Earth rotation and shadow ---
EARTH_ROTATION_RADPS = 7.292115e-5  # nominal mean angular velocity (IERS 2010)
# Skyfield's `is_sunlit` treats the Earth as a sphere of the IERS 2003 equatorial radius; the
# same value keeps our sunlit flags identical to Skyfield's.
EARTH_SHADOW_RADIUS_KM = 6378.1366

# --- Sun, Moon, light ---
AU_KM = 149_597_870.700  # IAU 2012 Resolution B2
# GM of the Sun as DE421 itself has it (header constant GMS = 2.959122082855911e-4 AU^3/day^2,
# i.e. 1.3271244004194e11 km^3/s^2; IERS 2010 Conventions Table 1.1, TDB-compatible).
MU_SUN_KM3_S2 = 1.32712440041e11
MU_MOON_KM3_S2 = 4902.800066  # DE421 / IERS 2010 (GM_Earth * 0.0123000371)
SUN_RADIUS_KM = 695700.0  # IAU 2015 Resolution B3 nominal solar radius
SOLAR_PRESSURE_NPM2 = 4.56e-6  # solar radiation pressure at 1 AU [Montenbruck & Gill, 3.4]
C_KM_S = 299_792.458  # speed of light in vacuum (SI definition)

# --- Standard gravity: the conversion from specific impulse (s) to exhaust speed ---
G0_MPS2 = 9.80665  # CGPM 1901
