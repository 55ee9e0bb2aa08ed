"""Robot arms: the MuJoCo "real" arm, its ``arm`` stream schema and the telemetry simulator."""

from starbrain._lazy import lazy_exports

_EXPORTS = {
    "ARM_SCHEMA": ("starbrain.core.schemas.arm", "ARM_SCHEMA"),
    "ARM_KEY": ("starbrain.core.schemas.arm", "ARM_KEY"),
    "ArmParams": ("arm", "ArmParams"),
    "MujocoArm": ("arm", "MujocoArm"),
    "NOMINAL_ARM": ("arm", "NOMINAL_ARM"),
    "Puck": ("arm", "Puck"),
    "WORN_ARM": ("arm", "WORN_ARM"),
    "arm_mjcf": ("arm", "arm_mjcf"),
    "Excitation": ("simulator", "Excitation"),
    "simulate_arm": ("simulator", "simulate_arm"),
    "simulate_episode": ("simulator", "simulate_episode"),
    "episode_table": ("simulator", "episode_table"),
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
