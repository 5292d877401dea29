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


# --------------------------------------------------------------------------- aggregate queries
# Texts below marked "observed" were seen in Salesforce answers quoted by third-party code and notes (no Salesforce
# page prints them); the rule each enforces is documented where cited. UNCONFIRMED texts: the rule is documented but
# no real answer text was found, so the emulator words it itself.


def not_grouped(soql: str, pos: Pos, text: str) -> SoqlError:
    """A selected (or HAVING) field neither grouped nor aggregated.

    Rule: "If the list of fields in a SELECT clause includes an aggregate function, you must include all
    non-aggregated fields in the GROUP BY clause" (SOQL reference, "GROUP BY",
    https://developer.salesforce.com/docs/platform/salesforce-soql-sosl/guide/sforce-api-calls-soql-select-groupby.html);
    text observed ("Field must be grouped or aggregated: Name").
    """
    return SoqlError(MALFORMED_QUERY, f"{locate(soql, pos)}Field must be grouped or aggregated: {text}")


def order_not_grouped(soql: str, pos: Pos, text: str) -> SoqlError:
    """An ORDER BY field of an aggregate query neither grouped nor aggregated (text observed)."""
    return SoqlError(MALFORMED_QUERY, f"{locate(soql, pos)}Ordered field must be grouped or aggregated: {text}")


def grouped_and_aggregated(soql: str, pos: Pos, name: str) -> SoqlError:
    """An aggregate over a field that is also grouped (text observed: "Grouped field should not be aggregated: Id")."""
    return SoqlError(MALFORMED_QUERY, f"{locate(soql, pos)}Grouped field should not be aggregated: {name}")


def alias_outside_aggregate(soql: str, pos: Pos) -> SoqlError:
    """A field alias in a query that aggregates nothing.

    Rule: aliases are described only for aggregate queries ("Use Aliases with GROUP BY",
    https://developer.salesforce.com/docs/platform/salesforce-soql-sosl/guide/sforce-api-calls-soql-select-groupby-alias.html);
    text observed ("only aggregate expressions use field aliasing").
    """
    return SoqlError(MALFORMED_QUERY, f"{locate(soql, pos)}only aggregate expressions use field aliasing")


def aggregate_not_root(soql: str, pos: Pos) -> SoqlError:
    """An aggregate or GROUP BY inside a subquery (text observed: "only root queries support aggregate expressions")."""
    return SoqlError(MALFORMED_QUERY, f"{locate(soql, pos)}only root queries support aggregate expressions")


def not_groupable(soql: str, pos: Pos, name: str) -> SoqlError:
    """GROUP BY on a field type that can't be grouped.

    Rule: "Some object fields have a field type that doesn't support grouping" (SOQL reference, "Considerations for
    GROUP BY", https://developer.salesforce.com/docs/atlas.en-us.soql_sosl.meta/soql_sosl/sforce_api_calls_soql_select_group_by_considerations.htm);
    text observed ("field 'Amount' can not be grouped in a query call").
    """
    return SoqlError(MALFORMED_QUERY, f"{locate(soql, pos)}field '{name}' can not be grouped in a query call")


def not_aggregatable(soql: str, pos: Pos, name: str, func: str) -> SoqlError:
    """An aggregate function over a field type it doesn't accept (AVG/SUM need numbers, per "Aggregate Functions").

    Text observed ("field ActivityDate does not support aggregate operator MAX").
    """
    return SoqlError(MALFORMED_QUERY, f"{locate(soql, pos)}field {name} does not support aggregate operator {func}")


def count_with_clause(soql: str, pos: Pos, clause: str) -> SoqlError:
    """``COUNT()`` with GROUP BY or ORDER BY.

    Rule: "You can't use COUNT() with an ORDER BY clause" / "You can't use COUNT() with a GROUP BY clause for API
    version 19.0 and later. Use COUNT(fieldName) instead." (SOQL reference, "COUNT() and COUNT(fieldName)",
    https://developer.salesforce.com/docs/atlas.en-us.soql_sosl.meta/soql_sosl/sforce_api_calls_soql_select_count.htm).
    Text UNCONFIRMED.
    """
    return SoqlError(MALFORMED_QUERY, f"{locate(soql, pos)}COUNT() can't be used with {clause}; use COUNT(fieldName)")


def limit_without_group_by(soql: str, pos: Pos) -> SoqlError:
    """LIMIT on an aggregate query without GROUP BY.

    Rule: "You must use a GROUP BY clause if your query has a LIMIT clause and an aggregated function"
    ("Considerations for GROUP BY", URL above). Text UNCONFIRMED.
    """
    return SoqlError(MALFORMED_QUERY, f"{locate(soql, pos)}Aggregate queries with LIMIT must use GROUP BY")


def semi_join_in_having(soql: str, pos: Pos) -> SoqlError:
    """A semi- or anti-join in HAVING.

    Rule: "A HAVING clause can't contain any semi- or anti-joins" (SOQL reference, "Considerations When Using HAVING",
    https://developer.salesforce.com/docs/atlas.en-us.soql_sosl.meta/soql_sosl/sforce_api_calls_soql_select_having_considerations.htm).
    Text UNCONFIRMED.
    """
    detail = "Semi join and anti join sub-selects are not allowed in HAVING"
    return SoqlError(MALFORMED_QUERY, f"{locate(soql, pos)}{detail}")


# Rule: "In REST API, queries that include a GROUP BY clause can't use the query locator to get more results"
# ("Considerations for GROUP BY", URL above). A grouped result past one 2,000-row batch is refused outright; text
# observed ("Aggregate query does not support queryMore(), use LIMIT to restrict the results to a single batch");
# error code UNCONFIRMED (MALFORMED_QUERY used).
AGGREGATE_BATCH_LIMIT = 2000


def aggregate_too_many_rows() -> SoqlError:
    """More aggregate rows than one batch holds."""
    return SoqlError(MALFORMED_QUERY, "Aggregate query does not support queryMore(), use LIMIT to restrict the "
                                      "results to a single batch")
