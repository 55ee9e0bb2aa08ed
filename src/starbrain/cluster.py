"""Scale-out: run one function over coarse shards, in this process or on a Ray cluster.

The design rule is *one code path*: the function that a Ray worker runs is the function the
local path runs, so a test of the local path tests the cluster path's logic, and a cluster run
differs only in where the calls execute.

``ray_address`` selects where:

* ``None``: in this process, a plain loop (no Ray import at all);
* ``"local"``: a Ray instance started on this machine (``ray.init()``), for testing the Ray path
  or using all local cores through Ray;
* anything else (``"auto"``, ``"ray://head:10001"``, ``"head:6379"``): ``ray.init(address=...)``
  connecting to an existing cluster.

Ray is an optional dependency (``pip install 'starbrain[cluster]'``); asking for an address
without it installed raises a one-sentence :class:`StarbrainError`.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from starbrain.core.errors import StarbrainError

T = TypeVar("T")
R = TypeVar("R")

__all__ = ["ray_available", "ray_init", "shard_map"]


def ray_available() -> bool:
    """Whether Ray can be imported here (the ``cluster`` extra is installed)."""
    return importlib.util.find_spec("ray") is not None


def ray_init(ray_address: str) -> Any:
    """Connect to (or, for ``"local"``, start) Ray once per process; returns the ``ray`` module."""
    if not ray_available():
        raise StarbrainError(
            f"--ray-address {ray_address!r} needs Ray: pip install 'starbrain[cluster]'"
        )
    import ray

    if not ray.is_initialized():
        kwargs: dict[str, Any] = {
            "ignore_reinit_error": True,
            "include_dashboard": False,
            "log_to_driver": False,
            "configure_logging": False,
        }
        try:
            if ray_address == "local":
                ray.init(**kwargs)
            else:
                ray.init(address=ray_address, **kwargs)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise StarbrainError(f"cannot reach the Ray cluster at {ray_address!r}: {exc}") from exc
    return ray


def shard_map(
    fn: Callable[[T], R],
    shards: Sequence[T],
    *,
    ray_address: str | None = None,
    description: str | None = None,
) -> list[R]:
    """``[fn(s) for s in shards]``, here or on Ray; results in the order of ``shards``.

    ``fn`` must be a picklable top-level function and each shard a coarse piece of work (a few
    per CPU), since every remote call costs milliseconds of scheduling. ``description`` labels
    a progress bar on terminals (on standard error, which keeps standard output for data).
    """
    from rich.console import Console
    from rich.progress import Progress

    shards = list(shards)
    err = Console(stderr=True)
    with Progress(
        transient=True, console=err, disable=description is None or not err.is_terminal
    ) as progress:
        task = progress.add_task(description or "", total=len(shards))
        if ray_address is None:
            results: list[R] = []
            for shard in shards:
                results.append(fn(shard))
                progress.advance(task)
            return results
        ray = ray_init(ray_address)
        remote = ray.remote(fn)
        refs = [remote.remote(s) for s in shards]
        index = {ref: i for i, ref in enumerate(refs)}
        out: list[Any] = [None] * len(refs)
        pending = list(refs)
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            for ref in done:
                out[index[ref]] = ray.get(ref)
                progress.advance(task)
        return out
