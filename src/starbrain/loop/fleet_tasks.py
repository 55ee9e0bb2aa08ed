"""The new fleets' loop tasks, each in its own module, registered with ``starbrain run`` here
(so :mod:`starbrain.loop.service` names none of them): ``posts`` (:mod:`.posts_task`, issue
#17) and ``arm`` (:mod:`.arm_task`, issue #16). Each builder returns its scheduled tasks (none
when the config leaves it off, the default) in the order that breaks ties."""

from __future__ import annotations

from typing import Any

from starbrain.loop.arm_task import arm_tasks
from starbrain.loop.posts_task import posts_tasks

__all__ = ["fleet_tasks"]


def fleet_tasks(service: Any, task: Any) -> list[Any]:
    """``task(name, interval_s, handler) -> ScheduledTask`` for each fleet task asked for."""
    return [*posts_tasks(service, task), *arm_tasks(service, task)]
