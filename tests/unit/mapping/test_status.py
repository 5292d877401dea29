"""Store-fulfilment event -> FulfillmentOrder action: forward-only status rules (pos-api §8.4/§8.5)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from worker.mapping.errors import MappingError
from worker.mapping.status import (
    PARTIAL_DELIVERY,
    CancelItems,
    FoState,
    Ignore,
    LineState,
    PatchStatus,
    decide_status_action,
)
from worker.pos.models import StoreFulfillmentEvent

FO = "0a3xx0000000001AAA"
MAPPING = {"PACK": "Pickpack", "DELIVERED": "Fulfilled", "SHIPPED": "Fulfilled"}
D = Decimal


def event(kind: str, *items: tuple[str, float], order_type: str = "BOPIS") -> StoreFulfillmentEvent:
    return StoreFulfillmentEvent.model_validate(
        {
            "eventType": kind,
            "orderType": order_type,
            "orderId": "FO-1",
            "externalOrderId": FO,
            "storeId": "256",
            "eventDate": 1717170000000,
            "items": [{"orderItemId": i, "quantity": q} for i, q in items],
        }
    )


def state(status: str = "Allocated", a: str = "2", b: str = "1", *, done_a: str = "0") -> FoState:
    """Two lines; keyed by POS orderItemId and (as the flow does) by FOLI id too."""
    la = LineState("FOLI-A", D(a), D(done_a))
    lb = LineState("FOLI-B", D(b))
    return FoState(FO, status, {"A": la, "B": lb, "FOLI-A": la, "FOLI-B": lb})


def decide(ev: StoreFulfillmentEvent, st: FoState, **kw: Any) -> Any:
    return decide_status_action(
        ev,
        st,
        status_mapping=kw.pop("mapping", MAPPING),
        canceled_value=kw.pop("canceled", "Cancelled"),
        **kw,
    )


@pytest.mark.parametrize(
    ("ev", "st", "expected"),
    [
        # PACK
        (event("PACK", ("A", 2), ("B", 1)), state(), PatchStatus(FO, "Pickpack")),
        (event("PACK", ("A", 1)), state("Assigned"), PatchStatus(FO, "Pickpack")),
        (event("PACK"), state("ALLOCATED"), PatchStatus(FO, "Pickpack")),
        (event("PACK"), state("Pickpack"), Ignore("stale: FO is already Pickpack; PACK maps to Pickpack")),
        (event("PACK"), state("Fulfilled"), Ignore("stale: FO is already Fulfilled; PACK maps to Pickpack")),
        (
            event("PACK"),
            state("Pack Complete"),
            Ignore("stale: FO is already Pack Complete; PACK maps to Pickpack"),
        ),
        # DELIVERED / SHIPPED
        (event("DELIVERED", ("A", 2), ("B", 1)), state("Pickpack"), PatchStatus(FO, "Fulfilled")),
        (event("DELIVERED"), state("Pickpack"), PatchStatus(FO, "Fulfilled")),
        (
            event("SHIPPED", ("FOLI-A", 2), ("B", 1), order_type="BOFIS"),
            state("Printed"),
            PatchStatus(FO, "Fulfilled"),
        ),
        (event("DELIVERED", ("A", 2), ("B", 1)), state("Allocated"), PatchStatus(FO, "Fulfilled")),
        (event("DELIVERED", ("A", 2)), state("Pickpack"), Ignore(PARTIAL_DELIVERY)),
        (event("DELIVERED", ("A", 1), ("B", 1)), state("Pickpack"), Ignore(PARTIAL_DELIVERY)),
        (event("DELIVERED", ("B", 1)), state("Pickpack", done_a="2"), PatchStatus(FO, "Fulfilled")),
        (event("DELIVERED", ("A", 2)), state("Pickpack", b="0"), PatchStatus(FO, "Fulfilled")),
        (
            event("DELIVERED"),
            state("fulfilled"),
            Ignore("stale: FO is already fulfilled; DELIVERED maps to Fulfilled"),
        ),
        (
            event("SHIPPED"),
            state("Fulfilled"),
            Ignore("stale: FO is already Fulfilled; SHIPPED maps to Fulfilled"),
        ),
        # CANCELED
        (event("CANCELED", ("A", 1)), state("Pickpack"), CancelItems(FO, [("FOLI-A", D(1))], None)),
        (event("CANCELED", ("B", 1)), state(), CancelItems(FO, [("FOLI-B", D(1))], None)),
        (
            event("CANCELED", ("A", 2), ("B", 1)),
            state(),
            CancelItems(FO, [("FOLI-A", D(2)), ("FOLI-B", D(1))], "Cancelled"),
        ),
        (event("CANCELLED"), state(), CancelItems(FO, [("FOLI-A", D(2)), ("FOLI-B", D(1))], "Cancelled")),
        (event("CANCELED", ("A", 5)), state(b="0"), CancelItems(FO, [("FOLI-A", D(2))], "Cancelled")),
        (
            event("CANCELED", ("A", 1), ("FOLI-A", 1)),
            state(b="0"),
            CancelItems(FO, [("FOLI-A", D(2))], "Cancelled"),
        ),
        (event("CANCELED", ("B", 1)), state(b="0"), Ignore("stale: the lines are already canceled")),
        (
            event("CANCELED"),
            state("Cancelled"),
            Ignore("stale: FO is already Cancelled; CANCELED cannot move it"),
        ),
        (
            event("CANCELED"),
            state("canceled"),
            Ignore("stale: FO is already canceled; CANCELED cannot move it"),
        ),
        (event("CANCELED"), state("Fulfilled"), Ignore("stale: FO is already Fulfilled; too late to cancel")),
        # terminal for everything
        (event("PACK"), state("Canceled"), Ignore("stale: FO is already Canceled; PACK cannot move it")),
        (
            event("DELIVERED"),
            state("CANCELLED"),
            Ignore("stale: FO is already CANCELLED; DELIVERED cannot move it"),
        ),
        (
            event("SHIPPED"),
            state("Rejected"),
            Ignore("stale: FO is already Rejected; SHIPPED cannot move it"),
        ),
    ],
)
def test_status_rules(ev: StoreFulfillmentEvent, st: FoState, expected: Any) -> None:
    """Each event against each FO state gives exactly the documented action."""
    assert decide(ev, st) == expected


def test_duplicate_event_is_ignored_after_first_applied() -> None:
    """Replaying PACK after the FO moved to Pickpack is ignored as stale."""
    first = decide(event("PACK"), state("Allocated"))
    assert first == PatchStatus(FO, "Pickpack")
    assert decide(event("PACK"), state(first.status)) == Ignore(
        "stale: FO is already Pickpack; PACK maps to Pickpack"
    )


def test_configured_targets_rank_as_their_stage() -> None:
    """A custom PACK target ("Ready for Pickup") is used, then ranks as packed: a second PACK is stale."""
    mapping = {"PACK": "Ready for Pickup", "DELIVERED": "Picked Up", "SHIPPED": "Fulfilled"}
    assert decide(event("PACK"), state(), mapping=mapping) == PatchStatus(FO, "Ready for Pickup")
    assert isinstance(decide(event("PACK"), state("Ready for Pickup"), mapping=mapping), Ignore)
    assert decide(event("DELIVERED"), state("Ready for Pickup"), mapping=mapping) == PatchStatus(
        FO, "Picked Up"
    )
    assert isinstance(decide(event("CANCELED"), state("Picked Up"), mapping=mapping), Ignore)


def test_missing_mapping_entries_use_defaults() -> None:
    """An empty status_mapping falls back to Pickpack / Fulfilled."""
    assert decide(event("PACK"), state(), mapping={}) == PatchStatus(FO, "Pickpack")
    assert decide(event("SHIPPED"), state(), mapping={}) == PatchStatus(FO, "Fulfilled")


def test_configured_canceled_value_is_terminal_and_used() -> None:
    """OMSStatusCanceledValue is the then_status and a terminal status."""
    assert decide(event("CANCELED"), state(), canceled="Canceled_By_Store").then_status == "Canceled_By_Store"
    assert isinstance(decide(event("PACK"), state("Canceled_By_Store"), canceled="Canceled_By_Store"), Ignore)


def test_cancel_sets_status_orgs_get_no_patch() -> None:
    """With cancel_sets_status=True cancelling everything emits no follow-up status PATCH."""
    action = decide(event("CANCELED"), state(), cancel_sets_status=True)
    assert action == CancelItems(FO, [("FOLI-A", D(2)), ("FOLI-B", D(1))], None)


def test_unknown_custom_status_counts_as_not_started() -> None:
    """An unrecognised current status ranks as the start, so PACK still moves it forward."""
    assert decide(event("PACK"), state("Waiting Review")) == PatchStatus(FO, "Pickpack")


@pytest.mark.parametrize("kind", ["PACK", "DELIVERED", "SHIPPED", "CANCELED"])
def test_unknown_pos_item_is_permanent_error(kind: str) -> None:
    """An orderItemId that is not a line of the FO raises a permanent MappingError naming it."""
    with pytest.raises(MappingError, match="unknown POS orderItemId 'Z'") as caught:
        decide(event(kind, ("Z", 1)), state())
    assert caught.value.transient is False


def test_unknown_item_is_an_error_even_when_stale() -> None:
    """The unknown-item check comes before the stale check (bad data is never silently dropped)."""
    with pytest.raises(MappingError):
        decide(event("PACK", ("Z", 1)), state("Cancelled"))


def test_event_for_another_fo_is_an_error() -> None:
    """An event is never applied to a different FulfillmentOrder's state."""
    with pytest.raises(MappingError, match="applied to other"):
        decide(event("PACK"), FoState("other", "Allocated", {}))
