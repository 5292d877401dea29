"""The one interface the flows use to talk to the POS (plain JSON dicts in and out).

Payload models live in :mod:`worker.pos.models`; this module only fixes the operations of the proposed POS
contract (reference ``pos-api.md`` §8.2) and the result of an import.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class ImportResult:
    """What the POS answered to one fulfillment-order import."""

    pos_order_id: str
    created: bool  # False when the POS already had this externalOrderId (200 + "duplicate": true)
    line_ids: dict[str, str]  # FOLI Id (the orderItemId we sent) -> POS orderItemId
    order: dict[str, Any] = field(repr=False)  # the POS order as stored (customer PII: not in reprs)


class PosApi(Protocol):
    """Operations of the POS contract (§8.2) the worker needs."""

    async def import_fulfillment_order(self, order: dict[str, Any]) -> ImportResult:
        """Import one SF FulfillmentOrder; idempotent on ``externalOrderId``."""
        ...

    async def get_fulfillment_order(self, pos_order_id: str) -> dict[str, Any] | None:
        """The POS's current view of an imported order, or None when it does not know it."""
        ...

    async def search_fulfillment_orders(
        self,
        *,
        external_order_ids: Sequence[str] | None = None,
        store_id: str | None = None,
        status: Sequence[str] | None = None,
        updated_since_ms: int | None = None,
    ) -> list[dict[str, Any]]:
        """Every matching order (follows ``nextPageToken``)."""
        ...

    async def cancel_fulfillment_order(
        self, pos_order_id: str, order_item_ids: Sequence[str] | None, reason: str
    ) -> dict[str, Any]:
        """OMS-initiated cancel of some lines (POS orderItemIds) or, with None, the whole order."""
        ...

    async def get_sale(self, order_id: str) -> dict[str, Any] | None:
        """An exported sale (CustomerOrder), or None when unknown."""
        ...

    async def search_sales(self, query: dict[str, Any]) -> list[dict[str, Any]]:
        """Every sale matching ``query`` (follows ``nextPageToken``)."""
        ...

    async def repost(self, order_ids: Sequence[str]) -> None:
        """Ask the POS to re-send its exports / failed webhook events for these order ids."""
        ...

    async def ping(self) -> None:
        """One cheap authenticated call (token fetch + one GET); raises when the POS is unusable."""
        ...

    async def close(self) -> None:
        """Release what the client owns (not the shared HTTP session)."""
        ...
