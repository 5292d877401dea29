"""``oms-worker dlq list|show|retry|drop``: operate on dead letters in the configured store.

``retry`` / ``drop`` act on one dead letter (by id), on every dead letter of one ``--queue``, or on ``--all``. A bulk
action lists the dead letters once, acts on each of them only (a job that dies while it runs is left for the
next run; one that stopped being dead meanwhile is skipped), prints every id it touched and the count;
``--dry-run`` prints what it would do and changes nothing. ``--json`` prints the same as JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from worker.config import Config
from worker.store import Job, Store, open_store

PAGE = 1000  # dead letters read per listing
DONE = {"retry": "queued again", "drop": "dropped"}


def _row(job: Job) -> str:
    error = (job.last_error or "").replace("\n", " ")
    if len(error) > 90:
        error = error[:87] + "..."
    return f"{job.id:>8}  {job.queue:<10} {job.attempts:>3}  {job.updated_at:%Y-%m-%d %H:%M:%S}  {error}"


def _data(job: Job, *, payload: bool) -> dict[str, Any]:
    data: dict[str, Any] = {"id": job.id, "queue": job.queue, "dedupe_key": job.dedupe_key,
                            "attempts": job.attempts, "last_error": job.last_error,
                            "created_at": job.created_at.isoformat(), "dead_since": job.updated_at.isoformat()}
    if payload:
        data["payload"] = job.payload
    return data


def _print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, default=str))


async def _list(store: Store, args: argparse.Namespace) -> int:
    jobs = await store.dead_letters(args.queue, limit=args.limit)
    if len(jobs) >= args.limit:
        print(f"showing the first {args.limit}; more may exist (--limit N)", file=sys.stderr)
    if args.json:
        _print_json([_data(job, payload=False) for job in jobs])
        return 0
    print(f"{'id':>8}  {'queue':<10} {'try':>3}  {'dead since':<19}  last error")
    for job in jobs:
        print(_row(job))
    print(f"{len(jobs)} dead letter(s)")
    return 0


async def _show(store: Store, args: argparse.Namespace) -> int:
    job = await store.get_job(args.job_id)
    if job is None or job.state != "dead":
        print(f"no dead letter with id {args.job_id}")
        return 1
    data = _data(job, payload=True)
    if args.json:
        _print_json(data)
        return 0
    payload = data.pop("payload")
    for key, value in data.items():
        print(f"{key + ':':<12} {value}")
    print("payload:")
    _print_json(payload)
    return 0


async def _targets(store: Store, queue: str | None) -> list[Job]:
    """Every dead letter (of ``queue``) as listed now; a job that dies again while we act is not picked up."""
    seen: dict[int, Job] = {}
    while True:
        batch = [job for job in await store.dead_letters(queue, limit=len(seen) + PAGE) if job.id not in seen]
        if not batch:
            return sorted(seen.values(), key=lambda job: job.id)
        seen.update((job.id, job) for job in batch)


async def _act(store: Store, args: argparse.Namespace) -> int:
    command = args.dlq_command
    action: Callable[[int], Awaitable[bool]] = store.requeue_dead if command == "retry" else store.drop_dead
    if args.job_id is not None:
        ok = await action(args.job_id)
        if args.json:
            ids = [args.job_id]
            _print_json({"action": command, "done": ids if ok else [], "skipped": [] if ok else ids})
        else:
            print(f"dead letter {args.job_id} {DONE[command]}" if ok else f"no dead letter with id {args.job_id}")
        return 0 if ok else 1
    queue = None if args.all else args.queue
    jobs = await _targets(store, queue)
    done: list[int] = []
    skipped: list[int] = []
    for job in jobs:
        if args.dry_run or await action(job.id):
            done.append(job.id)
            if not args.json:
                print(f"dead letter {job.id} ({job.queue}) {'would be ' if args.dry_run else ''}{DONE[command]}")
        else:
            skipped.append(job.id)
            if not args.json:
                print(f"dead letter {job.id} ({job.queue}) skipped: no longer dead")
    if args.json:
        _print_json({"action": command, "queue": queue, "dry_run": args.dry_run, "done": done, "skipped": skipped})
    else:
        verb = f"would be {DONE[command]} (dry run)" if args.dry_run else DONE[command]
        where = f" of queue {queue}" if queue else ""
        extra = f", {len(skipped)} skipped" if skipped else ""
        print(f"{len(done)} dead letter(s){where} {verb}{extra}")
    return 0


COMMANDS: dict[str, Callable[[Store, argparse.Namespace], Awaitable[int]]] = {
    "list": _list, "show": _show, "retry": _act, "drop": _act,
}


async def run_dlq(config: Config, args: argparse.Namespace) -> int:
    store = await open_store(config.worker.store_url)
    try:
        return await COMMANDS[args.dlq_command](store, args)
    finally:
        await store.close()
