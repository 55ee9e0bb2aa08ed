"""The running service: subscribe -> store -> update models -> re-plan -> publish."""

from starbrain._lazy import lazy_exports

_EXPORTS = {
    "LoopConfig": ("config", "LoopConfig"),
    "load_config": ("config", "load_config"),
    "LoopService": ("service", "LoopService"),
    "LoopSummary": ("service", "LoopSummary"),
    "SimClock": ("service", "SimClock"),
    "run_loop": ("runner", "run_loop"),
    "ConsoleOptions": ("runner", "ConsoleOptions"),
    "SUBJECTS": ("publish", "SUBJECTS"),
    "Bus": ("publish", "Bus"),
    "Publisher": ("publish", "Publisher"),
    "NatsPublisher": ("publish", "NatsPublisher"),
    "MqttPublisher": ("publish", "MqttPublisher"),
    "make_publisher": ("publish", "make_publisher"),
    "run_demo": ("demo", "run_demo"),
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
