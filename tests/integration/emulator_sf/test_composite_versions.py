"""Composite resources by API version: graph exists from v50.0; GET /composite lists what the version has."""

from __future__ import annotations

from .conftest import Client, V

NOT_FOUND = [{"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}]


async def test_graph_below_v50_is_404_not_found(sf: Client) -> None:
    """POST /services/data/v49.0/composite/graph: the resource doesn't exist there -> 404 NOT_FOUND error body."""
    status, data, _ = await sf.call("POST", "/services/data/v49.0/composite/graph", {"graphs": []})
    assert (status, data) == (404, NOT_FOUND)
    status, data, _ = await sf.call("POST", "/services/data/v50.0/composite/graph", {"graphs": []})
    assert (status, data) == (200, {"graphs": []})


async def test_composite_listing_has_graph_only_from_v50(sf: Client) -> None:
    """GET /composite lists tree, batch, sobjects, and graph from v50.0 on."""
    status, data, _ = await sf.call("GET", "/services/data/v49.0/composite")
    assert status == 200 and set(data) == {"tree", "batch", "sobjects"}
    status, data, _ = await sf.call("GET", f"{V}/composite")
    assert data == {name: f"{V}/composite/{name}" for name in ("tree", "batch", "sobjects", "graph")}


async def test_every_listed_composite_resource_answers(sf: Client) -> None:
    """Each URI GET /composite lists is a live resource (none answers 404)."""
    _, listing, _ = await sf.call("GET", f"{V}/composite")
    for name, url in listing.items():
        path = f"{url}/Account" if name == "tree" else url
        status, _, _ = await sf.call("POST", path, {})
        assert status != 404, name


async def test_composite_refuses_batch_and_tree_subrequests(sf: Client) -> None:
    """/composite subrequests may be sObject, query or collections resources, not batch or tree."""
    body = {"compositeRequest": [
        {"method": "POST", "url": f"{V}/composite/batch", "referenceId": "b", "body": {"batchRequests": []}},
        {"method": "POST", "url": f"{V}/composite/tree/Account", "referenceId": "t", "body": {"records": []}}]}
    status, data, _ = await sf.call("POST", f"{V}/composite", body)
    assert status == 200
    assert [r["httpStatusCode"] for r in data["compositeResponse"]] == [400, 400]
