"""A GraphQL sale the worker cannot map (its location unknown) ends as one dead letter naming the field while the
other sales of the page post; the polls that read it again add nothing."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from worker.flows.sale_history import SaleHistory

from .graphql_harness import graphql_worker
from .harness import emulators, eventually, new_sales, references

pytestmark = pytest.mark.e2e


class UnknownLocation:
    """The worker's GraphQL client, with one extra sale on the first page of every window: a copy of the first
    real sale seen, moved to a location the POS does not know (POS data an operator has to fix)."""

    def __init__(self, pos: Any) -> None:
        self.pos = pos
        self.bad: dict[str, Any] | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.pos, name)

    async def sale_page(self, since_ms: int, until_ms: int, first: int,
                        after: str | None) -> tuple[list[dict[str, Any]], str | None, bool]:
        nodes, end, more = await self.pos.sale_page(since_ms, until_ms, first, after)
        if self.bad is None and nodes:
            self.bad = {**copy.deepcopy(nodes[0]), "id": "S-REFUSED-1", "locationId": "NOWHERE"}
        return ([*nodes, self.bad] if after is None and self.bad else nodes), end, more


async def test_an_unmappable_graphql_sale_is_one_dead_letter_and_the_page_still_posts(tmp_path: Path) -> None:
    """Unknown location: one dead letter whose error names locationId and the operator's way out, counted once in
    oms_sales_refused_total; the real sales post; three more polls re-read it and store nothing new."""
    async with emulators() as stack, graphql_worker(stack, tmp_path) as running:
        history = running.extras["sale_history"]
        assert isinstance(history, SaleHistory)
        history.pos = UnknownLocation(history.pos)
        sales = await new_sales(stack, 2)

        async def settled() -> bool:
            dead = (await running.store.queue_counts())["sale"]["dead"]
            return dead >= 1 and sales <= set(await references(stack))

        await eventually(settled, what="the sales posted and the unmappable one dead-lettered")
        later = history.polls + 3

        async def polled_again() -> bool:
            return history.polls >= later

        await eventually(polled_again, what="three more polls")
        counts = (await running.store.queue_counts())["sale"]
        (dead,) = await running.store.dead_letters("sale")
        assert counts["dead"] == 1 and counts["pending"] == 0 and counts["processing"] == 0
        error = dead.last_error or ""
        assert "S-REFUSED-1" in error and "locationId: no location NOWHERE" in error and "cursor rewind" in error
        assert dead.payload["refused"]["data"]["locationId"] == "NOWHERE"
        assert sorted(await references(stack)) == sorted(sales)
        assert running.metrics.registry.get_sample_value("oms_sales_refused_total",
                                                         {"source": "sale_history"}) == 1
