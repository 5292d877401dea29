"""Swept POS sales become exactly the queue rows their export webhook makes (same endpoint, keys, queues)."""

from __future__ import annotations

import copy
import importlib.util
from pathlib import Path
from typing import Any

import pytest

from worker.flows.sale_sweep import sweep_jobs
from worker.webhook_jobs import build_jobs

_CONFTEST = Path(__file__).parents[1] / "mapping" / "conftest.py"
_spec = importlib.util.spec_from_file_location("mapping_conftest", _CONFTEST)
assert _spec and _spec.loader
_conftest = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_conftest)
SALE: dict[str, Any] = _conftest.SALE


def variant(kind: str) -> dict[str, Any]:
    body = copy.deepcopy(SALE)
    returned = copy.deepcopy(body["orderProductList"][0])
    returned.update({"orderItemId": "R1", "originalOrderId": "S-256-000000", "originalOrderItemId": "1"})
    if kind in ("return", "exchange"):
        body["returnProductList"] = [returned]
    if kind == "return":
        body["orderProductList"] = []
        body["tenders"][0]["amountAuthorized"] = body["totalAmount"]
    return body


@pytest.mark.parametrize(("kind", "endpoint", "queue"), [
    ("sale", "ORDER", "sale"),
    ("exchange", "ORDER", "sale"),
    ("return", "RETURN", "return"),
])
def test_a_swept_sale_gets_the_webhook_rows(kind: str, endpoint: str, queue: str) -> None:
    """Sale and exchange as the ORDER export, a pure return as the RETURN export: identical rows."""
    body = variant(kind)
    jobs, refused = sweep_jobs([body])
    assert refused == []
    assert jobs == build_jobs(endpoint, queue, body)


def test_salesforce_orders_and_invalid_sales_make_no_rows() -> None:
    """An imported FulfillmentOrder (externalOrderId) is skipped; a sale the webhook would refuse is named."""
    imported = {**copy.deepcopy(SALE), "externalOrderId": "0a3xx0000000001AAA"}
    broken = {**copy.deepcopy(SALE), "orderId": "S-256-000009", "currency": None}
    jobs, refused = sweep_jobs([imported, broken])
    assert jobs == []
    assert len(refused) == 1 and refused[0].startswith("S-256-000009: currency")
