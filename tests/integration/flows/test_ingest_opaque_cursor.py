"""The ingest with Pub/Sub items: opaque replay ids as the cursor, keepalive cursors in order, the commit hook."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any

from worker.flows.ingest import Ingest
from worker.metrics import Metrics
from worker.salesforce.stream_types import StreamEvent
from worker.store import Store

KEY = "pubsub:/event/FOStatusChangedEvent"


def event(replay_id: bytes, fo: str | None = "FO1", status: str = "Allocated", keepalive: bool = False) -> StreamEvent:
    return StreamEvent(replay_id=replay_id, event_uuid=None if keepalive else f"u-{fo}-{replay_id.hex()}",
                       fulfillment_order_id=None if keepalive else fo, new_status=None if keepalive else status,
                       old_status=None, order_summary_id=None, payload={}, channel="/event/FOStatusChangedEvent",
                       keepalive=keepalive)


async def items(values: list[StreamEvent]) -> AsyncIterator[StreamEvent]:
    for value in values:
        yield value


async def test_opaque_cursor_is_the_last_of_the_batch_not_the_largest(store: Store) -> None:
    """Bytes replay ids are not ordered: the cursor becomes the batch's last one, and job payloads show base64."""
    ingest = Ingest(store, KEY, frozenset({"allocated"}), Metrics())
    await ingest.commit([event(b"\xff\x01", "FO1"), event(b"\x00\x02", "FO2")])  # type: ignore[list-item]
    assert await store.get_cursor(KEY) == b"\x00\x02"
    jobs = await store.claim("fo_import", 10, worker_id="t", lease_seconds=5)
    assert sorted(j.payload["replay_id"] for j in jobs) == ["/wE=", "AAI="]


async def test_keepalive_moves_the_cursor_in_order_and_counts_no_event(store: Store) -> None:
    """A keepalive item after events stores its replay id with them, imports nothing, counts no received event,
    and the commit hook sees the whole batch."""
    seen: list[Sequence[Any]] = []
    metrics = Metrics()
    ingest = Ingest(store, KEY, frozenset({"allocated"}), metrics, on_committed=seen.append)
    await ingest.run(items([event(b"a", "FO1"), event(b"b", "FO2", status="Pickpack"),  # type: ignore[arg-type]
                            event(b"tip", keepalive=True)]), asyncio.Event())
    assert await store.get_cursor(KEY) == b"tip"
    assert (await store.queue_counts())["fo_import"]["pending"] == 1
    assert metrics.events_received._value.get() == 2  # the keepalive is not an event
    assert [e.replay_id for batch in seen for e in batch] == [b"a", b"b", b"tip"]


async def test_a_quiet_channel_keeps_its_cursor_fresh_from_keepalives_alone(store: Store) -> None:
    """Only keepalives (no event for hours): each one's replay id becomes the stored cursor."""
    ingest = Ingest(store, KEY, frozenset({"allocated"}), Metrics())
    for tip in (b"k1", b"k2", b"k3"):
        await ingest.commit([event(tip, keepalive=True)])  # type: ignore[list-item]
        assert await store.get_cursor(KEY) == tip
    assert (await store.queue_counts())["fo_import"]["pending"] == 0
