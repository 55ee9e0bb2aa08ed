"""Moved to starbrain.sources.telemetry.ccsds_framing; this alias goes in the next release."""

import importlib
import sys

sys.modules[__name__] = importlib.import_module("starbrain.sources.telemetry.ccsds_framing")
