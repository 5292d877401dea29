"""``oms-worker check-config --live`` and the start-up pre-flight: the configuration against the org and the POS.

Each check is PASS or FAIL; a failure names the configuration key it concerns:

* salesforce login; stream channel (CLI only: the running worker's stream reports on itself);
* OMSCustomField: each field exists on the object its ``applyTo`` names (describe), e.g. Location.warehouseID__c;
* Person Accounts: Account has IsPersonAccount and PersonEmail (a prerequisite: customers are found by PersonEmail);
* setup records: present, or creatable by the worker at run time (:mod:`worker.setup_check`);
* FilterQuery: runs against FulfillmentOrder (``LIMIT 1``);
* FO statuses: OMSStatusesToProcess, OMSStatusCanceledValue and worker.status_mapping are Status picklist values;
* POS: one authenticated call (GraphQL back-end: ``environment``), and for ``pos.backend: graphql`` the server's
  schema against the worker's queries (a mismatch names the type and field) and the permissions those queries
  need; FilterQuery and FO statuses belong to fulfillment import, which that back-end does not run.

``check-config --live`` prints the result table and nothing else (logs at ERROR only, on stderr) and exits 1 when a
check failed. At start the worker runs the same checks once, without the stream probe, and logs each result: a
failure is a warning, never an exit (a dependency outage does not end the process). Secrets are never printed.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, cast

import aiohttp
import structlog

from worker.config import Config, SalesforceConfig
from worker.errors import PermanentError
from worker.logging import configure_logging
from worker.mapping.fulfillment_query import build_reconcile_query
from worker.pos.client import PosClient
from worker.pos_backend import open_pos
from worker.retry import RetryPolicy
from worker.salesforce.auth import TokenProvider, make_ssl_context
from worker.salesforce.cometd import quiet_cancelled_connect
from worker.salesforce.rest import SalesforceRest
from worker.salesforce.stream import probe_subscription
from worker.setup_check import SetupApi, survey

if TYPE_CHECKING:
    from worker.pos_graphql.client import GraphqlPos

log = structlog.get_logger(__name__)
Check = tuple[str, Callable[[], Awaitable[str]]]
APPLY_TO = {"LOCATION": "Location", "FULFILLMENT_ORDER": "FulfillmentOrder", "ORDER_SUMMARY": "OrderSummary",
            "FULFILLMENT_ORDER_LINE_ITEM": "FulfillmentOrderLineItem"}
PERSON_ACCOUNT_FIELDS = ("IsPersonAccount", "PersonEmail")


class Problem(Exception):
    """A failed check whose message names the configuration key (printed as is)."""


class Pingable(Protocol):
    async def ping(self) -> None: ...


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    detail: str


def field_names(describe: Mapping[str, Any]) -> set[str]:
    return {str(f.get("name")) for f in describe.get("fields") or []}


def custom_field_problems(sf: SalesforceConfig, fields: Mapping[str, set[str]]) -> list[str]:
    """Each OMSCustomField entry's field on each object it applies to; ``fields``: object -> its field names."""
    found = []
    for i, entry in enumerate(sf.OMSCustomField):
        for target in entry.applyTo:
            sobject = APPLY_TO[target]
            names = {n.casefold() for n in fields.get(sobject, set())}
            if entry.omsFieldName.casefold() not in names:
                found.append(f"salesforce.OMSCustomField.{i}.omsFieldName: {sobject} has no field "
                             f"{entry.omsFieldName} (the {entry.posField} source; check its API name)")
    return found


def person_account_problem(account_fields: set[str]) -> str | None:
    missing = [name for name in PERSON_ACCOUNT_FIELDS if name not in account_fields]
    if not missing:
        return None
    return (f"salesforce.UrlBase: Person Accounts are off in this org (Account has no {', '.join(missing)}); "
            "they are a prerequisite: customers are looked up by PersonEmail")


def status_problems(config: Config, values: set[str]) -> list[str]:
    """Configured FulfillmentOrder statuses that are not Status picklist values (case-insensitive)."""
    have = {v.casefold() for v in values}
    spelled = {"canceled", "cancelled"}
    wanted = [("salesforce.OMSStatusesToProcess", s, s.casefold() in spelled)
              for s in config.salesforce.OMSStatusesToProcess]
    wanted.append(("salesforce.OMSStatusCanceledValue", config.salesforce.OMSStatusCanceledValue, False))
    wanted += [(f"worker.status_mapping.{event}", s, False) for event, s in config.worker.status_mapping.items()]
    found = []
    for key, status, either in wanted:
        if status.casefold() not in have and not (either and have & spelled):
            found.append(f'{key}: "{status}" is not a FulfillmentOrder Status value')
    return found


def preflight_checks(config: Config, sf: SetupApi, pos: Pingable, tokens: TokenProvider, *,
                     stream: bool) -> list[Check]:
    sfc = config.salesforce
    graphql = _graphql_client(pos)

    async def login() -> str:
        token = await tokens.token()
        return f"token issued for {token.instance_url}"

    async def channel() -> str:
        stream = config.worker.stream
        if stream.transport == "pubsub":
            from worker.salesforce.pubsub_rpc import probe_topic  # grpc is imported only for this transport

            return f"transport pubsub: {await probe_topic(sfc, tokens, stream.pubsub, stream.channel)}"
        await probe_subscription(sfc, tokens, stream.channel)
        return f"transport cometd: subscribed to {stream.channel}"

    async def custom_fields() -> str:
        objects = sorted({APPLY_TO[t] for entry in sfc.OMSCustomField for t in entry.applyTo})
        described = await asyncio.gather(*(sf.describe(name) for name in objects))
        found = custom_field_problems(sfc, {o: field_names(d) for o, d in zip(objects, described, strict=True)})
        if found:
            raise Problem("; ".join(found))
        return "found: " + ", ".join(f"{APPLY_TO[t]}.{e.omsFieldName}" for e in sfc.OMSCustomField for t in e.applyTo)

    async def person_accounts() -> str:
        problem = person_account_problem(field_names(await sf.describe("Account")))
        if problem:
            raise Problem(problem)
        return "on (Account has IsPersonAccount, PersonEmail)"

    async def setup_records() -> str:
        records, found = await survey(sf, config)
        if found:
            raise Problem("; ".join(found))
        missing = [f"{r.sobject} {r.name}" for r in records if r.record_id is None]
        if missing:
            return "created by the first sale (or oms-worker setup --apply): " + ", ".join(missing)
        return f"{len(records)} present"

    async def filter_query() -> str:
        soql = build_reconcile_query(sfc.OMSStatusesToProcess, sfc.FilterQuery, None, 1)
        try:
            rows = await sf.query(soql)
        except PermanentError as exc:  # the query was refused (MALFORMED_QUERY, INVALID_FIELD, ...)
            raise Problem(f"salesforce.FilterQuery: does not run against FulfillmentOrder: {exc}") from None
        return f"runs against FulfillmentOrder ({len(rows)} row(s) with LIMIT 1)"

    async def statuses() -> str:
        describe = await sf.describe("FulfillmentOrder")
        field: dict[str, Any] = next((f for f in describe.get("fields") or [] if f.get("name") == "Status"), {})
        values = {str(v["value"]) for v in field.get("picklistValues") or [] if v.get("active", True)}
        found = status_problems(config, values)
        if found:
            raise Problem("; ".join(found))
        return "configured statuses exist"

    async def pos_reachable() -> str:
        await pos.ping()
        if graphql is not None:
            env = await graphql.environment()
            return f"POS answers (graphql, environment {env.get('name')!r}, API {env.get('apiVersion')})"
        return f"POS answers ({config.pos.environment}, {config.pos.rest_auth.mode})"

    checks: list[Check] = [("salesforce login", login)]
    if stream and config.pos.backend == "retail_cloud":
        checks.append(("stream channel", channel))
    checks += [("OMSCustomField", custom_fields), ("Person Accounts", person_accounts),
               ("setup records", setup_records)]
    if config.pos.backend == "retail_cloud":
        checks += [("FilterQuery", filter_query), ("FO statuses", statuses)]
    checks.append(("POS", pos_reachable))
    if graphql is not None:
        checks += graphql_checks(graphql)
    return checks


def _graphql_client(pos: Pingable) -> GraphqlPos | None:
    """``pos`` if it is the GraphQL POS client (whose module is loaded only with that back-end), else None."""
    module = sys.modules.get("worker.pos_graphql.client")
    return cast("GraphqlPos", pos) if module is not None and isinstance(pos, module.GraphqlPos) else None


def graphql_checks(pos: GraphqlPos) -> list[Check]:
    """The GraphQL POS: its schema against the worker's queries, and the permissions they need."""

    async def schema() -> str:
        try:
            await pos.check_schema()
        except PermanentError as exc:
            raise Problem(f"pos.graphql.url: {exc.message}") from None
        return "the worker's queries validate against the server's schema"

    async def permissions() -> str:
        now = int(time.time() * 1000)
        try:  # an empty window and ids that match nothing: only the permission is tested
            await pos.sale_page(now, now, 1, None)
            await pos.customer("-")
            await pos.location("-")
        except PermanentError as exc:
            raise Problem(f"pos.graphql.client_id: {exc.message}") from None
        return "sale, customer and location answer for this client"

    return [("POS schema", schema), ("POS permissions", permissions)]


async def run_checks(checks: list[Check], *, stop: asyncio.Event | None = None,
                     timeout: float = 30.0) -> AsyncIterator[CheckResult]:
    for name, check in checks:
        if stop is not None and stop.is_set():
            return
        try:
            async with asyncio.timeout(timeout):
                result = CheckResult(name, True, await check())
        except Problem as exc:
            result = CheckResult(name, False, str(exc))
        except TimeoutError:
            result = CheckResult(name, False, f"no answer within {timeout:g} s")
        except Exception as exc:
            result = CheckResult(name, False, f"{type(exc).__name__}: {exc}")
        yield CheckResult(result.name, result.ok, " ".join(result.detail.split()))  # one line per check


@asynccontextmanager
async def cli_clients(config: Config) -> AsyncIterator[tuple[TokenProvider, SalesforceRest, PosClient | GraphqlPos]]:
    """Salesforce and POS clients for a one-shot command (few retries: a person is waiting)."""
    ssl_context = make_ssl_context(config.salesforce)
    connector = aiohttp.TCPConnector(ssl=ssl_context if ssl_context is not None else True)
    retry = RetryPolicy(attempts=2, base_delay=0.2, max_delay=1.0)
    async with aiohttp.ClientSession(connector=connector) as session:
        tokens = TokenProvider(config.salesforce, config.auth, session)
        pos = open_pos(config.pos, session, retry=retry)
        try:
            yield tokens, SalesforceRest(config.salesforce, tokens, session, retry=retry), pos
        finally:
            await pos.close()


async def run_live_checks(config: Config, *, out: Callable[[str], None] = print) -> int:
    async with cli_clients(config) as (tokens, sf, pos):
        failed = total = 0
        out(f"{'check':<18} {'result':<6} detail")
        async for result in run_checks(preflight_checks(config, sf, pos, tokens, stream=True)):
            total += 1
            failed += not result.ok
            out(f"{result.name:<18} {'PASS' if result.ok else 'FAIL':<6} {result.detail}")
        out(f"{total - failed}/{total} checks passed")
        return 1 if failed else 0


def run_cli(config: Config, main: Callable[[], Awaitable[int]]) -> int:
    """Run a one-shot command quietly: logs only at ERROR on stderr, no asyncio callback noise (a failure
    propagates to the command line, which prints it as one line)."""
    configure_logging("ERROR", "json", secrets=config.secret_values(), stream=sys.stderr)

    async def quiet() -> int:
        quiet_cancelled_connect(asyncio.get_running_loop())
        return await main()

    return asyncio.run(quiet())


def check_live(config: Config) -> int:
    return run_cli(config, lambda: run_live_checks(config))


async def log_preflight(config: Config, sf: SetupApi, pos: Pingable, tokens: TokenProvider,
                        stop: asyncio.Event) -> None:
    """The start-up pre-flight: each result logged (a failure as a warning); never raises, never exits."""
    async for result in run_checks(preflight_checks(config, sf, pos, tokens, stream=False), stop=stop):
        if result.ok:
            log.info("preflight_passed", check=result.name, detail=result.detail)
        else:
            log.warning("preflight_failed", check=result.name, detail=result.detail)
