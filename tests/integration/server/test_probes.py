"""/healthz, /readyz and /metrics on the worker's server: status codes, recovery, metric families, no secrets."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from worker.health import Health
from worker.metrics import Metrics

Body = Callable[..., dict[str, Any]]
SECRET = "whk-S3CRET-7f31c2d9"  # the webhook key the server fixture configures


async def get(served: Any, path: str) -> tuple[int, str]:
    async with served.http.get(f"{served.url}{path}") as resp:
        return resp.status, await resp.text()


async def get_json(served: Any, path: str) -> tuple[int, Any]:
    async with served.http.get(f"{served.url}{path}") as resp:
        return resp.status, await resp.json()


async def test_healthz_200_when_every_loop_beat_recently(serve: Any) -> None:
    """/healthz is 200 with each loop's seconds since beat when all beats are inside the window."""
    served = await serve(health=Health(liveness_window=30))
    served.health.beat("importer")
    served.health.beats["poster"] = time.monotonic() - 10
    status, body = await get_json(served, "/healthz")
    assert status == 200 and body["alive"] is True
    assert set(body["loops_seconds_since_beat"]) == {"importer", "poster"}
    assert body["loops_seconds_since_beat"]["poster"] >= 10


async def test_healthz_503_when_a_loop_is_stale_then_recovers(serve: Any) -> None:
    """/healthz is 503 once any loop's last beat is older than liveness_window, and 200 again after it beats."""
    served = await serve(health=Health(liveness_window=30))
    served.health.beat("importer")
    served.health.beats["poster"] = time.monotonic() - 31
    status, body = await get_json(served, "/healthz")
    assert status == 503 and body["alive"] is False
    assert body["loops_seconds_since_beat"]["poster"] > 30
    served.health.beat("poster")
    assert (await get(served, "/healthz"))[0] == 200


async def test_healthz_200_before_any_loop_registered(server: Any) -> None:
    """With no loops registered yet /healthz is 200 (liveness is about stuck loops, not startup)."""
    status, body = await get_json(server, "/healthz")
    assert (status, body) == (200, {"alive": True, "loops_seconds_since_beat": {}})


async def test_readyz_lists_ok_and_failing_checks_and_recovers(server: Any) -> None:
    """/readyz is 503 {"ok":[...],"failing":{name: reason}} while a check fails and 200 once it recovers."""
    stream = {"problem": None}

    async def stream_check() -> str | None:
        return stream["problem"]

    async def store_check() -> str | None:
        await server.store.ping()
        return None

    server.health.checks.update({"store": store_check, "stream": stream_check})
    assert await get_json(server, "/readyz") == (200, {"ok": ["store", "stream"], "failing": {}})
    stream["problem"] = "not subscribed"
    assert await get_json(server, "/readyz") == (503, {"ok": ["store"], "failing": {"stream": "not subscribed"}})
    stream["problem"] = None
    assert await get_json(server, "/readyz") == (200, {"ok": ["store", "stream"], "failing": {}})


async def test_readyz_reports_a_raising_check_by_exception_type_only(server: Any) -> None:
    """A check that raises is failing with its exception type; its message (which may hold a secret) is not shown."""

    async def pos_check() -> str | None:
        raise ConnectionError(f"POS refused key={SECRET} for ann@example.com")

    server.health.checks["pos"] = pos_check
    status, text = await get(server, "/readyz")
    assert status == 503
    assert '"pos": "ConnectionError"' in text
    assert SECRET not in text and "ann@example.com" not in text


async def test_readyz_503_while_draining(server: Any) -> None:
    """While draining /readyz is 503 with failing.shutdown so the load balancer stops sending."""
    server.health.draining = True
    status, body = await get_json(server, "/readyz")
    assert status == 503 and body["failing"] == {"shutdown": "draining"}


async def test_metrics_exposes_every_family_and_webhook_outcomes(server: Any, sale_body: Body) -> None:
    """/metrics is Prometheus text with every family of worker.metrics and webhook outcome counters."""
    await server.post("ORDER", sale_body())
    await server.post("ORDER", sale_body())
    await server.post("ORDER", sale_body(), key="nope")
    await server.post("ORDER", {"orderId": 1})
    status, text = await get(server, "/metrics")
    assert status == 200
    families = {metric.name for metric in Metrics().registry.collect()}
    assert len(families) >= 19
    for name in families:
        assert f"# TYPE {name}" in text, name
    for name in ("oms_webhooks_total", "oms_queue_depth", "oms_dead_letters_total", "oms_stream_connected",
                 "oms_request_latency_seconds", "oms_salesforce_api_remaining", "oms_outbound_paused"):
        assert f"# HELP {name}" in text, name
    assert 'oms_webhooks_total{endpoint="ORDER",outcome="accepted"} 1.0' in text
    assert 'oms_webhooks_total{endpoint="ORDER",outcome="duplicate"} 1.0' in text
    assert 'oms_webhooks_total{endpoint="ORDER",outcome="unauthorized"} 1.0' in text
    assert 'oms_webhooks_total{endpoint="ORDER",outcome="invalid"} 1.0' in text
    assert 'oms_request_latency_seconds_count{operation="ORDER",service="webhook"} 2.0' in text


async def test_secret_webhook_key_never_in_metrics_or_readyz(server: Any, sale_body: Body) -> None:
    """After accepted, refused (wrong key, key as body) and probed traffic, the webhook key is in no probe body."""
    server.health.checks["auth"] = _raises_with_secret
    await server.post("ORDER", sale_body())
    await server.post("ORDER", sale_body(), key=SECRET + "x")
    await server.post("ORDER", sale_body(orderId=SECRET))
    await server.post(SECRET, sale_body())
    for path in ("/metrics", "/readyz", "/healthz"):
        _, text = await get(server, path)
        assert SECRET not in text, path
        assert "S3CRET" not in text, path


async def _raises_with_secret() -> str | None:
    raise RuntimeError(f"token request failed with key {SECRET}")
