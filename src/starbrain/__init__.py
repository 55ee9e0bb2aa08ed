"""starbrain: from fleet telemetry to decisions.

Sources -> store -> physics -> world models -> planners -> console/API; see the README.
"""

__version__ = "0.1.0"
