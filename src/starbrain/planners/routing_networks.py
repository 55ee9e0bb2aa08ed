"""Routing networks: satellites and their +Grid ISLs, from Walker presets
(:func:`routing_network`, partners by nearest phase, see :mod:`starbrain.planners.routing`) or
from element sets: a TLE file, the stored catalogue, or the TLEs Hypatia writes for its own
constellations, with +Grid ISLs by orbit and slot.

A grid network numbers its satellites ``orbit * per_orbit + slot`` (Hypatia's satellite ids) and
links each one to the next slot of its orbit and to slot ``slot + isl_shift`` of the next orbit,
both modulo (Hypatia's ``generate_plus_grid_isls``; ``isl_shift = 0`` is "the same slot index").
The satellites come either in that order (a TLE file written orbit by orbit, as Hypatia writes
them) or are put in it by :func:`order_by_plane` (orbits by right ascension of the ascending
node, slots by argument of latitude), which is what a catalogue in NORAD order needs.

:func:`hypatia_tles` writes the TLE text of Hypatia's ``generate_tles_from_scratch_manual``
(satgenpy, github.com/snkas/hypatia) from its rules: epoch 2000-01-01 00:00 UTC (epoch field
``00001.00000000``), B* and the mean-motion derivatives 0, the angles printed to 4 decimals,
eccentricity to 7, the mean motion to 8, catalogue number ``id + 1``, and a first line ``orbits
per_orbit``. Propagating those lines with starbrain's SGP4 puts the satellites where Hypatia's
pyephem puts them, to metres.

Units: km, degrees at the edges (arguments named ``*_deg``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from starbrain.core.constants import WGS72_RADIUS_KM
from starbrain.core.errors import StarbrainError
from starbrain.sources.catalogs.fixedwidth import checksum_digit
from starbrain.sources.generators.constellation import PRESETS, WalkerShell, generate

__all__ = [
    "KUIPER_630",
    "HypatiaShell",
    "NotWalkerError",
    "RoutingNetwork",
    "WalkerLayout",
    "grid_isls",
    "grid_network",
    "hypatia_network",
    "hypatia_tles",
    "order_by_plane",
    "parse_grid",
    "plus_grid",
    "routing_network",
    "tle_network",
    "walker_layout",
]

IntArray = npt.NDArray[np.int64]


# --------------------------------------------------------------------------------------------
# Walker shells: +Grid by nearest phase (the routing module doc says why)


def plus_grid(shells: Sequence[WalkerShell]) -> IntArray:
    """+Grid ISLs of Walker-delta shells laid out as :func:`sources.constellation.generate` does
    (shell by shell, plane by plane, slot by slot): ``(n_edge, 2)`` satellite indices, each link
    once with the smaller index first, sorted.

    Each satellite links to slots ``k - 1`` and ``k + 1`` of its plane and to the satellite
    nearest in phase in each neighbouring plane (see the module doc): degree 4 in every shell
    with at least 3 planes and 3 satellites per plane.
    """
    parts: list[IntArray] = []
    offset = 0
    for shell in shells:
        n_p, n_s, total = shell.planes, shell.per_plane, shell.size
        p, k = np.divmod(np.arange(total, dtype=np.int64), n_s)
        me = offset + p * n_s + k
        if n_s > 1:
            parts.append(np.stack([me, offset + p * n_s + (k + 1) % n_s], 1))
        if n_p > 1:
            q = (p + 1) % n_p
            d_rev = shell.phasing * (q - p) / total  # phase offset of plane q minus plane p
            d = -np.rint(n_s * d_rev).astype(np.int64)
            parts.append(np.stack([me, offset + q * n_s + (k + d) % n_s], 1))
        offset += total
    if not parts:
        return np.zeros((0, 2), dtype=np.int64)
    edges = np.sort(np.concatenate(parts), axis=1)
    edges = edges[edges[:, 0] != edges[:, 1]]
    return np.unique(edges, axis=0)


@dataclass(frozen=True)
class RoutingNetwork:
    """Satellites to route over and their +Grid ISLs.

    ``elements`` (ELEMENTS_SCHEMA, n_sat rows), ``shell`` (n_sat,) index into ``shells``,
    ``isl`` (n_edge, 2) satellite indices.
    """

    elements: pa.Table
    shells: tuple[WalkerShell, ...]
    shell: IntArray
    isl: IntArray

    @property
    def n_sat(self) -> int:
        return int(self.elements.num_rows)

    @property
    def norad_id(self) -> IntArray:
        return np.asarray(self.elements.column("norad_id").to_numpy(), dtype=np.int64)


def routing_network(
    preset: str = "starlink-gen1",
    shells: Sequence[int] | None = None,
    epoch: Any = None,
    custom: Sequence[WalkerShell] | None = None,
) -> RoutingNetwork:
    """A preset's shells (all, or the 1-based ``shells`` listed), or ``custom`` Walker shells,
    generated at ``epoch`` (default today 00:00 UTC) with their +Grid ISLs."""
    if custom is not None:
        chosen = tuple(custom)
    else:
        try:
            every = PRESETS[preset]
        except KeyError:
            raise StarbrainError(
                f"no preset named {preset!r}; presets are {', '.join(PRESETS)}"
            ) from None
        if shells is None:
            chosen = every
        else:
            bad = [s for s in shells if not 1 <= s <= len(every)]
            if bad:
                raise StarbrainError(
                    f"{preset} has shells 1..{len(every)}; there is no shell {bad[0]}"
                )
            chosen = tuple(every[s - 1] for s in shells)
    if not chosen:
        raise StarbrainError("no shells to route over")
    elements = generate(chosen, epoch=epoch, source=f"generated:{preset}")
    shell_index = np.repeat(np.arange(len(chosen)), [s.size for s in chosen])
    return RoutingNetwork(elements, chosen, shell_index.astype(np.int64), plus_grid(chosen))


@dataclass(frozen=True)
class HypatiaShell:
    """One shell as Hypatia's TLE generator takes it (degrees, rev/day, km).

    ``phase_diff`` shifts the odd orbits' mean anomalies by half a slot. ``altitude_km`` is the
    nominal altitude Hypatia derives its link rules from (not used for the orbits, which follow
    the mean motion); ``gsl_elevation_deg`` is the elevation its maximum GSL length is made from.
    """

    name: str
    orbits: int
    per_orbit: int
    inclination_deg: float
    mean_motion_rev_per_day: float
    altitude_km: float
    eccentricity: float = 1e-7
    arg_of_perigee_deg: float = 0.0
    phase_diff: bool = True
    gsl_elevation_deg: float = 30.0

    @property
    def size(self) -> int:
        return self.orbits * self.per_orbit

    @property
    def max_gsl_km(self) -> float:
        """Hypatia's MAX_GSL_LENGTH: ``sqrt(c^2 + h^2)`` with the cone radius ``c = h /
        tan(elevation)`` at the nominal altitude ``h`` (a range rule: 1,260 km for Kuiper-630)."""
        h = self.altitude_km
        cone = h / math.tan(math.radians(self.gsl_elevation_deg))
        return math.sqrt(cone * cone + h * h)

    @property
    def max_isl_km(self) -> float:
        """Hypatia's MAX_ISL_LENGTH: ``2 sqrt((R + h)^2 - (R + 80 km)^2)``, R = 6378.135 km."""
        r = WGS72_RADIUS_KM
        return 2.0 * math.sqrt((r + self.altitude_km) ** 2 - (r + 80.0) ** 2)


# Hypatia's Kuiper-630 (satgenpy/tests/test_end_to_end_kuiper*.py, from Kuiper's FCC filing)
KUIPER_630 = HypatiaShell("Kuiper-630", 34, 34, 51.9, 14.80, 630.0)


def hypatia_tles(shell: HypatiaShell = KUIPER_630) -> str:
    """The TLE file Hypatia's ``generate_tles_from_scratch_manual`` writes for ``shell``: a
    first line ``orbits per_orbit``, then per satellite ``NAME ID`` and the two TLE lines, in
    id order (``orbit * per_orbit + slot``)."""
    out = [f"{shell.orbits} {shell.per_orbit}"]
    ecc = f"{shell.eccentricity:.7f}"
    if not 0.0 < shell.eccentricity < 1.0 or ecc[:2] != "0.":
        raise StarbrainError(f"eccentricity {shell.eccentricity} does not fit a TLE")
    for orbit in range(shell.orbits):
        raan = orbit * 360.0 / shell.orbits
        shift = 360.0 / (2.0 * shell.per_orbit) if shell.phase_diff and orbit % 2 else 0.0
        for slot in range(shell.per_orbit):
            sat = orbit * shell.per_orbit + slot
            mean_anomaly = shift + slot * 360 / shell.per_orbit
            l1 = f"1 {sat + 1:05d}U 00000ABC 00001.00000000  .00000000  00000-0  00000+0 0    0"
            l2 = (
                f"2 {sat + 1:05d} {shell.inclination_deg:8.4f} {raan:8.4f} {ecc[2:]} "
                f"{shell.arg_of_perigee_deg:8.4f} {mean_anomaly:8.4f} "
                f"{shell.mean_motion_rev_per_day:11.8f}    0"
            )
            if len(l1) != 68 or len(l2) != 68:
                raise StarbrainError(f"satellite {sat}: an element does not fit its TLE field")
            out += [
                f"{shell.name} {sat}",
                l1 + str(checksum_digit(l1)),
                l2 + str(checksum_digit(l2)),
            ]
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------------------------
# +Grid by orbit and slot


def grid_isls(orbits: int, per_orbit: int, isl_shift: int = 0) -> IntArray:
    """+Grid ISLs of satellites numbered ``orbit * per_orbit + slot``: (n_edge, 2), smaller id
    first, sorted, each once. ``(o, s)`` links to ``(o, s + 1)`` and ``(o + 1, s + isl_shift)``,
    both modulo (Hypatia's ``generate_plus_grid_isls``)."""
    if orbits < 1 or per_orbit < 1:
        raise StarbrainError("a grid needs at least one orbit of at least one satellite")
    o, s = np.divmod(np.arange(orbits * per_orbit, dtype=np.int64), per_orbit)
    me = o * per_orbit + s
    parts = [
        np.stack([me, o * per_orbit + (s + 1) % per_orbit], 1),
        np.stack([me, ((o + 1) % orbits) * per_orbit + (s + isl_shift) % per_orbit], 1),
    ]
    edges = np.sort(np.concatenate(parts), axis=1)
    edges = edges[edges[:, 0] != edges[:, 1]]
    return np.unique(edges, axis=0)


def parse_grid(spec: str) -> tuple[int, int]:
    """``"34x34"`` -> ``(orbits, per_orbit)``; raises StarbrainError with a sentence."""
    m = re.fullmatch(r"\s*(\d+)\s*[xX*]\s*(\d+)\s*", spec)
    if not m or int(m.group(1)) < 1 or int(m.group(2)) < 1:
        raise StarbrainError(f"a grid is ORBITSxPER_ORBIT, e.g. 34x34; got {spec!r}")
    return int(m.group(1)), int(m.group(2))


def grid_network(
    elements: pa.Table, orbits: int, per_orbit: int, isl_shift: int = 0, what: str = "elements"
) -> RoutingNetwork:
    """A +Grid network over ``elements`` taken in id order (row ``orbit * per_orbit + slot``).

    The network has no Walker shells (``shells == ()``, ``shell`` all 0)."""
    n = int(elements.num_rows)
    if n != orbits * per_orbit:
        raise StarbrainError(
            f"{what} holds {n} satellites, but a {orbits}x{per_orbit} grid needs "
            f"{orbits * per_orbit}"
        )
    return RoutingNetwork(
        elements, (), np.zeros(n, dtype=np.int64), grid_isls(orbits, per_orbit, isl_shift)
    )


_HEADER = re.compile(r"\s*(\d+)\s+(\d+)\s*")


def tle_network(
    source: str | Path,
    grid: tuple[int, int] | None = None,
    isl_shift: int = 0,
    text: str | None = None,
) -> RoutingNetwork:
    """A +Grid network over the satellites of a TLE file, in file order.

    ``grid`` is ``(orbits, per_orbit)``; without it the file must start with Hypatia's line
    ``orbits per_orbit``. Every record must parse: a missing satellite would shift every id
    after it, so one bad record raises StarbrainError naming its file, line and field.
    ``text`` parses that text instead of reading ``source`` (then only a name).
    """
    from starbrain.sources.catalogs.tle import parse_tle

    name = str(source)
    if text is None:
        try:
            text = Path(source).read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            raise StarbrainError(f"cannot read {name}: {exc.strerror or exc}") from None
    lines = text.splitlines()
    first = next((i for i, x in enumerate(lines) if x.strip()), None)
    if first is None:
        raise StarbrainError(f"{name} holds no TLEs")
    header = _HEADER.fullmatch(lines[first])
    if header is not None:
        declared = int(header.group(1)), int(header.group(2))
        if grid is not None and grid != declared:
            raise StarbrainError(
                f"{name}:{first + 1}: the file declares a {declared[0]}x{declared[1]} grid, "
                f"not the {grid[0]}x{grid[1]} asked for"
            )
        grid = declared
        # keep the line numbering of the file in error messages
        lines[first] = ""
    if grid is None:
        raise StarbrainError(
            f"{name}: say how its satellites form a grid (ORBITSxPER_ORBIT, e.g. 34x34), or "
            "start the file with Hypatia's line 'ORBITS PER_ORBIT'"
        )
    loaded = parse_tle("\n".join(lines), source=name)
    if loaded.errors:
        more = f" (and {len(loaded.errors) - 1} more)" if len(loaded.errors) > 1 else ""
        raise StarbrainError(f"bad record {loaded.errors[0]}{more}")
    return grid_network(loaded.table, *grid, isl_shift=isl_shift, what=name)


def hypatia_network(shell: HypatiaShell = KUIPER_630) -> RoutingNetwork:
    """Hypatia's network for ``shell``: its TLEs (:func:`hypatia_tles`) and +Grid with the same
    slot index. Route it with ``max_gsl_km=shell.max_gsl_km`` and ``ellipsoid="wgs72"``."""
    return tle_network(f"hypatia:{shell.name}", text=hypatia_tles(shell))


# --------------------------------------------------------------------------------------------
# Catalogue order -> grid order


def order_by_plane(elements: pa.Table, orbits: int, per_orbit: int, at: Any = None) -> IntArray:
    """Row order (n_sat,) that lays ``elements`` out as an ``orbits x per_orbit`` grid.

    At ``at`` (UTC; default the newest epoch) every satellite is propagated with SGP4. Orbits
    are the ``orbits`` groups of ascending-node longitude (TEME) split at the largest gaps,
    numbered eastwards from the group nearest 0 deg. Slots are numbered by argument of latitude
    ``u`` eastwards from slot 0, in every orbit the first satellite at least a quarter of a slot
    spacing past orbit 0's first satellite, which is the one with the smallest ``u``: for
    Hypatia's layout (odd orbits half a slot ahead) that is its "same slot index". Raises
    StarbrainError when a group does not hold ``per_orbit`` satellites.
    """
    from starbrain.core import timeconv
    from starbrain.physics.sgp4 import propagate

    n = int(elements.num_rows)
    if n != orbits * per_orbit:
        raise StarbrainError(
            f"{n} satellites selected, but a {orbits}x{per_orbit} grid needs {orbits * per_orbit}"
        )
    if at is None:
        at = np.max(elements.column("epoch").to_numpy().astype("datetime64[ns]"))
    t = np.atleast_1d(np.datetime64(timeconv.to_datetime64(at), "ns"))
    r, v, err = propagate(elements, *timeconv.datetime64_to_jd(t), device="cpu")
    if err.any():
        bad = int(np.flatnonzero(err[:, 0])[0])
        raise StarbrainError(f"SGP4 fails for row {bad} of the selection at {t[0]}")
    r, v = r[:, 0], v[:, 0]
    h = np.cross(r, v)
    h /= np.linalg.norm(h, axis=1, keepdims=True)
    node = np.cross([0.0, 0.0, 1.0], h)
    node /= np.linalg.norm(node, axis=1, keepdims=True)
    raan = np.arctan2(node[:, 1], node[:, 0]) % (2 * np.pi)
    u = np.arctan2(np.einsum("ni,ni->n", np.cross(node, r), h), np.einsum("ni,ni->n", r, node))
    u %= 2 * np.pi
    # orbits: split the sorted node longitudes at the `orbits` largest gaps
    by_raan = np.argsort(raan, kind="stable")
    s = raan[by_raan]
    gaps = (np.roll(s, -1) - s) % (2 * np.pi)
    ends = np.sort(np.argsort(gaps, kind="stable")[::-1][:orbits])  # last index of each group
    groups = [by_raan[(ends[k - 1] + 1 + np.arange((ends[k] - ends[k - 1]) % n)) % n]
              for k in range(orbits)] if orbits > 1 else [by_raan]  # fmt: skip
    centre = np.array([np.angle(np.exp(1j * raan[g]).mean()) for g in groups]) % (2 * np.pi)
    east = (centre - centre[np.argmin(np.minimum(centre, 2 * np.pi - centre))]) % (2 * np.pi)
    groups = [groups[k] for k in np.argsort(east, kind="stable")]
    out = []
    ref = 0.0
    for k, g in enumerate(groups):
        if len(g) != per_orbit:
            raise StarbrainError(
                f"the selection is not a {orbits}x{per_orbit} grid: orbit {k} (by node) holds "
                f"{len(g)} satellites"
            )
        if k == 0:
            ref = float(u[g].min()) - 0.5 * np.pi / per_orbit  # a quarter slot before
        out.append(g[np.argsort((u[g] - ref) % (2 * np.pi), kind="stable")])
    return np.concatenate(out).astype(np.int64)


# --------------------------------------------------------------------------------------------
# Walker shells recognised in element sets (the console's links over a stored shell)

# Planes are told apart by gaps in node longitude wider than this; satellites of one plane
# differ by far less (J2 short-period terms: ~0.02 deg; epochs hours apart: ~0.2 deg).
PLANE_GAP_DEG = 0.5
# A satellite may sit this far (fraction of the in-plane spacing) from its Walker slot
SLOT_TOLERANCE = 0.25
_NS_PER_DAY = 86_400e9


class NotWalkerError(ValueError):
    """Element sets that are not a complete Walker-delta shell; the message says why."""


@dataclass(frozen=True)
class WalkerLayout:
    """A Walker-delta shell recognised in element sets: ``shell`` (its parameters; altitude as
    :func:`starbrain.sources.generators.constellation.mean_altitude_km`) and ``index``
    (shell.size,), the
    rows in generator order (plane by plane, slot by slot)."""

    shell: WalkerShell
    index: IntArray

    @property
    def isl(self) -> IntArray:
        """+Grid links (n_edge, 2) as positions in ``index``."""
        return plus_grid([self.shell])


def walker_layout(t: pa.Table, name: str = "shell") -> WalkerLayout:
    """Recognise a Walker-delta shell in the element sets ``t`` (``ELEMENTS_SCHEMA`` rows).

    Node longitudes (RAAN) are grouped into planes; each plane must hold the same number of
    satellites S and the P planes must be equally spaced. Arguments of latitude (argument of
    perigee + mean anomaly, advanced by the mean motion to the newest epoch) give the phasing
    factor F from plane 1 against plane 0, and every satellite must sit within
    ``SLOT_TOLERANCE`` of a slot ``360 k / S + 360 F j / (P S)``. ``index`` orders the rows as
    :func:`starbrain.sources.generators.constellation.generate` lays a shell out, so
    :func:`plus_grid`
    gives their links. Raises :class:`NotWalkerError` saying why not.
    """
    from starbrain.sources.generators.constellation import mean_altitude_km

    n = t.num_rows
    if n < 2:
        raise NotWalkerError("fewer than two satellites")
    raan = np.mod(t.column("ra_of_asc_node_deg").to_numpy().astype(np.float64), 360.0)
    mean_motion = t.column("mean_motion_rev_per_day").to_numpy().astype(np.float64)
    epoch_ns = t.column("epoch").cast(pa.timestamp("ns", tz="UTC")).cast(pa.int64()).to_numpy()
    days = (epoch_ns.max() - epoch_ns) / _NS_PER_DAY
    u = np.mod(
        t.column("arg_of_pericenter_deg").to_numpy().astype(np.float64)
        + t.column("mean_anomaly_deg").to_numpy().astype(np.float64)
        + 360.0 * mean_motion * days,
        360.0,
    )

    # planes: clusters of node longitude on the circle
    order = np.argsort(raan, kind="stable")
    gaps = np.diff(raan[order], append=raan[order[0]] + 360.0)
    cuts = np.flatnonzero(gaps > PLANE_GAP_DEG)
    if cuts.size:
        start = (int(cuts[-1]) + 1) % n
        order, gaps = np.roll(order, -start), np.roll(gaps, -start)
    plane_of = np.concatenate([[0], np.cumsum(gaps[:-1] > PLANE_GAP_DEG)]).astype(np.int64)
    planes = int(plane_of[-1]) + 1
    counts = np.bincount(plane_of)
    if counts.min() != counts.max():
        raise NotWalkerError(
            f"its {planes} planes hold {counts.min()} to {counts.max()} satellites"
        )
    per_plane = int(counts[0])
    node = np.unwrap(raan[order], period=360.0)
    centres = np.array([node[plane_of == j].mean() for j in range(planes)])
    spacing = 360.0 / planes
    if planes > 1 and np.abs(np.diff(centres) - spacing).max() > max(0.5, 0.1 * spacing):
        raise NotWalkerError(f"its {planes} planes are not equally spaced in node")

    # slots: argument of latitude against plane 0's first satellite, in slot spacings
    sigma = 360.0 / per_plane
    u_sorted = u[order]
    rel = np.mod(u_sorted - u_sorted[0], 360.0) / sigma
    if planes > 1:
        first_of_1 = int(np.flatnonzero(plane_of == 1)[0])
        phasing = int(np.rint(np.mod(rel[first_of_1], 1.0) * planes)) % planes
    else:
        phasing = 0
    x = rel - phasing * plane_of / planes
    slot_raw = np.rint(x)
    if np.abs(x - slot_raw).max() > SLOT_TOLERANCE:
        raise NotWalkerError("its satellites are not evenly phased in their planes")
    slot = np.mod(slot_raw.astype(np.int64), per_plane)
    position = plane_of * per_plane + slot
    if np.bincount(position, minlength=n).max() != 1:
        raise NotWalkerError("two satellites share a slot")
    layout = np.empty(n, dtype=np.int64)
    layout[position] = order

    inc_deg = t.column("inclination_deg").to_numpy().astype(np.float64)
    ecc = t.column("eccentricity").to_numpy().astype(np.float64)
    alt = float(np.nanmean(mean_altitude_km(mean_motion, np.radians(inc_deg), ecc)))
    inc = float(np.mean(inc_deg))
    if not 80.0 <= alt <= 50_000.0:
        raise NotWalkerError(f"mean altitude {alt:.0f} km")
    shell = WalkerShell(alt, inc, planes, per_plane, phasing=phasing, name=name)
    return WalkerLayout(shell, layout)
