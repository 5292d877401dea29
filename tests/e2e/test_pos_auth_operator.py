"""A worker whose POS client secret is wrong: one token request, imports wait (never dead-lettered), /status and
oms_auth_operator_required{service="pos"} say an operator must act."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
import structlog

from worker.app import Running, serve
from worker.config_load import parse_config

from .harness import emulators, eventually, raw_config

pytestmark = pytest.mark.e2e
WRONG = "wrong-pos-client-secret-7731"


async def test_refused_pos_credentials_pause_outbound_work_and_need_an_operator(tmp_path: Path) -> None:
    """Preflight, sale sweep, status checks and an FO import all meet the refusal: one POS token request in all."""
    async with emulators() as stack:
        raw = raw_config(stack.sf_url, stack.pos_url, f"sqlite:///{tmp_path / 'state.db'}")
        raw["pos"]["auth"]["client_secret"] = WRONG
        config = parse_config(raw, {})
        stop = asyncio.Event()
        ready: asyncio.Future[Running] = asyncio.get_running_loop().create_future()
        with structlog.testing.capture_logs() as logs:
            task = asyncio.create_task(serve(config, stop, started=ready.set_result))
            try:
                running = await asyncio.wait_for(asyncio.shield(ready), timeout=30)
                running.health.cache_seconds = 0.2
                url = f"http://127.0.0.1:{running.http_port}"
                created = await stack.sf_admin("POST", "scenario/orders", {"count": 1, "kind": "BOPIS", "store": "256"})
                status: dict[str, Any] = {}

                async def paused_for_the_pos() -> bool:
                    async with stack.http.get(f"{url}/status") as resp:
                        status.update(await resp.json())
                    counts = await running.store.queue_counts()
                    pos = status["dependencies"]["pos"]
                    return bool(pos.get("operator_required") and status["outbound"]["paused"]
                                and sum(counts.get("fo_import", {}).values()) >= 1)

                await eventually(paused_for_the_pos, timeout=30, what="/status naming the POS login refused")
                await asyncio.sleep(1.0)  # the status checks, sweeps and runners keep asking meanwhile
                async with stack.http.get(f"{url}/metrics") as resp:
                    metrics = await resp.text()
                async with stack.http.get(f"{url}/readyz") as resp:
                    readyz = resp.status
                counts = await running.store.queue_counts()
            finally:
                stop.set()
                await asyncio.wait_for(task, timeout=60)
    pos = status["dependencies"]["pos"]
    assert pos["state"] == "down" and "invalid_client" in pos["reason"] and WRONG not in str(status)
    assert "the POS refused the credentials" in status["outbound"]["reason"]
    assert status["dependencies"]["salesforce"]["operator_required"] is False
    assert 'oms_auth_operator_required{service="pos"} 1.0' in metrics
    assert 'oms_auth_operator_required{service="salesforce"} 0.0' in metrics
    assert readyz == 200  # webhooks are still accepted and stored
    assert counts["fo_import"].get("dead", 0) == 0 and created["orders"]
    token_requests = [e for e in logs if e["event"] == "pos_token_request"]
    assert len(token_requests) == 1 and token_requests[0]["status"] == 401
    assert len([e for e in logs if e["event"] == "pos_auth_needs_operator"]) == 1
    assert WRONG not in repr(logs)
