"""OpenID Connect client credentials for the GraphQL POS, in the shape of :mod:`worker.pos.auth`.

The token endpoint is found once by discovery (``{issuer}/.well-known/openid-configuration``, whose ``issuer``
must equal the configured one, OpenID Connect Discovery 1.0 §4.3); the client authenticates with HTTP Basic
(``client_secret_basic``, id and secret form-urlencoded first as RFC 6749 §2.3.1 requires, so a secret with
``+``, ``:`` or ``%`` survives) unless the issuer offers only ``client_secret_post``. The token is cached and
refreshed single-flight (one lock for every caller, :mod:`worker.token_cache`) half-way through ``expires_in``
(:func:`~worker.token_cache.refresh_at`) and when the API answers UNAUTHENTICATED
(:meth:`OidcClientCredentials.invalidate`). Refused credentials are held as :mod:`worker.auth_hold` says (no
token request for a while, ``operator_required`` says why). Secrets never appear in reprs, logs or error messages.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote

import aiohttp
import structlog

from worker.config.pos_graphql import PosGraphqlConfig
from worker.errors import PermanentError, TransientError
from worker.token_cache import TokenCache, token_from_answer

log = structlog.get_logger(__name__)
DEFAULT_TTL_SECONDS = 3600.0  # when the answer has no expires_in (RFC 6749 §5.1 makes it RECOMMENDED)
DISCOVERY_PATH = "/.well-known/openid-configuration"


async def _get_json(session: aiohttp.ClientSession, method: str, url: str, what: str, timeout: float,
                    **kwargs: Any) -> tuple[int, dict[str, Any]]:
    started, status = time.perf_counter(), None
    try:
        async with session.request(method, url, timeout=aiohttp.ClientTimeout(total=timeout), **kwargs) as resp:
            status = resp.status
            text = await resp.text()
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise TransientError("pos", f"{what} unreachable ({type(exc).__name__})") from None
    finally:
        log.info("pos_oidc_request", what=what, status=status,
                 duration_ms=round((time.perf_counter() - started) * 1000, 1))
    try:
        body = json.loads(text) if text else {}
    except ValueError:
        body = {}
    return status, body if isinstance(body, dict) else {}


class OidcClientCredentials:
    """Bearer headers for the GraphQL POS (discovery, then the client-credentials grant)."""

    header_name = "Authorization"

    def __init__(self, config: PosGraphqlConfig, session: aiohttp.ClientSession, *,
                 clock: Callable[[], float] = time.time) -> None:
        self._config, self._session = config, session
        self._cache = TokenCache("pos", clock=clock, log_fields={"mode": "oidc"})
        self.token_endpoint: str | None = None
        self._basic = True
        self.fetches = 0
        self.discoveries = 0

    def __repr__(self) -> str:
        return f"OidcClientCredentials(issuer={self._config.issuer!r}, cached={self._cache.cached})"

    @property
    def operator_required(self) -> str | None:
        return self._cache.hold.reason

    async def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {await self._access_token()}"}

    def invalidate(self, rejected: Mapping[str, str] | None = None) -> None:
        self._cache.invalidate(None if rejected is None else rejected.get(self.header_name, "").removeprefix("Bearer "))

    async def _access_token(self) -> str:
        return await self._cache.get(self._fetch)

    async def _discover(self) -> None:
        issuer = self._config.issuer
        status, body = await _get_json(self._session, "GET", issuer + DISCOVERY_PATH, "oidc discovery",
                                       self._config.timeout_seconds, headers={"Accept": "application/json"})
        if status >= 500 or status in (408, 429):
            raise TransientError("pos", f"oidc discovery: HTTP {status}", status=status)
        if status >= 400:
            raise PermanentError("pos", f"oidc discovery: HTTP {status} at {issuer}{DISCOVERY_PATH} "
                                 "(check pos.graphql.issuer)", status=status)
        if str(body.get("issuer", "")).rstrip("/") != issuer:
            raise PermanentError("pos", f"oidc discovery: the document names issuer {body.get('issuer')!r}, not "
                                 f"{issuer!r} (check pos.graphql.issuer)")
        endpoint = body.get("token_endpoint")
        if not isinstance(endpoint, str) or not endpoint.startswith(("http://", "https://")):
            raise PermanentError("pos", "oidc discovery: no token_endpoint in the issuer's configuration")
        methods = body.get("token_endpoint_auth_methods_supported")
        self._basic = not (isinstance(methods, list) and "client_secret_basic" not in methods
                           and "client_secret_post" in methods)
        self.token_endpoint = endpoint
        self.discoveries += 1

    async def _fetch(self) -> tuple[str, float]:
        if self.token_endpoint is None:  # discovery errors are transient or permanent, never a refusal
            await self._discover()
        assert self.token_endpoint is not None
        cfg = self._config
        form = {"grant_type": "client_credentials"}
        if cfg.scope:
            form["scope"] = cfg.scope
        headers = {"Accept": "application/json"}
        secret = cfg.client_secret.get_secret_value()
        if self._basic:
            pair = f"{quote(cfg.client_id, safe='')}:{quote(secret, safe='')}".encode()  # RFC 6749 §2.3.1
            headers["Authorization"] = "Basic " + base64.b64encode(pair).decode("ascii")
        else:
            form |= {"client_id": cfg.client_id, "client_secret": secret}
        status, body = await _get_json(self._session, "POST", self.token_endpoint, "oidc token",
                                       cfg.timeout_seconds, data=form, headers=headers)
        token = token_from_answer(status, body)
        ttl = body.get("expires_in")
        self.fetches += 1
        number = float(ttl) if isinstance(ttl, int | float) and not isinstance(ttl, bool) and ttl > 0 else None
        return token, number or DEFAULT_TTL_SECONDS
