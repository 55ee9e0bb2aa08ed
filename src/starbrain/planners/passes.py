"""Ground-station passes: rise, culmination and set of N satellites over M stations in one sweep.

Method (vectorised over satellites x stations x times, no Python loop over satellites):

1. Propagate every satellite of a chunk on a coarse UTC grid (``step_s``, default 180 s) through
   the ``propagate`` callable (TEME km, km/s); rotate to the pseudo-Earth-fixed frame and compute,
   for every station, the sine of the elevation above ``min_elevation_deg`` (sign of
   ``f = sin(el) - sin(min_el)``) and the sign of the elevation rate (``h``).
2. Sign changes of ``h`` bracket the elevation's local maxima (culminations) and minima; sign
   changes of ``f``, on the grid augmented with the refined extrema, bracket rises and sets, so a
   grazing pass shorter than a grid step is still found.
3. Every bracket is refined by vectorised bisection to ``tol_s`` (default 1 ms). Between grid
   points the TEME state is a quintic Hermite interpolant of position, velocity and a
   point-mass + J2 acceleration (sub-metre for LEO at 180 s; the neglected forces are ~1e-3 of
   J2), so refinement needs no further propagation.

The grid step must be short enough that no elevation maximum and minimum fall within one step;
180 s is safe for orbits with periods above ~85 min (Skyfield's ``find_events`` samples at a
twentieth of an orbit, about 280 s in LEO).

Passes cut by the window (the behaviour of Skyfield's ``find_events``, which reports only the
events inside the window): a satellite already above the threshold at ``start`` has no rise
(``rise`` is NaT), one still above at ``stop`` has no set (``set`` is NaT). ``culminate`` is the
highest local maximum of elevation strictly inside the window; when the part of the pass inside
the window has none (the satellite only descends after ``start`` or only climbs before
``stop``), ``culminate`` is NaT and ``max_elevation_deg`` is the elevation at the window edge,
the highest inside the window. ``sunlit`` is evaluated at ``culminate`` (at that window edge when
``culminate`` is NaT): the satellite is in sunlight unless the line to the Sun (DE421) crosses
the Earth, a sphere, as Skyfield's ``is_sunlit``. When a pass has several culminations (possible
for high orbits), the highest is reported.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from starbrain.core import timeconv
from starbrain.core.schemas.decisions import PASSES_SCHEMA as PASSES_SCHEMA
from starbrain.physics import earth
from starbrain.planners.passes_events import _chunk, _ChunkEvents, _Grid, _grid
from starbrain.planners.propagator import Sgp4Propagator, UtcPropagate, utc_propagate

__all__ = [
    "PASSES_SCHEMA",
    "GroundStation",
    "Passes",
    "Propagate",
    "find_passes",
    "satrec_propagator",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


#: The one UTC-grid propagation interface of the planners (NaN samples count as below the
#: horizon); any :class:`~starbrain.planners.propagator.Propagator` becomes one through
#: :func:`~starbrain.planners.propagator.utc_propagate`.
Propagate = UtcPropagate


def satrec_propagator(satrecs: Sequence[Any]) -> Propagate:
    """A :class:`Propagate` over python-sgp4 ``Satrec`` objects, through ``SatrecArray`` (C++)."""
    from sgp4.api import SatrecArray

    fleet = list(satrecs)

    def propagate(jd: FloatArray, fr: FloatArray, sats: slice = slice(None)) -> tuple[Any, Any]:
        err, r, v = SatrecArray(fleet[sats]).sgp4(np.asarray(jd), np.asarray(fr))
        bad = err != 0
        r[bad] = np.nan
        v[bad] = np.nan
        return r, v

    return propagate


def sgp4_propagator(
    elements: pa.Table, backend: str = "torch", device: str | None = None
) -> Propagate:
    """A :class:`Propagate` over an element-set table (``ELEMENTS_SCHEMA``) through SGP4:
    ``backend`` "torch" (:class:`~starbrain.planners.propagator.Sgp4Propagator`, initialised
    once) or "cpp" (python-sgp4's ``SatrecArray``)."""
    if backend == "torch":
        return utc_propagate(Sgp4Propagator(), elements, device=device)
    from starbrain.physics.sgp4 import propagate as sgp4_propagate

    def propagate(jd: FloatArray, fr: FloatArray, sats: slice = slice(None)) -> tuple[Any, Any]:
        start, stop, _ = sats.indices(elements.num_rows)
        part = elements.slice(start, stop - start)
        r, v, err = sgp4_propagate(part, jd, fr, backend=backend, device=device)  # type: ignore[arg-type]
        bad = err != 0
        r[bad] = np.nan
        v[bad] = np.nan
        return r, v

    return propagate


@dataclass(frozen=True, slots=True)
class GroundStation:
    """A ground station on the WGS-84 ellipsoid. Degrees: this is an edge type."""

    name: str
    lat_deg: float
    lon_deg: float
    alt_km: float = 0.0


# Named stations the demo and the console offer (WGS-84, altitude in km).
KNOWN_STATIONS: dict[str, GroundStation] = {
    s.name.lower(): s
    for s in (
        GroundStation("Tokyo", 35.68, 139.77, 0.04),
        GroundStation("Svalbard", 78.23, 15.39, 0.5),
        GroundStation("Cape Canaveral", 28.49, -80.58, 0.0),
    )
}


def parse_station(spec: str, known: Mapping[str, GroundStation] | None = None) -> GroundStation:
    """``NAME:LAT,LON[,ALT_M]`` (degrees, metres), or a name from ``known`` (matched without
    case). Longitudes 180-360 are wrapped to -180..180. Raises ``ValueError`` with a sentence
    for the user."""
    if known:
        found = known.get(spec.strip().lower())
        if found is not None:
            return found
    name, _, coords = spec.rpartition(":")
    try:
        parts = [float(x) for x in coords.split(",")]
        lat, lon = parts[0], parts[1]
        alt_m = parts[2] if len(parts) > 2 else 0.0
        ok = (
            len(parts) <= 3
            and all(math.isfinite(p) for p in parts)
            and -90 <= lat <= 90
            and -180 <= lon <= 360
            and -500 <= alt_m <= 10_000
        )
    except (ValueError, IndexError):
        ok = False
    if not ok or not name.strip():
        form = (
            "NAME:LAT,LON[,ALT_M] (degrees, metres; latitude -90..90, longitude -180..360, "
            'altitude -500..10000), e.g. "Tokyo:35.68,139.77,40"'
        )
        if known:
            names = ", ".join(s.name for s in known.values())
            raise ValueError(f"station {spec!r} is neither a known station ({names}) nor {form}")
        raise ValueError(f"station {spec!r} is not {form}")
    return GroundStation(name.strip(), lat, lon if lon <= 180 else lon - 360, alt_m / 1000.0)


@dataclass(frozen=True, slots=True)
class Passes:
    """Passes found by :func:`find_passes`, one row each, sorted by satellite, station, time.

    Arrays (n_pass,): ``norad_id`` int64, ``station`` (names, str), ``rise``, ``culminate``,
    ``set`` (UTC ``datetime64[ns]``, NaT where the window cut the pass, see the module doc),
    ``max_elevation_deg`` float64 and ``sunlit`` bool.
    """

    norad_id: IntArray
    station: npt.NDArray[np.str_]
    rise: npt.NDArray[np.datetime64]
    culminate: npt.NDArray[np.datetime64]
    set: npt.NDArray[np.datetime64]
    max_elevation_deg: FloatArray
    sunlit: npt.NDArray[np.bool_]

    def __len__(self) -> int:
        return len(self.norad_id)

    def to_arrow(self) -> pa.Table:
        """The passes as a table with schema ``PASSES_SCHEMA`` (NaT becomes null)."""

        def ts(a: npt.NDArray[np.datetime64]) -> pa.Array:
            return pa.array(a, pa.timestamp("ns"), mask=np.isnat(a)).cast(
                pa.timestamp("ns", tz="UTC")
            )

        return pa.table(
            {
                "norad_id": pa.array(self.norad_id, pa.int32()),
                "station": pa.array(self.station.tolist(), pa.string()),
                "rise": ts(self.rise),
                "culminate": ts(self.culminate),
                "set": ts(self.set),
                "max_elevation_deg": pa.array(self.max_elevation_deg, pa.float64()),
                "sunlit": pa.array(self.sunlit, pa.bool_()),
            },
            schema=PASSES_SCHEMA,
        )


# --------------------------------------------------------------------------------------------
# Assembling events into passes


def _sun_at(g: _Grid, t: FloatArray) -> FloatArray:
    k = np.clip(np.searchsorted(g.t_s, t, side="right") - 1, 0, len(g.t_s) - 2)
    x = ((t - g.t_s[k]) / (g.t_s[k + 1] - g.t_s[k]))[:, None]
    return g.sun[k] * (1.0 - x) + g.sun[k + 1] * x


@dataclass(frozen=True, slots=True)
class _PassRows:
    pair: IntArray
    rise_t: FloatArray  # NaN: cut by the window
    culm_t: FloatArray  # NaN: none inside the window
    set_t: FloatArray
    max_sin: FloatArray
    sunlit: npt.NDArray[np.bool_]


def _assemble(g: _Grid, ev: _ChunkEvents, sin_min: float) -> _PassRows:
    t_end = float(g.t_s[-1])
    n_pair = len(ev.up_first)
    pairs = np.arange(n_pair)
    # Virtual rise at the start for satellites already up, virtual set at the end likewise.
    cp = np.concatenate([ev.cross_pair, pairs[ev.up_first], pairs[ev.up_last]])
    ct = np.concatenate([ev.cross_t, np.zeros(ev.up_first.sum()), np.full(ev.up_last.sum(), t_end)])
    cr = np.concatenate(
        [ev.cross_rise, np.ones(ev.up_first.sum(), bool), np.zeros(ev.up_last.sum(), bool)]
    )
    virtual = np.concatenate(
        [np.zeros(len(ev.cross_pair), bool), np.ones(ev.up_first.sum() + ev.up_last.sum(), bool)]
    )
    # Within a pair, virtual rises sort first and virtual sets last (ties at the ends).
    order = np.lexsort((~cr, ct, cp))
    cp, ct, cr, virtual = cp[order], ct[order], cr[order], virtual[order]
    if not (np.all(cr[0::2]) and not np.any(cr[1::2]) and np.all(cp[0::2] == cp[1::2])):
        raise RuntimeError("internal error: rises and sets do not alternate")  # pragma: no cover
    pair = cp[0::2]
    start_t, stop_t = ct[0::2], ct[1::2]
    rise_t = np.where(virtual[0::2], np.nan, start_t)
    set_t = np.where(virtual[1::2], np.nan, stop_t)
    n_pass = len(pair)

    # Culminations: each lies inside exactly one pass of its pair; keep the highest.
    scale = t_end + 1.0
    pass_key = pair * scale + start_t
    culm_key = ev.culm_pair * scale + ev.culm_t
    which = np.searchsorted(pass_key, culm_key, side="right") - 1
    best = np.lexsort((ev.culm_sin, which))
    last = np.r_[which[best][1:] != which[best][:-1], True] if len(best) else np.zeros(0, bool)
    chosen = best[last]
    culm_t = np.full(n_pass, np.nan)
    max_sin = np.full(n_pass, -np.inf)
    r_at = np.full((n_pass, 3), np.nan)
    at_t = np.zeros(n_pass)
    culm_t[which[chosen]] = ev.culm_t[chosen]
    max_sin[which[chosen]] = ev.culm_sin[chosen]
    r_at[which[chosen]] = ev.culm_r[chosen]
    at_t[which[chosen]] = ev.culm_t[chosen]

    # Passes with no culmination inside the window: highest point is at a window edge.
    none = np.isnan(culm_t)
    s_start = np.where(np.isnan(rise_t), ev.sin_first[pair], sin_min)
    s_stop = np.where(np.isnan(set_t), ev.sin_last[pair], sin_min)
    use_start = none & (s_start >= s_stop)
    use_stop = none & ~use_start
    max_sin[use_start] = s_start[use_start]
    max_sin[use_stop] = s_stop[use_stop]
    r_at[use_start] = ev.r_first[pair[use_start]]
    r_at[use_stop] = ev.r_last[pair[use_stop]]
    at_t[use_start] = start_t[use_start]
    at_t[use_stop] = stop_t[use_stop]
    # a cut pass that both rose and set inside the window cannot lack a maximum; keep the
    # threshold crossing point then (only reachable if the grid step is too coarse)
    lit = earth.sunlit(r_at, _sun_at(g, at_t))
    return _PassRows(pair, rise_t, culm_t, set_t, max_sin, lit)


# --------------------------------------------------------------------------------------------
# Public entry point


def find_passes(
    propagate: Propagate,
    norad_ids: npt.ArrayLike,
    stations: Sequence[GroundStation],
    start: Any,
    stop: Any,
    *,
    min_elevation_deg: float = 0.0,
    step_s: float = 180.0,
    tol_s: float = 1e-3,
    chunk_size: int | None = None,
) -> Passes:
    """Passes of every satellite over every station between ``start`` and ``stop`` (UTC).

    ``propagate(jd, fr, sats)`` gives TEME states of the satellites ``sats`` (a slice of the
    ``len(norad_ids)`` satellites, in the same order) at UTC split Julian dates; see
    :class:`Propagate` and :func:`satrec_propagator`. A pass counts from the moment the
    geometric elevation (no refraction, above the WGS-84 tangent plane) reaches
    ``min_elevation_deg`` until it drops below it. Event times are refined to ``tol_s``;
    ``step_s`` is the coarse sampling step (see the module docstring for its limit);
    ``chunk_size`` satellites are processed at a time (default: about 2 million samples of
    satellite x station x time per chunk, some 100 MB of work arrays).

    Returns a :class:`Passes`, rows sorted by satellite (input order), station (input order)
    and time; passes cut by the window have NaT ``rise`` or ``set`` as described in the module
    docstring.
    """
    ids = np.asarray(norad_ids, dtype=np.int64).reshape(-1)
    if not stations:
        raise ValueError("no ground stations given")
    t0, t1 = timeconv.to_instant(start, "start"), timeconv.to_instant(stop, "stop")
    span_ns = int((t1 - t0).astype(np.int64))
    if span_ns <= 0:
        raise ValueError(f"your start time {t0} is not earlier than your stop time {t1}")
    if not step_s > 0 or not tol_s > 0:
        raise ValueError(f"step_s and tol_s must be positive (got {step_s}, {tol_s})")
    g = _grid(t0, span_ns, step_s, stations)
    n_sat, n_sta, n_time = len(ids), len(stations), len(g.t_s)
    if chunk_size is None:
        chunk_size = max(1, 2_000_000 // (n_sta * n_time))
    sin_min = math.sin(math.radians(min_elevation_deg))

    parts: list[_PassRows] = []
    for a in range(0, n_sat, chunk_size):
        b = min(n_sat, a + chunk_size)
        r, v = propagate(g.jd, g.fr, slice(a, b))
        if tuple(r.shape) != (b - a, n_time, 3) or tuple(v.shape) != tuple(r.shape):
            raise ValueError(
                f"propagate(jd, fr, slice({a}, {b})) returned shapes {tuple(r.shape)} and "
                f"{tuple(v.shape)}; expected ({b - a}, {n_time}, 3) for both"
            )
        rows = _assemble(g, _chunk(g, r, v, sin_min, tol_s), sin_min)
        parts.append(replace(rows, pair=rows.pair + a * n_sta))  # chunk-local -> global pair
    return _passes(parts, ids, stations, t0)


def _passes(
    parts: Sequence[_PassRows], ids: IntArray, stations: Sequence[GroundStation], t0: np.datetime64
) -> Passes:
    """The :class:`Passes` of the chunks' rows ``parts`` (pairs global: satellite x station),
    sorted by satellite, station and rise; event times are s after ``t0`` (NaN: NaT)."""
    n_sta = len(stations)
    if not parts:
        empty_t = np.zeros(0, "datetime64[ns]")
        return Passes(
            ids, np.zeros(0, str), empty_t, empty_t, empty_t, np.zeros(0), np.zeros(0, bool)
        )

    def cat(name: str) -> Any:
        return np.concatenate([getattr(p, name) for p in parts])

    rise_t, culm_t, set_t = cat("rise_t"), cat("culm_t"), cat("set_t")
    sat, sta = np.divmod(cat("pair"), n_sta)
    order = np.lexsort((np.where(np.isnan(rise_t), 0.0, rise_t), sta, sat))
    names = np.array([s.name for s in stations], dtype=str)

    def stamp(t: FloatArray) -> npt.NDArray[np.datetime64]:
        cut = np.isnan(t)
        out = t0 + np.rint(np.where(cut, 0.0, t) * 1e9).astype(np.int64).astype("timedelta64[ns]")
        out[cut] = np.datetime64("NaT")
        return out

    return Passes(
        norad_id=ids[sat[order]],
        station=names[sta[order]],
        rise=stamp(rise_t[order]),
        culminate=stamp(culm_t[order]),
        set=stamp(set_t[order]),
        max_elevation_deg=np.degrees(np.arcsin(np.clip(cat("max_sin")[order], -1.0, 1.0))),
        sunlit=cat("sunlit")[order],
    )
