"""Moved to starbrain.sources.generators.debris; this alias goes in the next release."""

import importlib
import sys

sys.modules[__name__] = importlib.import_module("starbrain.sources.generators.debris")
