"""SOQL from templates with escaped values, never by concatenating input.

``quote_soql("... WHERE Name = {}", value)`` puts each value in as a SOQL literal: a string quoted with the
escape sequences of Salesforce's "Quoted String Escape Sequences" page (backslash, both quotes, new line, carriage
return, tab, \\b, form feed), a list or tuple as ``('a','b')``, an int or Decimal, ``true``/``false`` or ``null``.
``{:like}`` puts a string in without quotes, escaped as above and with LIKE's ``%`` and ``_`` escaped too, for a
pattern the template quotes (``LIKE '{:like}%'``).

Written here rather than taken from simple_salesforce.format_soql, which it replaced: importing that module runs
the simple_salesforce package, which loads requests, zeep, lxml and cryptography, about 13 MB of the worker's
resident memory for these few lines. The tests check it against format_soql (a test dependency) and against the
emulator's SOQL parser.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from string import Formatter
from typing import Any

_STRING_ESCAPES = str.maketrans({"\\": "\\\\", "'": "\\'", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t",
                                 "\b": "\\b", "\f": "\\f"})
_LIKE_ESCAPES = str.maketrans({"%": "\\%", "_": "\\_"})


def soql_literal(value: Any) -> str:
    """``value`` as a SOQL literal; TypeError for a type SOQL has no literal for here (never ``str(value)``)."""
    if isinstance(value, str):
        return "'" + value.translate(_STRING_ESCAPES) + "'"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):  # fixed-point: SOQL has no exponent form (str() would give 1E+3)
        if not value.is_finite():
            raise ValueError(f"SOQL has no literal for {value!r}")
        return format(value, "f")
    if isinstance(value, (list, tuple)):
        return "(" + ",".join(soql_literal(item) for item in value) + ")"
    raise TypeError(f"no SOQL literal for a {type(value).__name__}")


class _SoqlFormatter(Formatter):
    def format_field(self, value: Any, format_spec: str) -> str:
        if format_spec == "like":
            if not isinstance(value, str):
                raise TypeError(f"{{:like}} takes a string, not a {type(value).__name__}")
            return value.translate(_STRING_ESCAPES).translate(_LIKE_ESCAPES)
        if format_spec:
            raise ValueError(f"unknown SOQL format spec {format_spec!r} (only {{}} and {{:like}})")
        return soql_literal(value)


_FORMATTER = _SoqlFormatter()


def quote_soql(template: str, *args: Any, **kwargs: Any) -> str:
    """``quote_soql("... WHERE Name = {}", value)`` or ``{name}`` + keyword; ``{:like}`` escapes wildcards."""
    return _FORMATTER.vformat(template, args, kwargs)


def in_list(values: Iterable[str]) -> str:
    """``('a','b')`` for ``Field IN (...)``, each value escaped; never empty (``('')`` matches nothing)."""
    items = list(values)
    return soql_literal(items) if items else "('')"
