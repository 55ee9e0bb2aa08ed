"""Lazy re-exports for subpackages (PEP 562), so importing one module does not import them all.

``physics`` re-exports SGP4, which imports torch; a user of ``physics.frames`` alone should not
pay for that. Each subpackage's ``__init__`` names what it exports and where it lives.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def lazy_exports(
    package: str, exports: dict[str, tuple[str, str]]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for ``package``: ``exports`` maps an exported name to
    (module under the package, or an absolute ``starbrain.`` module path, attribute in it)."""

    def __getattr__(name: str) -> Any:
        try:
            module, attr = exports[name]
        except KeyError:
            raise AttributeError(f"module {package!r} has no attribute {name!r}") from None
        absolute = module.startswith("starbrain.")
        return getattr(importlib.import_module(module if absolute else f"{package}.{module}"), attr)

    def __dir__() -> list[str]:
        return sorted(exports)

    return __getattr__, __dir__
