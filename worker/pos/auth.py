"""POS authentication: one interface, two modes (reference ``pos-api.md`` §1.1 legacy, §1.2 Hyperforce).

* Legacy: OAuth2 client credentials at the PredictSpring token URL; the answer carries ``expired_in``
  (sic; the standard ``expires_in`` is accepted too). Calls carry ``PredictSpring-Token``,
  ``PredictSpring-Secret`` and ``X-api-key``.
* Hyperforce: client credentials at the merchant's Salesforce My Domain ``/services/oauth2/token``. Salesforce
  answers without a lifetime, so the JWT access token's ``exp`` claim is read (payload decoded without
  verification, only to schedule the refresh) and 30 minutes (the documented default) assumed otherwise. Calls
  carry ``Authorization: Bearer`` and :func:`hyperforce_routing` (``x-salesforce-region``, ``x-locale``,
  ``x-region``).

The token is cached and refreshed single-flight (one lock shared by all callers, :mod:`worker.token_cache`)
shortly before it expires and when the POS answers 401 (:meth:`PosAuth.invalidate`). Secrets never appear in
reprs, logs or error messages.

A token endpoint that refuses the client credentials (a 4xx other than 408/429: ``invalid_client``,
``invalid_grant``, ...) is held as :mod:`worker.auth_hold` says, exactly like the Salesforce login: no token
request for 15 minutes, none after 3 refusals until a restart; meanwhile every call raises
:class:`~worker.auth_hold.CredentialsRefused` at once (outbound work pauses), ``operator_required`` says why
(``/status``, ``oms_auth_operator_required{service="pos"}``) and ``pos_auth_needs_operator`` is logged per refusal.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from collections.abc import Callable, Mapping
from typing import Any, Literal, Protocol

import aiohttp
import structlog

from worker.config import PosConfig
from worker.errors import ConfigError, TransientError
from worker.token_cache import TokenCache, token_from_answer

from .endpoints import resolve_salesforce_region, resolve_token_url

log = structlog.get_logger(__name__)

HYPERFORCE_DEFAULT_TTL_SECONDS = 1800.0  # "By default the token expires in 30 minutes" (§1.2)
LEGACY_DEFAULT_TTL_SECONDS = 3600.0
Clock = Callable[[], float]


class PosAuth(Protocol):
    async def headers(self) -> dict[str, str]:
        """Auth headers for one API call (fetching or refreshing the token when needed)."""
        ...

    def invalidate(self, rejected: Mapping[str, str] | None = None) -> None:
        """Forget the token (after a 401). With ``rejected`` (the headers the POS refused), only when they
        still are the current ones, so concurrent 401s cause one refresh, not one each."""
        ...


def jwt_expiry(token: str) -> float | None:
    """The ``exp`` claim (epoch seconds) of a JWT, read without verifying it; None if not a readable JWT."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    exp = payload.get("exp") if isinstance(payload, dict) else None
    return float(exp) if isinstance(exp, int | float) and not isinstance(exp, bool) else None


class _TokenAuth:
    """Shared machinery: the token endpoint call, and its token in a :class:`TokenCache`."""

    header_name = ""

    def __init__(
        self,
        config: PosConfig,
        session: aiohttp.ClientSession,
        *,
        credentials: Literal["basic", "form"] = "basic",
        clock: Clock = time.time,
    ) -> None:
        self._config, self._session, self._clock = config, session, clock
        self._credentials = credentials
        self.token_url = resolve_token_url(config)
        self._cache = TokenCache("pos", clock=clock, log_fields={"mode": config.rest_auth.mode})
        self.fetches = 0

    def __repr__(self) -> str:
        return f"{type(self).__name__}(token_url={self.token_url!r}, cached={self._cache.cached})"

    @property
    def operator_required(self) -> str | None:
        """Why the POS login needs an operator (the refusal, no secret), or None while logins work."""
        return self._cache.hold.reason

    async def _access_token(self) -> str:
        return await self._cache.get(self._fetch)

    def invalidate(self, rejected: Mapping[str, str] | None = None) -> None:
        self._cache.invalidate(None if rejected is None else self._presented(rejected))

    def _presented(self, headers: Mapping[str, str]) -> str:
        value = headers.get(self.header_name, "")
        return value.removeprefix("Bearer ")

    def _ttl(self, body: Mapping[str, Any], token: str) -> float:
        raise NotImplementedError

    async def _fetch(self) -> tuple[str, float]:
        auth = self._config.rest_auth
        form = {"grant_type": "client_credentials"}
        headers = {"Accept": "application/json"}
        if self._credentials == "basic":
            pair = f"{auth.client_id}:{auth.client_secret.get_secret_value()}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(pair).decode("ascii")
        else:
            form |= {"client_id": auth.client_id, "client_secret": auth.client_secret.get_secret_value()}
        started = time.perf_counter()
        status: int | None = None
        try:
            async with self._session.post(
                self.token_url, data=form, headers=headers,
                timeout=aiohttp.ClientTimeout(total=self._config.timeout_seconds),
            ) as resp:
                status = resp.status
                text = await resp.text()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise TransientError("pos", f"token endpoint unreachable ({type(exc).__name__})") from None
        finally:
            log.info("pos_token_request", mode=self._config.rest_auth.mode, status=status,
                     duration_ms=round((time.perf_counter() - started) * 1000, 1))
        try:
            body = json.loads(text) if text else {}
        except ValueError:
            body = {}
        if not isinstance(body, dict):
            body = {}
        token = token_from_answer(status, body)
        self.fetches += 1
        return token, self._ttl(body, token)


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


class LegacyAuth(_TokenAuth):
    """PredictSpring-hosted POS: token + static secret + API key headers."""

    header_name = "PredictSpring-Token"

    def __init__(self, config: PosConfig, session: aiohttp.ClientSession, **kwargs: Any) -> None:
        if config.rest_auth.pos_secret is None or config.rest_auth.api_key is None:
            raise ConfigError(
                ["pos.auth: legacy mode needs pos_secret (PredictSpring-Secret) and api_key (X-api-key)"])
        super().__init__(config, session, **kwargs)
        self._pos_secret, self._api_key = config.rest_auth.pos_secret, config.rest_auth.api_key

    def _ttl(self, body: Mapping[str, Any], token: str) -> float:
        ttl = _number(body.get("expired_in"))
        if ttl is None:
            ttl = _number(body.get("expires_in"))
        return ttl if ttl is not None else LEGACY_DEFAULT_TTL_SECONDS

    async def headers(self) -> dict[str, str]:
        return {
            "PredictSpring-Token": await self._access_token(),
            "PredictSpring-Secret": self._pos_secret.get_secret_value(),
            "X-api-key": self._api_key.get_secret_value(),
        }


def hyperforce_routing(config: PosConfig) -> dict[str, str]:
    """The Hyperforce routing headers: the region from the guide's table (or ``pos.salesforce_region``), and the
    merchant's ``pos.locale`` / ``pos.region`` (one org may hold several merchants)."""
    return {
        "x-salesforce-region": resolve_salesforce_region(config),
        "x-locale": config.locale,
        "x-region": config.region,
    }


class HyperforceAuth(_TokenAuth):
    """POS on Hyperforce: a Salesforce-issued (JWT) bearer token plus merchant routing headers."""

    header_name = "Authorization"

    def __init__(self, config: PosConfig, session: aiohttp.ClientSession, **kwargs: Any) -> None:
        super().__init__(config, session, **kwargs)
        self._routing = hyperforce_routing(config)

    def _ttl(self, body: Mapping[str, Any], token: str) -> float:
        exp = jwt_expiry(token)
        if exp is not None:
            left = exp - self._clock()
            if left > 0:
                return left
            # Our clock is ahead of the issuer's: trust the documented lifetime rather than refetching on
            # every call; a 401 still triggers a refresh.
            log.warning("pos_token_clock_skew", seconds_past_exp=round(-left, 1))
            return HYPERFORCE_DEFAULT_TTL_SECONDS
        ttl = _number(body.get("expires_in"))
        return ttl if ttl is not None else HYPERFORCE_DEFAULT_TTL_SECONDS

    async def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {await self._access_token()}", **self._routing}


def make_auth(
    config: PosConfig,
    session: aiohttp.ClientSession,
    *,
    credentials: Literal["basic", "form"] = "basic",
    clock: Clock = time.time,
) -> LegacyAuth | HyperforceAuth:
    """The auth for ``config.rest_auth.mode`` (raises ConfigError naming the missing setting)."""
    cls = HyperforceAuth if config.rest_auth.mode == "hyperforce" else LegacyAuth
    return cls(config, session, credentials=credentials, clock=clock)
