"""One OEM segment (:class:`OemSegment`: metadata and UTC state vectors in km and km/s) and the
physical bounds a state must lie within. Re-exported by ``starbrain.sources.ephemerides.oem``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

# --- physical bounds ---------------------------------------------------------------------------

# A state outside these is not a position or velocity anything can have, so it is a bad record,
# not data: no spacecraft is farther than ~170 au from the Sun (Voyager 1, 2026), so +-1e12 km
# (6 685 au) per component leaves room for any ephemeris of the solar system, and nothing moves
# at or above the speed of light. Both are far outside what a real OEM or SP3 file holds; they
# catch corruption (1e308, an exponent typo, a column shifted by a field), not unusual orbits.
MAX_POSITION_KM = 1e12
SPEED_OF_LIGHT_KMPS = 299_792.458


def implausible_states(
    r_km: npt.NDArray[np.float64], v_kmps: npt.NDArray[np.float64] | None = None
) -> list[tuple[int, str, str]]:
    """(row, field, reason) for each finite state (``r_km``, ``v_kmps`` (n, 3)) whose position
    or velocity is physically impossible (see ``MAX_POSITION_KM``, ``SPEED_OF_LIGHT_KMPS``).

    ``field`` is the component of largest magnitude ('x'.. or 'x_dot'..); NaN rows are skipped
    (they are reported where they are read)."""
    out: list[tuple[int, str, str]] = []
    with np.errstate(over="ignore", invalid="ignore"):
        big = np.abs(r_km).max(axis=1)
        for k in np.flatnonzero(np.isfinite(big) & (big > MAX_POSITION_KM)):
            i = int(np.argmax(np.abs(r_km[k])))
            why = f"position component {r_km[k, i]:g} km is beyond +-{MAX_POSITION_KM:g} km"
            out.append((int(k), "xyz"[i], f"{why} (6 685 au): not a physical position"))
        if v_kmps is not None:
            vmax = np.abs(v_kmps).max(axis=1)
            speed = np.sqrt(np.where(vmax < 1e150, (v_kmps * v_kmps).sum(axis=1), np.inf))
            for k in np.flatnonzero(np.isfinite(vmax) & ~(speed < SPEED_OF_LIGHT_KMPS)):
                i = int(np.argmax(np.abs(v_kmps[k])))
                shown = f"{speed[k]:.9g}" if np.isfinite(speed[k]) else f">= {vmax[k]:g}"
                why = f"not below the speed of light ({SPEED_OF_LIGHT_KMPS} km/s)"
                out.append((int(k), _STATE_FIELDS[4 + i], f"speed {shown} km/s is {why}"))
    return out


_STATE_FIELDS = ("epoch", "x", "y", "z", "x_dot", "y_dot", "z_dot")


@dataclass
class OemSegment:
    """One OEM segment: ``times`` (n,) UTC datetime64[ns], ``r_km``/``v_kmps`` (n, 3).

    ``frame`` is the normalised reference frame (:func:`normalise_frame`: 'TEME', 'GCRF',
    'EME2000', 'ITRF', ...); the value as written stays in ``meta['REF_FRAME']``. ``time_system``
    is the one the file used; ``times`` are always UTC. ``line`` is the 1-based line of its
    META_START (KVN) or ``<segment>`` (XML).
    """

    object_name: str
    object_id: str
    frame: str
    center: str
    time_system: str
    times: npt.NDArray[np.datetime64]
    r_km: npt.NDArray[np.float64]
    v_kmps: npt.NDArray[np.float64]
    line: int = 0
    meta: dict[str, str] = field(default_factory=dict)
