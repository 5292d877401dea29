"""``oms-worker dlq list|show|retry|drop``: operate on dead letters in the configured store."""

from __future__ import annotations

import argparse
import json

from worker.config import Config
from worker.store import Job, open_store


def _row(job: Job) -> str:
    error = (job.last_error or "").replace("\n", " ")
    if len(error) > 90:
        error = error[:87] + "..."
    return f"{job.id:>8}  {job.queue:<10} {job.attempts:>3}  {job.updated_at:%Y-%m-%d %H:%M:%S}  {error}"


async def run_dlq(config: Config, command: str, args: argparse.Namespace) -> int:
    store = await open_store(config.worker.store_url)
    try:
        if command == "list":
            jobs = await store.dead_letters(getattr(args, "queue", None), limit=1000)
            print(f"{'id':>8}  {'queue':<10} {'try':>3}  {'dead since':<19}  last error")
            for job in jobs:
                print(_row(job))
            print(f"{len(jobs)} dead letter(s)")
            return 0
        job_id = int(args.job_id)
        if command == "show":
            found = await store.get_job(job_id)
            if found is None or found.state != "dead":
                print(f"no dead letter with id {job_id}")
                return 1
            print(json.dumps({"id": found.id, "queue": found.queue, "dedupe_key": found.dedupe_key,
                              "attempts": found.attempts, "last_error": found.last_error,
                              "created_at": found.created_at.isoformat(), "payload": found.payload},
                             indent=2, default=str))
            return 0
        if command == "retry":
            ok = await store.requeue_dead(job_id)
            print(f"dead letter {job_id} queued again" if ok else f"no dead letter with id {job_id}")
            return 0 if ok else 1
        if command == "drop":
            ok = await store.drop_dead(job_id)
            print(f"dead letter {job_id} dropped" if ok else f"no dead letter with id {job_id}")
            return 0 if ok else 1
        print(f"unknown dlq command {command!r}")
        return 2
    finally:
        await store.close()
