"""GET /status on the worker's server over a real SQLite store: every dependency, queue, dead letter and pause with
reasons, checks cached, nothing secret or personal, and the HTML page as a real browser (Chromium) shows it."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from worker.flows.runner import Pause
from worker.health import Health
from worker.logging import REDACTOR
from worker.salesforce.results import LimitInfo
from worker.salesforce.stream_types import StreamStatus
from worker.server import STATUS
from worker.status import StatusBoard
from worker.store import NewJob
from worker.store_health import StoreHealth, store_check

from .conftest import WEBHOOK_KEY, Served

ERROR = ("INVALID_FIELD: Email ann.lee@example.com rejected <script>alert(1)</script> with key "
         f"{WEBHOOK_KEY} " + "x" * 400)


@pytest.fixture(autouse=True)
def configured_secrets() -> Iterator[None]:
    """The webhook key is a configured secret, as ``oms-worker run`` registers every one with the log redactor."""
    saved = set(REDACTOR._secrets)
    REDACTOR.add([WEBHOOK_KEY])
    yield
    REDACTOR._secrets = saved


async def get(served: Served, path: str, accept: str = "application/json") -> tuple[int, dict[str, str], str]:
    async with served.http.get(f"{served.url}{path}", headers={"Accept": accept}) as resp:
        return resp.status, dict(resp.headers), await resp.text()


async def troubled(serve: Any) -> tuple[Served, StatusBoard, list[str]]:
    """A server whose Salesforce is unreachable, stream unsubscribed, outbound paused, with 2 pending sales and a
    dead status event; returns the served app, its status board and the names of dependency checks run."""
    health = Health(cache_seconds=60)
    served = await serve(health=health)
    health.checks["store"] = store_check(served.store, StoreHealth())
    ran: list[str] = []

    async def salesforce() -> str | None:
        ran.append("salesforce")
        return "unreachable (ClientConnectorError)"

    async def pos() -> str | None:
        ran.append("pos")
        return None

    health.dependencies.update({"salesforce": salesforce, "pos": pos})
    assert served.app is not None
    board = served.app[STATUS]  # create_app's board over the store and Health: the rest is set here
    pause = Pause()
    pause.pause_for(30)
    board.stream = StreamStatus(connected=False, last_message_at=time.time() - 40, reconnects=3)
    board.limits, board.pause = (lambda: LimitInfo(used=96_000, max=100_000)), pause
    board.worker_id = "w-<b>1</b>"
    await served.store.enqueue([NewJob("sale", f"s{i}", {"email": "ann.lee@example.com"}, ordering_key=f"S-{i}")
                                for i in range(2)] + [NewJob("status", "e1", {"n": 1}, ordering_key="0a3FO1")])
    [job] = await served.store.claim("status", 1, worker_id="w", lease_seconds=30)
    assert await served.store.dead_letter(job, ERROR)
    return served, board, ran


async def test_status_json_names_dependencies_queues_dead_letters_and_the_pause(serve: Any) -> None:
    """/status JSON: Salesforce down with its reason and API left, stream not subscribed, queues with depth and
    oldest age, the dead letter's error cut short and scrubbed, the pause and why; /readyz stays 200."""
    served, _, _ = await troubled(serve)
    status, headers, text = await get(served, "/status")
    assert status == 200 and headers["Content-Type"].startswith("application/json")
    body = json.loads(text)
    deps = body["dependencies"]
    assert deps["store"] == {"state": "up", "reason": None}
    assert deps["salesforce"] == {"state": "down", "reason": "unreachable (ClientConnectorError)",
                                  "operator_required": False,
                                  "api": {"used": 96_000, "max": 100_000, "remaining": 4_000}}
    assert deps["pos"] == {"state": "up", "reason": None}
    assert deps["stream"]["state"] == "down" and deps["stream"]["reason"] == "not subscribed (reopened 3 times)"
    assert deps["stream"]["last_message_seconds_ago"] >= 40 and deps["stream"]["lag_seconds"] is None
    assert body["queues"]["sale"]["pending"] == 2 and body["queues"]["status"]["dead"] == 1
    assert body["queues"]["sale"]["oldest_waiting_seconds"] >= 0 and body["queues"]["status"]["pending"] == 0
    [dead] = body["dead_letters"]["shown"]
    assert body["dead_letters"]["total"] == 1 and dead["queue"] == "status" and dead["key"] == "0a3FO1"
    assert len(dead["error"]) <= 200 and dead["error"].startswith("INVALID_FIELD: Email [email] rejected")
    assert body["outbound"]["paused"] is True and 0 < body["outbound"]["resumes_in_seconds"] <= 30
    assert "nearly spent (4000 of 100000 left)" in body["outbound"]["reason"]
    assert body["ready"] is True and body["version"] and body["service"] == "oms-worker"
    for leaked in (WEBHOOK_KEY, "ann.lee@example.com", "S3CRET"):
        assert leaked not in text
    assert (await get(served, "/readyz"))[0] == 200


async def test_status_checks_are_cached_so_polling_never_hammers_a_dependency(serve: Any) -> None:
    """Ten /status requests (five at once) within the cache time run each dependency check once."""
    served, _, ran = await troubled(serve)
    await asyncio.gather(*(get(served, "/status") for _ in range(5)))
    for _ in range(5):
        await get(served, "/status")
    assert sorted(ran) == ["pos", "salesforce"]


async def test_status_html_is_escaped_and_forbids_scripts(serve: Any) -> None:
    """Accept: text/html gets the page: every value escaped (no markup from an error or id), a CSP with no scripts."""
    served, _, _ = await troubled(serve)
    status, headers, page = await get(served, "/status", accept="text/html,application/xhtml+xml,*/*;q=0.8")
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert "script-src" not in headers["Content-Security-Policy"] and "default-src 'none'" in headers[
        "Content-Security-Policy"]
    assert "<script" not in page.lower() and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "w-&lt;b&gt;1&lt;/b&gt;" in page and WEBHOOK_KEY not in page and "[REDACTED]" in page


async def test_status_page_in_a_real_browser_shows_what_is_down_and_why(serve: Any, tmp_path: Path) -> None:
    """Headless Chromium opens /status and shows Salesforce down with its reason, API left, queues, the dead letter
    and the pause; the error's markup is text, not an element."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("Chromium is not installed (Debian package chromium; .ci/run installs it where apt-get works)")
    served, _, _ = await troubled(serve)
    dom = await dump_dom(browser, f"{served.url}/status", tmp_path)
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", dom))
    assert "oms-worker" in text and "alive, ready" in text
    assert re.search(r"salesforce down unreachable \(ClientConnectorError\) API calls left: 4000 of 100000", text)
    assert re.search(r"stream down not subscribed \(reopened 3 times\)", text)
    assert re.search(r"pos up", text) and re.search(r"sale 2 0 0 0 [\d.]+", text)
    assert "Paused for" in text and "nearly spent" in text
    assert "INVALID_FIELD: Email [email] rejected" in text
    assert "<script" not in dom.lower()  # the error's markup stayed text
    assert "ann.lee@example.com" not in dom and WEBHOOK_KEY not in dom


async def dump_dom(browser: str, url: str, tmp_path: Path) -> str:
    """The DOM Chromium built for ``url`` (headless, its own profile under tmp_path); ends the browser by PID."""
    proc = await asyncio.create_subprocess_exec(
        browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
        f"--user-data-dir={tmp_path / 'chromium'}", "--dump-dom", url,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout=120)
    finally:
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
    assert proc.returncode == 0, f"chromium exited {proc.returncode}"
    return out.decode()


async def test_metrics_scrape_reads_queue_depth_and_oldest_age_from_the_store(serve: Any) -> None:
    """/metrics, with the status board as reader, shows the store's queue depth and oldest waiting age at scrape."""
    served, board, _ = await troubled(serve)
    served.metrics.reader = board.reading
    status, headers, text = await get(served, "/metrics", accept="*/*")
    assert status == 200 and headers["Content-Type"].startswith("text/plain; version=")
    assert 'oms_queue_depth{queue="sale",state="pending"} 2.0' in text
    assert 'oms_queue_depth{queue="status",state="dead"} 1.0' in text
    assert re.search(r'oms_queue_oldest_age_seconds\{queue="sale"\} \d', text)
    assert 'oms_queue_oldest_age_seconds{queue="status"} 0.0' in text  # only a dead job: nothing waits
    assert "oms_stream_connected 0.0" in text and "oms_salesforce_api_remaining 4000.0" in text
    assert "oms_outbound_paused 1.0" in text and "_created" not in text


async def test_refused_credentials_show_as_needing_an_operator_in_status_and_metrics(serve: Any) -> None:
    """Salesforce refused the login: /status says an operator must act (and why outbound work is paused), without
    asking Salesforce, and oms_auth_operator_required is 1."""
    served, board, _ = await troubled(serve)
    board.operator_required = lambda: "salesforce 400 invalid_grant: authentication failure; fix the credentials"
    served.metrics.reader = board.reading
    body = json.loads((await get(served, "/status"))[2])
    salesforce = body["dependencies"]["salesforce"]
    assert salesforce["state"] == "down" and salesforce["operator_required"] is True
    assert salesforce["reason"] == ("login refused, an operator must act: salesforce 400 invalid_grant: "
                                    "authentication failure; fix the credentials")
    assert "refused the credentials" in body["outbound"]["reason"]
    assert 'oms_auth_operator_required{service="salesforce"} 1.0' in (await get(served, "/metrics", accept="*/*"))[2]
