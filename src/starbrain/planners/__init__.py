"""Decisions: passes and contact plans, conjunctions, manoeuvres, routing, transfers."""

from starbrain._lazy import lazy_exports

_EXPORTS = {
    "find_passes": ("passes", "find_passes"),
    "GroundStation": ("passes", "GroundStation"),
    "Passes": ("passes", "Passes"),
    "PASSES_SCHEMA": ("passes", "PASSES_SCHEMA"),
    "sgp4_propagator": ("passes", "sgp4_propagator"),
    "satrec_propagator": ("passes", "satrec_propagator"),
    "DeltaVAssumptions": ("transfers", "DeltaVAssumptions"),
    "TransferGrid": ("transfers", "TransferGrid"),
    "TransferOption": ("transfers", "TransferOption"),
    "Opportunity": ("transfers", "Opportunity"),
    "evaluate_transfers": ("transfers", "evaluate_transfers"),
    "porkchop": ("transfers", "porkchop"),
    "optimize_transfer": ("transfers", "optimize_transfer"),
    "transfer_opportunities": ("transfers", "transfer_opportunities"),
    "windows_table": ("transfers", "windows_table"),
    "porkchop_for_window": ("transfers", "porkchop_for_window"),
    "write_porkchop_png": ("transfers", "write_porkchop_png"),
    "write_porkchop_html": ("transfers", "write_porkchop_html"),
    "LanderConfig": ("landing", "LanderConfig"),
    "LandingResult": ("landing", "LandingResult"),
    "MARS_LANDER_2007": ("landing", "MARS_LANDER_2007"),
    "BLACKMORE_2010_LANDER": ("landing", "BLACKMORE_2010_LANDER"),
    "solve_landing": ("landing", "solve_landing"),
    "write_landing_outputs": ("landing", "write_landing_outputs"),
    "AscentResult": ("ascent", "AscentResult"),
    "FALCON9_LIKE": ("ascent", "FALCON9_LIKE"),
    "optimize_ascent": ("ascent", "optimize_ascent"),
    "write_ascent_outputs": ("ascent", "write_ascent_outputs"),
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
