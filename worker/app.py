"""The composition root: the only place that opens, wires and closes everything.

Resources are entered into one AsyncExitStack (closed in reverse order); every long loop runs in one
asyncio.TaskGroup. SIGTERM/SIGINT set ``stop``: the stream and the claim loops stop taking work, webhooks answer
503, in-flight work gets ``drain_grace_seconds`` to finish (anything unfinished is released back to the queue),
then everything closes and the process exits 0.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, cast

import aiohttp
import structlog
from aiohttp import web

from worker.config import Config
from worker.flows.effects import settle_seconds
from worker.flows.fulfillment_import import FulfillmentImporter
from worker.flows.ingest import EventLike, Ingest
from worker.flows.reconcile import Reconciler
from worker.flows.returns import ReturnProcessor
from worker.flows.runner import Handler, Pause, QueueRunner
from worker.flows.sale_history import SaleHistory
from worker.flows.sale_posting import SalePoster
from worker.flows.sale_sweep import SaleSweep
from worker.flows.status_sync import StatusSync
from worker.health import Health, stream_pulse
from worker.http_limits import GuardedSite, server_options
from worker.live_check import log_preflight
from worker.logging import configure_logging
from worker.metrics import Metrics
from worker.pos.client import PosClient
from worker.pos_backend import open_pos
from worker.retry import RetryPolicy
from worker.salesforce.auth import TokenProvider, make_ssl_context
from worker.salesforce.cometd import quiet_cancelled_connect
from worker.salesforce.rest import SalesforceRest
from worker.salesforce.stream_types import STREAM_RETRY
from worker.salesforce.transport import EventTransport, open_transport
from worker.server import create_app
from worker.spi import add_spi_routes
from worker.status import StatusBoard, pos_check, salesforce_check
from worker.store import Store, open_store
from worker.store_health import StoreHealth, guard_store, store_check

if TYPE_CHECKING:
    from worker.pos_graphql.client import GraphqlPos

log = structlog.get_logger(__name__)


@dataclass
class Running:
    """Handles tests and the demo use to look inside a running worker."""

    config: Config
    store: Store
    metrics: Metrics
    health: Health
    http_port: int
    stop: asyncio.Event
    reconciler: Reconciler
    sf: SalesforceRest
    extras: dict[str, object] = field(default_factory=dict)


def worker_id(config: Config) -> str:
    return config.worker.worker_id or f"{socket.gethostname()}-{os.getpid()}"


async def serve(
    config: Config,
    stop: asyncio.Event,
    *,
    started: Callable[[Running], Awaitable[None] | None] | None = None,
) -> None:
    """Run the worker until ``stop`` is set, then drain and close."""
    wid = worker_id(config)
    structlog.contextvars.bind_contextvars(worker_id=wid)
    quiet_cancelled_connect(asyncio.get_running_loop())
    wc = config.worker
    watchdog = wc.stream.watchdog_seconds  # the running transport's silence bound
    metrics, health, pause = Metrics(), Health(liveness_window=max(60.0, watchdog)), Pause()
    http_retry = RetryPolicy(attempts=wc.retry.http_attempts, base_delay=0.2, max_delay=5.0)
    job_retry = RetryPolicy(attempts=wc.retry.attempts, base_delay=wc.retry.base_delay_seconds,
                            max_delay=wc.retry.max_delay_seconds, jitter=wc.retry.jitter)
    async with AsyncExitStack() as stack:
        ssl_context = make_ssl_context(config.salesforce)
        connector = aiohttp.TCPConnector(limit=100, ssl=ssl_context if ssl_context is not None else True)
        session = await stack.enter_async_context(aiohttp.ClientSession(connector=connector))
        store_health = StoreHealth()  # readiness learns from every store call (a full disk still answers a ping)
        store = guard_store(await open_store(wc.store_url, exclusive=True), store_health)
        stack.push_async_callback(store.close)
        tokens = TokenProvider(config.salesforce, config.auth, session)
        sf = SalesforceRest(config.salesforce, tokens, session, retry=http_retry)
        # pos.backend graphql: sale history is the sale source; fulfillment import, status write-back, webhooks
        # and SPIs are Retail Cloud flows that back-end does not run (check-config refuses their settings).
        retail = config.pos.backend == "retail_cloud"
        pos = open_pos(config.pos, session, retry=http_retry)
        stack.push_async_callback(pos.close)

        wakeups = {q: asyncio.Event() for q in ("fo_import", "sale", "status", "return", "cancel")}
        notify = {q: event.set for q, event in wakeups.items()}
        history = None if isinstance(pos, PosClient) else await _sale_history(config, store, pos, notify, metrics)
        reconciler = Reconciler(store, sf, config.salesforce, metrics, interval_seconds=wc.reconcile.interval_seconds,
                                overlap_seconds=wc.reconcile.overlap_seconds, on_enqueued=notify["fo_import"])
        sale_sweep = SaleSweep(store, pos, interval_seconds=wc.sale_sweep.interval_seconds,
                               overlap_seconds=wc.sale_sweep.overlap_seconds,
                               notify=notify, metrics=metrics) if isinstance(pos, PosClient) else None

        async def on_gap(reason: str) -> None:  # the stream may have missed events: the same sweep on either transport
            await reconciler.after_gap(reason, cursor_key=stream.cursor_key)

        stream: EventTransport = open_transport(config, tokens, store, on_gap=on_gap)
        ingest = Ingest(store, stream.cursor_key, config.salesforce.statuses_to_process(), metrics,
                        on_enqueued=notify["fo_import"], heartbeat=health.beater("stream"),
                        on_committed=stream.committed)
        cc, window = wc.concurrency, wc.concurrency.batch_window_ms / 1000
        # (handler, batch size, concurrent batches, batch window): FO events already arrive in stream batches
        # (measured for Pub/Sub too: a 20 ms import window saved no calls per FO and added its 20 ms of latency).
        handlers: list[tuple[Handler, int, int, float]] = [
            (SalePoster(store, sf, config, metrics, summary_concurrency=cc.connect_calls), cc.posting_batch_size,
             cc.posting_workers, window),
            (ReturnProcessor(store, sf, metrics, wc.returns, settle_seconds=settle_seconds(config)), 1, 2, 0.0),
        ]
        if isinstance(pos, PosClient):
            handlers += [
                (FulfillmentImporter(store, sf, pos, config.salesforce, metrics), cc.import_batch_size,
                 cc.import_workers, 0.0),
                (StatusSync(store, sf, config, metrics), cc.status_batch_size, cc.status_workers, window),
            ]
        runners = [
            QueueRunner(store, handler, worker_id=wid, retry=job_retry, metrics=metrics, pause=pause,
                        batch_size=batch, concurrency=workers, lease_seconds=wc.lease_seconds,
                        wakeup=wakeups[handler.queue], heartbeat=health.beater(handler.queue), batch_window=wait)
            for handler, batch, workers, wait in handlers
        ]
        _add_readiness(health, store, store_health, stream if retail else None, watchdog)
        health.dependencies.update({"salesforce": salesforce_check(tokens, session), "pos": pos_check(pos)})
        if history is not None:
            health.dependencies["pos_sale_history"] = _last_error(history)
        if retail and wc.reconcile.enabled:  # a failing sweep (an org that refuses it, or ignores its continuation)
            health.dependencies["reconcile"] = _last_error(reconciler)
        board = StatusBoard(store, health, stream=stream.status if retail else None, limits=lambda: sf.limits,
                            pause=pause,
                            failing_queues=metrics.outcomes.snapshot,
                            stream_lag=lambda: metrics.stream_lag.value, keepalive_seconds=watchdog,
                            worker_id=wid, operator_required=lambda: tokens.operator_required,
                            pos_operator_required=lambda: pos.auth.operator_required)
        metrics.reader = board.reading  # gauges are read at scrape time
        app = create_app(store, health, metrics, wc.webhook, notify, status=board)
        if retail:
            add_spi_routes(app, sf, wc.spi.api_keys)
        runner = web.AppRunner(app, access_log=None, **server_options(wc.http))
        await runner.setup()
        stack.push_async_callback(runner.cleanup)
        site = GuardedSite(runner, wc.http)  # header/body/keep-alive timeouts and the connection cap
        await site.start()
        port = _bound_port(site) or wc.http.port
        log.info("worker_started", http_port=port, store=_store_kind(wc.store_url), transport=stream.name)

        drain = asyncio.Event()  # set after stop + grace: cancels whatever is still running
        running = Running(config, store, metrics, health, port, stop, reconciler, sf,
                          {"sale_sweep": sale_sweep, "sale_history": history})
        if started is not None:
            maybe = started(running)
            if maybe is not None:
                await maybe

        async def supervised(name: str, body: Awaitable[None]) -> None:
            task = asyncio.ensure_future(body)
            drainer = asyncio.ensure_future(drain.wait())
            try:
                await asyncio.wait({task, drainer}, return_when=asyncio.FIRST_COMPLETED)
                if not task.done():
                    log.warning("drain_grace_expired", loop=name)
                    task.cancel()
                await asyncio.gather(task, return_exceptions=False)
            except asyncio.CancelledError:
                if not task.done():
                    task.cancel()
                    await asyncio.gather(task, return_exceptions=True)
            finally:
                drainer.cancel()

        async def stream_loop() -> None:
            health.beat("stream")
            # StreamEvent is frozen; EventLike only reads (a Protocol's plain attributes count as writable)
            await ingest.run(cast(AsyncIterator[EventLike], stream.events()), stop)

        async with asyncio.TaskGroup() as group:
            loops = [group.create_task(supervised("stream", stream_loop()))] if retail else []
            if wc.reconcile.enabled and retail:
                loops.append(group.create_task(supervised("reconcile", reconciler.run(
                    stop, subscribed=lambda: stream.status.positioned, wait_seconds=watchdog))))
            loops.append(group.create_task(supervised("preflight", log_preflight(config, sf, pos, tokens, stop))))
            if wc.sale_sweep.enabled and sale_sweep is not None:
                loops.append(group.create_task(supervised("sale_sweep", sale_sweep.run(stop))))
            if history is not None:
                loops.append(group.create_task(supervised("sale_history", history.run(stop))))
            for queue_runner in runners:
                loops.append(group.create_task(supervised(queue_runner.handler.queue, queue_runner.run(stop))))
            await stop.wait()
            health.draining = True
            log.info("worker_draining", grace_seconds=wc.drain_grace_seconds)
            # The loops stop taking work and finish what is in flight; whatever outlives the grace is cancelled
            # (and its claimed jobs released back to the queue).
            await asyncio.wait(loops, timeout=wc.drain_grace_seconds)
            drain.set()
        log.info("worker_stopped")


async def _sale_history(config: Config, store: Store, pos: GraphqlPos,
                        notify: dict[str, Callable[[], None]], metrics: Metrics | None = None) -> SaleHistory:
    """The GraphQL back-end's sale source; the server's schema is checked first: a mismatch ends the start (one
    line naming the type and field), an unreachable or silent POS does not (the check is bounded by
    ``pos.graphql.timeout_seconds`` so the HTTP server and readiness are not held back by its retries; the poll
    loop checks before its first window)."""
    from worker.pos_graphql.schema_check import SchemaMismatch  # imported with the GraphQL back-end only

    g = config.pos.graphql
    assert g is not None  # Config requires pos.graphql for this back-end
    history = SaleHistory(store, pos, interval_seconds=g.poll_interval_seconds, overlap_seconds=g.overlap_seconds,
                          lookback_seconds=g.initial_lookback_seconds, page_size=g.page_size, notify=notify,
                          metrics=metrics)
    try:
        async with asyncio.timeout(g.timeout_seconds):
            await pos.check_schema()
        history.schema_checked = True
        log.info("pos_schema_checked", url=g.url)
    except SchemaMismatch:
        raise
    except Exception as exc:  # an outage, refused credentials: the loop retries and /status says why
        log.warning("pos_schema_unchecked", error=f"{type(exc).__name__}: {exc}")
    return history


def _last_error(loop: SaleHistory | Reconciler) -> Callable[[], Awaitable[str | None]]:
    """A /status dependency check: why the loop's last pass failed, None once one succeeded."""

    async def check() -> str | None:
        return loop.last_error

    return check


def _add_readiness(health: Health, store: Store, store_health: StoreHealth, stream: EventTransport | None,
                   keepalive: float) -> None:
    """Readiness is the store alone (and not draining): Salesforce, the stream and the POS are /status only."""
    health.checks["store"] = store_check(store, store_health)
    if stream is None:  # pos.backend graphql runs no stream
        return
    health.pulses["stream"] = stream_pulse(stream.status)
    # The stream's own watchdog reopens after ``keepalive`` of silence, an open is bounded by ``keepalive`` and
    # reopens back off up to STREAM_RETRY.max_delay: a loop that keeps trying shows progress within this window.
    health.windows["stream"] = 2 * keepalive + STREAM_RETRY.max_delay + 10


def _bound_port(site: web.TCPSite) -> int | None:
    server = site._server  # aiohttp exposes no public accessor for the bound port
    sockets = getattr(server, "sockets", None) or []
    for sock in sockets:
        return int(sock.getsockname()[1])
    return None


def _store_kind(url: str) -> str:
    return url.split(":", 1)[0]


def run_worker(config: Config) -> int:
    """Entry point of ``oms-worker run``: logs, signals, exit code."""
    configure_logging(config.worker.log_level, config.worker.log_format, secrets=config.secret_values(),
                      message_key=config.worker.log_message_key)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await serve(config, stop)

    try:
        asyncio.run(main())
    except Exception as exc:  # a failure to start (store unreachable, port taken): one clear line, exit 1
        log.error("worker_failed", error=f"{type(exc).__name__}: {exc}")
        return 1
    return 0
