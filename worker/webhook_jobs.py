"""POS exports -> queue rows: one definition for the webhook handler and the sale sweep, so an export that arrives
both ways carries the same dedupe key and ordering key and is stored (and posted) once. Pure: no I/O."""

from __future__ import annotations

from typing import Any

from worker.pos.models import PosSale, StoreFulfillmentEvent
from worker.store import NewJob

# endpoint name (one URL per POS connector) -> queue; None = acknowledged and not processed (see README).
ENDPOINT_QUEUES: dict[str, str | None] = {
    "ORDER": "sale",
    "ORDER_UPDATE": "sale",
    "RETURN": "return",
    "BOPIS_EXPORT": None,
    "BOFIS_EXPORT": None,
    "STORE_FULFILLMENT": "status",
}


class InvalidField(ValueError):
    """A body the models accept but the flow could not post (the message names the field)."""


def export_endpoint(body: dict[str, Any]) -> str:
    """The connector the POS exports a sale on first: RETURN for a pure return, else ORDER."""
    return "RETURN" if body.get("returnProductList") and not body.get("orderProductList") else "ORDER"


def build_jobs(endpoint: str, queue: str, body: dict[str, Any]) -> list[NewJob]:
    """Validate the body for its endpoint and turn it into queue rows (ValidationError or InvalidField).

    An exchange arrives as one ORDER carrying both lists: the sold lines are a sale to post and the returned
    lines a return to refund, so it becomes a sale job and a return job, stored in the same transaction.
    """
    if queue == "status":
        event = StoreFulfillmentEvent.model_validate(body)
        return [NewJob(queue=queue, dedupe_key=event.dedupe_key(endpoint),
                       payload={"endpoint": endpoint, "event": event.model_dump(mode="json", by_alias=True)},
                       ordering_key=event.externalOrderId)]
    sale = PosSale.model_validate(body)
    problem = sale.posting_problem() if queue == "sale" else None
    if problem:
        raise InvalidField(problem)
    key = sale.dedupe_key(endpoint)
    jobs = [NewJob(queue=queue, dedupe_key=key, payload={"endpoint": endpoint, "sale": body},
                   ordering_key=sale.orderId)]
    if queue == "sale" and body.get("returnProductList"):
        jobs.append(NewJob(queue="return", dedupe_key=f"{key}:exchange", payload={"endpoint": endpoint, "sale": body},
                           ordering_key=sale.orderId))
    return jobs
