"""The worker's HTTP side: POS webhooks (durable accept), health, readiness and metrics.

A webhook is answered 200 only after it is committed to the store; a duplicate is acknowledged and not stored
twice. Bad input gets a clear 4xx with ``{"errorCode", "errorMessage"}`` naming the field; nothing is stored.
"""

from __future__ import annotations

import hmac
import json
import time
from collections.abc import Callable
from typing import Any

import structlog
from aiohttp import web
from pydantic import ValidationError

from worker.config import WebhookConfig
from worker.health import Health
from worker.metrics import Metrics
from worker.pos.models import PosSale, StoreFulfillmentEvent
from worker.store import NewJob, Store

log = structlog.get_logger(__name__)

# endpoint name (one URL per POS connector) -> queue; None = acknowledged and not processed (see README).
ENDPOINT_QUEUES: dict[str, str | None] = {
    "ORDER": "sale",
    "ORDER_UPDATE": "sale",
    "RETURN": "return",
    "BOPIS_EXPORT": None,
    "BOFIS_EXPORT": None,
    "STORE_FULFILLMENT": "status",
}
STORE = web.AppKey("store", Store)
HEALTH = web.AppKey("health", Health)
METRICS = web.AppKey("metrics", Metrics)
WEBHOOK = web.AppKey("webhook", WebhookConfig)
NOTIFY = web.AppKey("notify", dict[str, Callable[[], None]])


def error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"errorCode": code, "errorMessage": message}, status=status)


def validation_message(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors(include_url=False)[:5]:
        loc = ".".join(str(p) for p in err["loc"]) or "(body)"
        msg = str(err["msg"]).removeprefix("Value error, ")
        parts.append(f"{loc}: {msg}")
    return "; ".join(parts)


def authorized(request: web.Request, config: WebhookConfig) -> bool:
    presented = request.headers.get(config.auth_header, "")
    expected = config.api_key.get_secret_value()
    if config.auth_header.lower() == "authorization" and presented[:7].lower() == "bearer ":
        presented = presented[7:]
    return hmac.compare_digest(presented.encode(), expected.encode())


def build_jobs(endpoint: str, queue: str, body: dict[str, Any]) -> list[NewJob]:
    """Validate the body for its endpoint and turn it into queue rows (raises ValidationError).

    An exchange arrives as one ORDER carrying both lists: the sold lines are a sale to post and the returned
    lines a return to refund, so it becomes a sale job and a return job, stored in the same transaction.
    """
    if queue == "status":
        event = StoreFulfillmentEvent.model_validate(body)
        return [NewJob(queue=queue, dedupe_key=event.dedupe_key(endpoint),
                       payload={"endpoint": endpoint, "event": event.model_dump(mode="json", by_alias=True)},
                       ordering_key=event.externalOrderId)]
    sale = PosSale.model_validate(body)
    key = sale.dedupe_key(endpoint)
    jobs = [NewJob(queue=queue, dedupe_key=key, payload={"endpoint": endpoint, "sale": body},
                   ordering_key=sale.orderId)]
    if queue == "sale" and body.get("returnProductList"):
        jobs.append(NewJob(queue="return", dedupe_key=f"{key}:exchange", payload={"endpoint": endpoint, "sale": body},
                           ordering_key=sale.orderId))
    return jobs


async def read_body(request: web.Request, limit: int) -> bytes:
    """Up to ``limit`` bytes of the body: ``StreamReader.read(n)`` returns what is buffered, not n bytes."""
    chunks: list[bytes] = []
    size = 0
    while size < limit:
        chunk = await request.content.read(limit - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


async def webhook(request: web.Request) -> web.Response:
    endpoint = request.match_info["endpoint"].upper()
    metrics, config = request.app[METRICS], request.app[WEBHOOK]
    started = time.perf_counter()
    if endpoint not in ENDPOINT_QUEUES:
        return error(404, "UNKNOWN_ENDPOINT", f"unknown webhook endpoint {endpoint!r}; expected one of "
                     + ", ".join(ENDPOINT_QUEUES))
    if not authorized(request, config):
        metrics.webhooks.labels(endpoint, "unauthorized").inc()
        return error(401, "UNAUTHORIZED", f"missing or invalid {config.auth_header} header")
    if request.app[HEALTH].draining:
        return error(503, "SHUTTING_DOWN", "the worker is shutting down; repost later")
    if request.content_length is not None and request.content_length > config.max_body_bytes:
        metrics.webhooks.labels(endpoint, "too_large").inc()
        return error(413, "PAYLOAD_TOO_LARGE", f"body exceeds {config.max_body_bytes} bytes")
    try:
        raw = await read_body(request, config.max_body_bytes + 1)
    except Exception:
        return error(400, "INVALID_BODY", "could not read the request body")
    if len(raw) > config.max_body_bytes:
        metrics.webhooks.labels(endpoint, "too_large").inc()
        return error(413, "PAYLOAD_TOO_LARGE", f"body exceeds {config.max_body_bytes} bytes")
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        metrics.webhooks.labels(endpoint, "invalid").inc()
        return error(400, "INVALID_JSON", f"body is not valid JSON: {exc}")
    if not isinstance(body, dict):
        metrics.webhooks.labels(endpoint, "invalid").inc()
        return error(400, "INVALID_BODY", "body must be a JSON object")
    queue = ENDPOINT_QUEUES[endpoint]
    if queue is None:
        metrics.webhooks.labels(endpoint, "ignored").inc()
        log.info("webhook_ignored", endpoint=endpoint, pos_order_id=str(body.get("orderId", ""))[:64])
        return web.json_response({"status": "OK"})
    try:
        jobs = build_jobs(endpoint, queue, body)
    except ValidationError as exc:
        metrics.webhooks.labels(endpoint, "invalid").inc()
        return error(400, "INVALID_FIELD", validation_message(exc))
    try:
        inserted = await request.app[STORE].enqueue(jobs)
    except Exception as exc:
        metrics.webhooks.labels(endpoint, "store_failed").inc()
        log.error("webhook_store_failed", endpoint=endpoint, error=type(exc).__name__)
        return error(503, "UNAVAILABLE", "could not store the event; repost later")
    outcome = "accepted" if inserted else "duplicate"
    metrics.webhooks.labels(endpoint, outcome).inc()
    metrics.latency.labels("webhook", endpoint).observe(time.perf_counter() - started)
    log.info("webhook_accepted", endpoint=endpoint, pos_order_id=jobs[0].ordering_key, duplicate=not inserted)
    if inserted:
        for job in jobs:
            request.app[NOTIFY].get(job.queue, lambda: None)()
    return web.json_response({"status": "OK", "duplicate": not inserted})


async def healthz(request: web.Request) -> web.Response:
    alive, ages = request.app[HEALTH].liveness()
    return web.json_response({"alive": alive, "loops_seconds_since_beat": ages}, status=200 if alive else 503)


async def readyz(request: web.Request) -> web.Response:
    ok, failing = await request.app[HEALTH].readiness()
    return web.json_response({"ok": ok, "failing": failing}, status=503 if failing else 200)


async def metrics_view(request: web.Request) -> web.Response:
    return web.Response(body=request.app[METRICS].render(), content_type="text/plain", charset="utf-8")


def create_app(
    store: Store, health: Health, metrics: Metrics, webhook_config: WebhookConfig,
    notify: dict[str, Callable[[], None]] | None = None,
) -> web.Application:
    app = web.Application(client_max_size=webhook_config.max_body_bytes + 1024)
    app[STORE], app[HEALTH], app[METRICS], app[WEBHOOK] = store, health, metrics, webhook_config
    app[NOTIFY] = notify or {}
    app.router.add_post("/webhooks/pos/{endpoint}", webhook)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics_view)
    return app
