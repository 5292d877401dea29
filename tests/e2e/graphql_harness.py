"""The whole worker on the GraphQL POS back-end (``pos.backend: graphql``) against both emulators."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from worker.app import Running, serve
from worker.config_load import parse_config

from .harness import Stack, eventually, raw_config

GQL_CLIENT, GQL_SECRET = "demo-gql-client", "demo-gql-secret"


def graphql_raw_config(sf_url: str, pos_url: str, store_url: str, *, client_id: str = GQL_CLIENT,
                       graphql: dict[str, Any] | None = None, **worker_overrides: Any) -> dict[str, Any]:
    """The e2e worker's YAML (as data) with the GraphQL back-end: no webhook, SPI, reconcile or FO import keys."""
    raw = raw_config(sf_url, pos_url, store_url, **worker_overrides)
    for key in ("webhook", "spi", "reconcile"):
        raw["worker"].pop(key, None)
    for key in ("FilterQuery", "OMSStatusesToProcess"):
        raw["salesforce"].pop(key, None)
    raw["pos"] = {
        "backend": "graphql", "merchant_id": "acme", "locale": "en-US", "region": "US",
        "graphql": {"url": f"{pos_url}/graphql", "issuer": f"{pos_url}/oidc", "client_id": client_id,
                    "client_secret": GQL_SECRET, "poll_interval_seconds": 0.3, "overlap_seconds": 5,
                    "page_size": 3, **(graphql or {})},
    }
    return raw


@asynccontextmanager
async def graphql_worker(stack: Stack, tmp: Path, **overrides: Any) -> AsyncIterator[Running]:
    """An in-process worker on the GraphQL back-end, ready (/readyz) before the body runs."""
    store_url = overrides.pop("store_url", f"sqlite:///{tmp / 'state.db'}")
    config = parse_config(graphql_raw_config(stack.sf_url, stack.pos_url, store_url, **overrides), {})
    stop = asyncio.Event()
    ready: asyncio.Future[Running] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(serve(config, stop, started=ready.set_result))
    done, _ = await asyncio.wait({task, ready}, timeout=30, return_when=asyncio.FIRST_COMPLETED)
    if ready not in done:
        stop.set()
        await asyncio.gather(task, return_exceptions=True)
        task.result()  # the start failure, if any
        raise AssertionError("the worker did not start")
    running = ready.result()

    async def readyz() -> bool:
        async with stack.http.get(f"http://127.0.0.1:{running.http_port}/readyz") as resp:
            return resp.status == 200

    await eventually(readyz, timeout=30, what="worker ready")
    try:
        yield running
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=60)
