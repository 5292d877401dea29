"""``/graphql`` of the emulated GraphQL POS: bearer-token check, rate limit, then ariadne over the assumed SDL.

Answers (assumed; see ``emulator/REFERENCE-graphql-pos.md``): a missing, unknown or expired token is HTTP 401
with ``WWW-Authenticate: Bearer`` (RFC 6750 §3) and a GraphQL error body ``extensions.code UNAUTHENTICATED``;
too many requests are HTTP 429 with ``Retry-After`` and ``RATE_LIMITED``; a document that does not parse or
validate is HTTP 400; everything else is HTTP 200 with ``data`` and, per field, ``errors``. Introspection is on.
"""

from __future__ import annotations

import json
import logging
import math
import time
from pathlib import Path
from typing import Any

from aiohttp import web
from ariadne import graphql, make_executable_schema
from ariadne.explorer import ExplorerGraphiQL

from ..auth import RateLimiter
from ..state import PosState
from .oidc import Issuer, add_oidc_routes
from .resolvers import ROLES, GraphqlBook, bindables

SDL_PATH = Path(__file__).with_name("schema.graphql")
GRAPHQL_PATH = "/graphql"
ISSUER = web.AppKey("graphql_issuer", Issuer)
# Field errors (FORBIDDEN, BAD_USER_INPUT) are answers, not emulator faults: ariadne's per-error tracebacks stay out
ERRORS_LOG = logging.getLogger("emulator.pos.graphql.errors")
ERRORS_LOG.setLevel(logging.CRITICAL)


def _errors(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"errors": [{"message": message, "extensions": {"code": code}}]}, status=status,
                             headers=headers)


def add_graphql_routes(app: web.Application, state: PosState) -> Issuer:
    """Mount the OIDC issuer and ``/graphql`` on the POS emulator's app; returns the issuer (tokens, counters)."""
    settings = state.settings
    sdl = settings.graphql_sdl if settings.graphql_sdl is not None else SDL_PATH.read_text()
    book = GraphqlBook()
    schema = make_executable_schema(sdl, *bindables(state, book))
    issuer = Issuer(settings)
    limiter = RateLimiter(settings.rate_limit_per_second, time.monotonic)
    explorer = ExplorerGraphiQL(title="POS GraphQL (emulated)").html(None)
    add_oidc_routes(app, issuer)
    app[ISSUER] = issuer

    async def revoke(_: web.Request) -> web.Response:  # admin: every GraphQL token is forgotten (a key rotation)
        return web.json_response({"revoked": issuer.revoke_all()})

    async def console(_: web.Request) -> web.Response:
        return web.Response(text=explorer or "", content_type="text/html")

    async def execute(request: web.Request) -> web.Response:
        state.stats.requests += 1
        header = request.headers.get("Authorization", "")
        grant = issuer.grant_for(header[7:]) if header[:7].lower() == "bearer " else None
        if grant is None:
            state.stats.unauthorized += 1
            challenge = 'Bearer realm="pos"' + (', error="invalid_token"' if header else "")
            return _errors(401, "UNAUTHENTICATED", "a valid bearer token is required",
                           {"WWW-Authenticate": challenge})
        wait = limiter.take()
        if wait is not None:
            state.stats.rate_limited += 1
            return _errors(429, "RATE_LIMITED", "rate limit exceeded; retry later",
                           {"Retry-After": str(max(1, math.ceil(wait)))})
        if request.content_type != "application/json":
            return _errors(415, "BAD_REQUEST", "Content-Type: application/json is required")
        try:
            data: Any = await request.json(loads=json.loads)
        except ValueError:
            return _errors(400, "BAD_REQUEST", "body is not valid JSON")
        permissions = frozenset().union(*(ROLES.get(role, frozenset()) for role in grant.roles))
        success, result = await graphql(schema, data, context_value={"permissions": permissions,
                                                                      "client_id": grant.client_id},
                                        introspection=True, debug=False, logger=ERRORS_LOG)
        # executed (data present, maybe with field errors): 200; did not parse or validate: 400
        return web.json_response(result, status=200 if success or "data" in result else 400)

    app.router.add_post(GRAPHQL_PATH, execute)
    app.router.add_get(GRAPHQL_PATH, console)
    app.router.add_post("/__admin/graphql/tokens/revoke", revoke)
    return issuer
