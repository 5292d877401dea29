"""One cached access token for a token provider (the Retail Cloud and GraphQL POS back-ends).

The token is reused until shortly before it expires (:func:`refresh_at`), then fetched again single-flight: one
lock for every caller, so callers that queued behind a fetch find the fresh token instead of sending their own.
:meth:`TokenCache.invalidate` forgets a token the server refused, but only while it still is the cached one, so
concurrent refusals cause one refresh, not one each. A fetch that raises :class:`~worker.errors.AuthenticationError`
(refused credentials) is held as :mod:`worker.auth_hold` says. The request itself is the back-end's, the reading
of its answer shared (:func:`token_from_answer`); the token value never appears in a repr.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from worker.auth_hold import OperatorHold
from worker.errors import AuthenticationError, PermanentError, TransientError

REFRESH_MARGIN_SECONDS = 60.0
Fetch = Callable[[], Awaitable[tuple[str, float]]]  # one token request: (access token, lifetime in seconds)


@dataclass(frozen=True)
class _Token:
    value: str = field(repr=False)
    refresh_at: float


def token_from_answer(status: int, body: Mapping[str, Any]) -> str:
    """The access token in a POS token endpoint's JSON answer, or the error its status means: 5xx, 408 and 429 are
    TransientError, any other 4xx refused credentials (AuthenticationError, held), a success without a token
    PermanentError. The error names OAuth's ``error``/``error_description`` or Retail Cloud's
    ``errorCode``/``errorMessage``, whichever the endpoint sent."""
    if status >= 400:
        code = str(body.get("error") or body.get("errorCode") or "") or None
        message = str(body.get("error_description") or body.get("errorMessage") or code or f"HTTP {status}")
        if status >= 500 or status in (408, 429):
            raise TransientError("pos", f"token endpoint: {message}", status=status, code=code)
        raise AuthenticationError("pos", f"token endpoint refused the client credentials: {message}",
                                  status=status, code=code)
    token = body.get("access_token")
    if not isinstance(token, str) or not token:
        raise PermanentError("pos", "token endpoint answered without an access_token", status=status)
    return token


def refresh_at(now: float, ttl: float) -> float:
    """When a token issued at ``now`` for ``ttl`` seconds is fetched again: half-way through its life, or a minute
    before its end if that is sooner (never before ``now``)."""
    return now + max(0.0, min(ttl - REFRESH_MARGIN_SECONDS, ttl / 2) if ttl > 0 else 0.0)


class TokenCache:
    """The cached token of one token endpoint, its single-flight refresh and its :class:`OperatorHold`."""

    def __init__(self, service: str, *, clock: Callable[[], float] = time.time,
                 log_fields: Mapping[str, object] | None = None) -> None:
        self._clock = clock
        self._token: _Token | None = None
        self._lock = asyncio.Lock()
        self.hold = OperatorHold(service, clock=clock, log_fields=log_fields)

    def __repr__(self) -> str:
        return f"TokenCache(service={self.hold.service!r}, cached={self.cached})"

    @property
    def cached(self) -> bool:
        return self._token is not None

    async def get(self, fetch: Fetch) -> str:
        """The cached token, or one from ``fetch`` (one caller at a time; raises CredentialsRefused while held)."""
        token = self._token
        if token is not None and self._clock() < token.refresh_at:
            return token.value
        async with self._lock:  # single flight: late arrivals find the fresh token
            token = self._token
            if token is not None and self._clock() < token.refresh_at:
                return token.value
            self.hold.check()  # refused credentials: no request until the hold ends (callers queued here too)
            try:
                value, ttl = await fetch()
            except AuthenticationError as exc:
                raise self.hold.refuse(exc) from None
            self.hold.cleared()
            self._token = _Token(value, refresh_at(self._clock(), ttl))
            return value

    def invalidate(self, presented: str | None = None) -> None:
        """Forget the token; with ``presented`` (the token the server refused) only while it is the cached one."""
        token = self._token
        if token is None:
            return
        if presented is not None and presented != token.value:
            return  # someone already replaced the refused token
        self._token = None
