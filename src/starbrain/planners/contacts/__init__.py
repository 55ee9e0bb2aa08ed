"""Ground-station contact plans: which satellite each antenna tracks when, as a MILP and greedily.

The problem. Stations (:class:`ContactStation`) have ``antennas`` identical antennas, a minimum
elevation, a downlink rate (Mbit/s) and a set-up time (slew and acquisition, s) an antenna needs
between two consecutive contacts. Satellites (:class:`Fleet`) hold ``initial_mbit`` of data at
the start, generate ``generation_mbps`` more (lost when the onboard ``storage_mbit`` is full)
and want ``demand_mbit`` delivered within the horizon. A plan maximises the data delivered.

Time is cut into slots of ``slot_s`` seconds (default 60 s) from the start of the horizon. A
satellite can use a slot at a station for the part of it during which its geometric elevation
is at least the station's minimum (the passes of :func:`starbrain.planners.passes.find_passes`),
delivering at most ``rate x visible seconds``. Both planners obey the same rules:

- an antenna serves at most one satellite per slot, a satellite uses at most one antenna;
- a contact is a run of consecutive slots of one satellite on one antenna; after a contact
  ends in slot k the antenna starts its next one in slot ``k + m + 1`` at the earliest,
  ``m = ceil(setup_s / slot_s)`` (so the idle gap is at least ``setup_s``);
- data delivered in a slot is at most what was onboard at the slot's start, and the onboard
  volume follows ``b(k+1) = min(storage, b(k) + generation x slot) - d(k)``: generation in a
  slot counts from the next one, and is lost to a full store as if the slot's data were sent
  at its end. Both are conservative (data really goes down earlier and frees room sooner), so
  a plan that keeps these rules is feasible in continuous time;
- the total delivered per satellite is at most its demand.

The MILP (HiGHS, through ``highspy`` when installed, else ``scipy.optimize.milp``) has a binary
per (satellite, station, slot) with visibility ("tracked") and a continuous end-of-contact
indicator beside it; a continuous delivered volume per satellite (when all its data is onboard
at the start) or, for satellites that generate data, a delivered and an onboard volume per
(satellite, visible slot). Antennas of a station are identical, so the model counts them rather
than naming them (no symmetric copies for the solver to wade through): at every slot, tracked
satellites plus contacts that ended within the last ``m`` slots are at most the station's
antennas; antennas are named afterwards. With ``highspy`` the greedy plan is passed as a MIP
start, so a MILP plan stopped by the time limit is never worse than the greedy one.

The greedy baseline walks the slots in time order: an antenna keeps the satellite it tracked in
the previous slot while that one still has data; free antennas then go, highest station rate
first, to the visible satellite whose pass at that station ends soonest (earliest deadline),
ties to the one with most data left.

:func:`check_plan` validates any plan independently of both planners, including the elevation
at every contact instant by re-propagating the satellites (see its docstring).

Modules: :mod:`.problem` (the instance and plan tables), :mod:`.greedy`, :mod:`.milp`,
:mod:`.check`.

Times inside are seconds after ``start``; plans are Arrow tables (``CONTACTS_SCHEMA``) with UTC
timestamps. Data volumes in Mbit, rates in Mbit/s.
"""

from __future__ import annotations

from starbrain.planners.contacts.check import check_plan
from starbrain.planners.contacts.greedy import plan_greedy
from starbrain.planners.contacts.milp import compare_planners, plan_milp
from starbrain.planners.contacts.problem import (
    CONTACTS_SCHEMA,
    ContactPlan,
    ContactProblem,
    ContactStation,
    Fleet,
    PlanSummary,
    contact_problem,
    problem_from_windows,
)

__all__ = [
    "CONTACTS_SCHEMA",
    "ContactPlan",
    "ContactProblem",
    "ContactStation",
    "Fleet",
    "PlanSummary",
    "check_plan",
    "compare_planners",
    "contact_problem",
    "plan_greedy",
    "plan_milp",
    "problem_from_windows",
]
