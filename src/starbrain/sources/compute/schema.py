"""Moved to :mod:`starbrain.core.schemas.compute`; this alias goes in the next release."""

import importlib
import sys

sys.modules[__name__] = importlib.import_module("starbrain.core.schemas.compute")
