"""Ballistic interplanetary transfers: porkchop grids, optimal windows and synodic opportunities.

Every transfer here is a single heliocentric conic (zero-revolution, prograde Lambert arc) from
the departure planet's centre at launch to the target planet's centre at arrival (or from / to a
planet's system barycentre, ``"earth barycenter"``, as the NASA handbooks do), with planet
positions from DE421 (:mod:`starbrain.physics.ephemeris`) and the Sun's GM. This is the patched
conic model of the NASA / JPL mission-design handbooks (e.g. Sergeyevsky, Snyder and Cunniff,
*Interplanetary Mission Design Handbook*, JPL Publication 82-43, 1983): departure and arrival are
described by their hyperbolic excess velocities only.

Quantities (arrays broadcast over launch x arrival):

* ``c3_km2_s2``: launch energy, the square of the departure v-infinity.
* ``vinf_arr_kms``: arrival v-infinity magnitude.
* ``dla_rad`` / ``rla_rad``: declination / right ascension of the departure asymptote in the
  Earth's equator frame (ICRF), as in the handbooks' DLA / RLA contours.
* ``transfer_angle_rad``: heliocentric angle swept by the arc, in (0, 2 pi); **type I** below
  pi (180 deg), **type II** above.
* ``dv_total_kms``: impulsive delta-v under :class:`DeltaVAssumptions`: an Oberth-efficient burn
  from a circular parking orbit (default 200 km altitude) onto the departure hyperbola, plus,
  unless capture is switched off, a periapsis burn from the arrival hyperbola into a stated
  capture orbit (default 300 km circular). Gravity losses, plane changes at departure (launch-site
  latitude vs DLA), navigation and margins are not included.

Times are UTC ``datetime64[ns]`` at the edges and split Julian dates inside.

The package: :mod:`.results` (the typed results and assumptions), :mod:`.grid` (porkchop grids,
:func:`evaluate_transfers`, :func:`optimize_transfer`), :mod:`.opportunities` (synodic windows).
"""

from __future__ import annotations

from starbrain.planners.transfers.grid import (
    evaluate_transfers,
    optimize_transfer,
    porkchop,
)
from starbrain.planners.transfers.opportunities import (
    porkchop_for_window,
    transfer_opportunities,
    windows_table,
)
from starbrain.planners.transfers.results import (
    RADIUS_KM as RADIUS_KM,
)
from starbrain.planners.transfers.results import (
    RIDGE_MARGIN_DEG as RIDGE_MARGIN_DEG,
)
from starbrain.planners.transfers.results import (
    DeltaVAssumptions,
    Opportunity,
    TransferGrid,
    TransferOption,
)

__all__ = [
    "DeltaVAssumptions",
    "Opportunity",
    "TransferGrid",
    "TransferOption",
    "evaluate_transfers",
    "optimize_transfer",
    "porkchop",
    "porkchop_for_window",
    "transfer_opportunities",
    "windows_table",
]
