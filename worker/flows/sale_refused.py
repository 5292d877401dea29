"""The sale poster's handling of a refused-sale row (:mod:`worker.refused_sales`): no Salesforce call, ever.

On every claim — the first one, and each after ``dlq retry`` — the row is checked again:

- the sale is already posted (a corrected version got its normal rows): the row is done;
- it carries a whole export body that now validates (e.g. after a worker upgrade): the body's normal queue rows
  are stored (same keys as its webhook) and the row is done;
- otherwise it is dead-lettered at once (permanent, no retries) with the reason, the field named; a raw GraphQL
  node cannot be mapped again without the POS, and the error says what the operator does (docs/runbook.md).
"""

from __future__ import annotations

from typing import Any

import structlog
from pydantic import ValidationError

from worker.errors import PermanentError
from worker.refused_sales import EXPORT, field_and_reason
from worker.store import Job, Store
from worker.webhook_jobs import ENDPOINT_QUEUES, InvalidField, build_jobs, export_endpoint

from .runner import Outcome

log = structlog.get_logger(__name__)
GRAPHQL_HINT = ("the raw GraphQL sale node cannot be mapped again without the POS: fix the location mapping or "
                "the sale in the POS, then let the next poll's overlap or a sale_history cursor rewind pick it up "
                "(docs/runbook.md) and drop this dead letter")


async def handle_refused(store: Store, job: Job, refused: dict[str, Any], outcome: Outcome) -> None:
    """Finish or dead-letter one refused-sale row (see the module doc)."""
    sale_id = str(refused.get("sale_id"))
    bound = log.bind(pos_order_id=sale_id, source=refused.get("source"))
    if await store.sale_get(sale_id):
        bound.info("sale_refused_already_posted")
        outcome.complete(job)
        return
    field, reason = str(refused.get("field")), str(refused.get("reason"))
    data = refused.get("data")
    if refused.get("kind") == EXPORT and isinstance(data, dict):
        endpoint = export_endpoint(data)
        queue = ENDPOINT_QUEUES[endpoint]
        assert queue is not None
        try:
            rows = build_jobs(endpoint, queue, data)
        except (ValidationError, InvalidField) as exc:
            field, reason = field_and_reason(exc)  # still refused: say why now (it may differ after an upgrade)
        else:
            added = await store.enqueue(rows)
            bound.info("sale_refused_now_valid", rows=len(rows), enqueued=added)
            outcome.complete(job)
            return
        hint = "fix the sale in the POS (its next export or sweep posts it), then drop this dead letter"
    elif refused.get("truncated"):
        hint = "the source was too large to keep whole; fix the sale in the POS, then drop this dead letter"
    else:
        hint = GRAPHQL_HINT
    message = f"sale {sale_id} refused by {refused.get('source')}: {field}: {reason}; {hint}"
    outcome.fail(job, PermanentError("pos", message, code="SALE_REFUSED", fields=[field]))
