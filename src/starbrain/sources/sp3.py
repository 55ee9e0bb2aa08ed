"""Moved to starbrain.sources.ephemerides.sp3; this alias goes in the next release."""

import importlib
import sys

sys.modules[__name__] = importlib.import_module("starbrain.sources.ephemerides.sp3")
