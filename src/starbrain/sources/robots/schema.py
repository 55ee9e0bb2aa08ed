"""Moved to :mod:`starbrain.core.schemas.arm`; this alias goes in the next release."""

import importlib
import sys

sys.modules[__name__] = importlib.import_module("starbrain.core.schemas.arm")
