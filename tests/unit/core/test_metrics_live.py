"""worker.metrics: state read at scrape time, unknown values absent (never 0), build_info and process collectors,
no ``_created`` series, prometheus_client's own exposition and content negotiation."""

from __future__ import annotations

from prometheus_client.openmetrics.exposition import CONTENT_TYPE_LATEST as OPENMETRICS

from worker.metrics import Metrics, Reading, package_version


def samples(text: bytes) -> set[str]:
    """Sample lines ``name{labels} value`` of an exposition (comments dropped)."""
    return {line for line in text.decode().splitlines() if line and not line.startswith("#")}


def names(text: bytes) -> set[str]:
    return {line.split("{")[0].split(" ")[0] for line in samples(text)}


async def test_no_created_series_for_counters_or_histograms() -> None:
    """Counters and histograms that moved export no ``_created`` series, in either exposition format."""
    metrics = Metrics()
    metrics.webhooks.labels("ORDER", "accepted").inc()
    metrics.latency.labels("webhook", "ORDER").observe(0.01)
    for accept in (None, "application/openmetrics-text; version=1.0.0"):
        body, _ = await metrics.render(accept)
        assert b"oms_webhooks_total" in body
        assert b"_created" not in body, accept


async def test_build_info_and_process_platform_gc_collectors() -> None:
    """oms_build_info carries the package version; process, platform and GC collectors are registered."""
    body, content_type = await Metrics().render()
    assert content_type.startswith("text/plain; version=")  # the Prometheus text format, as negotiated
    build = [line for line in samples(body) if line.startswith("oms_build_info{")]
    assert len(build) == 1 and f'version="{package_version()}"' in build[0] and build[0].endswith(" 1.0")
    assert {"process_cpu_seconds_total", "process_resident_memory_bytes", "python_info",
            "python_gc_objects_collected_total"} <= names(body)


async def test_state_is_read_at_each_scrape_not_on_a_timer() -> None:
    """Each scrape awaits the reader: a change between two scrapes shows at the second, with no refresh loop."""
    state = {"connected": False, "pending": 3}
    metrics = Metrics()

    async def read() -> Reading:
        return Reading(queue_depth={"sale": {"pending": state["pending"]}}, queue_age={"sale": 12.5},
                       stream_connected=bool(state["connected"]), stream_reconnects=2, stream_silence=1.0,
                       api_used=10, api_max=100, paused=False)

    metrics.reader = read
    first = samples((await metrics.render())[0])
    assert {"oms_stream_connected 0.0", 'oms_queue_depth{queue="sale",state="pending"} 3.0',
            'oms_queue_oldest_age_seconds{queue="sale"} 12.5', "oms_stream_reconnects_total 2.0",
            "oms_salesforce_api_remaining 90.0", "oms_outbound_paused 0.0"} <= first
    state.update(connected=True, pending=0)
    second = samples((await metrics.render())[0])
    assert {"oms_stream_connected 1.0", 'oms_queue_depth{queue="sale",state="pending"} 0.0'} <= second


async def test_unknown_values_are_absent_not_zero() -> None:
    """Before any Sforce-Limit-Info, event or pause is known, their series have no sample (an alert cannot fire)."""
    metrics = Metrics()

    async def read() -> Reading:
        return Reading(queue_depth={"sale": {"pending": 0}}, stream_connected=True)

    metrics.reader = read
    body, _ = await metrics.render()
    present = names(body)
    for unknown in ("oms_salesforce_api_remaining", "oms_salesforce_api_used", "oms_salesforce_api_max",
                    "oms_stream_lag_seconds", "oms_outbound_paused", "oms_stream_last_message_age_seconds",
                    "oms_auth_operator_required"):
        assert unknown not in present, unknown
        assert f"# HELP {unknown} ".encode() in body  # described, so dashboards know the family
    assert "oms_stream_connected 1.0" in samples(body)
    metrics.stream_lag.set(0.25)  # the ingest flow sets it per event
    assert "oms_stream_lag_seconds 0.25" in samples((await metrics.render())[0])


async def test_a_failed_reading_leaves_state_out_and_keeps_the_counters() -> None:
    """A reader that raises (store down) drops the state series from that scrape; counters still export."""
    metrics = Metrics()
    metrics.sales_posted.inc()

    async def broken() -> Reading:
        raise ConnectionError("store down")

    metrics.reader = broken
    body, _ = await metrics.render()
    assert "oms_sales_posted_total 1.0" in samples(body)
    assert not {"oms_queue_depth", "oms_stream_connected"} & names(body)


async def test_openmetrics_is_negotiated_by_prometheus_client() -> None:
    """A scraper asking for OpenMetrics gets it (content type and # EOF) from prometheus_client's encoder."""
    body, content_type = await Metrics().render("application/openmetrics-text; version=1.0.0; charset=utf-8")
    assert content_type.startswith(OPENMETRICS.split(";")[0]) and body.rstrip().endswith(b"# EOF")
