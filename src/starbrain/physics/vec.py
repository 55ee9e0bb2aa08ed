"""Array-agnostic 3-vector helpers: the same code for NumPy arrays and PyTorch tensors.

Vectors are ``(..., 3)``; ``xp`` is the array namespace (``numpy`` or ``torch``). Written out
component by component so they work, and differentiate, identically in both libraries.
"""

from __future__ import annotations

from typing import Any

__all__ = ["cross", "dot", "norm"]


def dot(a: Any, b: Any) -> Any:
    """Row-wise dot product of (..., 3) vectors -> (...)."""
    return a[..., 0] * b[..., 0] + a[..., 1] * b[..., 1] + a[..., 2] * b[..., 2]


def cross(xp: Any, a: Any, b: Any) -> Any:
    """Row-wise cross product of (..., 3) vectors -> (..., 3)."""
    return xp.stack(
        [
            a[..., 1] * b[..., 2] - a[..., 2] * b[..., 1],
            a[..., 2] * b[..., 0] - a[..., 0] * b[..., 2],
            a[..., 0] * b[..., 1] - a[..., 1] * b[..., 0],
        ],
        -1,
    )


def norm(xp: Any, a: Any) -> Any:
    """Row-wise Euclidean norm of (..., 3) vectors -> (...)."""
    return xp.sqrt(xp.sum(a * a, -1))
