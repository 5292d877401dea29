"""POS sales the worker cannot turn into queue rows, kept as one ``sale`` queue row each. Pure: no I/O.

A sale the sweep (Retail Cloud) or the sale history (GraphQL) refuses — the webhook model rejects its export body,
its location is unknown, its GraphQL node cannot be mapped — is never just logged and skipped: it is stored as a
"refused" row carrying why (the field named) and the source it was refused from, and the sale poster dead-letters
it on its first claim (:mod:`worker.flows.sale_refused`), so it shows in ``dlq list``, the dead-letter metrics and
``/status``. The row's dedupe key is the sale's identity plus the reason, so seeing the same sale again (overlap,
re-poll, re-sweep) stores nothing new, while a corrected version of the sale gets its normal rows (other keys).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from worker.store import NewJob

REFUSED = "refused"  # payload key marking a refused-sale row
QUEUE = "sale"
EXPORT = "export"  # the source is a Retail Cloud export body: the poster can validate it again
GRAPHQL_NODE = "graphql_node"  # the raw GraphQL sale node: mapping it again needs the POS (location, customer)
NO_ID = "(no id)"
MAX_SOURCE_CHARS = 64_000  # a larger source is kept as truncated JSON text (then it cannot be validated again)


@dataclass(frozen=True)
class Refusal:
    """One refused sale: where it came from (``sale_sweep`` | ``sale_history``), the field and why."""

    source: str
    sale_id: str
    field: str
    reason: str
    kind: str  # EXPORT | GRAPHQL_NODE
    data: dict[str, Any]

    def describe(self) -> str:
        return f"{self.sale_id}: {self.field}: {self.reason}"


def field_and_reason(exc: Exception) -> tuple[str, str]:
    """The field a refusal names and why: a pydantic error's location, or a ``field: why`` message."""
    if isinstance(exc, ValidationError):
        first = exc.errors(include_url=False)[0]
        return ".".join(str(p) for p in first["loc"]) or "(body)", str(first["msg"])
    field, sep, reason = str(exc).partition(": ")
    return (field, reason) if sep and field and " " not in field else ("(body)", str(exc))


def sale_id_of(data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    return str(value)[:64] if value not in (None, "") else NO_ID


def refused_job(refusal: Refusal) -> NewJob:
    """The ``sale`` queue row that keeps a refused sale: dedupe key = source, sale id and reason (hashed)."""
    digest = hashlib.sha256("\x1f".join((refusal.source, refusal.sale_id, refusal.field,
                                         refusal.reason)).encode()).hexdigest()
    try:
        text, storable = json.dumps(refusal.data, sort_keys=True, allow_nan=False), True
    except (TypeError, ValueError):  # e.g. NaN from a lenient JSON parse: kept as text, never failing the poll
        text, storable = repr(refusal.data), False
    kept: dict[str, Any] = ({"data": refusal.data} if storable and len(text) <= MAX_SOURCE_CHARS
                            else {"data_text": text[:MAX_SOURCE_CHARS], "truncated": True})
    payload = {REFUSED: {"source": refusal.source, "sale_id": refusal.sale_id, "field": refusal.field,
                         "reason": refusal.reason[:1000], "kind": refusal.kind, **kept}}
    # ordering key = the sale id, as its normal rows: /status shows it, and the row (settled on its first claim)
    # never runs beside a version of the same sale
    return NewJob(queue=QUEUE, dedupe_key=f"refused:{digest}", payload=payload,
                  ordering_key=refusal.sale_id if refusal.sale_id != NO_ID else None)


def refused_of(payload: dict[str, Any]) -> dict[str, Any] | None:
    """The refusal a queue row carries, or None for a normal sale row."""
    found = payload.get(REFUSED)
    return found if isinstance(found, dict) else None
