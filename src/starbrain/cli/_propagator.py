"""``--model latest|NAME|sgp4``: the one propagator option of the orbit planners' commands
(passes, contacts plan, route; ``conjunctions screen`` has the same option)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from starbrain.cli._common import err_console

if TYPE_CHECKING:
    from starbrain.planners.propagator import Propagator

ModelOption = Annotated[
    str | None,
    typer.Option(
        "--model",
        help="Propagator: a registered world model's name, 'latest', or 'sgp4' "
        "(default: the latest world model if one is registered, else SGP4).",
    ),
]
"""``--model``: resolved by :func:`starbrain.planners.propagator.resolve_propagator`."""


def _propagator(store: Any, model: str | None) -> Propagator:
    """The propagator ``--model`` names in ``store``; says which on standard error."""
    from starbrain.planners.propagator import resolve_propagator

    propagator = resolve_propagator(store, model)
    err_console.print(f"propagator: {propagator.name}", highlight=False)
    return propagator
