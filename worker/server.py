"""The worker's HTTP side: POS webhooks (durable accept), liveness, readiness, status and metrics.

A webhook is answered 200 only after it is committed to the store; a duplicate is acknowledged and not stored
twice. Bad input gets a clear 4xx with ``{"errorCode", "errorMessage"}`` naming the field; nothing is stored:

* authentication first: ``<auth_header>: <scheme> <key>`` exactly as configured, compared in constant time on
  the header's raw bytes (a header that is not UTF-8 is a 401, never an exception);
* the body is read under the body timeout (408) and size limit (413) of :mod:`worker.http_limits`, parsed
  by :func:`worker.strict_json.loads_strict` (NaN/Infinity, nesting, number size, NUL and lone surrogates
  are ``400 INVALID_JSON`` naming the path: nothing unstorable reaches the store, so a 503 always means
  "the store is down, repost later"), then validated by the POS models, which also refuse what Salesforce
  would (``400 INVALID_FIELD``, see :mod:`worker.pos.fields`).
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Callable

import structlog
from aiohttp import web
from pydantic import ValidationError

from worker.config import WebhookConfig
from worker.health import Health
from worker.http_limits import read_body, track_requests
from worker.metrics import Metrics
from worker.status import StatusBoard
from worker.status_page import render_status
from worker.store import Store
from worker.strict_json import JsonRejected, loads_strict
from worker.webhook_jobs import ENDPOINT_QUEUES, InvalidField, build_jobs

log = structlog.get_logger(__name__)

STORE = web.AppKey("store", Store)
HEALTH = web.AppKey("health", Health)
METRICS = web.AppKey("metrics", Metrics)
WEBHOOK = web.AppKey("webhook", WebhookConfig)
NOTIFY = web.AppKey("notify", dict[str, Callable[[], None]])
STATUS = web.AppKey("status", StatusBoard)


def error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"errorCode": code, "errorMessage": message}, status=status)


def validation_message(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors(include_url=False)[:5]:
        loc = ".".join(str(p) for p in err["loc"]) or "(body)"
        msg = str(err["msg"]).removeprefix("Value error, ")
        parts.append(f"{loc}: {msg}")
    return "; ".join(parts)


def header_bytes(value: str) -> bytes:
    """A header value as the bytes that arrived (aiohttp decodes UTF-8 with surrogateescape); never raises."""
    try:
        return value.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return value.encode("utf-8", "replace")


def authorized(request: web.Request, config: WebhookConfig) -> bool:
    """``<scheme> <key>`` (scheme case-insensitive, one or more spaces) or the bare key when no scheme is set."""
    presented = header_bytes(request.headers.get(config.auth_header, ""))
    expected = config.api_key.get_secret_value().encode()
    scheme = config.scheme.encode()
    if scheme:
        given, space, presented = presented.partition(b" ")
        if not space or given.lower() != scheme.lower():
            return False
        presented = presented.lstrip(b" ")
    return hmac.compare_digest(presented, expected)


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
    except TimeoutError:
        metrics.webhooks.labels(endpoint, "timeout").inc()
        answer = error(408, "REQUEST_TIMEOUT", "the request body did not arrive in time; repost")
        answer.force_close()
        return answer
    except Exception:
        return error(400, "INVALID_BODY", "could not read the request body")
    if len(raw) > config.max_body_bytes:
        metrics.webhooks.labels(endpoint, "too_large").inc()
        return error(413, "PAYLOAD_TOO_LARGE", f"body exceeds {config.max_body_bytes} bytes")
    try:
        body = loads_strict(raw)
    except JsonRejected as exc:
        metrics.webhooks.labels(endpoint, "invalid").inc()
        return error(400, "INVALID_JSON", str(exc) if exc.path else f"body is {exc.reason}")
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
    except InvalidField as exc:
        metrics.webhooks.labels(endpoint, "invalid").inc()
        return error(400, "INVALID_FIELD", str(exc))
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
    body, content_type = await request.app[METRICS].render(request.headers.get("Accept"))
    return web.Response(body=body, headers={"Content-Type": content_type})


async def status_view(request: web.Request) -> web.Response:
    """JSON, or a small HTML page when the client asks for ``text/html`` (a browser)."""
    report = await request.app[STATUS].report()
    headers = {"Cache-Control": "no-store"}
    if "text/html" in request.headers.get("Accept", "").lower():
        headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'"
        return web.Response(text=render_status(report), content_type="text/html", headers=headers)
    return web.json_response(report, headers=headers)


def create_app(
    store: Store, health: Health, metrics: Metrics, webhook_config: WebhookConfig | None,
    notify: dict[str, Callable[[], None]] | None = None, status: StatusBoard | None = None,
) -> web.Application:
    max_body = webhook_config.max_body_bytes if webhook_config is not None else 1_048_576
    app = web.Application(client_max_size=max_body + 1024, middlewares=[track_requests])
    app[STORE], app[HEALTH], app[METRICS] = store, health, metrics
    app[NOTIFY] = notify or {}
    app[STATUS] = status or StatusBoard(store, health)
    if webhook_config is not None:  # none for pos.backend graphql: that POS sends no webhooks
        app[WEBHOOK] = webhook_config
        app.router.add_post("/webhooks/pos/{endpoint}", webhook)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics_view)
    app.router.add_get("/status", status_view)
    return app
