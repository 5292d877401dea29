"""OAuth 2.0 token endpoint of the emulated org (``POST /services/oauth2/token``) and its session store.

Flows: username-password, client credentials (form or HTTP Basic), JWT bearer (RS256) and refresh token.
Success bodies carry ``access_token``, ``instance_url``, ``id``, ``token_type``, ``issued_at`` (millisecond
string) and ``signature``; never ``expires_in``. Errors are HTTP 400 ``{"error", "error_description"}``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import jwt
from aiohttp import web
from cryptography import x509

from emulator.salesforce.ids import checksum

__all__ = ["OAuthError", "OAuthSettings", "Session", "TokenStore", "add_oauth_routes"]

TOKEN_PATH = "/services/oauth2/token"
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
LOGIN_AUDIENCES = ("https://login.salesforce.com", "https://test.salesforce.com")
JWT_MAX_LIFETIME_SECONDS = 300.0  # Salesforce asks for exp "within 3 minutes"; allow a little clock skew


@dataclass
class OAuthSettings:
    """Who may log in and how (the connected app and the users of the emulated org)."""

    users: dict[str, str] = field(default_factory=dict)
    clients: dict[str, str] = field(default_factory=dict)
    jwt_certificates: dict[str, str] = field(default_factory=dict)
    run_as_user: str = "integration@example.com"
    token_ttl_seconds: float = 7200.0
    password_flow_enabled: bool = True
    org_id: str = "00D000000000001AAA"


@dataclass
class Session:
    """One issued access token."""

    token: str
    username: str
    user_id: str
    issued_at: float
    expires_at: float

    def __repr__(self) -> str:
        return (
            f"Session(username={self.username!r}, user_id={self.user_id!r}, expires_at={self.expires_at!r})"
        )


class OAuthError(Exception):
    """A token-endpoint failure rendered as HTTP 400 ``{"error", "error_description"}``."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description


def _authentication_failure() -> OAuthError:
    return OAuthError("invalid_grant", "authentication failure")


class TokenStore:
    """Issues, validates, expires and revokes access tokens (and refresh tokens for the refresh flow)."""

    def __init__(self, settings: OAuthSettings, clock: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self._clock = clock
        self._sessions: dict[str, Session] = {}
        self._refresh: dict[str, tuple[str, str]] = {}  # refresh token -> (username, client_id)

    def user_id(self, username: str) -> str:
        """The stable 18-character User id (``005...``) of ``username``."""
        names = list(self.settings.users)
        if username in names:
            number = names.index(username) + 1
        elif username == self.settings.run_as_user:
            number = len(names) + 1
        else:
            number = 500_000 + int.from_bytes(hashlib.sha256(username.encode()).digest()[:4], "big") % 100_000
        id15 = f"005{number:012d}"
        return id15 + checksum(id15)

    def validate(self, authorization_header: str | None) -> Session | None:
        """The live session named by an ``Authorization: Bearer X`` / ``OAuth X`` header, else None."""
        if not authorization_header:
            return None
        scheme, _, token = authorization_header.strip().partition(" ")
        if scheme.lower() not in ("bearer", "oauth") or not token.strip():
            return None
        session = self._sessions.get(token.strip())
        if session is None:
            return None
        if self._clock() >= session.expires_at:
            del self._sessions[session.token]
            return None
        return session

    def issue(self, username: str, client_id: str) -> Session:
        """A fresh access token for ``username`` (``client_id`` is recorded nowhere; tokens are bearer)."""
        now = self._clock()
        token = f"{self.settings.org_id[:15]}!AR{secrets.token_urlsafe(72)}"
        session = Session(token, username, self.user_id(username), now, now + self.settings.token_ttl_seconds)
        self._sessions[token] = session
        return session

    def issue_refresh_token(self, username: str, client_id: str) -> str:
        """A refresh token usable with ``grant_type=refresh_token`` by ``client_id``."""
        token = f"5Aep{secrets.token_urlsafe(60)}"
        self._refresh[token] = (username, client_id)
        return token

    def redeem_refresh_token(self, refresh_token: str, client_id: str) -> str | None:
        """The username behind a live refresh token issued to ``client_id``, else None."""
        entry = self._refresh.get(refresh_token)
        if entry is None or entry[1] != client_id:
            return None
        return entry[0]

    def revoke_all(self) -> int:
        """Invalidate every access token (refresh tokens survive a session purge); returns the count."""
        count = len(self._sessions)
        self._sessions.clear()
        return count

    def revoke(self, token: str) -> bool:
        """Invalidate one access or refresh token; True when it existed."""
        return self._sessions.pop(token, None) is not None or self._refresh.pop(token, None) is not None

    def set_ttl(self, seconds: float) -> None:
        """Lifetime of tokens issued from now on."""
        self.settings.token_ttl_seconds = seconds

    def active_count(self) -> int:
        """Number of access tokens that have not expired."""
        now = self._clock()
        return sum(1 for s in self._sessions.values() if now < s.expires_at)

    @property
    def clock(self) -> Callable[[], float]:
        """The time source used for expiry (also used for JWT ``exp`` checks)."""
        return self._clock


# -- grant handlers ---------------------------------------------------------------------------------------


def _client_from_request(form: Mapping[str, str], authorization: str | None) -> tuple[str, str | None]:
    """client_id and client_secret from the form, or from HTTP Basic when the form lacks them."""
    client_id, secret = form.get("client_id", ""), form.get("client_secret")
    if not client_id and authorization and authorization.lower().startswith("basic "):
        try:
            decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise OAuthError("invalid_client", "invalid client credentials") from exc
        client_id, _, secret = decoded.partition(":")
    return client_id, secret


def _check_client(
    settings: OAuthSettings, client_id: str, secret: str | None, *, secret_required: bool
) -> None:
    if client_id not in settings.clients:
        raise OAuthError("invalid_client_id", "client identifier invalid")
    if secret is None and not secret_required:
        return
    if not hmac.compare_digest((secret or "").encode(), settings.clients[client_id].encode()):
        raise OAuthError("invalid_client", "invalid client credentials")


def _grant_password(tokens: TokenStore, form: Mapping[str, str], auth: str | None) -> tuple[str, str]:
    settings = tokens.settings
    client_id, secret = _client_from_request(form, auth)
    _check_client(settings, client_id, secret, secret_required=True)
    username, password = form.get("username", ""), form.get("password", "")
    if not settings.password_flow_enabled or username not in settings.users:
        raise _authentication_failure()
    if not hmac.compare_digest(password.encode(), settings.users[username].encode()):
        raise _authentication_failure()
    return username, client_id


def _grant_client_credentials(
    tokens: TokenStore, form: Mapping[str, str], auth: str | None
) -> tuple[str, str]:
    client_id, secret = _client_from_request(form, auth)
    _check_client(tokens.settings, client_id, secret, secret_required=True)
    return tokens.settings.run_as_user, client_id


def _verification_key(material: str) -> Any:
    """A public key from PEM text that is either a public key or an X.509 certificate."""
    if "BEGIN CERTIFICATE" in material:
        return x509.load_pem_x509_certificate(material.encode()).public_key()
    return material


def _grant_jwt(tokens: TokenStore, form: Mapping[str, str], own_audience: str) -> tuple[str, str]:
    settings = tokens.settings
    assertion = form.get("assertion", "")
    invalid = OAuthError("invalid_grant", "invalid assertion")
    try:
        header = jwt.get_unverified_header(assertion)
        unverified = jwt.decode(assertion, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise invalid from exc
    client_id = str(unverified.get("iss", ""))
    if client_id not in settings.clients and client_id not in settings.jwt_certificates:
        raise OAuthError("invalid_client_id", "client identifier invalid")
    if header.get("alg") != "RS256" or client_id not in settings.jwt_certificates:
        raise invalid
    try:
        claims = jwt.decode(
            assertion,
            _verification_key(settings.jwt_certificates[client_id]),
            algorithms=["RS256"],
            options={"verify_exp": False, "verify_aud": False, "verify_iat": False, "verify_nbf": False},
        )
    except (jwt.PyJWTError, ValueError) as exc:
        raise invalid from exc
    audiences = claims.get("aud")
    audiences = audiences if isinstance(audiences, list) else [audiences]
    allowed = {*LOGIN_AUDIENCES, own_audience.rstrip("/")}
    if not any(isinstance(a, str) and a.rstrip("/") in allowed for a in audiences):
        raise OAuthError("invalid_grant", "audience is invalid")
    exp, now = claims.get("exp"), tokens.clock()
    if (
        not isinstance(exp, int | float)
        or isinstance(exp, bool)
        or exp <= now
        or exp > now + JWT_MAX_LIFETIME_SECONDS
    ):
        raise invalid
    username = str(claims.get("prn") or claims.get("sub") or "")
    if username not in settings.users and username != settings.run_as_user:
        raise OAuthError("invalid_grant", "user hasn't approved this consumer")
    return username, client_id


def _grant_refresh(tokens: TokenStore, form: Mapping[str, str], auth: str | None) -> tuple[str, str]:
    client_id, secret = _client_from_request(form, auth)
    _check_client(tokens.settings, client_id, secret, secret_required=False)
    username = tokens.redeem_refresh_token(form.get("refresh_token", ""), client_id)
    if username is None:
        raise OAuthError("invalid_grant", "expired access/refresh token")
    return username, client_id


# -- HTTP ------------------------------------------------------------------------------------------------


def _success_body(
    tokens: TokenStore, session: Session, client_id: str, base: str, grant: str
) -> dict[str, Any]:
    identity = f"{base}/id/{tokens.settings.org_id}/{session.user_id}"
    issued_at = str(int(session.issued_at * 1000))
    body: dict[str, Any] = {
        "access_token": session.token,
        "instance_url": base,
        "id": identity,
        "token_type": "Bearer",
        "issued_at": issued_at,
    }
    secret = tokens.settings.clients.get(client_id)
    if secret is not None:
        digest = hmac.new(secret.encode(), (identity + issued_at).encode(), hashlib.sha256).digest()
        body["signature"] = base64.b64encode(digest).decode()
    if grant in (JWT_GRANT, "refresh_token"):
        body["scope"] = "api"
    return body


def _error_response(error: OAuthError) -> web.Response:
    return web.json_response({"error": error.error, "error_description": error.description}, status=400)


def add_oauth_routes(
    app: web.Application, tokens: TokenStore, base_url: Callable[[web.Request], str]
) -> None:
    """Mount ``POST /services/oauth2/token``; ``base_url(request)`` gives instance_url and a valid JWT aud."""

    async def token_endpoint(request: web.Request) -> web.Response:
        form: dict[str, str] = {k: v for k, v in request.query.items()}
        posted = await request.post()
        form.update({k: v for k, v in posted.items() if isinstance(v, str)})
        grant = form.get("grant_type", "")
        auth = request.headers.get("Authorization")
        base = base_url(request).rstrip("/")
        try:
            if grant == "password":
                username, client_id = _grant_password(tokens, form, auth)
            elif grant == "client_credentials":
                username, client_id = _grant_client_credentials(tokens, form, auth)
            elif grant == JWT_GRANT:
                username, client_id = _grant_jwt(tokens, form, base)
            elif grant == "refresh_token":
                username, client_id = _grant_refresh(tokens, form, auth)
            else:
                raise OAuthError("unsupported_grant_type", "grant type not supported")
        except OAuthError as exc:
            return _error_response(exc)
        session = tokens.issue(username, client_id)
        return web.json_response(_success_body(tokens, session, client_id, base, grant))

    app.router.add_post(TOKEN_PATH, token_endpoint)
