"""What every MCP tool group shares: JSON rows from Arrow tables, StarbrainError -> tool error,
the store opened read-only, times as the store's ``datetime`` parameters."""

from __future__ import annotations

import datetime as _dt
import functools
import inspect
import logging
import math
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
import pyarrow as pa
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError

from starbrain.core.errors import StarbrainError

log = logging.getLogger("starbrain.agents")

MAX_ROWS = 1000
"""The most rows a tool returns by default (``limit`` caps it lower)."""


def json_value(v: Any) -> Any:
    """One value as JSON: datetimes ISO-8601 UTC with ``Z``, NaN/inf -> null, NumPy scalars
    as Python ones."""
    if isinstance(v, _dt.datetime):
        if v.tzinfo is not None:
            v = v.astimezone(_dt.UTC).replace(tzinfo=None)
        return v.isoformat(timespec="microseconds") + "Z"
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, np.generic):
        return json_value(v.item())
    if isinstance(v, np.datetime64):
        return None if np.isnat(v) else str(np.datetime_as_string(v, unit="us")) + "Z"
    return v


def rows(table: pa.Table, limit: int = MAX_ROWS) -> list[dict[str, Any]]:
    """Table rows as JSON-ready dicts (timestamps ISO-8601 UTC with nanoseconds and ``Z``,
    NaN -> null)."""
    sub = table.slice(0, limit)
    times: dict[str, list[str | None]] = {}
    for f in sub.schema:
        if pa.types.is_timestamp(f.type):
            col = sub.column(f.name)
            t = col.cast(pa.int64()).fill_null(np.iinfo(np.int64).min).to_numpy()
            iso = np.datetime_as_string(t.astype("datetime64[ns]"), unit="ns")
            nat = np.isnat(t.astype("datetime64[ns]"))
            times[f.name] = [None if bad else f"{x}Z" for x, bad in zip(iso, nat, strict=True)]
    out = sub.drop_columns(list(times)).to_pylist()
    for i, r in enumerate(out):
        for k, v in r.items():
            r[k] = json_value(v)
        for k, col in times.items():
            r[k] = col[i]
    names = sub.schema.names
    return [{k: r[k] for k in names} for r in out]


_F = TypeVar("_F", bound=Callable[..., Any])


def user_errors(fn: _F) -> _F:
    """A tool whose :class:`StarbrainError` / ``ValueError`` reaches the agent as its sentence
    (a ``ToolError``), not as the SDK's generic crash message or a traceback."""
    if inspect.iscoroutinefunction(fn):

        @functools.wraps(fn)
        async def run_async(*args: Any, **kwargs: Any) -> Any:
            try:
                return await fn(*args, **kwargs)
            except (StarbrainError, ValueError) as exc:
                raise ToolError(str(exc)) from exc

        return run_async  # type: ignore[return-value]

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (StarbrainError, ValueError) as exc:
            raise ToolError(str(exc)) from exc

    return run  # type: ignore[return-value]


def require_writes(allowed: bool, flag: str, instead: str) -> None:
    """Refuse a tool call that asks to write (``flag`` set) on a read-only server, with one
    sentence that names the flag, ``--allow-writes`` and what to do ``instead``."""
    if not allowed:
        raise StarbrainError(f"{flag} needs the server started with --allow-writes; {instead}")


def open_store(read_only: bool = True) -> Any:
    """The store (``STARBRAIN_DB``), read-only unless asked."""
    from starbrain.store.database import Store

    return Store(read_only=read_only)


def py_time(t: np.datetime64) -> _dt.datetime:
    """A ``datetime64`` as the naive-UTC ``datetime`` the store's query parameters take."""
    return _dt.datetime.fromisoformat(str(np.datetime_as_string(t, unit="us")))


async def progress(ctx: Context | None, done: float, total: float, message: str) -> None:
    """Report progress when the client asked for it (a ``progressToken``)."""
    if ctx is not None:
        await ctx.report_progress(done, total, message)
