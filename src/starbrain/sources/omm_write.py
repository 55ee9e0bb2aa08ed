"""Moved to starbrain.sources.catalogs.omm_write; this alias goes in the next release."""

import importlib
import sys

sys.modules[__name__] = importlib.import_module("starbrain.sources.catalogs.omm_write")
