"""SOQL engine errors: codes and Salesforce-style texts (echo, caret, row/column, reason)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from emulator.salesforce.soql import SoqlError, run_query

if TYPE_CHECKING:
    from conftest import FullOrg

FIELD_HINT = (
    "If you are attempting to use a custom field, be sure to append the '__c' after the custom field "
    "name. Please reference your WSDL or the describe call for the appropriate names."
)
TYPE_HINT = (
    "If you are attempting to use a custom object, be sure to append the '__c' after the entity name. "
    "Please reference your WSDL or the describe call for the appropriate names."
)
REL_HINT = (
    "If you are attempting to use a custom relationship, be sure to append the '__r' after the custom "
    "relationship name. Please reference your WSDL or the describe call for the appropriate names."
)


def _error(org: FullOrg, soql: str) -> SoqlError:
    with pytest.raises(SoqlError) as info:
        run_query(soql, org, api_version="62.0")
    return info.value


@pytest.mark.parametrize(
    ("soql", "column", "token"),
    [
        ("SELECT Id FROM FulfillmentOrder;", 32, "';'"),
        ("SELECT Id FROM FulfillmentOrder; SELECT Id FROM Account", 32, "';'"),
        ("SELECT Id FROM FulfillmentOrder SELECT Id FROM Account", 33, "'SELECT'"),
        ("SELECT Id FROM", 15, "<EOF>"),
        ("SELECT FROM FulfillmentOrder", 13, "'FulfillmentOrder'"),
        ("SELECT Id FROM FulfillmentOrder WHERE Status = 'A' AND Type = 'B' OR Id = 'C'", 67, "'OR'"),
        ("SELECT Id FROM FulfillmentOrder WHERE Status = Allocated", 48, "'Allocated'"),
        ("SELECT Id FROM FulfillmentOrder WHERE Status = 'open", 48, "'''"),
        ("SELECT Id FROM FulfillmentOrder WHERE Status LIKE 5", 51, "'5'"),
        ("SELECT Id FROM FulfillmentOrder WHERE CreatedDate > 2025-13-01", 53, "'2025-13-01'"),
        ("SELECT Id FROM FulfillmentOrder ORDER BY Id LIMIT 5 WHERE Status = 'x'", 53, "'WHERE'"),
        ("SELECT Total(Id) FROM FulfillmentOrder", 8, "'Total'"),
        ("SELECT Id FROM FulfillmentOrder LIMIT -1", 39, "'-1'"),
    ],
)
def test_malformed_query_points_at_the_unexpected_token(
    org: FullOrg, soql: str, column: int, token: str
) -> None:
    """Unparsable text is MALFORMED_QUERY with the caret under the offending token and its text."""
    err = _error(org, soql)
    assert err.error_code == "MALFORMED_QUERY"
    lines = err.message.split("\n")
    assert lines[0] == ""
    assert lines[3] == f"ERROR at Row:1:Column:{column}"
    assert lines[4] == f"unexpected token: {token}"
    echo, caret = lines[1], lines[2]
    assert caret.strip() == "^"
    assert soql.find(echo) >= 0 and soql.find(echo) + len(caret) - 1 == column - 1


def test_malformed_message_is_exact_for_a_short_query(org: FullOrg) -> None:
    """A short query is echoed whole, caret under the token, then row/column and the token."""
    err = _error(org, "SELECT Id FROM Account;")
    expected = "\nSELECT Id FROM Account;\n                      ^\nERROR at Row:1:Column:23\n"
    assert err.message == expected + "unexpected token: ';'"


def test_error_position_counts_rows_and_columns_of_multiline_queries(org: FullOrg) -> None:
    """Row and column are those of the line holding the error; only that line is echoed."""
    err = _error(org, "SELECT Id\nFROM Account\nWHERE Name = = 'x'")
    assert err.message.startswith("\nWHERE Name = = 'x'\n             ^\nERROR at Row:3:Column:14\n")


def test_long_queries_echo_a_window_of_whole_words(org: FullOrg) -> None:
    """Long queries echo only whole words around the error, with the caret still under the token."""
    fields = ", ".join(["Name", "PersonEmail"] * 10)
    soql = f"SELECT {fields}, Nope FROM Account"
    err = _error(org, soql)
    echo, caret = err.message.split("\n")[1:3]
    error_at = soql.index("Nope")
    start = error_at - (len(caret) - 1)
    assert 0 < start and len(echo) < len(soql)
    assert soql[start : start + len(echo)] == echo
    assert echo[len(caret) - 1 :].startswith("Nope")
    assert soql[start - 1] == " " and echo[0] != " "
    assert start + len(echo) == len(soql) or soql[start + len(echo)] == " "


def test_invalid_string_escape_is_malformed(org: FullOrg) -> None:
    """A backslash before a character SOQL does not escape is MALFORMED_QUERY naming the sequence."""
    err = _error(org, r"SELECT Id FROM Account WHERE Name = 'a\qb'")
    assert err.error_code == "MALFORMED_QUERY"
    assert err.message.endswith(
        r"Invalid string literal 'a\qb'. Illegal character sequence '\q' in string literal."
    )


def test_unknown_object_is_invalid_type_with_salesforce_text(org: FullOrg) -> None:
    """An unknown FROM object is INVALID_TYPE with the caret under the object name."""
    err = _error(org, "SELECT Id FROM Widget")
    assert err.error_code == "INVALID_TYPE"
    assert err.message == (
        f"\nSELECT Id FROM Widget\n               ^\nERROR at Row:1:Column:16\n"
        f"sObject type 'Widget' is not supported. {TYPE_HINT}"
    )


@pytest.mark.parametrize(
    ("soql", "column", "field", "entity"),
    [
        ("SELECT Id, Foo FROM FulfillmentOrder", 12, "Foo", "FulfillmentOrder"),
        ("SELECT Id FROM FulfillmentOrder WHERE Bogus__c = 'x'", 39, "Bogus__c", "FulfillmentOrder"),
        ("SELECT Id FROM FulfillmentOrder ORDER BY Nope", 42, "Nope", "FulfillmentOrder"),
        ("SELECT DeliveryMethod.Foo FROM FulfillmentOrder", 8, "Foo", "OrderDeliveryMethod"),
        ("SELECT OrderSummary.Account.Nope FROM FulfillmentOrder", 8, "Nope", "Account"),
        (
            "SELECT Id, (SELECT Nope FROM FulfillmentOrderLineItems) FROM FulfillmentOrder",
            20,
            "Nope",
            "FulfillmentOrderLineItem",
        ),
        ("SELECT COUNT(Nope) FROM FulfillmentOrder", 14, "Nope", "FulfillmentOrder"),
        (
            "SELECT Id FROM FulfillmentOrder WHERE Id IN (SELECT Nope FROM FulfillmentOrderLineItem)",
            53,
            "Nope",
            "FulfillmentOrderLineItem",
        ),
        ("SELECT DeliveryMethod FROM FulfillmentOrder", 8, "DeliveryMethod", "FulfillmentOrder"),
    ],
)
def test_unknown_field_is_invalid_field_with_salesforce_text(
    org: FullOrg, soql: str, column: int, field: str, entity: str
) -> None:
    """An unknown column anywhere is INVALID_FIELD naming the column and the entity it was looked up on."""
    err = _error(org, soql)
    assert err.error_code == "INVALID_FIELD"
    assert f"\nERROR at Row:1:Column:{column}\n" in err.message
    assert err.message.endswith(f"No such column '{field}' on entity '{entity}'. {FIELD_HINT}")


def test_invalid_field_message_is_exact(org: FullOrg) -> None:
    """The whole INVALID_FIELD message matches the Salesforce layout byte for byte."""
    err = _error(org, "SELECT Id, Foo FROM Account")
    assert err.message == (
        f"\nSELECT Id, Foo FROM Account\n           ^\nERROR at Row:1:Column:12\n"
        f"No such column 'Foo' on entity 'Account'. {FIELD_HINT}"
    )


def test_unknown_parent_relationship_in_a_path_is_invalid_field(org: FullOrg) -> None:
    """A field path through an unknown lookup is INVALID_FIELD 'Didn't understand relationship'."""
    err = _error(org, "SELECT Shipper.Name FROM FulfillmentOrder")
    assert err.error_code == "INVALID_FIELD"
    assert err.message.endswith(f"Didn't understand relationship 'Shipper' in field path. {REL_HINT}")


def test_unknown_child_relationship_is_invalid_type(org: FullOrg) -> None:
    """A subquery FROM that is not a child relationship is INVALID_TYPE with Salesforce's text."""
    err = _error(org, "SELECT Id, (SELECT Id FROM FulfillmentOrderLineItem) FROM FulfillmentOrder")
    assert err.error_code == "INVALID_TYPE"
    assert "\nERROR at Row:1:Column:28\n" in err.message
    assert err.message.endswith(
        f"Didn't understand relationship 'FulfillmentOrderLineItem' in FROM part of query call. {REL_HINT}"
    )


def test_offset_above_2000_is_rejected(org: FullOrg) -> None:
    """OFFSET may not exceed 2000 (NUMBER_OUTSIDE_VALID_RANGE); 2000 itself is fine."""
    assert run_query("SELECT Id FROM Account OFFSET 2000", org, api_version="62.0").rows == []
    err = _error(org, "SELECT Id FROM Account OFFSET 2001")
    assert (err.error_code, err.message) == (
        "NUMBER_OUTSIDE_VALID_RANGE",
        "Maximum SOQL offset allowed is 2000",
    )


@pytest.mark.parametrize(
    "soql",
    [
        "SELECT Id, COUNT() FROM Account",
        "SELECT COUNT(), COUNT(Id) FROM Account",
        "SELECT COUNT(Id), Name FROM Account",
    ],
)
def test_count_mixed_with_other_columns_is_malformed(org: FullOrg, soql: str) -> None:
    """COUNT() / COUNT(field) must stand alone in the select list."""
    err = _error(org, soql)
    assert err.error_code == "MALFORMED_QUERY"
    assert "Field must be grouped or aggregated" in err.message


def test_semi_join_must_select_exactly_one_field(org: FullOrg) -> None:
    """A semi-join subquery selecting two fields is MALFORMED_QUERY."""
    err = _error(
        org,
        "SELECT Id FROM FulfillmentOrder WHERE Id IN "
        "(SELECT FulfillmentOrderId, Id FROM FulfillmentOrderLineItem)",
    )
    assert err.error_code == "MALFORMED_QUERY"


def test_soql_error_carries_code_and_message() -> None:
    """SoqlError exposes error_code and message and reads well as a string."""
    err = SoqlError("MALFORMED_QUERY", "unexpected token: 'x'")
    assert (err.error_code, err.message) == ("MALFORMED_QUERY", "unexpected token: 'x'")
    assert str(err) == "MALFORMED_QUERY: unexpected token: 'x'"
