"""Compatibility alias for one release: the converter now lives in ``starbrain.core.timeconv``."""

from starbrain.core.timeconv import *  # noqa: F403
from starbrain.core.timeconv import __all__  # noqa: F401
