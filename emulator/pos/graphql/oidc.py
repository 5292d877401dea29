"""An OpenID Connect issuer for the GraphQL POS: discovery (OpenID Connect Discovery 1.0 §3/§4) and the
OAuth 2.0 client-credentials grant (RFC 6749 §4.4) with the error responses of RFC 6749 §5.2.

Issuer: ``<origin>/oidc``. Clients come from :attr:`PosEmulatorSettings.graphql_clients` (id -> secret, roles);
a client authenticates with HTTP Basic (``client_secret_basic``: id and secret form-urlencoded before Base64,
RFC 6749 §2.3.1, so they are decoded here) or form fields (``client_secret_post``).
Tokens are opaque, kept in memory with their client and expiry.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote_plus

from aiohttp import web

from ..settings import PosEmulatorSettings

ISSUER_PATH = "/oidc"
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


@dataclass(frozen=True)
class Grant:
    client_id: str
    roles: tuple[str, ...]
    expires_at: float


@dataclass
class Issuer:
    settings: PosEmulatorSettings
    grants: dict[str, Grant] = field(default_factory=dict)
    issued: int = 0
    refused: int = 0

    def grant_for(self, token: str) -> Grant | None:
        grant = self.grants.get(token)
        if grant is None or grant.expires_at <= self.settings.clock():
            return None
        return grant

    def revoke_all(self) -> int:
        count = len(self.grants)
        self.grants.clear()
        return count


def _oauth_error(status: int, error: str, description: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"error": error, "error_description": description}, status=status,
                             headers={**NO_STORE, **(headers or {})})


def issuer_url(request: web.Request) -> str:
    return f"{request.url.origin()}{ISSUER_PATH}"


def add_oidc_routes(app: web.Application, issuer: Issuer) -> None:
    async def discovery(request: web.Request) -> web.Response:
        base = issuer_url(request)
        return web.json_response({
            "issuer": base,
            "authorization_endpoint": f"{base}/authorize",
            "token_endpoint": f"{base}/token",
            "jwks_uri": f"{base}/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "grant_types_supported": ["client_credentials"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        })

    async def jwks(_: web.Request) -> web.Response:
        return web.json_response({"keys": []})  # access tokens are opaque; no ID tokens are issued

    async def authorize(_: web.Request) -> web.Response:
        return _oauth_error(400, "unsupported_response_type", "only the client_credentials grant is offered")

    async def token(request: web.Request) -> web.Response:
        if request.content_type != "application/x-www-form-urlencoded":
            return _oauth_error(400, "invalid_request", "expected application/x-www-form-urlencoded")
        form = await request.post()
        header = request.headers.get("Authorization", "")
        basic = header[:6].lower() == "basic "
        client_id: str | None = None
        secret: str | None = None
        if basic:
            try:
                user, _, password = base64.b64decode(header[6:], validate=True).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                user = password = ""
            client_id, secret = unquote_plus(user), unquote_plus(password)
            if "client_secret" in form:
                return _oauth_error(400, "invalid_request", "client authenticated by more than one method")
        else:
            client_id, secret = _text(form.get("client_id")), _text(form.get("client_secret"))
        grant_type = _text(form.get("grant_type"))
        if not grant_type:
            return _oauth_error(400, "invalid_request", "grant_type is required")
        known = issuer.settings.graphql_clients.get(client_id or "")
        if known is None or not secret or not secrets.compare_digest(known[0].encode(), secret.encode()):
            issuer.refused += 1
            challenge = {"WWW-Authenticate": 'Basic realm="pos"'} if basic else {}
            return _oauth_error(401, "invalid_client", "client authentication failed", challenge)
        if grant_type != "client_credentials":
            return _oauth_error(400, "unsupported_grant_type", f"grant_type {grant_type} is not supported")
        value = secrets.token_urlsafe(32)
        ttl = issuer.settings.graphql_token_ttl_seconds
        issuer.grants[value] = Grant(str(client_id), tuple(known[1]), issuer.settings.clock() + ttl)
        issuer.issued += 1
        body: dict[str, Any] = {"access_token": value, "token_type": "Bearer", "expires_in": ttl}
        scope = _text(form.get("scope"))
        if scope:
            body["scope"] = scope
        return web.json_response(body, headers=NO_STORE)

    r = app.router
    r.add_get(f"{ISSUER_PATH}/.well-known/openid-configuration", discovery)
    r.add_get(f"{ISSUER_PATH}/jwks", jwks)
    r.add_get(f"{ISSUER_PATH}/authorize", authorize)
    r.add_post(f"{ISSUER_PATH}/token", token)


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None
