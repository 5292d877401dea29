"""The GraphQL POS client, on ``gql`` with its aiohttp transport.

Every call goes through :meth:`GraphqlPos._request`: the OIDC bearer header (:mod:`.oidc`), the worker's retry
policy (:func:`worker.retry.retrying`; a query is a read, so a lost answer is simply asked again; a mutation is
not idempotent, so one sent without a GraphQL answer — no answer, a timeout, a 5xx or non-GraphQL page — is
:class:`~worker.errors.OutcomeUnknown` and never resent; the kind is read from the document, not the caller),
one ``pos_graphql_request`` log event per attempt (operation, outcome, duration; never headers, variables or
data) and error mapping through :func:`worker.errors.graphql_error`:

* GraphQL ``errors`` (any HTTP status with a JSON body) -> by ``extensions.code``: FORBIDDEN permanent, naming
  the missing permission; UNAUTHENTICATED -> the token is refreshed once and the call repeated; RATE_LIMITED
  and unavailability transient (``Retry-After`` honoured);
* an answer that is not GraphQL JSON -> by HTTP status (5xx/429/408 transient, others permanent);
* no connection or no answer -> transient;
* refused client credentials (:class:`~worker.auth_hold.CredentialsRefused`) are raised at once, never retried.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import structlog
from gql import Client, GraphQLRequest
from gql.client import AsyncClientSession
from gql.transport.aiohttp import AIOHTTPTransport
from gql.transport.exceptions import (
    TransportConnectionFailed,
    TransportError,
    TransportProtocolError,
    TransportQueryError,
    TransportServerError,
)
from graphql import OperationType, get_operation_ast, parse

from worker.auth_hold import CredentialsRefused
from worker.config import PosConfig
from worker.errors import (
    AuthenticationError,
    LimitExceeded,
    OutcomeUnknown,
    PermanentError,
    ServiceError,
    TransientError,
    graphql_error,
)
from worker.mapping.money import ms_to_sf_datetime
from worker.retry import RetryPolicy, retrying

from .oidc import OidcClientCredentials
from .queries import CUSTOMER, ENVIRONMENT, LOCATION, SALE_HISTORY
from .schema_check import INTROSPECTION, check_schema

log = structlog.get_logger(__name__)
DEFAULT_RETRY = RetryPolicy(attempts=4, base_delay=0.5, max_delay=30.0)


class _Final(Exception):
    def __init__(self, error: ServiceError) -> None:
        super().__init__(str(error))
        self.error = error


def instant(ms: int) -> str:
    """Epoch milliseconds as the API's since/until value (ISO 8601 UTC with milliseconds)."""
    return ms_to_sf_datetime(ms)  # the same ISO 8601 text as a Salesforce datetime


@functools.cache
def _is_query(document: str) -> bool:
    """Whether the document's operation is a query (idempotent); a mutation or anything unclear is not."""
    operation = get_operation_ast(parse(document))
    return operation is not None and operation.operation is OperationType.QUERY


def _retry_after(headers: Any) -> float | None:
    value = headers.get("Retry-After") if headers is not None else None
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None


class GraphqlPos:
    """Talks to the GraphQL POS; built once per process (``connect`` before use, ``close`` after)."""

    def __init__(self, config: PosConfig, session: aiohttp.ClientSession, *, retry: RetryPolicy | None = None,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 clock: Callable[[], float] = time.time) -> None:
        if config.graphql is None:
            raise ValueError("pos.graphql: required for pos.backend graphql")
        self._config = config.graphql
        self.auth = OidcClientCredentials(self._config, session, clock=clock)
        self._transport = AIOHTTPTransport(url=self._config.url, timeout=int(self._config.timeout_seconds) or 1)
        self._client = Client(transport=self._transport, execute_timeout=self._config.timeout_seconds)
        self._session: AsyncClientSession | None = None
        self._retry, self._sleep = retry or DEFAULT_RETRY, sleep
        self._open_lock = asyncio.Lock()

    def __repr__(self) -> str:
        return f"GraphqlPos(url={self._config.url!r})"

    async def close(self) -> None:
        if self._session is not None:
            self._session = None
            await self._client.close_async()  # type: ignore[no-untyped-call]

    async def _connected(self) -> AsyncClientSession:
        async with self._open_lock:
            if self._session is None:
                self._session = await self._client.connect_async(reconnecting=False)  # type: ignore[no-untyped-call]
            return self._session

    # ------------------------------------------------------------------ transport

    async def _request(self, document: str, operation: str, variables: dict[str, Any] | None = None) -> Any:
        """One logical call; returns ``data``."""
        request = GraphQLRequest(document, variable_values=variables)
        idempotent = _is_query(document)
        attempt = 0

        async def send_once() -> Any:
            nonlocal attempt
            refreshed = False
            while True:
                attempt += 1
                try:
                    headers = await self.auth.headers()
                except CredentialsRefused as exc:
                    raise _Final(exc) from None
                try:
                    return await self._send(request, operation, headers, attempt, idempotent)
                except OutcomeUnknown as exc:
                    raise _Final(exc) from None
                except AuthenticationError:
                    if refreshed:
                        raise
                    refreshed = True
                    self.auth.invalidate(headers)  # one fresh token, then once more at once

        try:
            return await retrying(self._retry, send_once, what=f"pos_graphql {operation}", sleep=self._sleep)
        except _Final as final:
            raise final.error from None

    async def _send(self, request: GraphQLRequest, operation: str, headers: dict[str, str], attempt: int,
                    idempotent: bool) -> Any:
        session = await self._connected()
        started, outcome = time.perf_counter(), "ok"

        def unknown(error: ServiceError) -> ServiceError:  # a mutation may have run: say so, never resend it
            if idempotent or not isinstance(error, TransientError) or isinstance(error, LimitExceeded):
                return error
            return OutcomeUnknown("pos", f"mutation {operation} sent but no GraphQL answer ({error.message}); "
                                  "look before sending it again", status=error.status)

        try:
            return await session.execute(request, extra_args={"headers": headers})
        except TransportQueryError as exc:  # the server answered in GraphQL: its code says what happened
            error = graphql_error(exc.errors, retry_after=_retry_after(self._transport.response_headers))
            outcome = error.code or "error"
            raise error from None
        except TransportServerError as exc:
            outcome = f"http_{exc.code}"
            raise unknown(graphql_error([], status=exc.code,
                                        retry_after=_retry_after(self._transport.response_headers))) from None
        except TransportProtocolError as exc:
            outcome = "not_graphql"
            raise unknown(TransientError("pos", f"not a GraphQL answer: {str(exc)[:200]}")) from None
        except aiohttp.ClientConnectorError as exc:  # never connected: nothing reached the POS, safe to resend
            outcome = "unreachable"
            raise TransientError("pos", f"GraphQL POS unreachable ({type(exc).__name__})") from None
        except (TransportConnectionFailed, aiohttp.ClientError, TimeoutError) as exc:
            outcome = "unreachable"
            raise unknown(TransientError("pos", f"GraphQL POS unreachable ({type(exc).__name__})")) from None
        except TransportError as exc:  # closed or already connected: the session is gone, open a new one
            outcome = "transport"
            self._session = None
            raise TransientError("pos", f"GraphQL transport: {type(exc).__name__}") from None
        finally:
            log.info("pos_graphql_request", operation=operation, outcome=outcome, attempt=attempt,
                     duration_ms=round((time.perf_counter() - started) * 1000, 1))

    # ------------------------------------------------------------------ the API

    async def environment(self) -> dict[str, Any]:
        data = await self._request(ENVIRONMENT, "Environment")
        return dict(data["environment"])

    async def ping(self) -> None:
        await self.environment()

    async def check_schema(self) -> None:
        """Introspect the server and validate every document the worker sends (SchemaMismatch names the field)."""
        data = await self._request(INTROSPECTION, "IntrospectionQuery")
        if not isinstance(data, dict) or "__schema" not in data:
            raise PermanentError("pos", "GraphQL introspection answered without __schema (is introspection off?)")
        check_schema(data)

    async def sale_page(self, since_ms: int, until_ms: int, first: int,
                        after: str | None) -> tuple[list[dict[str, Any]], str | None, bool]:
        """One page of sale history: (sales, endCursor, hasNextPage)."""
        data = await self._request(SALE_HISTORY, "SaleHistory", {
            "since": instant(since_ms), "until": instant(until_ms), "first": first, "after": after})
        connection = data["sale"]
        info = connection["pageInfo"]
        return list(connection["nodes"]), info.get("endCursor"), bool(info["hasNextPage"])

    async def customer(self, customer_id: str) -> dict[str, Any] | None:
        data = await self._request(CUSTOMER, "Customer", {"id": customer_id})
        found = data.get("customer")
        return dict(found) if isinstance(found, dict) else None

    async def location(self, location_id: str) -> dict[str, Any] | None:
        data = await self._request(LOCATION, "Location", {"id": location_id})
        found = data.get("location")
        return dict(found) if isinstance(found, dict) else None
