"""The new fleets' loop tasks, each in its own module, registered with ``starbrain run`` here
(so :mod:`starbrain.loop.service` names none of them): ``posts`` (:mod:`.posts_task`, issue
#17), ``arm`` (:mod:`.arm_task`, issue #16), ``vehicle`` (:mod:`.vehicle_task`, issue #15)
and ``compute`` (:mod:`.compute_task`, issue #18).
Each builder returns its scheduled tasks (none when the config leaves it off, the default) in
the order that breaks ties."""

from __future__ import annotations

from typing import Any

from starbrain.loop.arm_task import arm_tasks
from starbrain.loop.compute_task import compute_tasks
from starbrain.loop.posts_task import posts_tasks
from starbrain.loop.vehicle_task import vehicle_tasks

__all__ = ["fleet_tasks"]


def fleet_tasks(service: Any, task: Any) -> list[Any]:
    """``task(name, interval_s, handler) -> ScheduledTask`` for each fleet task asked for."""
    return [
        *posts_tasks(service, task),
        *arm_tasks(service, task),
        *vehicle_tasks(service, task),
        *compute_tasks(service, task),
    ]
