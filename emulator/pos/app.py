"""The emulated Retail Cloud POS: the proposed worker contract of reference ``pos-api.md`` §8.1-8.4.

API (base path ``/merchant/v1``; every call authenticated, ``Content-Type: application/json``, rate limited):

====== ============================================ ========================================================
POST   /oauth2/token                                legacy client-credentials token (``expired_in``)
POST   /merchant/v1/fulfillmentorders               import; 201 first, 200 + ``"duplicate": true`` after
GET    /merchant/v1/fulfillmentorders/{orderId}     404 if unknown
POST   /merchant/v1/fulfillmentorders/search        ``{storeId?, status?, updatedSince?, externalOrderIds?,
                                                    pageSize?, pageToken?}`` -> ``{orders, nextPageToken?}``
POST   /merchant/v1/fulfillmentorders/{id}/cancel   ``{orderItemIds?, reason}``; 409 once DELIVERED/SHIPPED
GET    /merchant/v1/sa/orders/{orderId}             an exported sale (CustomerOrder)
POST   /merchant/v1/sa/orders/search                ``{orderIds?, storeId?, email?, fromDate?, toDate?, ...}``
POST   /merchant/v1/sa/orders/repost                ``{orderIds}`` -> ``{reposted, notFound}``
====== ============================================ ========================================================

The OMS-initiated cancel sends no store-fulfilment webhook (the OMS already knows). Admin routes (no auth)
are in :mod:`emulator.pos.admin`. The emulator never imports ``worker``.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from .admin import add_admin_routes
from .auth import api_error, check_credentials, token_endpoint, too_many
from .common import ApiProblem
from .graphql.server import add_graphql_routes
from .settings import PosEmulatorSettings
from .state import PosState

STATE = web.AppKey("pos_state", PosState)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


async def json_body(request: web.Request) -> Any:
    if not request.can_read_body:
        raise ApiProblem(400, "INVALID_BODY", "a JSON body is required")
    try:
        return await request.json(loads=json.loads)
    except ValueError:
        raise ApiProblem(400, "INVALID_JSON", "body is not valid JSON") from None


def _api_middleware(state: PosState, prefix: str) -> Any:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not request.path.startswith(prefix):
            try:
                return await handler(request)
            except ApiProblem as exc:
                return api_error(exc.status, exc.code, exc.message)
        state.stats.requests += 1
        denied = await check_credentials(request, state.settings, state.tokens)
        if denied is not None:
            if denied.status == 401:
                state.stats.unauthorized += 1
            else:
                state.stats.forbidden += 1
            return denied
        if request.content_type != "application/json":
            return api_error(415, "UNSUPPORTED_MEDIA_TYPE", "Content-Type: application/json is required")
        wait = state.limiter.take()
        if wait is not None:
            state.stats.rate_limited += 1
            return too_many(wait)
        try:
            return await handler(request)
        except ApiProblem as exc:
            return api_error(exc.status, exc.code, exc.message)

    return middleware


def _api_routes(app: web.Application, state: PosState, prefix: str) -> None:
    async def import_order(request: web.Request) -> web.Response:
        order, created = state.orders.import_order(await json_body(request), state.now_ms())
        return web.json_response({**order, "duplicate": not created}, status=201 if created else 200)

    async def get_order(request: web.Request) -> web.Response:
        return web.json_response(state.orders.get(request.match_info["order_id"]))

    async def search_orders(request: web.Request) -> web.Response:
        return web.json_response(state.orders.search(await json_body(request)))

    async def cancel_order(request: web.Request) -> web.Response:
        order_id = request.match_info["order_id"]
        return web.json_response(state.orders.cancel(order_id, await json_body(request), state.now_ms()))

    async def get_sale(request: web.Request) -> web.Response:
        return web.json_response(state.get_sale(request.match_info["order_id"]))

    async def search_sales(request: web.Request) -> web.Response:
        return web.json_response(state.search_sales(await json_body(request)))

    async def repost(request: web.Request) -> web.Response:
        return web.json_response(state.repost(await json_body(request)))

    r = app.router
    r.add_post(f"{prefix}/fulfillmentorders", import_order)
    r.add_post(f"{prefix}/fulfillmentorders/search", search_orders)
    r.add_get(f"{prefix}/fulfillmentorders/{{order_id}}", get_order)
    r.add_post(f"{prefix}/fulfillmentorders/{{order_id}}/cancel", cancel_order)
    r.add_post(f"{prefix}/sa/orders/search", search_sales)
    r.add_post(f"{prefix}/sa/orders/repost", repost)
    r.add_get(f"{prefix}/sa/orders/{{order_id}}", get_sale)


def create_pos_app(settings: PosEmulatorSettings | None = None) -> web.Application:
    """The POS emulator as an aiohttp application (state under ``app[STATE]``)."""
    state = PosState(settings or PosEmulatorSettings())
    prefix = f"/merchant/{state.settings.api_version}"
    app = web.Application(middlewares=[_api_middleware(state, prefix)])
    app[STATE] = state

    async def token(request: web.Request) -> web.Response:
        if state.settings.auth_mode != "legacy":
            return api_error(
                404, "NOT_FOUND", "Hyperforce mode: tokens come from the merchant's Salesforce org"
            )
        return await token_endpoint(request, state.settings, state.tokens, state.stats)

    async def sender(_app: web.Application) -> AsyncIterator[None]:
        await state.webhooks.start()
        yield
        await state.webhooks.stop()

    app.cleanup_ctx.append(sender)
    app.router.add_post("/oauth2/token", token)
    _api_routes(app, state, prefix)
    add_admin_routes(app, state)
    add_graphql_routes(app, state)  # the GraphQL POS product (OIDC issuer + /graphql), same process
    return app


@dataclass
class RunningPos:
    url: str
    state: PosState
    runner: web.AppRunner

    async def stop(self) -> None:
        await self.runner.cleanup()


async def start_pos_emulator(
    settings: PosEmulatorSettings | None = None, host: str = "127.0.0.1", port: int = 0
) -> RunningPos:
    """Serve the emulator on ``host:port`` (0 = a free port chosen by the OS)."""
    app = create_pos_app(settings)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = runner.addresses[0][1]
    return RunningPos(url=f"http://{host}:{bound}", state=app[STATE], runner=runner)
