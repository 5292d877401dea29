"""``POST /composite/tree/{sObject}``: nested records in one all-or-nothing call (REST API guide, sObject Tree)."""

from __future__ import annotations

from typing import Any

import pytest

from emulator.salesforce import composite_batch

from .conftest import Client, V


def rec(sobject: str, ref: str, **fields: Any) -> dict[str, Any]:
    return {"attributes": {"type": sobject, "referenceId": ref}, **fields}


async def tree(sf: Client, sobject: str, records: list[dict[str, Any]]) -> tuple[int, Any]:
    status, data, _ = await sf.call("POST", f"{V}/composite/tree/{sobject}", {"records": records})
    return status, data


async def accounts_named(sf: Client, prefix: str) -> int:
    return int((await sf.query(f"SELECT COUNT() FROM Account WHERE Name LIKE '{prefix}%'"))["totalSize"])


async def test_tree_creates_nested_records_and_lists_ids_level_by_level(sf: Client) -> None:
    """201 {hasErrors false, results}: roots first (ref1, ref4), then second-level records, children linked."""
    status, data = await tree(sf, "Account", [
        rec("Account", "ref1", Name="SampleAccount", Phone="1234567890", Contacts={"records": [
            rec("Contact", "ref2", LastName="Smith", Email="sample@salesforce.com"),
            rec("Contact", "ref3", LastName="Evans")]}),
        rec("Account", "ref4", Name="SampleAccount2")])
    assert status == 201 and data["hasErrors"] is False
    assert [r["referenceId"] for r in data["results"]] == ["ref1", "ref4", "ref2", "ref3"]
    ids = {r["referenceId"]: r["id"] for r in data["results"]}
    assert ids["ref1"].startswith("001") and ids["ref2"].startswith("003")
    contact = sf.emu.org.get(ids["ref3"])
    assert contact["AccountId"] == ids["ref1"] and contact["LastName"] == "Evans"


async def test_one_bad_record_fails_the_whole_tree_reporting_only_that_record(sf: Client) -> None:
    """All or nothing: 400 {hasErrors true, results: [the failing referenceId + statusCode/message/fields]}."""
    status, data = await tree(sf, "Account", [
        rec("Account", "ok1", Name="Tree Rolled", Contacts={"records": [rec("Contact", "bad", FirstName="No Last")]}),
        rec("Account", "ok2", Name="Tree Rolled Too")])
    assert status == 400
    assert data == {"hasErrors": True, "results": [{"referenceId": "bad", "errors": [
        {"statusCode": "REQUIRED_FIELD_MISSING", "message": "Required fields are missing: [LastName]",
         "fields": ["LastName"]}]}]}
    assert await accounts_named(sf, "Tree Rolled") == 0


async def test_duplicate_reference_ids_report_every_occurrence_and_create_nothing(sf: Client) -> None:
    """Duplicate referenceIds: one result per occurrence, hasErrors true, nothing created."""
    status, data = await tree(sf, "Account", [rec("Account", "dup", Name="Dup One"),
                                              rec("Account", "dup", Name="Dup Two")])
    assert status == 400 and data["hasErrors"] is True
    assert [r["referenceId"] for r in data["results"]] == ["dup", "dup"]
    assert await accounts_named(sf, "Dup ") == 0


async def test_more_than_200_records_is_refused(sf: Client) -> None:
    """Up to a total of 200 records across all trees."""
    records = [rec("Account", f"r{i}", Name=f"Bulk {i}") for i in range(201)]
    status, data = await tree(sf, "Account", records)
    assert status == 400 and data[0]["errorCode"] == "LIMIT_EXCEEDED"
    assert await accounts_named(sf, "Bulk ") == 0
    status, data = await tree(sf, "Account", records[:200])
    assert status == 201 and len(data["results"]) == 200


async def test_more_than_five_record_types_is_refused(sf: Client) -> None:
    """Up to five different record types in one request."""
    order = rec("Order", "o1", OrderItems={"records": [rec("OrderItem", "i1")]},
                OrderDeliveryGroups={"records": [rec("OrderDeliveryGroup", "g1")]},
                PaymentGroups={"records": [rec("PaymentGroup", "p1")]})
    status, data = await tree(sf, "Account", [rec("Account", "a1", Name="Six Types", Contacts={"records": [
        rec("Contact", "c1", LastName="C")]}, Orders={"records": [order]})])
    assert status == 400 and data[0]["errorCode"] == "LIMIT_EXCEEDED", data
    assert await accounts_named(sf, "Six Types") == 0


async def test_trees_deeper_than_the_limit_are_refused(sf: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    """sObject trees up to five levels deep (the emulator's schema has no 6-level chain: the limit is lowered here)."""
    monkeypatch.setattr(composite_batch, "MAX_TREE_DEPTH", 1)
    status, data = await tree(sf, "Account", [rec("Account", "a1", Name="Too Deep", Contacts={"records": [
        rec("Contact", "c1", LastName="C")]})])
    assert status == 400 and data[0]["errorCode"] == "LIMIT_EXCEEDED"
    assert await accounts_named(sf, "Too Deep") == 0


async def test_root_records_must_be_of_the_uri_type(sf: Client) -> None:
    """Each tree's root record type must correspond to the sObject in the URI."""
    status, data = await tree(sf, "Account", [rec("Contact", "c1", LastName="Wrong Root")])
    assert status == 400 and data["hasErrors"] is True and data["results"][0]["referenceId"] == "c1"


async def test_tree_answers_post_only_and_404_for_an_unknown_object(sf: Client) -> None:
    """GET is 405; an unknown sObject is 404 NOT_FOUND."""
    assert (await sf.call("GET", f"{V}/composite/tree/Account"))[0] == 405
    status, data = await tree(sf, "Widget", [rec("Widget", "w1")])
    assert status == 404 and data[0]["errorCode"] == "NOT_FOUND"


async def test_tree_counts_as_one_api_call(sf: Client) -> None:
    """The entire sObject Tree request counts as a single call toward API limits."""
    before = sf.emu.limits.used
    status, _ = await tree(sf, "Account", [rec("Account", f"r{i}", Name=f"One Call {i}") for i in range(10)])
    assert status == 201 and sf.emu.limits.used - before == 1
