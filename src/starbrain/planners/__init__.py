"""Decisions: passes and contact plans, conjunctions, manoeuvres, routing, transfers."""
