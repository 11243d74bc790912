"""A FOCUS 1.2 requirement: its text quoted from the specification, its level and how a violation is found.

A row requirement is a SQL predicate over the relation `focus` that is true on the rows breaking it; a dataset
requirement looks at the columns and their types. The texts are quoted from FOCUS 1.2 (CC-BY-4.0;
data_contracts/reference/focus_1_2).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

RELATION = "focus"
DATETIME_TEXT = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$"  # the extended ISO 8601 form FOCUS requires


@dataclass(frozen=True)
class Requirement:
    """One FOCUS requirement: its quoted text, its level and how a violation is found."""

    id: str
    text: str
    level: str  # MUST | SHOULD
    where: str | None = None  # rows of `focus` that break it
    columns: Callable[[list[tuple[str, str]]], list[str]] | None = None  # offending columns of (name, type)
    breaks: dict[str, object] = field(default_factory=dict)  # a row change that must break it (tests)
