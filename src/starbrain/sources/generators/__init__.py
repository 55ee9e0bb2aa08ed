"""Synthetic catalogues: Walker-delta constellations and debris clouds as element sets."""
