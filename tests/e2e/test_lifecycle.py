"""Worker lifecycle against both emulators: a stop drains what is in flight and returns without idling."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from worker.app import Running, serve

from .harness import emulators, eventually, worker_config

pytestmark = pytest.mark.e2e


async def test_idle_worker_stops_without_waiting_out_the_drain_grace(tmp_path: Path) -> None:
    """With nothing in flight, a stop ends serve() as soon as the loops finish, not after drain_grace_seconds."""
    async with emulators() as stack:
        config = worker_config(stack.sf_url, stack.pos_url, f"sqlite:///{tmp_path / 'state.db'}",
                               drain_grace_seconds=600)
        stop = asyncio.Event()
        ready: asyncio.Future[Running] = asyncio.get_running_loop().create_future()
        task = asyncio.create_task(serve(config, stop, started=ready.set_result))
        running = await asyncio.wait_for(asyncio.shield(ready), timeout=30)

        async def subscribed() -> bool:
            async with stack.http.get(f"http://127.0.0.1:{running.http_port}/readyz") as resp:
                return resp.status == 200

        await eventually(subscribed, timeout=30, what="worker ready")
        stop.set()
        # A bound far below the 600 s grace: before the fix every stop waited the full grace.
        await asyncio.wait_for(task, timeout=60)
