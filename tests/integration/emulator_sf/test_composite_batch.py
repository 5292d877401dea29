"""``POST /composite/batch``: up to 25 independent subrequests, haltOnError, {hasErrors, results} (REST API guide)."""

from __future__ import annotations

from typing import Any

from .conftest import Client, V


def sub(method: str, url: str, rich_input: Any = None) -> dict[str, Any]:
    out: dict[str, Any] = {"method": method, "url": url}
    if rich_input is not None:
        out["richInput"] = rich_input
    return out


async def batch(sf: Client, *subrequests: dict[str, Any], halt: bool | None = None,
                version: str = "62.0") -> tuple[int, Any, Any]:
    body: dict[str, Any] = {"batchRequests": list(subrequests)}
    if halt is not None:
        body["haltOnError"] = halt
    return await sf.call("POST", f"/services/data/v{version}/composite/batch", body)


async def new_account(sf: Client, name: str) -> str:
    status, data, _ = await sf.call("POST", f"{V}/sobjects/Account", {"Name": name})
    assert status == 201, data
    return str(data["id"])


async def test_batch_runs_subrequests_in_order_and_answers_each_status_and_result(sf: Client) -> None:
    """The guide's example: PATCH then GET of the same record -> 204/null then 200/record, hasErrors false."""
    account = await new_account(sf, "Batch Co")
    status, data, _ = await batch(
        sf, sub("PATCH", f"v62.0/sobjects/account/{account}", {"Name": "NewName"}),
        sub("GET", f"v62.0/sobjects/account/{account}?fields=Name,BillingPostalCode"))
    assert status == 200
    assert data == {"hasErrors": False, "results": [
        {"statusCode": 204, "result": None},
        {"statusCode": 200, "result": {
            "attributes": {"type": "Account", "url": f"/services/data/v62.0/sobjects/Account/{account}"},
            "Name": "NewName", "BillingPostalCode": None, "Id": account}}]}


async def test_subrequest_urls_start_at_the_version_with_or_without_a_slash(sf: Client) -> None:
    """``v62.0/...`` (REST guide) and ``/v62.0/...`` (Mobile SDK) both reach the resource, query strings included."""
    await new_account(sf, "Slash Co")
    status, data, _ = await batch(
        sf, sub("GET", "v62.0/query?q=SELECT+Name+FROM+Account+WHERE+Name+=+'Slash+Co'"),
        sub("GET", "/v62.0/query/?q=SELECT%20COUNT()%20FROM%20Account%20WHERE%20Name%20=%20'Slash%20Co'"),
        sub("GET", "/v62.0/limits"))
    assert status == 200 and data["hasErrors"] is False
    first, second, third = (r["result"] for r in data["results"])
    assert first["records"][0]["Name"] == "Slash Co" and second["totalSize"] == 1
    assert "DailyApiRequests" in third


async def test_a_failed_subrequest_rolls_nothing_back_and_later_ones_still_run(sf: Client) -> None:
    """Each subrequest commits alone: a failure keeps earlier commits, later subrequests run, hasErrors is true."""
    status, data, _ = await batch(
        sf, sub("POST", "v62.0/sobjects/Account", {"Name": "Kept Before"}),
        sub("POST", "v62.0/sobjects/Contact", {"FirstName": "no last name"}),
        sub("POST", "v62.0/sobjects/Account", {"Name": "Kept After"}))
    assert status == 200 and data["hasErrors"] is True
    codes = [r["statusCode"] for r in data["results"]]
    assert codes == [201, 400, 201]
    assert data["results"][1]["result"][0]["errorCode"] == "REQUIRED_FIELD_MISSING"
    names = {r["Name"] for r in (await sf.query("SELECT Name FROM Account WHERE Name LIKE 'Kept%'"))["records"]}
    assert names == {"Kept Before", "Kept After"}


async def test_halt_on_error_answers_412_batch_processing_halted_for_the_rest(sf: Client) -> None:
    """haltOnError: after a 4xx, every later subrequest is 412 BATCH_PROCESSING_HALTED and never runs; batch is 200."""
    status, data, _ = await batch(
        sf, sub("GET", "v62.0/sobjects/Account/001000000000000AAA"),
        sub("POST", "v62.0/sobjects/Account", {"Name": "Never Created"}), halt=True)
    assert status == 200 and data["hasErrors"] is True
    assert [r["statusCode"] for r in data["results"]] == [404, 412]
    assert data["results"][1]["result"][0]["errorCode"] == "BATCH_PROCESSING_HALTED"
    assert (await sf.query("SELECT COUNT() FROM Account WHERE Name = 'Never Created'"))["totalSize"] == 0


async def test_more_than_25_subrequests_is_a_400_and_runs_nothing(sf: Client) -> None:
    """A batch executes up to 25 subrequests; 26 is refused before any runs."""
    subs = [sub("POST", "v62.0/sobjects/Account", {"Name": "Over Limit"}) for _ in range(26)]
    status, data, _ = await batch(sf, *subs)
    assert status == 400 and isinstance(data, list) and data[0]["errorCode"]
    assert (await sf.query("SELECT COUNT() FROM Account WHERE Name = 'Over Limit'"))["totalSize"] == 0
    status, data, _ = await batch(sf, *subs[:25])
    assert status == 200 and len(data["results"]) == 25


async def test_an_invalid_method_or_url_is_a_400_whatever_halt_on_error_says(sf: Client) -> None:
    """Errors found while reading the request (method, url) answer 400 without running any subrequest."""
    good = sub("POST", "v62.0/sobjects/Account", {"Name": "Not Run"})
    for bad in (sub("FETCH", "v62.0/limits"), sub("GET", "sobjects/Account"), {"url": "v62.0/limits"}):
        status, data, _ = await batch(sf, good, bad, halt=False)
        assert status == 400, (bad, data)
    assert (await sf.query("SELECT COUNT() FROM Account WHERE Name = 'Not Run'"))["totalSize"] == 0


async def test_subrequest_version_must_be_34_or_later_and_not_after_the_batch(sf: Client) -> None:
    """Subrequest versions run from 34.0 to the batch's own version."""
    assert (await batch(sf, sub("GET", "v62.0/limits"), version="58.0"))[0] == 400
    assert (await batch(sf, sub("GET", "v33.0/limits")))[0] == 400
    status, data, _ = await batch(sf, sub("GET", "v58.0/limits"))
    assert status == 200 and data["results"][0]["statusCode"] == 200


async def test_only_batchable_resources_may_be_subrequests(sf: Client) -> None:
    """Composite and Connect-commerce resources aren't in the batchable list: the request is a 400."""
    for url in ("v62.0/composite/graph", "v62.0/composite/batch", "v62.0/commerce/order-management/order-summaries"):
        status, _, _ = await batch(sf, sub("POST", url, {}))
        assert status == 400, url


async def test_binary_part_names_need_a_multipart_request(sf: Client) -> None:
    """binaryPartName/binaryPartNameAlias name a binary part; a JSON request has none, so it is a 400."""
    bad = {**sub("POST", "v62.0/sobjects/ContentVersion", {}), "binaryPartName": "bin1",
           "binaryPartNameAlias": "VersionData"}
    assert (await batch(sf, bad))[0] == 400


async def test_each_subrequest_counts_against_the_api_allowance(sf: Client) -> None:
    """Unlike /composite, each batch subrequest counts as an API call (Sforce-Limit-Info)."""
    before = sf.emu.limits.used
    _, _, headers = await batch(sf, *[sub("GET", "v62.0/limits") for _ in range(5)])
    assert sf.emu.limits.used - before == 5
    assert headers["Sforce-Limit-Info"] == f"api-usage={before + 5}/{sf.emu.limits.maximum}"


async def test_batch_answers_post_only(sf: Client) -> None:
    """GET /composite/batch is 405 METHOD_NOT_ALLOWED."""
    status, data, _ = await sf.call("GET", f"{V}/composite/batch")
    assert status == 405 and data[0]["errorCode"] == "METHOD_NOT_ALLOWED"
