"""The error type whose message is written for the user (the CLI prints it without a traceback)."""

from __future__ import annotations

__all__ = ["StarbrainError"]


class StarbrainError(Exception):
    """An error with a message written for the user; the CLI prints it without a traceback."""
