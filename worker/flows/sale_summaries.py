"""OrderSummaries made by the org's flow (``salesforce.order_summary: org_flow``): checked, not created.

Many Order Management orgs run a record-triggered flow that creates the OrderSummary when an Order is activated
(in the activation's transaction, or shortly after when the flow runs asynchronously). Then the worker makes no
Connect call per sale: one SOQL per batch (``OriginalOrderId IN (...)``, 200 per query) finds the summaries, with
what the take-with step needs (so that step skips its own query for these sales). A sale
whose summary is missing is retried until ``order_summary_grace_seconds`` have passed since its graph was sent
(the ``sale`` effect's note); after that the summary is created through Connect like in ``connect`` mode (noted
first, so never twice) and the fallback is reported: ``order_summary_flow_missing`` (warning) and
``oms_order_summary_fallbacks_total``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from worker.errors import TransientError

from .sale_fulfilment import summaries_soql

SUMMARY_PENDING = "SUMMARY_PENDING"
CHUNK = 200


class SummaryQueryApi(Protocol):
    async def query(self, soql: str) -> list[dict[str, Any]]: ...


async def find_summaries(salesforce: SummaryQueryApi, order_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """{Order Id: OrderSummary row} of the summaries that exist; one SOQL per 200 orders. The rows are the
    take-with step's (``summaries_soql``), so it needs no query of its own for these sales."""
    ids = list(dict.fromkeys(order_ids))
    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(ids), CHUNK):
        for row in await salesforce.query(summaries_soql(ids[start:start + CHUNK], "OriginalOrderId")):
            found[str(row["OriginalOrderId"])] = row
    return found


@dataclass(frozen=True)
class FlowCheck:
    """What to do with each sale whose summary was not known: found, wait (seconds left), or create (waited)."""

    found: dict[str, str]  # POS order id -> OrderSummary Id
    waiting: dict[str, float]  # POS order id -> seconds of grace left
    create: dict[str, float]  # POS order id -> seconds waited since the graph was sent


def plan_flow_check(orders: Mapping[str, str], summaries: Mapping[str, str], sent: Mapping[str, datetime],
                    now: datetime, grace_seconds: float) -> FlowCheck:
    """Pure: ``orders`` {POS order id: Order Id}, the summaries found {Order Id: summary Id}, when each sale's graph
    was noted as sent -> the decision. A sale with no note (cannot happen after a graph) counts as past grace."""
    found: dict[str, str] = {}
    waiting: dict[str, float] = {}
    create: dict[str, float] = {}
    for key, order_id in orders.items():
        if order_id in summaries:
            found[key] = summaries[order_id]
            continue
        waited = (now - sent[key]).total_seconds() if key in sent else grace_seconds
        if waited < grace_seconds:
            waiting[key] = grace_seconds - waited
        else:
            create[key] = max(waited, 0.0)
    return FlowCheck(found, waiting, create)


def pending_error(wait: float) -> TransientError:
    """A retry once the org's flow has had its grace period."""
    return TransientError("salesforce", "the org's flow has not created the OrderSummary yet; checked again after "
                          "the grace period", code=SUMMARY_PENDING, retry_after=wait)
