"""Moved to starbrain.sources.generators.constellation; this alias goes in the next release."""

import importlib
import sys

sys.modules[__name__] = importlib.import_module("starbrain.sources.generators.constellation")
