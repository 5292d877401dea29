"""SOQL from templates with escaped values (simple_salesforce.format_soql), never by concatenating input."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from simple_salesforce.format import format_soql


def quote_soql(template: str, *args: Any, **kwargs: Any) -> str:
    """``quote_soql("... WHERE Name = {}", value)`` or ``{name}`` + keyword; ``{:like}`` escapes wildcards."""
    return str(format_soql(template, *args, **kwargs))


def in_list(values: Iterable[str]) -> str:
    """``('a','b')`` for ``Field IN (...)``, each value escaped; never empty (``('')`` matches nothing)."""
    items = list(values)
    if not items:
        return "('')"
    return str(format_soql("{}", items))
