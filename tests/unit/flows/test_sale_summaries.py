"""plan_flow_check: which sales' OrderSummaries the org's flow made, which still wait, which go to Connect."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from worker.flows.sale_summaries import SUMMARY_PENDING, pending_error, plan_flow_check

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(("summaries", "sent_ago", "found", "waiting", "create"), [
    ({"801A": "1OsA"}, 0.0, {"S-1": "1OsA"}, {}, {}),  # the flow made it: found, whatever the age
    ({}, 1.0, {}, {"S-1": 29.0}, {}),  # missing within the grace period: wait the rest
    ({}, 30.0, {}, {}, {"S-1": 30.0}),  # missing at the end of the grace period: create through Connect
    ({}, None, {}, {}, {"S-1": 30.0}),  # no note of the graph (cannot happen): never wait forever
    ({"801B": "1OsB"}, 45.0, {}, {}, {"S-1": 45.0}),  # another order's summary does not count
])
def test_each_sale_is_found_waits_or_is_created(summaries: dict[str, str], sent_ago: float | None,
                                                found: dict[str, str], waiting: dict[str, float],
                                                create: dict[str, float]) -> None:
    """A sale is found by its Order's summary, else waits while younger than the grace period, else is created."""
    sent = {} if sent_ago is None else {"S-1": NOW - timedelta(seconds=sent_ago)}
    check = plan_flow_check({"S-1": "801A"}, summaries, sent, NOW, 30.0)
    assert (check.found, check.waiting, check.create) == (found, waiting, create)


def test_pending_error_is_a_transient_retry_after_the_wait() -> None:
    """The waiting sale's error is transient, coded SUMMARY_PENDING, and asks for a retry after the grace left."""
    error = pending_error(12.5)
    assert error.transient and error.code == SUMMARY_PENDING and error.retry_after == 12.5
