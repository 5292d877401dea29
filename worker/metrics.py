"""Prometheus metrics: one registry per worker (tests build their own), no secret or PII in any label.

Labels are closed sets (queue names, reasons, services, outcomes); never ids, emails or SOQL.

Counters and histograms count as things happen. Everything that describes *state* (queue depth, the oldest waiting
job, the stream, the Salesforce API allowance, paused outbound work) is read when Prometheus scrapes:
:meth:`Metrics.render` awaits ``reader`` (set by the app; see :mod:`worker.status`) and a custom collector exports
that :class:`Reading`. A value the worker does not know (no ``Sforce-Limit-Info`` seen yet, the store unreadable,
no event received yet) is left out, never exported as 0, so an alert on it cannot fire falsely. No ``_created``
series (``disable_created_metrics``); the exposition is prometheus_client's own (``choose_encoder``).
"""

from __future__ import annotations

import functools
import importlib.metadata
import platform
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass

import structlog
from prometheus_client import (
    CollectorRegistry,
    Counter,
    GCCollector,
    Histogram,
    Info,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder

from worker.queue_outcomes import QueueOutcomes

log = structlog.get_logger(__name__)
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
PACKAGE = "oms-worker"

disable_created_metrics()  # type: ignore[no-untyped-call]  # process-wide: counters and histograms export no `_created` series


@functools.cache
def package_version() -> str:
    """The installed package's version (its metadata), else the source tree's ``worker.__version__``."""
    try:
        return importlib.metadata.version(PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        from worker import __version__

        return __version__


@dataclass(frozen=True)
class Reading:
    """The worker's state at one scrape; None = unknown, and its series is left out."""

    queue_depth: Mapping[str, Mapping[str, int]] | None = None  # queue -> state -> jobs
    queue_age: Mapping[str, float] | None = None  # queue -> seconds the oldest live job has waited
    stream_connected: bool | None = None
    stream_reconnects: int | None = None
    stream_silence: float | None = None  # seconds since the server last answered (events, connect replies)
    stream_transport: str | None = None  # cometd | pubsub
    stream_flow: tuple[int, int, int] | None = None  # Pub/Sub flow control: (window, requested, outstanding)
    api_used: int | None = None
    api_max: int | None = None
    paused: bool | None = None
    # service (salesforce | pos) -> its token endpoint refused the credentials, an operator must act
    auth_operator_required: Mapping[str, bool] | None = None


class LastValue:
    """A gauge set as things happen (e.g. the lag of the latest event); absent until it is first set."""

    def __init__(self) -> None:
        self.value: float | None = None

    def set(self, value: float) -> None:
        self.value = float(value)


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None, *, version: str | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.events_received = Counter(
            "oms_events_received_total", "FOStatusChangedEvent messages received from the stream", registry=r
        )
        self.events_skipped = Counter(
            "oms_events_skipped_total", "Events or fulfillment orders not imported, by reason", ["reason"], registry=r
        )
        self.fo_imported = Counter("oms_fo_imported_total", "Fulfillment orders imported into the POS", registry=r)
        self.sales_posted = Counter("oms_sales_posted_total", "POS sales posted to Salesforce", registry=r)
        self.sales_refused = Counter(
            "oms_sales_refused_total", "POS sales that could not become queue rows (kept as dead letters)",
            ["source"], registry=r,
        )
        self.summary_fallbacks = Counter(
            "oms_order_summary_fallbacks_total",
            "OrderSummaries the org's flow had not created within the grace period, created through Connect",
            registry=r,
        )
        self.statuses_patched = Counter(
            "oms_statuses_patched_total", "FulfillmentOrder status writes and line cancels", ["action"], registry=r
        )
        self.webhooks = Counter(
            "oms_webhooks_total", "Webhook deliveries by endpoint and outcome", ["endpoint", "outcome"], registry=r
        )
        self.retries = Counter("oms_retries_total", "Units of work scheduled for a retry", ["queue"], registry=r)
        self.dead_letters = Counter("oms_dead_letters_total", "Units of work dead-lettered", ["queue"], registry=r)
        self.sf_calls = Counter("oms_salesforce_calls_total", "Salesforce API calls made", ["kind"], registry=r)
        self.latency = Histogram(
            "oms_request_latency_seconds",
            "Latency of outbound calls and webhook handling",
            ["service", "operation"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.import_latency = Histogram(
            "oms_import_added_latency_seconds",
            "Event receipt to POS order created",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.stream_lag = LastValue()  # set by the ingest flow per committed event
        self.paused = LastValue()  # set by a runner when it pauses; a reading's pause state wins
        self.outcomes = QueueOutcomes()  # fed by the runners: is a queue only dead-lettering?
        self.reader: Callable[[], Awaitable[Reading]] | None = None  # the app's live state, awaited per scrape
        self.reading = Reading()
        Info("oms_build", "The running build", registry=r).info(
            {"version": version or package_version(), "python": platform.python_version()})
        ProcessCollector(registry=r)
        PlatformCollector(registry=r)
        GCCollector(registry=r)
        r.register(_LiveCollector(self))

    async def render(self, accept: str | None = None) -> tuple[bytes, str]:
        """(body, content type) for a scrape: reads the live state now, then prometheus_client's exposition."""
        reading = Reading()
        if self.reader is not None:
            try:
                reading = await self.reader()
            except Exception as exc:  # unknown values are left out of this scrape
                log.warning("metrics_reading_failed", error=type(exc).__name__)
        self.reading = reading
        encoder, content_type = choose_encoder(accept or "")
        return encoder(self.registry), content_type


class _LiveCollector:
    """Exports ``metrics.reading`` (and the LastValues) at collection time; unknown values have no sample."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def describe(self) -> list[Metric]:
        return list(self._families(Reading(), None, None))

    def collect(self) -> Iterator[Metric]:
        m = self.metrics
        yield from self._families(m.reading, m.stream_lag.value, m.paused.value)
        failing = GaugeMetricFamily("oms_queue_failing", "1 while every recent settled job of the queue was "
                                    "dead-lettered (at least 3 of the last 20; a completed job clears it)",
                                    labels=["queue"])
        for queue, is_failing in m.outcomes.snapshot().items():
            failing.add_metric([queue], int(is_failing))
        yield failing

    @staticmethod
    def _families(reading: Reading, lag: float | None, paused_set: float | None) -> Iterator[Metric]:
        depth = GaugeMetricFamily("oms_queue_depth", "Jobs per queue and state", labels=["queue", "state"])
        for queue, states in (reading.queue_depth or {}).items():
            for state, count in states.items():
                depth.add_metric([queue, state], count)
        age = GaugeMetricFamily("oms_queue_oldest_age_seconds",
                                "Seconds the oldest pending or processing job of a queue has waited (0: none)",
                                labels=["queue"])
        for queue, seconds in (reading.queue_age or {}).items():
            age.add_metric([queue], seconds)
        yield depth
        yield age
        yield _gauge("oms_stream_connected", "1 when the event stream is subscribed",
                     None if reading.stream_connected is None else int(reading.stream_connected))
        transport = GaugeMetricFamily("oms_stream_transport", "1 for the transport the stream runs on "
                                      "(cometd or pubsub)", labels=["transport"])
        if reading.stream_transport is not None:
            transport.add_metric([reading.stream_transport], 1)
        yield transport
        window, requested, outstanding = reading.stream_flow or (None, None, None)
        yield _gauge("oms_stream_flow_window", "Pub/Sub flow control: events asked for per FetchRequest", window)
        yield _gauge("oms_stream_flow_requested", "Pub/Sub flow control: events asked for and not delivered yet",
                     requested)
        yield _gauge("oms_stream_flow_outstanding", "Pub/Sub flow control: events delivered and not yet committed "
                     "to the inbox", outstanding)
        reconnects = CounterMetricFamily("oms_stream_reconnects", "Event stream re-opens")
        if reading.stream_reconnects is not None:
            reconnects.add_metric([], reading.stream_reconnects)
        yield reconnects
        yield _gauge("oms_stream_last_message_age_seconds",
                     "Seconds since the Salesforce stream last answered (events, connect replies)",
                     reading.stream_silence)
        yield _gauge("oms_stream_lag_seconds", "Seconds between the latest event's CreatedDate and its receipt", lag)
        used, limit = reading.api_used, reading.api_max
        yield _gauge("oms_salesforce_api_used", "Sforce-Limit-Info api-usage used", used)
        yield _gauge("oms_salesforce_api_max", "Sforce-Limit-Info api-usage limit", limit)
        yield _gauge("oms_salesforce_api_remaining", "API calls left in the 24 h window",
                     None if used is None or limit is None else max(0, limit - used))
        paused = paused_set if reading.paused is None else int(reading.paused)
        yield _gauge("oms_outbound_paused", "1 while outbound work is paused (API limits)", paused)
        operator = GaugeMetricFamily("oms_auth_operator_required", "1 while the service (salesforce, pos) refuses "
                                     "the worker's credentials (an operator must fix them)", labels=["service"])
        for service, required in (reading.auth_operator_required or {}).items():
            operator.add_metric([service], int(required))
        yield operator


def _gauge(name: str, documentation: str, value: float | None) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, documentation)
    if value is not None:
        family.add_metric([], value)
    return family
