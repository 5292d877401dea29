"""worker.salesforce.soql: SOQL literals against simple_salesforce.format_soql and the emulator's SOQL parser."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from simple_salesforce import format_soql

from emulator.salesforce.soql import parse
from emulator.salesforce.soql.evaluate import like_pattern
from emulator.salesforce.soql.model import Compare, InList, Like, StrLit
from worker.salesforce.soql import in_list, quote_soql, soql_literal

# every character class the escapes care about, often, beside any other text
TEXT = st.text(alphabet=st.sampled_from("\\'\"\n\r\t\b\f%_ aZ9é✓") | st.characters(), max_size=30)


@given(TEXT)
def test_strings_quote_as_simple_salesforce_does(value: str) -> None:
    """A string literal is exactly what simple_salesforce.format_soql made of it, plain and in {:like}."""
    assert quote_soql("Name = {}", value) == format_soql("Name = {}", value)
    assert quote_soql("Name LIKE '{:like}%'", value) == format_soql("Name LIKE '{:like}%'", value)


@given(st.lists(TEXT, min_size=1, max_size=5))
def test_lists_quote_as_simple_salesforce_does(values: list[str]) -> None:
    """A list is the same IN list format_soql made, in_list included."""
    assert quote_soql("Id IN {}", values) == format_soql("Id IN {}", values) == f"Id IN {in_list(values)}"


@given(TEXT)
def test_a_quoted_string_parses_back_to_itself(value: str) -> None:
    """The emulator's SOQL parser (the org's escape rules) reads the literal back as the same string."""
    where = parse(quote_soql("SELECT Id FROM Account WHERE Name = {}", value)).where
    assert isinstance(where, Compare) and isinstance(where.value, StrLit) and where.value.value == value


@given(TEXT)
def test_a_like_pattern_matches_its_text_literally(value: str) -> None:
    """{:like} escapes % and _: the pattern 'value%' parses with the value's own characters, not wildcards."""
    where = parse(quote_soql("SELECT Id FROM Account WHERE Name LIKE '{:like}%'", value)).where
    assert isinstance(where, Like)
    pattern = like_pattern(where.pattern.like_regex)
    assert pattern.fullmatch(value) and pattern.fullmatch(value + "tail")
    if "_" in value or "%" in value:  # an escaped wildcard matches only itself
        assert not pattern.fullmatch(value.replace("_", "#").replace("%", "#"))


@pytest.mark.parametrize(("value", "literal"), [
    (None, "null"), (True, "true"), (False, "false"), (0, "0"), (-12, "-12"), (Decimal("19.90"), "19.90"),
    (Decimal("1E+3"), "1000"), (Decimal("1E-7"), "0.0000001"), (("a", 1), "('a',1)"), ([], "()"),
])
def test_scalars_and_sequences_have_soql_literals(value: Any, literal: str) -> None:
    """None, booleans, ints, Decimals (fixed-point, never an exponent) and sequences become SOQL's literals (bool
    before int: True is not 1)."""
    assert soql_literal(value) == literal


@given(st.decimals(allow_nan=False, allow_infinity=False, places=4, min_value=-10**9, max_value=10**9))
def test_a_decimal_parses_back_to_its_value(value: Decimal) -> None:
    """The emulator's SOQL parser reads a Decimal's literal as a number equal to it."""
    where = parse(quote_soql("SELECT Id FROM Account WHERE AnnualRevenue = {}", value)).where
    assert isinstance(where, Compare) and Decimal(str(where.value)) == value


@pytest.mark.parametrize("value", [{"a": 1}, {"a"}, datetime(2025, 1, 1, tzinfo=UTC), b"bytes", object(), 2.5])
def test_a_value_without_a_soql_literal_is_refused(value: Any) -> None:
    """A type with no literal here (a float too: its repr may use an exponent) raises TypeError instead of being
    put in with str()."""
    with pytest.raises(TypeError):
        quote_soql("X = {}", value)


@pytest.mark.parametrize("value", [Decimal("NaN"), Decimal("-Infinity"), Decimal("sNaN")])
def test_non_finite_numbers_are_refused(value: Any) -> None:
    """NaN and infinities have no SOQL literal."""
    with pytest.raises(ValueError, match="no literal"):
        soql_literal(value)


def test_format_specs_other_than_like_are_refused() -> None:
    """Only {} and {:like} exist; {:like} takes only a string; a typo in a spec is an error, not text."""
    with pytest.raises(ValueError, match="unknown SOQL format spec"):
        quote_soql("X = {:lik}", "a")
    with pytest.raises(TypeError, match="takes a string"):
        quote_soql("X LIKE '{:like}'", 5)


def test_in_list_of_nothing_matches_nothing() -> None:
    """An empty IN list is ('') (SOQL refuses IN ()), which no Id equals."""
    where = parse(f"SELECT Id FROM Account WHERE Id IN {in_list([])}").where
    assert isinstance(where, InList) and [v.value for v in where.values] == [""]  # type: ignore[union-attr]
