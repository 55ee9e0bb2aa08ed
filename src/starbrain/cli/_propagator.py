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


def _report_provenance(propagator: Propagator) -> None:
    """For an OD world model: on standard error, its prior and which objects fell back to the
    prior alone (outside the model's domain), from the population it last prepared."""
    info = getattr(propagator, "population_info", None)
    if info is None:
        return
    n_back = int(info.fell_back.sum())
    err_console.print(
        f"prior: {info.prior}; {n_back} of {info.fell_back.size} objects outside the model's "
        "domain, propagated with the prior alone", highlight=False,
    )  # fmt: skip
