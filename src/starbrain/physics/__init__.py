"""Analytic and numerical models: SGP4, frames, force models, integrators, Lambert."""
