"""Issue 15, store outage: the stream ingest and the reconcile loop on a real SQLite store whose calls fail for a
while (as the guarded store raises during an outage). Neither loop may end; both retry with backoff and resume.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from worker.errors import TransientError
from worker.flows import reconcile
from worker.flows.ingest import Ingest
from worker.metrics import Metrics
from worker.retry import RetryPolicy
from worker.store import Store

from .test_reconcile import FakeOrg, reconciler, rows

CHANNEL = "/event/FOStatusChangedEvent"
FAST = RetryPolicy(attempts=1000, base_delay=0.01, max_delay=0.05)


class Down:
    """A store whose ``enqueue`` fails ``failures`` times (forever with -1); everything else is the real store."""

    def __init__(self, store: Store, failures: int) -> None:
        self.store, self.failures, self.calls = store, failures, 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)

    async def enqueue(self, *args: Any, **kwargs: Any) -> int:
        self.calls += 1
        if self.failures != 0:
            self.failures -= 1
            raise TransientError("store", "enqueue failed, the store is unavailable (ConnectionRefusedError)")
        return await self.store.enqueue(*args, **kwargs)


@dataclass
class Event:
    replay_id: int
    fulfillment_order_id: str | None
    new_status: str | None = "Allocated"
    event_uuid: str | None = None
    old_status: str | None = None
    payload: dict[str, Any] = field(default_factory=dict)
    keepalive: bool = False


async def stream(events: list[Event]) -> AsyncIterator[Event]:
    """The events, then silence (a live stream never ends by itself)."""
    for event in events:
        yield event
    await asyncio.Event().wait()


async def until(check: Any, timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not await check():
            await asyncio.sleep(0.02)


async def test_ingest_retries_a_batch_the_store_refuses_and_commits_it_once_back(store: Store) -> None:
    """Store down for 5 commits: the ingest loop stays up, beats, then stores the batch and advances the cursor."""
    down, beats, metrics = Down(store, failures=5), [0], Metrics()
    ingest = Ingest(down, CHANNEL, frozenset({"allocated"}), metrics,  # type: ignore[arg-type]
                    heartbeat=lambda: beats.__setitem__(0, beats[0] + 1), retry=FAST)
    stop = asyncio.Event()
    running = asyncio.ensure_future(ingest.run(stream([Event(7, "FO1"), Event(8, "FO2")]), stop))
    try:
        async def committed() -> bool:
            assert not running.done(), running.exception()
            return await store.get_cursor(CHANNEL) == 8

        await until(committed)
        assert down.calls == 6 and beats[0] >= 5
        assert (await store.queue_counts())["fo_import"]["pending"] == 2
        assert metrics.events_received._value.get() == 2  # counted once, when stored
    finally:
        stop.set()
        await asyncio.wait_for(running, 5)


async def test_ingest_stopping_during_an_outage_leaves_the_batch_to_the_replay(store: Store) -> None:
    """Stop while the store stays down: the loop ends cleanly and the cursor stays put (the stream replays)."""
    down = Down(store, failures=-1)
    ingest = Ingest(down, CHANNEL, frozenset({"allocated"}), Metrics(), retry=FAST)  # type: ignore[arg-type]
    stop = asyncio.Event()
    running = asyncio.ensure_future(ingest.run(stream([Event(7, "FO1")]), stop))

    async def failing() -> bool:
        return down.calls >= 3

    await until(failing)
    stop.set()
    await asyncio.wait_for(running, 5)
    assert await store.get_cursor(CHANNEL) is None


async def test_a_failed_sweep_is_retried_with_backoff_not_an_interval_later(
    store: Store, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A sweep failing on the store is retried within seconds (interval 60 s) and then enqueues the gap."""
    monkeypatch.setattr(reconcile, "FAILED_SWEEP_RETRY", FAST, raising=False)
    sweeper = reconciler(Down(store, failures=2), FakeOrg(rows(3)))  # type: ignore[arg-type]
    stop = asyncio.Event()
    running = asyncio.ensure_future(sweeper.run(stop))
    try:
        async def swept() -> bool:  # the sweep counts itself after its rows are stored: wait for both
            return sweeper.sweeps >= 1 and (await store.queue_counts())["fo_import"]["pending"] == 3

        await until(swept)
        assert sweeper.sweeps == 1
    finally:
        stop.set()
        await asyncio.wait_for(running, 5)

