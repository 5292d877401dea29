"""Queue contract, run on both engines (SQLite file, PostgreSQL schema): dedupe, cursor, claims, failures."""

from __future__ import annotations

from typing import Any

import pytest

from worker.store import QUEUES, STATES, NewJob, Store


def job(key: str, *, queue: str = "fo_import", order: str | None = None, uuid_: str | None = None) -> NewJob:
    return NewJob(queue=queue, dedupe_key=key, payload={"key": key}, ordering_key=order, event_uuid=uuid_)


async def claim(store: Store, queue: str = "fo_import", limit: int = 10, lease: float = 60) -> list[str]:
    return [j.dedupe_key for j in await store.claim(queue, limit, worker_id="w", lease_seconds=lease)]


async def test_enqueue_drops_duplicates_by_key_and_event_uuid(store: Store) -> None:
    """Duplicates (same dedupe key, or same EventUuid, per queue) are dropped at insert, not counted."""
    assert await store.enqueue([job("a", uuid_="u1"), job("b", uuid_="u2")]) == 2
    assert await store.enqueue([job("a"), job("c", uuid_="u1"), job("d"), job("d")]) == 1
    assert await store.enqueue([job("a", queue="sale", uuid_="u1")]) == 1  # keys are per queue
    assert await claim(store) == ["a", "b", "d"]
    assert await claim(store, "sale") == ["a"]


async def test_duplicates_are_dropped_even_after_the_job_is_done(store: Store) -> None:
    """A redelivered event whose job already finished is still a duplicate (nothing is processed twice)."""
    await store.enqueue([job("a", uuid_="u1")])
    (first,) = await store.claim("fo_import", 1, worker_id="w", lease_seconds=60)
    await store.complete([first])
    assert await store.enqueue([job("a"), job("z", uuid_="u1")]) == 0
    assert await claim(store) == []


async def test_enqueue_refuses_unknown_queue_and_non_json_payload_writing_nothing(store: Store) -> None:
    """An unknown queue or a NaN payload raises ValueError and neither the batch nor the cursor is written."""
    with pytest.raises(ValueError, match="unknown queue 'nope'"):
        await store.enqueue([job("a"), job("b", queue="nope")], cursor=("/event/X", 5))
    with pytest.raises(ValueError, match="not storable as JSON"):
        await store.enqueue([NewJob("sale", "n", {"amount": float("nan")})], cursor=("/event/X", 5))
    assert await store.get_cursor("/event/X") is None
    assert await claim(store) == [] and await claim(store, "sale") == []


async def test_cursor_is_written_in_the_enqueue_transaction(store: Store) -> None:
    """If the cursor write fails, the jobs of that enqueue are rolled back too (all or nothing)."""
    bad: Any = object()  # not an integer: the cursor statement fails after the jobs were inserted
    with pytest.raises(Exception):  # noqa: B017 - each driver raises its own binding error
        await store.enqueue([job("a"), job("b")], cursor=("/event/X", bad))
    assert await store.get_cursor("/event/X") is None
    assert (await store.queue_counts())["fo_import"]["pending"] == 0
    assert await store.enqueue([job("a")], cursor=("/event/X", 3)) == 1
    assert await store.get_cursor("/event/X") == 3


async def test_cursor_advances_with_the_enqueue_and_never_backwards(store: Store) -> None:
    """The replay cursor moves forward with enqueue (even when all jobs are duplicates) and never back."""
    assert await store.get_cursor("/event/X") is None
    await store.enqueue([job("a")], cursor=("/event/X", 10))
    assert await store.get_cursor("/event/X") == 10
    assert await store.enqueue([job("a")], cursor=("/event/X", 12)) == 0
    assert await store.get_cursor("/event/X") == 12
    await store.enqueue([], cursor=("/event/X", 7))
    await store.advance_cursor("/event/X", 11)
    assert await store.get_cursor("/event/X") == 12
    await store.advance_cursor("/event/X", 15)
    await store.advance_cursor("/event/Y", 1)
    assert await store.get_cursor("/event/X") == 15 and await store.get_cursor("/event/Y") == 1
    await store.reset_cursor("/event/X")
    assert await store.get_cursor("/event/X") is None and await store.get_cursor("/event/Y") == 1
    await store.advance_cursor("/event/X", 2)  # after a reset the cursor starts again from anything
    assert await store.get_cursor("/event/X") == 2


async def test_claim_is_oldest_first_limited_and_per_queue(store: Store) -> None:
    """claim returns due jobs of its queue, oldest first, at most ``limit``, marked processing, attempts 1."""
    await store.enqueue([job(str(i)) for i in range(5)] + [job("s", queue="sale")])
    jobs = await store.claim("fo_import", 3, worker_id="w", lease_seconds=60)
    assert [j.dedupe_key for j in jobs] == ["0", "1", "2"]
    assert all(j.state == "processing" and j.attempts == 1 and j.queue == "fo_import" for j in jobs)
    assert await claim(store) == ["3", "4"]
    assert await claim(store) == []
    assert await store.claim("fo_import", 0, worker_id="w", lease_seconds=60) == []


async def test_ordering_key_serialises_jobs_of_one_key(store: Store) -> None:
    """A later job of a key is not claimable while an older one is leased or pending; dead does not block."""
    await store.enqueue([job("1", order="FO1"), job("2", order="FO1"), job("3", order="FO2"),
                         job("4", order="FO1")])
    first = await store.claim("fo_import", 10, worker_id="w", lease_seconds=60)
    assert [j.dedupe_key for j in first] == ["1", "3"]
    assert await claim(store) == []  # "2" waits for the leased "1"
    assert await store.retry_later(first[0], "busy", 0)
    (again,) = await store.claim("fo_import", 10, worker_id="w", lease_seconds=60)
    assert again.dedupe_key == "1"  # the oldest of its key again, never "2"
    assert await store.dead_letter(again, "gave up")
    assert await claim(store) == ["2"]
    assert await claim(store) == []  # "4" waits for "2"


async def test_ordering_key_done_job_unblocks_the_next(store: Store) -> None:
    """Completing the head job of a key makes the next job of that key claimable, in order."""
    await store.enqueue([job(str(i), order="K") for i in range(3)])
    for expected in ("0", "1", "2"):
        (head,) = await store.claim("fo_import", 10, worker_id="w", lease_seconds=60)
        assert head.dedupe_key == expected
        await store.complete([head])
    assert await claim(store) == []


async def test_requeued_older_job_waits_while_a_newer_job_of_its_key_is_leased(store: Store) -> None:
    """No job of a key is claimable while another job of that key holds a live lease, older or newer."""
    await store.enqueue([job("1", order="K"), job("2", order="K")])
    (one,) = await store.claim("fo_import", 10, worker_id="w", lease_seconds=60)
    await store.dead_letter(one, "bad")
    (two,) = await store.claim("fo_import", 10, worker_id="w", lease_seconds=60)
    assert await store.requeue_dead(one.id)
    assert await claim(store) == []  # "1" is the oldest live job, but "2" is leased
    await store.complete([two])
    assert await claim(store) == ["1"]


async def test_expired_lease_is_reclaimed_and_counts_attempts(store: Store) -> None:
    """A job whose claimer died (lease expired) is claimed again with attempts + 1; a live lease is not."""
    await store.enqueue([job("a"), job("b", order="K"), job("c", order="K")])
    first = await store.claim("fo_import", 10, worker_id="dead-replica", lease_seconds=-1)  # already expired
    assert [j.dedupe_key for j in first] == ["a", "b"]
    again = await store.claim("fo_import", 10, worker_id="w2", lease_seconds=3600)
    assert [(j.dedupe_key, j.attempts) for j in again] == [("a", 2), ("b", 2)]  # "c" still waits for "b"
    assert await claim(store) == []


async def test_retry_later_sets_next_attempt_and_keeps_the_error(store: Store) -> None:
    """retry_later makes the job pending, due ``delay`` after now, with the error kept; delay 0 is due now."""
    await store.enqueue([job("a"), job("b")])
    a, b = await store.claim("fo_import", 2, worker_id="w", lease_seconds=60)
    await store.retry_later(a, "TransientError: 503", 3600)
    await store.retry_later(b, "TransientError: 502", 0)
    delayed = await store.get_job(a.id)
    assert delayed is not None and delayed.state == "pending" and delayed.last_error == "TransientError: 503"
    assert abs((delayed.next_attempt_at - delayed.updated_at).total_seconds() - 3600) < 0.01
    again = await store.claim("fo_import", 10, worker_id="w", lease_seconds=60)
    assert [(j.dedupe_key, j.attempts, j.last_error) for j in again] == [("b", 2, "TransientError: 502")]


async def test_release_returns_jobs_at_once_keeping_the_attempt(store: Store) -> None:
    """release puts leased jobs back to pending, due now, keeping the attempt (an outside call may have started);
    it leaves other states alone."""
    await store.enqueue([job("a"), job("b")])
    a, b = await store.claim("fo_import", 2, worker_id="w", lease_seconds=60)
    await store.complete([b])
    assert await store.release([a, b]) == 1
    done = await store.get_job(b.id)
    assert done is not None and done.state == "done"
    again = await store.claim("fo_import", 5, worker_id="w", lease_seconds=60)
    assert [(j.id, j.attempts) for j in again] == [(a.id, 2)]
    assert await store.release([]) == 0  # harmless


async def test_complete_marks_jobs_done_and_unclaimable(store: Store) -> None:
    """complete sets state done for every id given; done jobs are never claimed again."""
    await store.enqueue([job("a"), job("b"), job("c")])
    jobs = await store.claim("fo_import", 3, worker_id="w", lease_seconds=-1)
    await store.complete(jobs[:2])
    states = [(await store.get_job(j.id)) for j in jobs]
    assert [s.state if s else None for s in states] == ["done", "done", "processing"]
    assert await claim(store) == ["c"]  # only the expired, unfinished one comes back
    assert await store.get_job(999_999) is None


async def test_dead_letters_list_requeue_and_drop(store: Store) -> None:
    """Dead letters are listed (per queue, limited), queued again with attempts reset, or dropped."""
    await store.enqueue([job("a"), job("b"), job("c"), job("s", queue="sale")])
    a, b, c = await store.claim("fo_import", 3, worker_id="w", lease_seconds=60)
    (s,) = await store.claim("sale", 1, worker_id="w", lease_seconds=60)
    for item in (a, b, s):
        await store.dead_letter(item, "PermanentError: bad")
    letters = await store.dead_letters("fo_import")
    assert [(j.id, j.state, j.last_error) for j in letters] == [(a.id, "dead", "PermanentError: bad"),
                                                                (b.id, "dead", "PermanentError: bad")]
    assert [j.id for j in await store.dead_letters()] == [a.id, b.id, s.id]
    assert [j.id for j in await store.dead_letters(limit=1)] == [a.id]
    assert not await store.requeue_dead(c.id) and not await store.drop_dead(c.id)  # not dead: untouched
    assert await store.requeue_dead(a.id) and not await store.requeue_dead(a.id)
    assert await store.drop_dead(b.id) and not await store.drop_dead(b.id)
    assert await store.get_job(b.id) is None
    again = await store.claim("fo_import", 5, worker_id="w", lease_seconds=60)
    assert [(j.id, j.attempts) for j in again] == [(a.id, 1)]


async def test_queue_counts_cover_every_queue_and_state(store: Store) -> None:
    """queue_counts reports {queue: {state: n}} for every queue and state, zeros included."""
    empty = await store.queue_counts()
    assert empty == {q: dict.fromkeys(STATES, 0) for q in QUEUES}
    await store.enqueue([job("a"), job("b"), job("c"), job("d"), job("r", queue="return")])
    a, b, _ = await store.claim("fo_import", 3, worker_id="w", lease_seconds=60)
    await store.complete([a])
    await store.dead_letter(b, "x")
    counts = await store.queue_counts()
    assert counts["fo_import"] == {"pending": 1, "processing": 1, "done": 1, "dead": 1}
    assert counts["return"] == {"pending": 1, "processing": 0, "done": 0, "dead": 0}
    assert counts["sale"] == dict.fromkeys(STATES, 0)


async def test_purge_done_removes_only_old_done_jobs(store: Store) -> None:
    """purge_done deletes finished jobs older than the horizon and nothing else; dedupe keys go with them."""
    await store.enqueue([job("a"), job("b"), job("c")])
    a, b, _ = await store.claim("fo_import", 3, worker_id="w", lease_seconds=60)
    await store.complete([a])
    await store.dead_letter(b, "x")
    assert await store.purge_done(3600) == 0
    assert await store.purge_done(-1) == 1
    assert await store.get_job(a.id) is None
    assert [j.id for j in await store.dead_letters()] == [b.id]
    assert (await store.queue_counts())["fo_import"] == {"pending": 0, "processing": 1, "done": 0, "dead": 1}
