"""/status and oms_auth_operator_required{service}: a refused POS login is shown beside Salesforce's, per service."""

from __future__ import annotations

import json
from typing import Any

from .test_status import get, troubled

POS_REASON = ("pos 401 invalid_client: token endpoint refused the client credentials: Invalid client credentials "
              "(fix the credentials; next token request at 2024-05-31T15:31:20Z (or restart the worker))")


async def test_refused_pos_login_shows_in_status_from_the_token_provider(serve: Any) -> None:
    """The POS refused its login: /status names the POS as down with the refusal, operator_required, and the pause."""
    served, board, _ = await troubled(serve)
    board.operator_required = lambda: None
    board.pos_operator_required = lambda: POS_REASON
    body = json.loads((await get(served, "/status"))[2])
    pos = body["dependencies"]["pos"]
    assert pos == {"state": "down", "operator_required": True,
                   "reason": f"login refused, an operator must act: {POS_REASON}"}
    assert body["dependencies"]["salesforce"]["operator_required"] is False
    assert body["outbound"]["reason"].startswith("the POS refused the credentials (an operator must fix them; see "
                                                 "the pos reason)")


async def test_pos_login_working_shows_operator_required_false(serve: Any) -> None:
    """With a POS token provider that is fine, the POS entry is up and says no operator is needed."""
    served, board, _ = await troubled(serve)
    board.pos_operator_required = lambda: None
    body = json.loads((await get(served, "/status"))[2])
    assert body["dependencies"]["pos"] == {"state": "up", "reason": None, "operator_required": False}


async def test_both_refused_name_both_in_the_outbound_reason(serve: Any) -> None:
    """Salesforce and the POS both refused: both are down with their reasons, the pause names both."""
    served, board, _ = await troubled(serve)
    board.operator_required = lambda: "salesforce 400 invalid_grant: authentication failure; fix the credentials"
    board.pos_operator_required = lambda: POS_REASON
    body = json.loads((await get(served, "/status"))[2])
    deps = body["dependencies"]
    assert deps["salesforce"]["operator_required"] is True and deps["pos"]["operator_required"] is True
    assert "Salesforce and the POS refused the credentials" in body["outbound"]["reason"]
    assert "see the salesforce and pos reasons" in body["outbound"]["reason"]


async def test_operator_gauge_has_one_sample_per_service(serve: Any) -> None:
    """oms_auth_operator_required carries service="salesforce" and service="pos", 1 only for the refused one."""
    served, board, _ = await troubled(serve)
    board.operator_required = lambda: None
    board.pos_operator_required = lambda: POS_REASON
    served.metrics.reader = board.reading
    text = (await get(served, "/metrics", accept="*/*"))[2]
    lines = {line for line in text.splitlines() if line.startswith("oms_auth_operator_required")}
    assert lines == {'oms_auth_operator_required{service="salesforce"} 0.0',
                     'oms_auth_operator_required{service="pos"} 1.0'}


async def test_status_page_shows_the_pos_refusal(serve: Any) -> None:
    """The HTML page (for a person) shows the POS row down with the refusal's reason."""
    served, board, _ = await troubled(serve)
    board.pos_operator_required = lambda: POS_REASON
    status, _, html = await get(served, "/status", accept="text/html")
    assert status == 200
    assert "login refused, an operator must act: pos 401 invalid_client" in html
