"""Refused POS sales become one durable ``sale`` row each: key from the sale's identity and reason, payload naming
the field and carrying the source (truncated when large)."""

from __future__ import annotations

import copy
import importlib.util
from pathlib import Path
from typing import Any

import pytest

from worker.flows.sale_sweep import sale_rows, sweep_jobs
from worker.mapping.graphql_sale import SaleMappingError
from worker.refused_sales import (
    EXPORT,
    GRAPHQL_NODE,
    MAX_SOURCE_CHARS,
    Refusal,
    field_and_reason,
    refused_job,
    refused_of,
)
from worker.store.base import check_jobs
from worker.webhook_jobs import build_jobs

_CONFTEST = Path(__file__).parents[1] / "mapping" / "conftest.py"
_spec = importlib.util.spec_from_file_location("mapping_conftest", _CONFTEST)
assert _spec and _spec.loader
_conftest = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_conftest)
SALE: dict[str, Any] = _conftest.SALE


def broken(order_id: str = "S-256-000009", **changes: Any) -> dict[str, Any]:
    return {**copy.deepcopy(SALE), "orderId": order_id, "currency": None, **changes}


def test_a_refused_export_is_kept_with_its_body_and_the_field_named() -> None:
    """sale_rows: the valid sale's webhook rows plus one Refusal naming ``currency`` and carrying the body."""
    good = copy.deepcopy(SALE)
    jobs, refused = sale_rows([good, broken()], "sale_sweep")
    assert jobs == build_jobs("ORDER", "sale", good)
    (refusal,) = refused
    assert (refusal.source, refusal.sale_id, refusal.field, refusal.kind) == ("sale_sweep", "S-256-000009",
                                                                              "currency", EXPORT)
    assert refusal.data == broken()
    assert sweep_jobs([broken()])[1] == [refusal.describe()]


def test_the_row_payload_says_refused_why_and_from_what() -> None:
    """The row is on the sale queue, storable, ordered by the sale id and carries source, field, reason and body."""
    job = refused_job(sale_rows([broken()], "sale_sweep")[1][0])
    assert job.queue == "sale" and job.ordering_key == "S-256-000009" and job.dedupe_key.startswith("refused:")
    assert refused_job(sale_rows([broken(None)], "sale_sweep")[1][0]).ordering_key is None
    check_jobs([job])
    refused = refused_of(job.payload)
    assert refused is not None and "sale" not in job.payload
    assert {k: refused[k] for k in ("source", "sale_id", "field", "kind")} == {
        "source": "sale_sweep", "sale_id": "S-256-000009", "field": "currency", "kind": EXPORT}
    assert refused["data"] == broken() and "truncated" not in refused
    assert refused_of({"endpoint": "ORDER", "sale": SALE}) is None


def test_the_same_sale_refused_again_has_the_same_key_and_another_sale_or_reason_another() -> None:
    """Re-sweeping the same sale gives the same key; another sale id or another reason gives a new one."""
    first = refused_job(sale_rows([broken()], "sale_sweep")[1][0])
    again = refused_job(sale_rows([broken()], "sale_sweep")[1][0])
    other_sale = refused_job(sale_rows([broken("S-256-000010")], "sale_sweep")[1][0])
    other_reason = refused_job(sale_rows([broken(currency="US")], "sale_sweep")[1][0])
    assert first.dedupe_key == again.dedupe_key
    assert len({first.dedupe_key, other_sale.dedupe_key, other_reason.dedupe_key}) == 3


def test_a_fixed_version_of_the_sale_gets_its_normal_rows_not_the_refused_key() -> None:
    """After the sale is corrected its rows carry the webhook's keys, none equal to the refused row's key."""
    refused_key = refused_job(sale_rows([broken("S-256-000000")], "sale_sweep")[1][0]).dedupe_key
    fixed = copy.deepcopy(SALE)
    jobs, refused = sale_rows([fixed], "sale_sweep")
    assert refused == [] and jobs and refused_key not in {job.dedupe_key for job in jobs}


def test_a_large_or_non_json_source_is_kept_truncated() -> None:
    """A node over MAX_SOURCE_CHARS, or one holding NaN, is kept as truncated text so the row stays storable."""
    big = {"id": "S-1", "note": "x" * (MAX_SOURCE_CHARS * 2)}
    nan = {"id": "S-2", "total": float("nan")}
    for data in (big, nan):
        job = refused_job(Refusal("sale_history", str(data["id"]), "locationId", "no location X", GRAPHQL_NODE,
                                  data))
        check_jobs([job])
        refused = refused_of(job.payload)
        assert refused is not None and refused["truncated"] is True and "data" not in refused
        assert len(refused["data_text"]) <= MAX_SOURCE_CHARS


@pytest.mark.parametrize(("error", "expected"), [
    (SaleMappingError("payments.0.method: 'GIFTCARD' has no POS tender mapping"),
     ("payments.0.method", "'GIFTCARD' has no POS tender mapping")),
    (SaleMappingError("id: required"), ("id", "required")),
    (ValueError("something broke: badly"), ("(body)", "something broke: badly")),
])
def test_field_and_reason_split_a_field_first_message(error: Exception, expected: tuple[str, str]) -> None:
    """``field: why`` splits into the field and why; a message without a leading field names the body."""
    assert field_and_reason(error) == expected
