"""Operator API under ``/__admin/`` (no auth, JSON): faults, org settings, tokens, limits, counters, records, seed,
scenarios, event publish and purge (ages events out of the retention window on demand), Pub/Sub stream faults."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from aiohttp import web

from . import scenario
from .errors import SfError
from .events import FO_STATUS_CHANNEL
from .faults import FaultSettings
from .pubsub import RESET_CODES

if TYPE_CHECKING:
    from .app import SfEmulator


def _json(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=lambda v: json.dumps(v, default=str))


def _bad(message: str, status: int = 400) -> web.Response:
    return _json({"error": message}, status)


async def _body(request: web.Request) -> dict[str, Any]:
    if not request.can_read_body:
        return {}
    try:
        data = await request.json()
    except ValueError as exc:
        raise web.HTTPBadRequest(text=json.dumps({"error": f"invalid JSON: {exc}"}),
                                 content_type="application/json") from None
    if not isinstance(data, dict):
        raise web.HTTPBadRequest(text=json.dumps({"error": "body must be a JSON object"}),
                                 content_type="application/json")
    return data


def add_admin_routes(app: web.Application, emu: SfEmulator) -> None:
    routes = web.RouteTableDef()

    @routes.post("/__admin/faults")
    async def set_faults(request: web.Request) -> web.Response:
        try:
            settings = FaultSettings.from_json(await _body(request))
        except (TypeError, ValueError) as exc:
            return _bad(str(exc))
        emu.faults.configure(settings)
        emu.bus.drop_rate = settings.event_drop_rate
        return _json({"faults": settings.__dict__})

    @routes.delete("/__admin/faults")
    async def clear_faults(request: web.Request) -> web.Response:
        emu.faults.clear()
        emu.bus.drop_rate = 0.0
        emu.pubsub.set_unavailable(0)
        return _json({"faults": emu.faults.settings.__dict__})

    @routes.get("/__admin/settings")
    async def get_settings(request: web.Request) -> web.Response:
        return _json({"order_summary_flow": emu.org.order_summary_flow})

    @routes.post("/__admin/settings")
    async def set_settings(request: web.Request) -> web.Response:
        """Org settings: ``order_summary_flow`` (bool), the record-triggered flow creating OrderSummaries."""
        body = await _body(request)
        unknown = sorted(set(body) - {"order_summary_flow"})
        if unknown:
            return _bad(f"unknown org settings: {unknown}")
        if "order_summary_flow" in body:
            if not isinstance(body["order_summary_flow"], bool):
                return _bad("order_summary_flow must be true or false")
            emu.org.order_summary_flow = body["order_summary_flow"]
        return _json({"order_summary_flow": emu.org.order_summary_flow})

    @routes.post("/__admin/cometd/drop-clients")
    async def drop_clients(request: web.Request) -> web.Response:
        return _json({"dropped": emu.cometd.drop_all_clients()})

    @routes.post("/__admin/tokens/revoke")
    async def revoke(request: web.Request) -> web.Response:
        return _json({"revoked": emu.tokens.revoke_all()})

    @routes.post("/__admin/tokens/ttl")
    async def ttl(request: web.Request) -> web.Response:
        seconds = (await _body(request)).get("seconds")
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds <= 0:
            return _bad("seconds must be a positive number")
        emu.tokens.set_ttl(float(seconds))
        return _json({"seconds": seconds})

    @routes.post("/__admin/limits")
    async def limits(request: web.Request) -> web.Response:
        body = await _body(request)
        for key in ("max", "used"):
            if key in body and (isinstance(body[key], bool) or not isinstance(body[key], int) or body[key] < 0):
                return _bad(f"{key} must be a non-negative integer")
        emu.limits.maximum = body.get("max", emu.limits.maximum)
        emu.limits.used = body.get("used", emu.limits.used)
        return _json({"max": emu.limits.maximum, "used": emu.limits.used})

    @routes.post("/__admin/restart")
    async def restart(request: web.Request) -> web.Response:
        saved = emu.persist()
        dropped = emu.cometd.drop_all_clients()
        reset = emu.pubsub.reset_streams()
        return _json({"persisted": saved, "dropped_clients": dropped, "reset_streams": reset})

    @routes.get("/__admin/pubsub")
    async def pubsub_state(request: web.Request) -> web.Response:
        return _json(emu.pubsub.describe())

    @routes.post("/__admin/pubsub/reset-streams")
    async def pubsub_reset(request: web.Request) -> web.Response:
        """End every open Subscribe stream with ``code`` (default UNAVAILABLE), as a dropped connection would."""
        code = (await _body(request)).get("code", "UNAVAILABLE")
        if code not in RESET_CODES:
            return _bad(f"code must be one of {sorted(RESET_CODES)}")
        return _json({"reset": emu.pubsub.reset_streams(RESET_CODES[code]), "code": code})

    @routes.post("/__admin/pubsub/unavailable")
    async def pubsub_unavailable(request: web.Request) -> web.Response:
        """Refuse every Pub/Sub RPC with UNAVAILABLE for ``seconds`` (open streams end at once); 0 clears."""
        seconds = (await _body(request)).get("seconds")
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
            return _bad("seconds must be a number >= 0")
        return _json({"seconds": seconds, "reset": emu.pubsub.set_unavailable(float(seconds))})

    @routes.delete("/__admin/pubsub/unavailable")
    async def pubsub_available(request: web.Request) -> web.Response:
        emu.pubsub.set_unavailable(0)
        return _json({"seconds": 0})

    @routes.get("/__admin/counters")
    async def counters(request: web.Request) -> web.Response:
        return _json({**emu.counters.as_json(), "api_usage": {"used": emu.limits.used, "max": emu.limits.maximum},
                      "faults_injected": emu.faults.injected})

    @routes.post("/__admin/counters/reset")
    async def reset_counters(request: web.Request) -> web.Response:
        emu.counters.reset()
        return _json(emu.counters.as_json())

    @routes.get("/__admin/requests")
    async def requests(request: web.Request) -> web.Response:
        try:
            limit = int(request.query.get("limit", "100"))
        except ValueError:
            return _bad("limit must be an integer")
        return _json({"requests": emu.counters.recent(limit)})

    @routes.get("/__admin/records/{sobject}")
    async def records(request: web.Request) -> web.Response:
        obj = emu.org.schema.get(request.match_info["sobject"])
        if obj is None:
            return _bad(f"unknown sObject {request.match_info['sobject']}", 404)
        rows = list(emu.org.records(obj.name))
        for clause in request.query.getall("where", []):
            fname, sep, value = clause.partition(":")
            canonical = obj.lower.get(fname.lower())
            if not sep or canonical is None:
                return _bad(f"where must be Field:value with a field of {obj.name}")
            rows = [r for r in rows if r[canonical] is not None and str(r[canonical]) == value]
        if request.query.get("count") == "true":  # cheap to poll: the size only
            return _json({"totalSize": len(rows)})
        return _json({"totalSize": len(rows), "records": [dict(r) for r in rows]})

    @routes.post("/__admin/seed")
    async def seed(request: web.Request) -> web.Response:
        body = await _body(request)
        try:
            return _json(scenario.apply_seed(emu.org, scenario.DEMO_SEED if body.get("demo") else body))
        except (SfError, ValueError, KeyError, TypeError) as exc:
            return _bad(f"seed failed: {exc}")

    @routes.post("/__admin/scenario/orders")
    async def orders(request: web.Request) -> web.Response:
        try:
            return _json({"orders": scenario.create_orders(emu.org, await _body(request))})
        except (SfError, ValueError, KeyError, TypeError) as exc:
            return _bad(f"scenario failed: {exc}")

    @routes.post("/__admin/fulfillment-orders/{fo_id}/status")
    async def fo_status(request: web.Request) -> web.Response:
        status = (await _body(request)).get("status")
        if not isinstance(status, str):
            return _bad("status must be a string")
        try:
            emu.org.update(request.match_info["fo_id"], {"Status": status}, sobject="FulfillmentOrder")
        except SfError as exc:
            return _json(exc.body(), exc.status)
        return _json({"id": request.match_info["fo_id"], "status": status})

    @routes.post("/__admin/events/publish")
    async def publish(request: web.Request) -> web.Response:
        body = await _body(request)
        channel, payload = body.get("channel", "/event/FOStatusChangedEvent"), body.get("payload")
        if not isinstance(channel, str) or not isinstance(payload, dict):
            return _bad("body needs channel (string) and payload (object)")
        event = emu.bus.publish(channel, payload)
        return _json({"published": event is not None, "replay_id": event.replay_id if event else None})

    @routes.post("/__admin/events/purge")
    async def purge(request: web.Request) -> web.Response:
        """Age events out as the retention window does (72 h for platform events), without waiting for it."""
        age = (await _body(request)).get("older_than_seconds", 0)
        if isinstance(age, bool) or not isinstance(age, int | float) or age < 0:
            return _bad("older_than_seconds must be a number >= 0")
        purged = emu.bus.purge_older_than(float(age))
        return _json({"purged": purged, "retained": emu.bus.retained_count(FO_STATUS_CHANNEL)})

    app.add_routes(routes)
