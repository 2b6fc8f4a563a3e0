"""Exceptions raised by commonsnet. The engine raises these itself (from Rust), so their
constructors take exactly what it passes."""

from __future__ import annotations

from typing import Any


class CommonsNetError(Exception):
    """Base class of every error commonsnet raises."""


class InvalidScenario(CommonsNetError, ValueError):
    """The scenario was rejected. ``details`` lists the problems found, each a dict with
    ``table`` (scenario, resources, needs, links or policy), ``row`` (0-based, or None),
    ``field`` (JSON name or column, or None) and ``message``: the first ``MAX_ISSUES``
    (10,000) of them, and when there are more, a last one that counts them; ``unlisted`` is
    that count (0 when every problem is listed)."""

    def __init__(self, message: str, details: list[dict[str, Any]] | None = None, unlisted: int = 0) -> None:
        super().__init__(message)
        self.details: list[dict[str, Any]] = list(details or [])
        self.unlisted: int = unlisted


class InvalidArgument(CommonsNetError, ValueError):
    """An argument that is not part of a scenario is wrong: an unknown generator or policy
    name, a scale or perturbation out of range, a table that cannot be read."""


class EngineError(CommonsNetError, RuntimeError):
    """The engine failed on valid input (a bug: a panic inside it is caught and raised as this,
    and the interpreter goes on)."""
