"""Posted Orders carry BillToContactId (the Person Account's contact) when the customer resolved to one."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest


@pytest.mark.parametrize(("contact", "expected"), [("003PC", {"BillToContactId": "003PC"}), (None, {})])
def test_order_bill_to_contact(kit: Any, sale_body: Any, sf: Any, pos: Any, contact: str | None,
                               expected: dict[str, str]) -> None:
    """A known person contact is set on the Order; without one (default account) the field is left out."""
    context = dataclasses.replace(kit.ctx(), bill_to_contact_id=contact)
    order = kit.nodes_of(kit.build(sale_body(), sf, pos, context), "Order")[0]["body"]
    assert {k: v for k, v in order.items() if k == "BillToContactId"} == expected
