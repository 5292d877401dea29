"""Salesforce OAuth 2.0 access tokens, shared by the REST client and the CometD stream.

One :class:`TokenProvider` per process caches one :class:`Token`. Concurrent callers share one in-flight token
request (single flight). Salesforce token answers carry no ``expires_in``, so a token is never
refreshed proactively: whoever gets a 401 calls :meth:`TokenProvider.invalidate` with the token it used,
and the next :meth:`TokenProvider.token` call fetches a fresh one. ``invalidate`` only drops the cache if it
still holds that very token, so a burst of 401s from one expired session causes one refresh, not a storm.

Flows: ``password`` (deprecated by Salesforce; warned once), ``client_credentials`` (must use the My Domain
host), ``jwt_bearer`` (RS256 assertion, 3-minute expiry) and ``refresh_token``. Token endpoint errors
``{"error", "error_description"}`` (``invalid_grant``, ``invalid_client``, ``invalid_client_id``,
``unsupported_grant_type``, ``inactive_user``, ``inactive_org``, ...) mean the credentials need an operator, and
every password attempt counts towards the user's lock-out. So they are held as :mod:`worker.auth_hold` says (the
rule the POS token shares): after a refusal no token request is sent for ``OPERATOR_HOLD_SECONDS`` (15 min); after
``OPERATOR_MAX_REFUSALS`` refusals in a row none at all until the worker restarts. Meanwhile
:meth:`TokenProvider.token` raises :class:`CredentialsRefused` at once (outbound work pauses instead of
dead-lettering), ``TokenProvider.operator_required`` says why (``/status``,
``oms_auth_operator_required{service="salesforce"}``), and one ``salesforce_auth_needs_operator`` event is logged per
refusal. 5xx answers and network failures are transient and retried with backoff.
"""

from __future__ import annotations

import asyncio
import re
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import structlog

from worker.auth_hold import OPERATOR_HOLD_SECONDS as OPERATOR_HOLD_SECONDS  # re-exported: the rule's names
from worker.auth_hold import OPERATOR_MAX_REFUSALS as OPERATOR_MAX_REFUSALS
from worker.auth_hold import CredentialsRefused as CredentialsRefused
from worker.auth_hold import OperatorHold
from worker.config import AuthConfig, SalesforceConfig
from worker.errors import AuthenticationError, TransientError
from worker.retry import RetryPolicy, retrying

log = structlog.get_logger(__name__)

TOKEN_PATH = "/services/oauth2/token"
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
JWT_LIFETIME_SECONDS = 180
LOGIN_HOSTS = ("login.salesforce.com", "test.salesforce.com")
# Token requests are idempotent (a second token is harmless): retry network failures and 5xx answers.
TOKEN_RETRY = RetryPolicy(attempts=4, base_delay=0.5, max_delay=10.0, retry_on=(TransientError,))


@dataclass(frozen=True)
class Token:
    """One access token. The token itself never appears in a repr."""

    access_token: str = field(repr=False)
    instance_url: str
    issued_at: float  # seconds since the epoch
    org_id: str | None = None  # from the answer's identity URL (.../id/<orgId>/<userId>): Pub/Sub's tenantid


def make_ssl_context(sf: SalesforceConfig) -> ssl.SSLContext | None:
    """A verifying TLS context that also trusts ``ca_file`` (a private CA); None means the default context."""
    if sf.ca_file is None:
        return None
    context = ssl.create_default_context()
    context.load_verify_locations(cafile=str(sf.ca_file))
    return context


def token_url(sf: SalesforceConfig, auth: AuthConfig) -> str:
    """``auth.token_url`` if set, else the My Domain token endpoint ``<UrlBase>/services/oauth2/token``."""
    return auth.token_url or f"{sf.base_url}{TOKEN_PATH}"


class TokenProvider:
    """Cached, single-flight Salesforce access tokens for one connected app and user."""

    def __init__(
        self,
        sf: SalesforceConfig,
        auth: AuthConfig,
        session: aiohttp.ClientSession,
        *,
        clock: Callable[[], float] = time.time,
        retry: RetryPolicy = TOKEN_RETRY,
    ) -> None:
        self._sf = sf
        self._auth = auth
        self._session = session
        self._clock = clock
        self._retry = retry
        self._url = token_url(sf, auth)
        self._token: Token | None = None
        self._inflight: asyncio.Task[Token] | None = None
        self._warned_password = False
        self._private_key: str | None = None
        self._refresh_token = auth.refresh_token.get_secret_value() if auth.refresh_token else None
        self.fetches = 0  # token requests that succeeded (tests and metrics)
        self._hold = OperatorHold("salesforce", clock=clock, log_fields={"flow": auth.flow})
        if auth.flow == "client_credentials" and (urlsplit(self._url).hostname or "") in LOGIN_HOSTS:
            log.warning("client_credentials_needs_my_domain", token_host=urlsplit(self._url).hostname)

    def __repr__(self) -> str:
        cached = self._token is not None
        return f"TokenProvider(flow={self._auth.flow!r}, token_url={self._url!r}, cached={cached})"

    @property
    def flow(self) -> str:
        return self._auth.flow

    @property
    def cached(self) -> Token | None:
        """The cached token, if any (no network)."""
        return self._token

    @property
    def operator_required(self) -> str | None:
        """Why the Salesforce login needs an operator (the refusal, no secret), or None while logins work."""
        return self._hold.reason

    async def token(self) -> Token:
        """The cached token, or a fresh one; concurrent callers share one in-flight request. While refused
        credentials are held (see the module docstring) raises :class:`CredentialsRefused` without a request."""
        if self._token is not None:
            return self._token
        self._hold.check()
        if self._inflight is None or self._inflight.done():
            self._inflight = asyncio.ensure_future(self._fetch())
        # shield: one caller being cancelled must not cancel the request the others wait for
        return await asyncio.shield(self._inflight)

    async def invalidate(self, token: Token) -> None:
        """Forget ``token`` (it was refused); a no-op if the cache already holds a newer token."""
        if self._token is not None and self._token.access_token == token.access_token:
            self._token = None
            log.info("salesforce_token_invalidated", flow=self._auth.flow)

    async def _fetch(self) -> Token:
        try:
            token = await retrying(self._retry, self._request_token, what="salesforce token request")
        except AuthenticationError as exc:
            raise self._hold.refuse(exc) from None
        self._token = token
        self._hold.cleared()
        self.fetches += 1
        return token

    def _form(self) -> dict[str, str]:
        a, sf = self._auth, self._sf
        secret = a.client_secret.get_secret_value() if a.client_secret else None
        if a.flow == "password":
            if not self._warned_password:
                self._warned_password = True
                log.warning("password_flow_deprecated",
                            detail="Salesforce is retiring the OAuth username-password flow; "
                                   "switch auth.flow to client_credentials or jwt_bearer")
            return _compact({
                "grant_type": "password", "client_id": a.client_id, "client_secret": secret,
                "username": sf.Username, "password": sf.Password.get_secret_value() if sf.Password else None,
            })
        if a.flow == "client_credentials":
            return _compact({"grant_type": "client_credentials", "client_id": a.client_id,
                             "client_secret": secret})
        if a.flow == "jwt_bearer":
            return {"grant_type": JWT_GRANT, "assertion": self._assertion()}
        return _compact({
            "grant_type": "refresh_token", "client_id": a.client_id, "client_secret": secret,
            "refresh_token": self._refresh_token,
        })

    def _assertion(self) -> str:
        import jwt  # PyJWT with cryptography: about 10 MB resident, loaded only by the flow that signs

        a = self._auth
        if self._private_key is None:
            if a.private_key_file is None:
                raise AuthenticationError("salesforce", "jwt_bearer flow needs auth.private_key_file")
            try:
                self._private_key = a.private_key_file.read_text()
            except OSError as exc:
                raise AuthenticationError(
                    "salesforce", f"cannot read auth.private_key_file ({type(exc).__name__})") from None
        claims = {"iss": a.client_id, "sub": self._sf.Username, "aud": a.audience,
                  "exp": int(self._clock()) + JWT_LIFETIME_SECONDS}
        try:
            return jwt.encode(claims, self._private_key, algorithm="RS256")
        except (ValueError, TypeError, jwt.PyJWTError) as exc:
            # never echo the key material: the error names only the kind of problem
            raise AuthenticationError(
                "salesforce", f"auth.private_key_file is not a usable RSA private key ({type(exc).__name__})"
            ) from None

    async def _request_token(self) -> Token:
        form = self._form()
        started = time.monotonic()
        timeout = aiohttp.ClientTimeout(total=self._sf.request_timeout_seconds)
        status: int | None = None
        try:
            async with self._session.post(self._url, data=form, timeout=timeout,
                                          headers={"Accept": "application/json"}) as resp:
                status = resp.status
                text = await resp.text()
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning("salesforce_token_request", flow=self._auth.flow, status=None,
                        duration_ms=_ms(started), error=type(exc).__name__)
            raise TransientError("salesforce", f"token endpoint unreachable ({type(exc).__name__})") from None
        log.info("salesforce_token_request", flow=self._auth.flow, status=status, duration_ms=_ms(started))
        body = _json(text)
        if status != 200:
            raise _token_error(status, body)
        if not isinstance(body, dict) or not body.get("access_token") or not body.get("instance_url"):
            raise TransientError("salesforce", "token answer lacks access_token/instance_url", status=status)
        if body.get("refresh_token") and self._auth.flow == "refresh_token":
            self._refresh_token = str(body["refresh_token"])  # rotation enabled on the connected app
        return Token(access_token=str(body["access_token"]),
                     instance_url=str(body["instance_url"]).rstrip("/"),
                     issued_at=_issued_at(body.get("issued_at"), self._clock), org_id=org_id(body.get("id")))


def org_id(identity: Any) -> str | None:
    """The org id in a token answer's identity URL ``https://login.salesforce.com/id/<orgId>/<userId>``."""
    if not isinstance(identity, str):
        return None
    parts = urlsplit(identity).path.strip("/").split("/")
    if len(parts) >= 3 and parts[-3] == "id" and re.fullmatch(r"00D[A-Za-z0-9]{12}(?:[A-Za-z0-9]{3})?", parts[-2]):
        return parts[-2]
    return None


def _token_error(status: int, body: Any) -> Exception:
    error = description = None
    if isinstance(body, dict):
        error, description = body.get("error"), body.get("error_description")
    message = f"token request refused: {error}: {description}" if error else f"token endpoint answered {status}"
    if status >= 500 or status in (408, 429):
        return TransientError("salesforce", message, status=status, code=str(error) if error else None)
    return AuthenticationError("salesforce", message, status=status, code=str(error) if error else None)


def _issued_at(value: Any, clock: Callable[[], float]) -> float:
    try:
        return int(str(value)) / 1000.0  # a string of epoch milliseconds
    except (TypeError, ValueError):
        return clock()


def _json(text: str) -> Any:
    import json

    try:
        return json.loads(text) if text else None
    except ValueError:
        return None


def _compact(form: dict[str, str | None]) -> dict[str, str]:
    return {key: value for key, value in form.items() if value is not None}


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
