"""SOQL errors and their Salesforce-style message texts (query echo, caret, ``ERROR at Row:R:Column:C``)."""

from __future__ import annotations

from dataclasses import dataclass

MALFORMED_QUERY = "MALFORMED_QUERY"
INVALID_FIELD = "INVALID_FIELD"
INVALID_TYPE = "INVALID_TYPE"
NUMBER_OUTSIDE_VALID_RANGE = "NUMBER_OUTSIDE_VALID_RANGE"

# How much of the offending row Salesforce echoes around the error, in characters (approximated from
# observed messages: it shows a window of whole words around the caret, not the whole query).
_ECHO_BEFORE = 45
_ECHO_AFTER = 40


class SoqlError(Exception):
    """A query Salesforce would reject; ``error_code`` and ``message`` form the REST error body."""

    def __init__(self, error_code: str, message: str) -> None:
        super().__init__(f"{error_code}: {message}")
        self.error_code = error_code
        self.message = message


@dataclass(frozen=True)
class Pos:
    """Where a token starts: 1-based line and column, 0-based offset into the query text."""

    line: int
    column: int
    offset: int


def _window(row: str, index: int) -> tuple[int, int]:
    """The ``[start, end)`` slice of ``row`` echoed around ``index``, cut at whitespace between words."""
    start = 0
    if index > _ECHO_BEFORE:
        cut = row.find(" ", index - _ECHO_BEFORE - 1, index)
        start = cut + 1 if cut >= 0 else index
    end = len(row)
    if index + _ECHO_AFTER < len(row):
        cut = row.rfind(" ", index + 1, index + _ECHO_AFTER + 1)
        if cut < 0:
            following = row.find(" ", index + _ECHO_AFTER)
            cut = following if following >= 0 else len(row)
        end = cut
    return start, end


def locate(soql: str, pos: Pos) -> str:
    """The echo + caret + ``ERROR at Row:R:Column:C`` preamble Salesforce puts before a query error."""
    rows = soql.split("\n")
    row = rows[pos.line - 1] if 0 < pos.line <= len(rows) else soql
    index = max(0, min(pos.column - 1, len(row)))
    start, end = _window(row, index)
    window = row[start:end].rstrip("\r")
    caret = " " * (index - start) + "^"
    return f"\n{window}\n{caret}\nERROR at Row:{pos.line}:Column:{pos.column}\n"


def malformed(soql: str, pos: Pos, token: str | None) -> SoqlError:
    """``MALFORMED_QUERY`` for an unexpected token (``None`` means the query ended too early)."""
    shown = "<EOF>" if token is None else f"'{token}'"
    return SoqlError(MALFORMED_QUERY, f"{locate(soql, pos)}unexpected token: {shown}")


def bad_literal(soql: str, pos: Pos, detail: str) -> SoqlError:
    """``MALFORMED_QUERY`` for a literal that is lexically fine but not a valid SOQL value."""
    return SoqlError(MALFORMED_QUERY, f"{locate(soql, pos)}{detail}")


def no_such_column(soql: str, pos: Pos, field: str, entity: str) -> SoqlError:
    """``INVALID_FIELD`` for a field that does not exist on ``entity``."""
    return SoqlError(
        INVALID_FIELD,
        f"{locate(soql, pos)}No such column '{field}' on entity '{entity}'. If you are attempting to use a "
        "custom field, be sure to append the '__c' after the custom field name. Please reference your WSDL "
        "or the describe call for the appropriate names.",
    )


def bad_field_relationship(soql: str, pos: Pos, relationship: str) -> SoqlError:
    """``INVALID_FIELD`` for an unknown parent relationship inside a field path (``Foo.Name``)."""
    return SoqlError(
        INVALID_FIELD,
        f"{locate(soql, pos)}Didn't understand relationship '{relationship}' in field path. If you are "
        "attempting to use a custom relationship, be sure to append the '__r' after the custom relationship "
        "name. Please reference your WSDL or the describe call for the appropriate names.",
    )


def unsupported_object(soql: str, pos: Pos, sobject: str) -> SoqlError:
    """``INVALID_TYPE`` for an unknown object after ``FROM``."""
    return SoqlError(
        INVALID_TYPE,
        f"{locate(soql, pos)}sObject type '{sobject}' is not supported. If you are attempting to use a "
        "custom object, be sure to append the '__c' after the entity name. Please reference your WSDL or the "
        "describe call for the appropriate names.",
    )


def bad_child_relationship(soql: str, pos: Pos, relationship: str) -> SoqlError:
    """``INVALID_TYPE`` for an unknown child relationship in a subquery's ``FROM``."""
    return SoqlError(
        INVALID_TYPE,
        f"{locate(soql, pos)}Didn't understand relationship '{relationship}' in FROM part of query call. If "
        "you are attempting to use a custom relationship, be sure to append the '__r' after the custom "
        "relationship name. Please reference your WSDL or the describe call for the appropriate names.",
    )


def offset_too_large() -> SoqlError:
    """``NUMBER_OUTSIDE_VALID_RANGE`` for ``OFFSET`` above 2000."""
    return SoqlError(NUMBER_OUTSIDE_VALID_RANGE, "Maximum SOQL offset allowed is 2000")
