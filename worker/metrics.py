"""Prometheus metrics: one registry per worker (tests build their own), no secret or PII in any label.

Labels are closed sets (queue names, reasons, services, outcomes); never ids, emails or SOQL.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
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
        self.statuses_patched = Counter(
            "oms_statuses_patched_total", "FulfillmentOrder status writes and line cancels", ["action"], registry=r
        )
        self.webhooks = Counter(
            "oms_webhooks_total", "Webhook deliveries by endpoint and outcome", ["endpoint", "outcome"], registry=r
        )
        self.retries = Counter("oms_retries_total", "Units of work scheduled for a retry", ["queue"], registry=r)
        self.dead_letters = Counter("oms_dead_letters_total", "Units of work dead-lettered", ["queue"], registry=r)
        self.queue_depth = Gauge("oms_queue_depth", "Jobs per queue and state", ["queue", "state"], registry=r)
        self.stream_reconnects = Counter(
            "oms_stream_reconnects_total", "CometD stream re-opens", registry=r
        )
        self.stream_lag = Gauge(
            "oms_stream_lag_seconds", "Seconds between an event's CreatedDate and its receipt", registry=r
        )
        self.stream_connected = Gauge("oms_stream_connected", "1 when the CometD stream is subscribed", registry=r)
        self.sf_api_used = Gauge("oms_salesforce_api_used", "Sforce-Limit-Info api-usage used", registry=r)
        self.sf_api_max = Gauge("oms_salesforce_api_max", "Sforce-Limit-Info api-usage limit", registry=r)
        self.sf_api_remaining = Gauge("oms_salesforce_api_remaining", "API calls left in the 24 h window", registry=r)
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
        self.paused = Gauge("oms_outbound_paused", "1 while outbound work is paused (API limits)", registry=r)

    def render(self) -> bytes:
        return generate_latest(self.registry)
