"""Moved to starbrain.sources.ephemerides.oem_frames; this alias goes in the next release."""

import importlib
import sys

sys.modules[__name__] = importlib.import_module("starbrain.sources.ephemerides.oem_frames")
