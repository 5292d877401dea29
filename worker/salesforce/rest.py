"""Salesforce REST: query, sObjects, Composite, Composite Graph, sObject Collections, Connect (OMS) actions.

Every call goes through :meth:`SalesforceRest._request`, the one place that adds the token, re-authenticates
once on 401, maps answers to the error tree (:func:`worker.errors.salesforce_error`), reads
``Sforce-Limit-Info``, retries by policy and logs one ``salesforce_request`` event per HTTP request.

Retry rules (data: :class:`SalesforceRetry`):

* GET / PATCH / DELETE are idempotent: transient answers (5xx, UNABLE_TO_LOCK_ROW) and network failures retry.
* POST (create, composite, composite graph, Connect actions) is not: a failure *after the request may have
  been sent* (timeout, dropped connection, 502/504 from a gateway) raises
  :class:`~worker.errors.OutcomeUnknown`, never retried here; the caller looks before posting again. A POST
  the server provably refused (connection never opened, 503, UNABLE_TO_LOCK_ROW, other error answers:
  Salesforce rolled the transaction back) retries.
* 401 / INVALID_SESSION_ID: invalidate the token, fetch a new one and resend once (the request was refused,
  so this is safe even for POST).
* 403 REQUEST_LIMIT_EXCEEDED (and Connect 429) raise :class:`~worker.errors.LimitExceeded` at once: the flows
  pause outbound work instead of hammering a spent allowance.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, fields
from typing import Any

import aiohttp
import structlog

from worker.config import SalesforceConfig
from worker.errors import (
    SALESFORCE_AUTH_CODES,
    SALESFORCE_TRANSIENT_CODES,
    AuthenticationError,
    LimitExceeded,
    OutcomeUnknown,
    PermanentError,
    ServiceError,
    TransientError,
    salesforce_error,
)
from worker.retry import RetryPolicy, retrying
from worker.salesforce.auth import TokenProvider
from worker.salesforce.results import (
    GraphResult,
    LimitInfo,
    SaveResult,
    error_pairs,
    parse_graph_results,
    parse_limit_info,
    parse_save_results,
)

log = structlog.get_logger(__name__)

MAX_GRAPHS, MAX_GRAPH_NODES, MAX_COMPOSITE, MAX_COLLECTION = 75, 500, 25, 200
_ID_SEGMENT = re.compile(r"^(?=[A-Za-z0-9]*\d)([A-Za-z0-9]{15}|[A-Za-z0-9]{18})$")


@dataclass(frozen=True)
class SalesforceRetry(RetryPolicy):
    """Retries ``retry_on`` except ``never``: spent allowance, unknown POST outcome, refused credentials."""

    never: tuple[type[BaseException], ...] = (LimitExceeded, OutcomeUnknown, AuthenticationError)

    def retries(self, exc: BaseException) -> bool:
        return isinstance(exc, self.retry_on) and not isinstance(exc, self.never)

    @classmethod
    def from_policy(cls, policy: RetryPolicy) -> SalesforceRetry:
        return cls(**{f.name: getattr(policy, f.name) for f in fields(RetryPolicy)})


def path_template(path: str) -> str:
    """A path safe to log: record ids become ``{id}`` (query text is never part of a path)."""
    return "/".join("{id}" if _ID_SEGMENT.match(part) else part for part in path.split("/"))


class SalesforceRest:
    """Async Salesforce REST client over one shared aiohttp session."""

    def __init__(self, sf: SalesforceConfig, tokens: TokenProvider, session: aiohttp.ClientSession, *,
                 retry: RetryPolicy) -> None:
        self._sf = sf
        self._tokens = tokens
        self._session = session
        self._retry = SalesforceRetry.from_policy(retry)
        self._timeout = aiohttp.ClientTimeout(total=sf.request_timeout_seconds)
        self._limits: LimitInfo | None = None
        self.calls_made = 0  # HTTP requests sent (every attempt counts; Salesforce counts them too)

    def __repr__(self) -> str:
        return f"SalesforceRest(base={self._sf.base_url!r}, api={self._sf.ApiVersion!r})"

    @property
    def limits(self) -> LimitInfo | None:
        """The last ``Sforce-Limit-Info: api-usage=N/M`` seen (None before the first answer)."""
        return self._limits

    def low_on_limits(self, threshold_fraction: float = 0.05) -> bool:
        """True when fewer than ``threshold_fraction`` of the org's daily API calls remain."""
        return self._limits is not None and self._limits.low(threshold_fraction)

    def _data(self, rest: str, version: str | None = None) -> str:
        return f"/services/data/{version or self._sf.ApiVersion}/{rest.lstrip('/')}"

    # ---- query -----------------------------------------------------------------------------------------
    async def query(self, soql: str) -> list[dict[str, Any]]:
        """All rows of ``soql`` (follows ``nextRecordsUrl``); build ``soql`` with ``soql.quote_soql``."""
        return [record async for record in self.query_iter(soql)]

    async def query_iter(self, soql: str) -> AsyncIterator[dict[str, Any]]:
        """Rows of ``soql`` page by page (QueryApiVersion); the next page is fetched only when needed."""
        page = await self._request("GET", self._data("query", self._sf.QueryApiVersion), template="query",
                                   params={"q": soql})
        while True:
            if not isinstance(page, dict):
                raise TransientError("salesforce", "query answer is not a JSON object")
            for record in page.get("records") or []:
                yield record
            next_url = page.get("nextRecordsUrl")
            if page.get("done", True) or not next_url:
                return
            if not str(next_url).startswith("/services/data/"):
                raise PermanentError("salesforce", "unexpected nextRecordsUrl in query answer")
            page = await self._request("GET", str(next_url), template="query/{locator}")

    # ---- sObjects --------------------------------------------------------------------------------------
    async def get(self, sobject: str, record_id: str, fields: list[str] | None = None) -> dict[str, Any]:
        params = {"fields": ",".join(fields)} if fields else None
        body = await self._request("GET", self._data(f"sobjects/{sobject}/{record_id}"),
                                   template=f"sobjects/{sobject}/{{id}}", params=params)
        return dict(body or {})

    async def create(self, sobject: str, fields: dict[str, Any]) -> str:
        """POST one record; returns its id. A lost answer raises OutcomeUnknown (look before re-posting)."""
        body = await self._request("POST", self._data(f"sobjects/{sobject}"), template=f"sobjects/{sobject}",
                                   body=fields)
        if not isinstance(body, dict) or not body.get("id"):
            code, message = (error_pairs(body.get("errors")) or [("UNKNOWN_ERROR", "create failed")])[0] \
                if isinstance(body, dict) else ("UNKNOWN_ERROR", "create answered without an id")
            raise PermanentError("salesforce", message, code=code)
        return str(body["id"])

    async def update(self, sobject: str, record_id: str, fields: dict[str, Any]) -> None:
        """PATCH one record (204, idempotent)."""
        await self._request("PATCH", self._data(f"sobjects/{sobject}/{record_id}"),
                            template=f"sobjects/{sobject}/{{id}}", body=fields)

    async def describe(self, sobject: str) -> dict[str, Any]:
        body = await self._request("GET", self._data(f"sobjects/{sobject}/describe"),
                                   template=f"sobjects/{sobject}/describe")
        return dict(body or {})

    # ---- composite -------------------------------------------------------------------------------------
    async def composite_graph(self, graphs: list[dict[str, Any]]) -> list[GraphResult]:
        """POST ``/composite/graph``; each graph commits or rolls back whole; lost answers not retried."""
        nodes = sum(len(graph.get("compositeRequest") or []) for graph in graphs)
        if not graphs or len(graphs) > MAX_GRAPHS or nodes > MAX_GRAPH_NODES:
            raise PermanentError("salesforce", f"composite graph limits: 1..{MAX_GRAPHS} graphs and at most "
                                 f"{MAX_GRAPH_NODES} nodes (got {len(graphs)} graphs, {nodes} nodes)",
                                 code="GRAPH_LIMIT")
        body = await self._request("POST", self._data("composite/graph", self._sf.graph_api_version),
                                   template="composite/graph", body={"graphs": graphs})
        try:
            return parse_graph_results(body)
        except (ValueError, AttributeError, TypeError) as exc:
            raise OutcomeUnknown("salesforce", f"unreadable composite graph answer ({exc})") from None

    async def composite(self, requests: list[dict[str, Any]], all_or_none: bool) -> list[dict[str, Any]]:
        """POST ``/composite`` (up to 25 subrequests); returns the ``compositeResponse`` array."""
        if not requests or len(requests) > MAX_COMPOSITE:
            raise PermanentError("salesforce", f"composite takes 1..{MAX_COMPOSITE} subrequests, "
                                 f"got {len(requests)}", code="COMPOSITE_LIMIT")
        body = await self._request("POST", self._data("composite"), template="composite",
                                   body={"allOrNone": all_or_none, "compositeRequest": requests})
        responses = body.get("compositeResponse") if isinstance(body, dict) else None
        if not isinstance(responses, list):
            raise OutcomeUnknown("salesforce", "composite answer has no compositeResponse array")
        return [dict(item) for item in responses]

    async def collections_update(self, records: list[dict[str, Any]],
                                 all_or_none: bool = False) -> list[SaveResult]:
        """PATCH ``/composite/sobjects`` (up to 200 records, each with ``attributes.type`` and ``id``)."""
        if not records or len(records) > MAX_COLLECTION:
            raise PermanentError("salesforce", f"sObject Collections take 1..{MAX_COLLECTION} records, "
                                 f"got {len(records)}", code="COLLECTION_LIMIT")
        body = await self._request("PATCH", self._data("composite/sobjects"), template="composite/sobjects",
                                   body={"allOrNone": all_or_none, "records": records})
        try:
            return parse_save_results(body)
        except ValueError as exc:
            raise TransientError("salesforce", str(exc)) from None

    # ---- Connect (OMS actions) -------------------------------------------------------------------------
    async def connect(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST a Connect/OMS action under ``/services/data/vXX.X/``; ``success: false`` raises."""
        full = path if path.startswith("/services/") else self._data(path)
        answer = await self._request("POST", full, template=path_template(full.split("/", 4)[-1]), body=body)
        answer = answer if isinstance(answer, dict) else {}
        if answer.get("success") is False:
            code, message = (error_pairs(answer.get("errors")) or [("UNKNOWN_ERROR", "action failed")])[0]
            kind = TransientError if code in SALESFORCE_TRANSIENT_CODES else PermanentError
            raise kind("salesforce", message, code=code)
        return answer

    # ---- the one request path --------------------------------------------------------------------------
    async def _request(self, method: str, path: str, *, template: str, params: dict[str, str] | None = None,
                       body: Any = None, idempotent: bool | None = None) -> Any:
        """Send one logical request (with re-auth and retries); returns the decoded JSON (None for 204)."""
        idempotent = method != "POST" if idempotent is None else idempotent
        data = json.dumps(body) if body is not None else None
        attempt = 0

        async def once() -> Any:
            nonlocal attempt
            reauthed = False
            while True:
                attempt += 1
                token = await self._tokens.token()
                headers = {"Authorization": f"Bearer {token.access_token}", "Accept": "application/json"}
                if data is not None:
                    headers["Content-Type"] = "application/json"
                started, status = time.monotonic(), None
                self.calls_made += 1
                try:
                    url = f"{token.instance_url or self._sf.base_url}{path}"
                    async with self._session.request(method, url, params=params, data=data, headers=headers,
                                                     timeout=self._timeout) as resp:
                        status = resp.status
                        self._limits = parse_limit_info(resp.headers.get("Sforce-Limit-Info")) or self._limits
                        text = await resp.text()
                except (aiohttp.ClientError, TimeoutError) as exc:
                    error = _transport_error(exc, method, idempotent)
                    _log(method, template, status, started, attempt, error)
                    raise error from None
                decoded = _decode(text)
                if status < 300:
                    _log(method, template, status, started, attempt, None)
                    return decoded
                error = salesforce_error(status, decoded)
                if not idempotent and status in (502, 504):
                    error = OutcomeUnknown("salesforce", f"{method} got gateway {status}; outcome unknown",
                                           status=status)
                _log(method, template, status, started, attempt, error)
                if isinstance(error, AuthenticationError) and not reauthed and (
                        status == 401 or error.code in SALESFORCE_AUTH_CODES):
                    reauthed = True
                    await self._tokens.invalidate(token)
                    continue
                raise error

        return await retrying(self._retry, once, what=f"salesforce {method} {template}")


def _transport_error(exc: BaseException, method: str, idempotent: bool) -> ServiceError:
    kind = type(exc).__name__
    never_sent = isinstance(exc, aiohttp.ClientConnectorError | aiohttp.ConnectionTimeoutError)
    if idempotent or never_sent:
        return TransientError("salesforce", f"{method} failed before an answer ({kind})")
    return OutcomeUnknown("salesforce", f"{method} sent but no answer arrived ({kind}); outcome unknown")


def _decode(text: str) -> Any:
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text[:500]


def _log(method: str, template: str, status: int | None, started: float, attempt: int,
         error: ServiceError | None) -> None:
    fields: dict[str, Any] = {"method": method, "path": template, "status": status, "attempt": attempt,
                              "duration_ms": int((time.monotonic() - started) * 1000)}
    if error is not None:
        fields.update(error=type(error).__name__, code=error.code)
        log.warning("salesforce_request", **fields)
    else:
        log.info("salesforce_request", **fields)
