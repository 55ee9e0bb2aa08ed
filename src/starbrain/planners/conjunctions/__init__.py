"""Conjunction screening: every close approach among a catalogue's objects over a time span.

Method (batched; no Python loop over objects or pairs):

0. **Shards.** The grid steps of the window are cut into ``shards`` runs of consecutive steps;
   each shard runs steps 2-5 on its own (its own pre-pass, candidates and refinement) through
   :func:`starbrain.cluster.shard_map`, in this process or on Ray (``ray_address``): the same
   function either way. A bracket straddling two shards can be found by both and is kept once
   (keyed by pair and lower grid step), so the result does not depend on the sharding.
1. **Propagation.** Every object is propagated on a coarse UTC grid (``step_s``, default 60 s),
   in time chunks whose size bounds the memory used (``max_chunk_mb``), by a
   :class:`~starbrain.planners.propagator.Propagator`: SGP4 (:mod:`starbrain.physics.sgp4`) by
   default, or SGP4 plus a registered world model's learned correction.
2. **Apogee/perigee (radial) filter.** Within each chunk, each object's geocentric distance is
   bounded from its samples, padded for the motion between samples; a pair can only meet if
   their radial bands, padded by the threshold, overlap. Objects that overlap no other object
   leave the chunk's time filter. When ``primaries`` are given, a cheap pre-pass (one sample
   every 300 s over the shard's span) keeps only the objects whose band overlaps a primary's, and
   only those are propagated.
3. **Time filter.** At every grid time a k-d tree (``scipy.spatial.cKDTree.query_pairs``) finds
   the pairs closer than ``D = threshold + V dt / 2``, ``V`` bounding the relative speed (twice
   the largest sampled speed): the grid time nearest a closest approach under the threshold is
   at most ``dt / 2`` away from it, so the pair is found there. With few primaries the distances
   from each primary to every object are computed densely instead. The candidates are thinned
   by their rectilinear closest approach within ``dt / 2``, padded by a bound on the
   gravity-gradient curvature of the relative motion.
4. **Brackets.** The sign of the relative range-rate at the candidate's grid time picks the grid
   interval holding the minimum; a cubic Hermite interpolant of the relative position over that
   interval (accurate to about a metre at 60 s in LEO) discards brackets whose minimum is more
   than 50 m above the threshold.
5. **TCA refinement.** For the remaining pairs the propagator is evaluated at arbitrary times
   (only those two objects, selected from the shard's initialised state, in one batch for all
   pairs): a safeguarded Newton iteration on the range-rate
   ``d/dt |r2 - r1|^2 / 2`` (central difference of SGP4 positions, 10 ms apart, since SGP4's
   velocity differs from the derivative of its position by up to ~0.3 m/s) converges to within
   10 us. TCA is thus the instant of minimum SGP4 distance; the miss vector, its components in
   object 1's RTN frame and the relative speed are taken there.
6. **Collision probability.** 2-D Foster Pc (:mod:`.collision_probability`) from each object's
   RTN position covariance (given, or the documented default model growing with the element
   set's age) and the sum of the two hard-body radii.

A conjunction is a local minimum of the distance strictly inside ``[start, stop]`` and under
``threshold_km``. Pairs whose relative motion has two minima less than one grid step apart (only
for nearly co-moving objects) can lose one of them; identical orbits (zero range-rate at all
times) have no minimum and are not reported.

Modules: :mod:`.screening` (the entry points: shards -> merge -> minima -> Pc), :mod:`.shards`
(one shard: pre-pass, chunks, brackets, refinement), :mod:`.filters` (steps 2-4),
:mod:`.refinement` (steps 5-6), :mod:`.results`, :mod:`.selection`, :mod:`.common`.
"""

from starbrain.core.schemas.decisions import CONJUNCTIONS_KEY, CONJUNCTIONS_SCHEMA
from starbrain.planners.conjunctions.refinement import CovarianceInput

# the covariance-model call convention, shared with planners.avoidance
from starbrain.planners.conjunctions.refinement import _call_model as _call_model
from starbrain.planners.conjunctions.results import Conjunctions, ScreeningStats
from starbrain.planners.conjunctions.screening import screen, screen_conjunctions
from starbrain.planners.conjunctions.selection import select_conjunctions

__all__ = [
    "CONJUNCTIONS_KEY",
    "CONJUNCTIONS_SCHEMA",
    "Conjunctions",
    "CovarianceInput",
    "ScreeningStats",
    "screen",
    "screen_conjunctions",
    "select_conjunctions",
]
