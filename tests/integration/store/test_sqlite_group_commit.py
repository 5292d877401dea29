"""SQLite group commit: webhook enqueues waiting for the connection commit together, each with its own count."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from worker.store import NewJob
from worker.store.sqlite import SqliteStore


def sale(n: int) -> NewJob:
    return NewJob(queue="sale", dedupe_key=f"ORDER:S-{n}", ordering_key=f"S-{n}", payload={"n": n})


async def test_enqueues_behind_a_claim_commit_in_one_transaction_with_their_own_counts(tmp_path: Path) -> None:
    """Twenty enqueues arriving while a claim holds the connection commit in ONE transaction afterwards; each
    caller gets its own insert count (a duplicate gets 0) and every row is there."""
    store = await SqliteStore(str(tmp_path / "state.db")).open()
    await store.migrate()
    try:
        await store.enqueue([sale(0)])
        transactions = 0
        real = store._transaction

        async def counting(db: Any, fn: Any) -> Any:
            nonlocal transactions
            transactions += 1
            return await real(db, fn)

        store._transaction = counting  # type: ignore[method-assign]
        async with store._lock:  # a claim (or any statement) holds the connection while the webhooks arrive
            calls = [asyncio.ensure_future(store.enqueue([sale(n)])) for n in range(20)]
            await asyncio.sleep(0.05)
            assert not any(call.done() for call in calls)
        counts = await asyncio.gather(*calls)
        assert counts == [0] + [1] * 19  # S-0 was queued before: the duplicate inserts nothing
        assert transactions == 1
        assert (await store.queue_counts())["sale"]["pending"] == 20
    finally:
        await store.close()


async def test_a_failed_group_commit_fails_every_caller_and_writes_nothing(tmp_path: Path) -> None:
    """When the group's transaction fails, each waiting caller gets the error and none of the rows is written."""
    store = await SqliteStore(str(tmp_path / "state.db")).open()
    await store.migrate()
    try:
        await store.db.execute("CREATE TRIGGER refuse BEFORE INSERT ON jobs WHEN NEW.dedupe_key = 'ORDER:S-7' "
                               "BEGIN SELECT RAISE(ABORT, 'disk says no'); END")
        async with store._lock:
            calls = [asyncio.ensure_future(store.enqueue([sale(n)])) for n in range(5, 10)]
            await asyncio.sleep(0.05)
        results = await asyncio.gather(*calls, return_exceptions=True)
        assert all(isinstance(r, Exception) and "disk says no" in str(r) for r in results)
        assert (await store.queue_counts()).get("sale", {}).get("pending", 0) == 0
        assert await store.enqueue([sale(1)]) == 1  # the store goes on working
    finally:
        await store.close()


@pytest.mark.parametrize("cursor", [("/event/X", 5)])
async def test_an_enqueue_with_a_cursor_keeps_its_own_transaction(tmp_path: Path, cursor: tuple[str, int]) -> None:
    """The stream's enqueue (with its replay cursor) is not grouped: jobs and cursor commit together."""
    store = await SqliteStore(str(tmp_path / "state.db")).open()
    await store.migrate()
    try:
        assert await store.enqueue([sale(1)], cursor=cursor) == 1
        assert await store.get_cursor(cursor[0]) == cursor[1]
    finally:
        await store.close()


async def test_an_enqueue_arriving_while_the_group_commits_is_committed_without_other_traffic(tmp_path: Path) -> None:
    """An enqueue that joins after the running turn took the group still gets a turn of its own (no claim or other
    store call needed to flush it)."""
    store = await SqliteStore(str(tmp_path / "state.db")).open()
    await store.migrate()
    try:
        real, entered, release = store._transaction, asyncio.Event(), asyncio.Event()

        async def held(db: Any, fn: Any) -> Any:
            entered.set()
            await release.wait()
            return await real(db, fn)

        store._transaction = held  # type: ignore[method-assign]
        first = asyncio.ensure_future(store.enqueue([sale(1)]))
        await entered.wait()  # the turn has taken the group and is committing it
        second = asyncio.ensure_future(store.enqueue([sale(2)]))
        await asyncio.sleep(0)
        release.set()
        assert await first == 1
        # a bound, not a timing claim: before the fix the second enqueue waited for the next store call forever
        assert await asyncio.wait_for(second, 10) == 1
    finally:
        await store.close()


async def test_an_enqueue_on_a_closed_store_fails_instead_of_waiting_forever(tmp_path: Path) -> None:
    """A grouped enqueue after close() hears the store's error (not open), like any other call; it never hangs."""
    store = await SqliteStore(str(tmp_path / "state.db")).open()
    await store.migrate()
    await store.close()
    with pytest.raises(RuntimeError, match="not open"):
        await asyncio.wait_for(store.enqueue([sale(1)]), 10)  # a bound: before the fix this never returned
