"""Admin API of the emulated POS (``/__admin/...``, no auth): what store associates, CMS and tests do.

====== ============================================= =========================================================
POST   /__admin/webhooks                             ``{urls: {ENDPOINT: url}, headers, duplicate_rate,
                                                     reorder, reorder_window_ms, delay_ms, seed,
                                                     parallelism}`` (parallelism: delivery lanes, 1..256)
GET    /__admin/webhooks/log                         every delivery with status and outcome
GET    /__admin/webhooks/failed                      failed events (kept for repost, never retried alone)
POST   /__admin/webhooks/repost                      ``{ids?}``: re-send failed events (all by default)
POST   /__admin/webhooks/drain                       wait until every emitted event was delivered
POST   /__admin/fulfillmentorders/{orderId}/events   ``{eventType, items?, storeAssociateId?}`` (associate)
GET    /__admin/orders                               ``{orders: [...]}`` imported fulfillment orders
POST   /__admin/sales                                ``{kind, tender, store, lines?, customer_email?,
                                                     original_order_id?, return_lines?}`` -> the sale
GET    /__admin/sales                                ``{sales: [...]}``
POST   /__admin/sales/{orderId}/update               ``{orderStatus?}`` -> ORDER_UPDATE export
POST   /__admin/hyperforce/token                     ``{ttl_seconds?}`` -> a bearer token for Hyperforce mode
                                                     (stands in for the merchant's Salesforce org)
POST   /__admin/tokens/revoke                        revoke every issued token (tests the 401 refresh)
GET    /__admin/stats                                request, token, 401/403 and 429 counters; orders_imported
                                                     and sales_created (cheap to poll)
POST   /__admin/reset                                forget orders, sales, deliveries, counters (keeps
                                                     webhook configuration and tokens)
====== ============================================= =========================================================

A missing ``customer_email`` gives the seeded customer (Ann Lee); ``"customer_email": null`` an anonymous
sale.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from .common import ApiProblem
from .state import PosState
from .webhooks import WebhookOptions


async def _body(request: web.Request) -> Any:
    if not request.can_read_body:
        return {}
    try:
        return await request.json(loads=json.loads)
    except ValueError:
        raise ApiProblem(400, "INVALID_JSON", "body is not valid JSON") from None


def add_admin_routes(app: web.Application, state: PosState) -> None:
    hooks = state.webhooks

    async def configure(request: web.Request) -> web.Response:
        body = await _body(request)
        try:
            options = WebhookOptions.parse(body if isinstance(body, dict) else {})
        except (TypeError, ValueError) as exc:
            raise ApiProblem(400, "INVALID_FIELD", str(exc)) from None
        hooks.configure(options)
        return web.json_response(
            {
                "urls": options.urls,
                "headers": sorted(options.headers),
                "duplicate_rate": options.duplicate_rate,
                "reorder": options.reorder,
                "delay_ms": options.delay_ms,
                "seed": options.seed,
                "parallelism": options.parallelism,
            }
        )

    async def delivery_log(_: web.Request) -> web.Response:
        return web.json_response({"deliveries": hooks.log})

    async def failed(_: web.Request) -> web.Response:
        return web.json_response({"failed": hooks.failed_view()})

    async def repost(request: web.Request) -> web.Response:
        body = await _body(request)
        ids = body.get("ids") if isinstance(body, dict) else None
        if ids is not None and not isinstance(ids, list):
            raise ApiProblem(400, "INVALID_FIELD", "ids: expected a list of event ids")
        return web.json_response({"reposted": [e.id for e in hooks.repost(ids)]})

    async def drain(_: web.Request) -> web.Response:
        await hooks.drain()
        return web.json_response({"pending": 0})

    async def event(request: web.Request) -> web.Response:
        return web.json_response(
            state.fulfillment_event(request.match_info["order_id"], await _body(request))
        )

    async def orders(_: web.Request) -> web.Response:
        return web.json_response({"orders": list(state.orders.by_id.values())})

    async def create_sale(request: web.Request) -> web.Response:
        return web.json_response(state.create_sale(await _body(request)), status=201)

    async def sales(_: web.Request) -> web.Response:
        return web.json_response({"sales": list(state.sales.values())})

    async def update_sale(request: web.Request) -> web.Response:
        return web.json_response(state.update_sale(request.match_info["order_id"], await _body(request)))

    async def hyperforce_token(request: web.Request) -> web.Response:
        body = await _body(request)
        ttl = body.get("ttl_seconds") if isinstance(body, dict) else None
        if ttl is not None and (isinstance(ttl, bool) or not isinstance(ttl, int | float)):
            raise ApiProblem(400, "INVALID_FIELD", "ttl_seconds: expected a number")
        token = state.tokens.issue_hyperforce(ttl)
        state.stats.tokens_issued += 1
        # Salesforce's token answer carries no lifetime; the JWT's exp claim holds it.
        return web.json_response(
            {"access_token": token, "token_type": "Bearer", "issued_at": str(state.now_ms())}
        )

    async def revoke(_: web.Request) -> web.Response:
        return web.json_response({"revoked": state.tokens.revoke_all()})

    async def stats(_: web.Request) -> web.Response:
        return web.json_response({**state.stats.as_dict(), "orders_imported": len(state.orders.by_id),
                                  "sales_created": len(state.sales)})

    async def reset(_: web.Request) -> web.Response:
        await hooks.drain()
        state.reset()
        return web.json_response({"reset": True})

    r = app.router
    r.add_post("/__admin/webhooks", configure)
    r.add_get("/__admin/webhooks/log", delivery_log)
    r.add_get("/__admin/webhooks/failed", failed)
    r.add_post("/__admin/webhooks/repost", repost)
    r.add_post("/__admin/webhooks/drain", drain)
    r.add_post("/__admin/fulfillmentorders/{order_id}/events", event)
    r.add_get("/__admin/orders", orders)
    r.add_post("/__admin/sales", create_sale)
    r.add_get("/__admin/sales", sales)
    r.add_post("/__admin/sales/{order_id}/update", update_sale)
    r.add_post("/__admin/hyperforce/token", hyperforce_token)
    r.add_post("/__admin/tokens/revoke", revoke)
    r.add_get("/__admin/stats", stats)
    r.add_post("/__admin/reset", reset)
