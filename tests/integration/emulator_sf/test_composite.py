"""Composite graph (atomic per graph), /composite (allOrNone, references) and sObject Collections."""

from __future__ import annotations

from typing import Any

from emulator.salesforce.errors import ROLLED_BACK_MESSAGE

from .conftest import Client, V, fo_events


def node(ref: str, method: str, path: str, body: Any = None) -> dict[str, Any]:
    out: dict[str, Any] = {"referenceId": ref, "method": method, "url": f"{V}/sobjects/{path}"}
    if body is not None:
        out["body"] = body
    return out


async def graph(sf: Client, *graphs: list[dict[str, Any]]) -> tuple[int, Any]:
    body = {"graphs": [{"graphId": f"g{i}", "compositeRequest": nodes} for i, nodes in enumerate(graphs)]}
    status, data, _ = await sf.call("POST", f"{V}/composite/graph", body)
    return status, data


async def test_graph_success_with_references(sf: Client) -> None:
    """Nodes reference earlier results with @{ref.id}; a GET node exposes Id for @{ref.Id}."""
    status, data = await graph(sf, [
        node("acct", "POST", "Account", {"Name": "Graph Co"}),
        node("contact", "POST", "Contact", {"LastName": "G", "AccountId": "@{acct.id}"}),
        node("read", "GET", "Account/@{acct.id}"),
        node("contact2", "POST", "Contact", {"LastName": "@{read.Name}", "AccountId": "@{read.Id}"}),
    ])
    assert status == 200
    result = data["graphs"][0]
    assert result["isSuccessful"] is True
    responses = {r["referenceId"]: r for r in result["graphResponse"]["compositeResponse"]}
    assert responses["acct"]["httpStatusCode"] == 201 and responses["acct"]["body"]["success"] is True
    assert responses["acct"]["httpHeaders"]["Location"].endswith(responses["acct"]["body"]["id"])
    contact2 = sf.emu.org.get(responses["contact2"]["body"]["id"])
    assert contact2["LastName"] == "Graph Co" and contact2["AccountId"] == responses["acct"]["body"]["id"]


async def test_failed_graph_rolls_back_rows_and_events_other_graph_commits(sf: Client) -> None:
    """One failing node rolls its whole graph back (no rows, no events); an independent graph still commits."""
    fo = (await sf.orders(count=1))[0]["fulfillment_order_id"]
    accounts_before = sf.emu.org.count("Account")
    events_before = len(fo_events(sf))
    status, data = await graph(
        sf,
        [node("acct", "POST", "Account", {"Name": "Rolled"}),
         node("status", "PATCH", f"FulfillmentOrder/{fo}", {"Status": "Fulfilled"}),
         node("bad", "POST", "Contact", {"FirstName": "no last name", "AccountId": "@{acct.id}"}),
         node("after", "POST", "Account", {"Name": "Never"})],
        [node("ok", "POST", "Account", {"Name": "Kept"})],
    )
    assert status == 200
    failed, ok = data["graphs"]
    assert failed["isSuccessful"] is False and ok["isSuccessful"] is True
    responses = {r["referenceId"]: r for r in failed["graphResponse"]["compositeResponse"]}
    assert responses["bad"]["httpStatusCode"] == 400 and responses["bad"]["httpHeaders"] == {}
    assert responses["bad"]["body"][0]["errorCode"] == "REQUIRED_FIELD_MISSING"
    for ref in ("acct", "status", "after"):
        assert responses[ref]["body"] == [{"errorCode": "PROCESSING_HALTED", "message": ROLLED_BACK_MESSAGE}]
        assert responses[ref]["httpStatusCode"] == 400
    assert sf.emu.org.count("Account") == accounts_before + 1
    assert sf.emu.org.get(fo)["Status"] == "Allocated"
    assert len(fo_events(sf)) == events_before


async def test_graph_reference_case_matters(sf: Client) -> None:
    """@{ref.Id} after a POST is an invalid reference (the SaveResult key is lower-case id)."""
    _status, data = await graph(sf, [node("acct", "POST", "Account", {"Name": "X"}),
                                    node("c", "POST", "Contact", {"LastName": "c", "AccountId": "@{acct.Id}"})])
    responses = data["graphs"][0]["graphResponse"]["compositeResponse"]
    bad = next(r for r in responses if r["referenceId"] == "c")
    assert bad["body"][0]["errorCode"] == "PROCESSING_HALTED"
    assert bad["body"][0]["message"].startswith("Invalid reference specified. No value for acct.Id found in acct.")


async def test_graph_rejects_query_nodes_and_bad_methods(sf: Client) -> None:
    """Only sObject URLs are graph nodes; a query node fails its graph."""
    query = {"referenceId": "q", "method": "GET", "url": f"{V}/query?q=SELECT+Id+FROM+Account"}
    _status, data = await graph(sf, [query], [node("p", "PATCH", "Account")])
    assert [g["isSuccessful"] for g in data["graphs"]] == [False, False]
    assert data["graphs"][0]["graphResponse"]["compositeResponse"][0]["body"][0]["errorCode"] == "INVALID_INPUT"


async def test_graph_payload_limits_are_400(sf: Client) -> None:
    """76 graphs or 501 nodes are refused as a whole with a 400 error array (body UNCONFIRMED upstream)."""
    status, data = await graph(sf, *[[node("a", "POST", "Account", {"Name": "x"})] for _ in range(76)])
    assert status == 400 and data[0]["errorCode"] == "LIMIT_EXCEEDED"
    big = [node(f"a{i}", "POST", "Account", {"Name": "x"}) for i in range(501)]
    status, data = await graph(sf, big)
    assert status == 400 and data[0]["errorCode"] == "LIMIT_EXCEEDED"
    status, data, _ = await sf.call("POST", f"{V}/composite/graph", {"graphs": [
        {"graphId": "same", "compositeRequest": []}, {"graphId": "same", "compositeRequest": []}]})
    assert status == 400 and data[0]["errorCode"] == "INVALID_INPUT"


async def test_graph_halts_after_14_failures(sf: Client) -> None:
    """After 14 failed graphs the remaining graphs are reported PROCESSING_HALTED without running."""
    bad = [node("c", "POST", "Contact", {"FirstName": "missing last"})]
    good = [node("a", "POST", "Account", {"Name": "late"})]
    before = sf.emu.org.count("Account")
    status, data = await graph(sf, *([bad] * 14 + [good]))
    assert status == 200 and data["graphs"][-1]["isSuccessful"] is False
    body = data["graphs"][-1]["graphResponse"]["compositeResponse"][0]["body"]
    assert body[0]["errorCode"] == "PROCESSING_HALTED"
    assert sf.emu.org.count("Account") == before


async def test_graph_counts_one_api_call(sf: Client) -> None:
    """A whole graph request consumes one API call."""
    used = sf.emu.limits.used
    await graph(sf, [node(f"a{i}", "POST", "Account", {"Name": "x"}) for i in range(5)])
    assert sf.emu.limits.used == used + 1


async def test_composite_all_or_none_rolls_back_everything(sf: Client) -> None:
    """allOrNone=true: one failure -> every other subrequest 400 PROCESSING_HALTED, nothing committed."""
    before = sf.emu.org.count("Account")
    status, data, _ = await sf.call("POST", f"{V}/composite", {"allOrNone": True, "compositeRequest": [
        {"method": "POST", "url": f"{V}/sobjects/Account", "referenceId": "a", "body": {"Name": "x"}},
        {"method": "POST", "url": f"{V}/sobjects/Contact", "referenceId": "c", "body": {"AccountId": "@{a.id}"}},
    ]})
    assert status == 200
    first, second = data["compositeResponse"]
    assert first["body"][0] == {"errorCode": "PROCESSING_HALTED", "message": ROLLED_BACK_MESSAGE}
    assert second["body"][0]["errorCode"] == "REQUIRED_FIELD_MISSING"
    assert sf.emu.org.count("Account") == before


async def test_composite_partial_with_query_and_dependent_failure(sf: Client) -> None:
    """allOrNone=false: independent subrequests commit, dependents of a failure are halted, queries reference."""
    _status, data, _ = await sf.call("POST", f"{V}/composite", {"compositeRequest": [
        {"method": "POST", "url": f"{V}/sobjects/Account", "referenceId": "a", "body": {"Name": "Partial"}},
        {"method": "GET", "referenceId": "q",
         "url": f"{V}/query/?q=SELECT+Id,Name+FROM+Account+WHERE+Id='@{{a.id}}'"},
        {"method": "POST", "url": f"{V}/sobjects/Contact", "referenceId": "bad", "body": {"FirstName": "x"}},
        {"method": "PATCH", "url": f"{V}/sobjects/Contact/@{{bad.id}}", "referenceId": "dep", "body": {}},
        {"method": "POST", "url": f"{V}/sobjects/Contact", "referenceId": "c",
         "body": {"LastName": "@{q.records[0].Name}", "AccountId": "@{q.records[0].Id}"}},
    ]})
    responses = {r["referenceId"]: r for r in data["compositeResponse"]}
    assert responses["q"]["body"]["totalSize"] == 1
    assert responses["bad"]["httpStatusCode"] == 400
    assert responses["dep"]["body"] == [{"errorCode": "PROCESSING_HALTED",
                                         "message": "Execution halted as previous operation (bad) was not successful."}]
    assert sf.emu.org.get(responses["c"]["body"]["id"])["LastName"] == "Partial"


async def test_collections_create_all_or_none_and_partial(sf: Client) -> None:
    """Collections answer 200 with SaveResults using statusCode; allOrNone rolls back valid records."""
    records = [{"attributes": {"type": "Account"}, "Name": "Ok"}, {"attributes": {"type": "Contact"}}]
    before = sf.emu.org.count("Account")
    status, data, _ = await sf.call("POST", f"{V}/composite/sobjects", {"allOrNone": True, "records": records})
    assert status == 200 and data[0]["success"] is False
    assert data[0]["errors"][0]["statusCode"] == "ALL_OR_NONE_OPERATION_ROLLED_BACK"
    assert data[1]["errors"][0]["statusCode"] == "REQUIRED_FIELD_MISSING"
    assert sf.emu.org.count("Account") == before
    status, data, _ = await sf.call("POST", f"{V}/composite/sobjects", {"records": records})
    assert data[0]["success"] is True and data[1]["success"] is False
    rid = data[0]["id"]
    status, data, _ = await sf.call("PATCH", f"{V}/composite/sobjects", {"records": [
        {"attributes": {"type": "Account"}, "id": rid, "Phone": "1"},
        {"attributes": {"type": "Account"}, "id": "001bad", "Phone": "1"}]})
    assert data[0] == {"id": rid, "success": True, "errors": []}
    assert data[1]["errors"][0]["statusCode"] == "MALFORMED_ID"
    status, data, _ = await sf.call("GET", f"{V}/composite/sobjects/Account", params={"ids": rid, "fields": "Phone"})
    assert data[0]["Phone"] == "1"
    status, data, _ = await sf.call("DELETE", f"{V}/composite/sobjects", params={"ids": rid})
    assert data == [{"id": rid, "success": True, "errors": []}]
    too_many = [{"attributes": {"type": "Account"}, "Name": "x"}] * 201
    status, data, _ = await sf.call("POST", f"{V}/composite/sobjects", {"records": too_many})
    assert status == 400 and data[0]["errorCode"] == "EXCEEDED_ID_LIMIT"
