"""Webhook bodies become queue rows; an exchange is both a sale to post and a return to refund."""

from __future__ import annotations

import copy
import importlib.util
from pathlib import Path
from typing import Any

from worker.server import build_jobs

_CONFTEST = Path(__file__).parents[1] / "mapping" / "conftest.py"
_spec = importlib.util.spec_from_file_location("mapping_conftest", _CONFTEST)
assert _spec and _spec.loader
_conftest = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_conftest)
SALE: dict[str, Any] = _conftest.SALE


def exchange() -> dict[str, Any]:
    body = copy.deepcopy(SALE)
    returned = copy.deepcopy(body["orderProductList"][0])
    returned.update({"orderItemId": "R1", "originalOrderId": "S-256-000000", "originalOrderItemId": "1",
                     "returnReason": "Wrong size"})
    body["returnProductList"] = [returned]
    return body


def test_plain_sale_is_one_sale_job() -> None:
    """An ORDER without returned lines is one sale job keyed by the POS order id."""
    jobs = build_jobs("ORDER", "sale", copy.deepcopy(SALE))
    assert [job.queue for job in jobs] == ["sale"]
    assert jobs[0].ordering_key == SALE["orderId"]


def test_exchange_is_a_sale_job_and_a_return_job() -> None:
    """An exchange ORDER yields a sale job and a return job with distinct dedupe keys, stored together."""
    jobs = build_jobs("ORDER", "sale", exchange())
    assert [job.queue for job in jobs] == ["sale", "return"]
    assert jobs[1].dedupe_key == f"{jobs[0].dedupe_key}:exchange"
    assert jobs[1].payload["sale"]["returnProductList"][0]["originalOrderId"] == "S-256-000000"


def test_return_endpoint_is_one_return_job() -> None:
    """A RETURN webhook is a single return job (never also a sale)."""
    body = exchange()
    body["orderProductList"] = []
    assert [job.queue for job in build_jobs("RETURN", "return", body)] == ["return"]
