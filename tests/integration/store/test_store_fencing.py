"""Claim fencing and noted effects, on both engines: an expired owner can no longer settle a job another holds."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from worker.store import NewJob, Store, open_store


def job(key: str, *, queue: str = "sale", order: str | None = None) -> NewJob:
    return NewJob(queue=queue, dedupe_key=key, payload={"key": key}, ordering_key=order)


async def test_each_claim_carries_a_new_token_shared_by_its_jobs(store: Store) -> None:
    """Jobs of one claim share a fencing token that names the claimant; the next claim of a job gets another."""
    await store.enqueue([job("a"), job("b")])
    a, b = await store.claim("sale", 2, worker_id="replica-1", lease_seconds=-1)
    assert a.token and a.token == b.token and a.token.startswith("replica-1:")
    again = await store.claim("sale", 2, worker_id="replica-1", lease_seconds=60)
    assert {j.token for j in again} != {a.token} and len({j.token for j in again}) == 1


async def test_expired_owner_cannot_complete_retry_dead_letter_or_release(store: Store) -> None:
    """After another claimer took an expired job, the old owner's settle calls change nothing and say so."""
    await store.enqueue([job("a")])
    (old,) = await store.claim("sale", 1, worker_id="slow", lease_seconds=-1)  # lease already expired
    (new,) = await store.claim("sale", 1, worker_id="fast", lease_seconds=60)
    assert new.id == old.id and new.token != old.token
    assert await store.complete([old]) == 0
    assert not await store.retry_later(old, "late", 0)
    assert not await store.dead_letter(old, "late")
    assert await store.release([old]) == 0
    assert await store.renew([old], 60) == set()
    current = await store.get_job(old.id)
    assert current is not None and current.state == "processing" and current.token == new.token
    assert await store.complete([new]) == 1
    done = await store.get_job(old.id)
    assert done is not None and done.state == "done"


async def test_expired_lease_not_yet_reclaimed_can_still_be_settled(store: Store) -> None:
    """An owner whose lease ran out but whom nobody replaced still holds the token and may finish its job."""
    await store.enqueue([job("a")])
    (old,) = await store.claim("sale", 1, worker_id="slow", lease_seconds=-1)
    assert await store.renew([old], 60) == {old.id}
    assert await store.claim("sale", 1, worker_id="other", lease_seconds=60) == []  # renewed: not claimable
    assert await store.complete([old]) == 1


async def test_renew_keeps_a_job_from_being_claimed_again(store: Store) -> None:
    """A renewed lease extends the hold: a job leased for 0.2 s and renewed is not handed to another claimer."""
    await store.enqueue([job("a")])
    (held,) = await store.claim("sale", 1, worker_id="w", lease_seconds=0.2)
    assert await store.renew([held], 60) == {held.id}
    await asyncio.sleep(0.3)
    assert await store.claim("sale", 1, worker_id="other", lease_seconds=60) == []


async def test_settled_job_is_not_settled_again(store: Store) -> None:
    """A token acts once: a job completed (or dead-lettered) cannot be released, retried or completed again."""
    await store.enqueue([job("a"), job("b")])
    a, b = await store.claim("sale", 2, worker_id="w", lease_seconds=60)
    assert await store.complete([a]) == 1 and await store.dead_letter(b, "bad")
    assert await store.complete([a, b]) == 0 and await store.release([a, b]) == 0
    assert not await store.retry_later(b, "again", 0)
    dead = await store.get_job(b.id)
    assert dead is not None and dead.state == "dead"


async def test_requeued_dead_letter_gets_a_new_token_and_the_old_one_is_void(store: Store) -> None:
    """dlq retry of a dead job: the next claim fences out the token it died under."""
    await store.enqueue([job("a")])
    (first,) = await store.claim("sale", 1, worker_id="w", lease_seconds=60)
    assert await store.dead_letter(first, "PermanentError: x")
    assert await store.requeue_dead(first.id)
    (second,) = await store.claim("sale", 1, worker_id="w", lease_seconds=60)
    assert second.token != first.token and second.attempts == 1
    assert await store.complete([first]) == 0 and await store.complete([second]) == 1


async def test_note_effects_returns_earlier_starts_and_records_the_latest(store: Store) -> None:
    """note_effects answers which keys were noted before (with their last start) and notes all of them now."""
    assert await store.note_effects("sale", ["S-1", "S-2", "S-1"]) == {}
    first = await store.effects_started("sale", ["S-1", "S-2", "S-3"])
    assert set(first) == {"S-1", "S-2"}
    await asyncio.sleep(0.05)
    before = await store.note_effects("sale", ["S-2", "S-3"])
    assert before == {"S-2": first["S-2"]}
    later = await store.effects_started("sale", ["S-2", "S-3"])
    assert later["S-2"] > first["S-2"] and "S-3" in later
    assert await store.effects_started("return", ["S-1"]) == {}  # kinds are separate
    assert await store.note_effects("sale", []) == {} and await store.effects_started("sale", []) == {}


async def test_noted_effects_survive_requeue_and_purge(store: Store) -> None:
    """What may have happened outside is kept when the job is requeued from the dead letters or purged."""
    await store.enqueue([job("S-9")])
    (claimed,) = await store.claim("sale", 1, worker_id="w", lease_seconds=60)
    await store.note_effects("sale", ["S-9"])
    assert await store.dead_letter(claimed, "x") and await store.requeue_dead(claimed.id)
    assert set(await store.effects_started("sale", ["S-9"])) == {"S-9"}


async def test_second_writer_on_one_sqlite_file_is_refused(tmp_path: Path) -> None:
    """A second `oms-worker run` on the same SQLite file gets a clear error naming the holder; the first keeps
    working, and the file is free again once the first closes."""
    url = f"sqlite:///{tmp_path / 'state.db'}"
    first = await open_store(url, exclusive=True)
    try:
        with pytest.raises(RuntimeError, match=r"already used by another oms-worker process \(pid \d+\)"):
            await open_store(url, exclusive=True)
        reader = await open_store(url)  # dlq / health tools may still open it
        await reader.close()
        await first.enqueue([job("a")])
    finally:
        await first.close()
    again = await open_store(url, exclusive=True)
    await again.close()
