"""Store-fulfilment event -> Salesforce FulfillmentOrder action (pos-api §8.4/§8.5, DESIGN flow 3), pure.

Rules:

* Forward only. Statuses are ranked (case-insensitive, both cancel spellings): Draft/Allocated/Assigned (1) <
  Pickpack/Pick Complete/Pack Complete/Printed (2) < Fulfilled (3); Canceled/Cancelled/Rejected are terminal.
  The configured targets of ``status_mapping`` and ``canceled_value`` rank as their event's stage, so a custom
  "Ready for Pickup" works. An unknown current status ranks 1 (an imported FO that nothing has moved yet). An
  event that would not move the FO forward - stale or a duplicate - is ``Ignore("stale: ...")``.
* PACK of any lines -> ``PatchStatus(status_mapping["PACK"])`` (the FO status is order-level; §8.4 derives
  PACKED from any packed line).
* DELIVERED/SHIPPED -> ``PatchStatus(status_mapping[event])`` only when the event (plus ``quantity_done``
  already reported per line) covers every remaining line; a partial one is ``Ignore("partial delivery: FO
  status changes when all lines are done")``. An event without items means the whole order.
* CANCELED -> ``CancelItems`` for the named lines (quantities clamped to what remains; an event without items
  means every remaining line). When it cancels everything that remains, ``then_status=canceled_value`` so the
  flow PATCHes the FO status after cancel-item, as §8.5 says; pass ``cancel_sets_status=True`` for an org
  whose cancel-item already moves the FO to its canceled status (then ``then_status`` is ``None``).
* An item whose POS ``orderItemId`` is not a line of the FO is a ``MappingError`` (permanent).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from worker.pos.models import EventType, StoreFulfillmentEvent

from .errors import MappingError

DEFAULT_TARGETS = {
    EventType.PACK: "Pickpack",
    EventType.DELIVERED: "Fulfilled",
    EventType.SHIPPED: "Fulfilled",
}
TERMINAL = 99
_RANKS = {
    "draft": 1,
    "allocated": 1,
    "assigned": 1,
    "pickpack": 2,
    "pick complete": 2,
    "pack complete": 2,
    "printed": 2,
    "fulfilled": 3,
    "canceled": TERMINAL,
    "cancelled": TERMINAL,
    "rejected": TERMINAL,
}
_STAGE = {EventType.PACK: 2, EventType.DELIVERED: 3, EventType.SHIPPED: 3, EventType.CANCELED: TERMINAL}
PARTIAL_DELIVERY = "partial delivery: FO status changes when all lines are done"


@dataclass(frozen=True)
class LineState:
    """One FO line: what Salesforce still has to fulfil, and what earlier events already reported done."""

    foli_id: str
    quantity_remaining: Decimal
    quantity_done: Decimal = Decimal(0)


@dataclass(frozen=True)
class FoState:
    """The FO as Salesforce has it; ``lines`` is keyed by POS orderItemId (several keys may share a line)."""

    fo_id: str
    status: str
    lines: Mapping[str, LineState] = field(default_factory=dict)


@dataclass(frozen=True)
class PatchStatus:
    fo_id: str
    status: str


@dataclass(frozen=True)
class CancelItems:
    fo_id: str
    items: list[tuple[str, Decimal]]
    then_status: str | None


@dataclass(frozen=True)
class Ignore:
    reason: str


StatusAction = PatchStatus | CancelItems | Ignore


def status_rank(status: str, status_mapping: Mapping[str, str], canceled_value: str) -> int:
    folded = status.strip().casefold()
    if folded in _RANKS:
        return _RANKS[folded]
    if folded == canceled_value.casefold():
        return TERMINAL
    stages = [
        _STAGE[EventType(k)] for k, v in status_mapping.items() if v.casefold() == folded and k in _STAGE
    ]
    return max(stages) if stages else 1


def _resolve(event: StoreFulfillmentEvent, state: FoState) -> dict[str, Decimal]:
    """Event items as FOLI id -> quantity (several POS ids of one line add up); unknown ids are errors."""
    wanted: dict[str, Decimal] = {}
    for item in event.items:
        line = state.lines.get(item.orderItemId)
        if line is None:
            raise MappingError(
                f"FulfillmentOrder {state.fo_id}: unknown POS orderItemId {item.orderItemId!r} in "
                f"{event.eventType.value} event",
                fields=["items.orderItemId"],
            )
        wanted[line.foli_id] = wanted.get(line.foli_id, Decimal(0)) + item.quantity
    return wanted


def _remaining(state: FoState) -> dict[str, LineState]:
    """Distinct lines (by FOLI id) with a quantity left."""
    return {line.foli_id: line for line in state.lines.values() if line.quantity_remaining > 0}


def decide_status_action(
    event: StoreFulfillmentEvent,
    state: FoState,
    *,
    status_mapping: Mapping[str, str],
    canceled_value: str,
    cancel_sets_status: bool = False,
) -> StatusAction:
    """The one Salesforce action (or none) a store-fulfilment event asks for, given the FO's current state."""
    if event.externalOrderId != state.fo_id:
        raise MappingError(
            f"event for FulfillmentOrder {event.externalOrderId} applied to {state.fo_id}",
            fields=["externalOrderId"],
        )
    wanted = _resolve(event, state)
    kind = event.eventType
    current = status_rank(state.status, status_mapping, canceled_value)
    if current == TERMINAL:
        return Ignore(f"stale: FO is already {state.status}; {kind.value} cannot move it")
    remaining = _remaining(state)

    if kind is EventType.CANCELED:
        if current >= _STAGE[EventType.DELIVERED]:
            return Ignore(f"stale: FO is already {state.status}; too late to cancel")
        asked = wanted or {foli: line.quantity_remaining for foli, line in remaining.items()}
        items = [
            (foli, min(qty, remaining[foli].quantity_remaining))
            for foli, qty in asked.items()
            if foli in remaining
        ]
        if not items:
            return Ignore("stale: the lines are already canceled")
        cancels_all = all(
            dict(items).get(foli, Decimal(0)) >= line.quantity_remaining for foli, line in remaining.items()
        )
        then = canceled_value if cancels_all and not cancel_sets_status else None
        return CancelItems(fo_id=state.fo_id, items=items, then_status=then)

    target = status_mapping.get(kind.value) or DEFAULT_TARGETS[kind]
    if current >= _STAGE[kind]:
        return Ignore(f"stale: FO is already {state.status}; {kind.value} maps to {target}")
    if kind is not EventType.PACK and wanted:
        uncovered = [
            foli
            for foli, line in remaining.items()
            if wanted.get(foli, Decimal(0)) + line.quantity_done < line.quantity_remaining
        ]
        if uncovered:
            return Ignore(PARTIAL_DELIVERY)
    return PatchStatus(fo_id=state.fo_id, status=target)
