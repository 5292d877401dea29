"""``oms-worker check-config --live``: prove the configuration works against the real org and POS.

Each check prints PASS or FAIL with a short reason; the exit code is 1 if any failed. Secrets never printed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import aiohttp

from worker.config import Config
from worker.mapping.fulfillment_query import build_reconcile_query
from worker.pos.client import PosClient
from worker.retry import RetryPolicy
from worker.salesforce.auth import TokenProvider, make_ssl_context
from worker.salesforce.rest import SalesforceRest
from worker.salesforce.stream import probe_subscription

Check = tuple[str, Callable[[], Awaitable[str]]]


async def run_live_checks(config: Config, *, out: Callable[[str], None] = print) -> int:
    ssl_context = make_ssl_context(config.salesforce)
    connector = aiohttp.TCPConnector(ssl=ssl_context if ssl_context is not None else True)
    retry = RetryPolicy(attempts=2, base_delay=0.2, max_delay=1.0)
    async with aiohttp.ClientSession(connector=connector) as session:
        tokens = TokenProvider(config.salesforce, config.auth, session)
        sf = SalesforceRest(config.salesforce, tokens, session, retry=retry)
        pos = PosClient(config.pos, session, retry=retry)
        sfc = config.salesforce

        async def login() -> str:
            token = await tokens.token()
            return f"token issued for {token.instance_url}"

        async def channel() -> str:
            await probe_subscription(sfc, tokens, config.worker.stream.channel)
            return f"subscribed to {config.worker.stream.channel}"

        async def filter_query() -> str:
            soql = build_reconcile_query(sfc.OMSStatusesToProcess, sfc.FilterQuery, None, 1)
            rows = await sf.query(soql)
            return f"FilterQuery runs ({len(rows)} row(s) with LIMIT 1)"

        async def statuses() -> str:
            describe = await sf.describe("FulfillmentOrder")
            field = next(f for f in describe["fields"] if f["name"] == "Status")
            values = {str(v["value"]).casefold() for v in field.get("picklistValues", []) if v.get("active", True)}
            wanted = [*sfc.OMSStatusesToProcess, sfc.OMSStatusCanceledValue, *config.worker.status_mapping.values()]
            missing = sorted({s for s in wanted if s.casefold() not in values})
            if missing:
                raise ValueError(f"not in the FulfillmentOrder Status picklist: {', '.join(missing)}")
            return f"{len(set(wanted))} configured statuses exist"

        async def pos_reachable() -> str:
            await pos.ping()
            return f"POS answers ({config.pos.environment}, {config.pos.auth.mode})"

        checks: list[Check] = [
            ("salesforce login", login), ("stream channel", channel), ("FilterQuery", filter_query),
            ("FO statuses", statuses), ("POS", pos_reachable),
        ]
        failed = 0
        out(f"{'check':<18} {'result':<6} detail")
        for name, check in checks:
            try:
                async with asyncio.timeout(30):
                    detail = await check()
                out(f"{name:<18} {'PASS':<6} {detail}")
            except Exception as exc:
                failed += 1
                out(f"{name:<18} {'FAIL':<6} {type(exc).__name__}: {exc}")
        await pos.close()
        out(f"{len(checks) - failed}/{len(checks)} checks passed")
        return 1 if failed else 0
