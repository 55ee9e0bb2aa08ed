"""Moved to starbrain.sources.telemetry.packets; this alias goes in the next release."""

import importlib
import sys

sys.modules[__name__] = importlib.import_module("starbrain.sources.telemetry.packets")
