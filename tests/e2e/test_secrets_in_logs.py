"""Secrets never reach logs, stdout or health output: a DEBUG-level worker process runs a store day (with token
revocations, a 5xx burst and wrong keys) on secrets unique to this test, then every worker log written by the
e2e tests of this session is scanned for configured secrets and emulator-issued access tokens."""

from __future__ import annotations

import asyncio
import re
import secrets
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from emulator.pos.app import start_pos_emulator
from emulator.pos.settings import PosEmulatorSettings
from emulator.salesforce.app import SfEmulatorSettings, start_sf_emulator
from emulator.salesforce.oauth import OAuthSettings

from .harness import SALES_SEED, SPI_KEY, TRANSPORTS, WEBHOOK_KEY, Stack, eventually, imported_ids
from .test_chaos_replicas import Replica
from .test_crash_restart import ROOT

pytestmark = pytest.mark.e2e
USER, CLIENT_ID, POS_CLIENT_ID = "integration@example.com", "secret-test-client", "secret-test-pos-client"
# Access tokens in Salesforce's shape (org id, "!", opaque text): none may appear in any log.
SF_TOKEN = re.compile(r"00D[0-9A-Za-z]{12}![\w.-]{20,}")
# The secrets every other e2e test configures (tests/e2e/harness.py).
HARNESS_SECRETS = ["demo-password", "demo-secret", "demo-pos-secret", "demo-pos-secret-header", "demo-pos-api-key",
                   WEBHOOK_KEY, SPI_KEY]


def unique_secrets() -> dict[str, str]:
    return {name: f"{name}-{secrets.token_hex(8)}" for name in
            ("sf_password", "client_secret", "pos_client_secret", "pos_secret", "pos_api_key", "webhook_key",
             "spi_key")}


@asynccontextmanager
async def secret_stack(found: dict[str, str], issued: list[str]) -> AsyncIterator[Stack]:
    """Both emulators with this test's credentials; every access token they issue is appended to ``issued``."""
    oauth = OAuthSettings(users={USER: found["sf_password"]}, clients={CLIENT_ID: found["client_secret"]})
    sf = await start_sf_emulator(SfEmulatorSettings(seed="demo", oauth=oauth))
    pos = await start_pos_emulator(PosEmulatorSettings(
        client_id=POS_CLIENT_ID, client_secret=found["pos_client_secret"], pos_secret=found["pos_secret"],
        api_key=found["pos_api_key"]))
    sf_tokens, pos_tokens = sf.emulator.tokens, pos.state.tokens
    sf_issue, pos_issue = sf_tokens.issue, pos_tokens.issue_legacy

    def record_sf(username: str, client_id: str) -> Any:
        session = sf_issue(username, client_id)
        issued.append(session.token)
        return session

    def record_pos() -> tuple[str, int]:
        token, ttl = pos_issue()
        issued.append(token)
        return token, ttl

    sf_tokens.issue, pos_tokens.issue_legacy = record_sf, record_pos  # type: ignore[method-assign]
    try:
        async with aiohttp.ClientSession() as http:
            stack = Stack(sf.url, pos.url, http, sf, pos)
            await stack.sf_admin("POST", "seed", SALES_SEED)
            yield stack
    finally:
        await pos.stop()
        await sf.stop()


def configure(replica: Replica, found: dict[str, str]) -> None:
    raw = yaml.safe_load(replica.config.read_text())
    raw["salesforce"]["Password"] = found["sf_password"]
    raw["auth"].update(client_id=CLIENT_ID, client_secret=found["client_secret"])
    raw["pos"]["auth"].update(client_id=POS_CLIENT_ID, client_secret=found["pos_client_secret"],
                              pos_secret=found["pos_secret"], api_key=found["pos_api_key"])
    raw["worker"].update(log_level="DEBUG", webhook={"auth_header": "Authorization", "api_key": found["webhook_key"]},
                         spi={"api_keys": [found["spi_key"]]})
    replica.config.write_text(yaml.safe_dump(raw))


def leaks(text: str, values: list[str]) -> list[str]:
    """Which of ``values`` occur in ``text`` (named by their first characters, never printed whole)."""
    found = [value[:6] + "..." for value in values if value and value in text]
    found += [match[:8] + "..." for match in SF_TOKEN.findall(text)]
    return found


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_store_day_at_debug_level_leaks_no_secret(tmp_path: Path, transport: str) -> None:
    """No configured secret nor issued access token in the worker's log/stdout, health, metrics or check-config
    (on both stream transports: Pub/Sub sends the token as gRPC metadata on every call)."""
    found, issued = unique_secrets(), []
    async with secret_stack(found, issued) as stack:
        replica = Replica(stack, tmp_path, "secrets", f"sqlite:///{tmp_path / 'state.db'}",
                          stream=stack.stream(transport))
        configure(replica, found)
        replica.start()
        seen: list[str] = []
        try:
            await replica.ready()
            base = f"http://127.0.0.1:{replica.port}"
            hooks = ("ORDER", "ORDER_UPDATE", "RETURN", "BOPIS_EXPORT", "BOFIS_EXPORT", "STORE_FULFILLMENT")
            await stack.pos_admin("POST", "webhooks", {"urls": {h: replica.url(h) for h in hooks},
                                                       "headers": {"Authorization": f"Bearer {found['webhook_key']}"}})
            created = await stack.sf_admin("POST", "scenario/orders", {"count": 6, "kind": "BOPIS", "store": "256"})
            fos = {o["fulfillment_order_id"] for o in created["orders"]}
            sales = [await stack.pos_admin("POST", "sales", {"kind": kind, "tender": tender})
                     for kind, tender in (("in_store", "card"), ("pickup_later", "cash"), ("endless_aisle", "wallet"))]
            await stack.sf_admin("POST", "faults", {"error_rate": 0.3, "seed": 8})
            await stack.sf_admin("POST", "tokens/revoke")
            await stack.pos_admin("POST", "tokens/revoke")
            await asyncio.sleep(1.0)
            await stack.sf_admin("DELETE", "faults")
            fos |= {o["fulfillment_order_id"] for o in (await stack.sf_admin(
                "POST", "scenario/orders", {"count": 4, "kind": "BOPIS", "store": "256"}))["orders"]}

            async def all_imported() -> bool:
                return fos <= set(await imported_ids(stack))

            await eventually(all_imported, timeout=60, what="orders imported")
            in_pos = {o["externalOrderId"]: o["orderId"] for o in (await stack.pos_admin("GET", "orders"))["orders"]}
            for fo, events in zip(sorted(fos), (["PACK"], ["PACK", "DELIVERED"], ["CANCELED"]), strict=False):
                for event in events:
                    await stack.pos_admin("POST", f"fulfillmentorders/{in_pos[fo]}/events", {"eventType": event})

            async def all_posted() -> bool:
                rows = (await stack.sf_admin("GET", "records/Order"))["records"]
                return {s["orderId"] for s in sales} <= {r.get("OrderReferenceNumber") for r in rows}

            await eventually(all_posted, timeout=60, what="sales posted")
            wanted = dict(zip(sorted(fos), ("Pickpack", "Fulfilled", "Cancelled"), strict=False))

            async def written_back() -> bool:
                rows = (await stack.sf_admin("GET", "records/FulfillmentOrder"))["records"]
                return wanted.items() <= {(r["Id"], r["Status"]) for r in rows}

            await eventually(written_back, timeout=60, what="statuses written back")
            assert (await stack.pos_admin("GET", "stats"))["unauthorized"] >= 1  # the revoked POS token was refused
            # Wrong keys are refused without echoing what was presented or expected.
            for key in (found["spi_key"], "wrong-" + found["spi_key"]):
                async with stack.http.get(f"{base}/spi/1.0/orders/search", params={"api_key": key,
                                                                                    "LastName": "Lee"}) as resp:
                    seen.append(await resp.text())
            async with stack.http.post(f"{base}/webhooks/pos/ORDER", json={},
                                       headers={"Authorization": f"Bearer x{found['webhook_key']}"}) as resp:
                assert resp.status == 401
                seen.append(await resp.text())
            for path in ("healthz", "readyz", "metrics"):
                async with stack.http.get(f"{base}/{path}") as resp:
                    seen.append(await resp.text())
            command = [sys.executable, "-m", "worker.cli", "check-config", "--config", str(replica.config)]
            check = await asyncio.to_thread(subprocess.run, command, capture_output=True, text=True, cwd=ROOT,
                                            timeout=60, check=True)
            seen += [check.stdout, check.stderr]
            assert len(issued) >= 4, "both emulators issue a token at start and again after the revocation"
            assert await replica.terminate() == 0
        finally:
            await replica.stop_quietly()
        log = replica.log.read_text()
        assert '"fo_imported"' in log and '"sale_posted"' in log and '"fo_status_patched"' in log
        assert leaks(log, [*found.values(), *issued]) == [], "a secret or token is in the worker's log"
        assert leaks("\n".join(seen), [*found.values(), *issued]) == [], "a secret is in an HTTP answer or CLI output"


def test_no_worker_log_of_this_session_holds_a_secret(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Every worker log the e2e tests wrote in this session is free of the harness secrets and of access tokens."""
    logs = sorted({path.resolve() for path in tmp_path_factory.getbasetemp().rglob("*.log")})  # "current" links
    if not logs:
        pytest.skip("no e2e test wrote a worker log in this session")
    offending = {str(path): found for path in logs
                 if (found := leaks(path.read_text(errors="replace"), HARNESS_SECRETS))}
    assert offending == {}
