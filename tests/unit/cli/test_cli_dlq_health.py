"""``oms-worker dlq list|show|retry|drop`` against a real SQLite store file, and ``oms-worker health --url``."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from worker.cli import main
from worker.config import WebhookConfig
from worker.health import Health
from worker.metrics import Metrics
from worker.server import create_app
from worker.store import open_store


def test_dlq_list_shows_every_dead_letter(config_file: str, seeded: dict[str, int],
                                          capsys: pytest.CaptureFixture[str]) -> None:
    """dlq list prints one row per dead letter (id, queue, attempts, one-line error cut at 90 chars), exit 0."""
    assert main(["dlq", "list", "--config", config_file]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["id", "queue", "try", "dead", "since", "last", "error"]
    assert out[-1] == "2 dead letter(s)"
    rows = {line.split()[0]: line for line in out[1:-1]}
    assert set(rows) == {str(seeded["k-sale"]), str(seeded["k-status"])}
    sale = rows[str(seeded["k-sale"])]
    assert sale.split()[1:3] == ["sale", "1"]
    assert sale.endswith("Product2 SKU-0001 not found second line")  # newlines flattened
    status = rows[str(seeded["k-status"])]
    error = status[status.index("INVALID_STATUS"):]
    assert len(error) == 90 and error.endswith("...")
    assert str(seeded["k-live"]) not in rows


def test_dlq_list_filters_by_queue(config_file: str, seeded: dict[str, int],
                                   capsys: pytest.CaptureFixture[str]) -> None:
    """dlq list --queue status shows only that queue's dead letters."""
    assert main(["dlq", "list", "-c", config_file, "--queue", "status"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[-1] == "1 dead letter(s)"
    assert out[1].split()[:2] == [str(seeded["k-status"]), "status"]


def test_dlq_list_on_empty_store(config_file: str, capsys: pytest.CaptureFixture[str]) -> None:
    """dlq list on a fresh store (created and migrated on open) prints the header and 0, exit 0."""
    assert main(["dlq", "list", "-c", config_file]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "0 dead letter(s)"


def test_dlq_show_prints_the_job_as_json(config_file: str, seeded: dict[str, int],
                                         capsys: pytest.CaptureFixture[str]) -> None:
    """dlq show <id> --json prints id, queue, dedupe key, attempts, error and payload as JSON, exit 0."""
    assert main(["dlq", "show", "-c", config_file, str(seeded["k-sale"]), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["id"] == seeded["k-sale"] and shown["queue"] == "sale" and shown["dedupe_key"] == "k-sale"
    assert shown["attempts"] == 1
    assert shown["last_error"].startswith("INVALID_FIELD: Product2 SKU-0001")
    assert shown["payload"] == {"endpoint": "ORDER", "sale": {"orderId": "S-1"}}


@pytest.mark.parametrize("command", ["show", "retry", "drop"])
def test_dlq_commands_refuse_unknown_and_live_jobs(config_file: str, seeded: dict[str, int],
                                                   get_job: Callable[[int], Any], command: str,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """show/retry/drop exit 1 'no dead letter with id N' for a missing id and for a job that is not dead."""
    assert main(["dlq", command, "-c", config_file, "9999"]) == 1
    assert capsys.readouterr().out.strip() == "no dead letter with id 9999"
    live = seeded["k-live"]
    assert main(["dlq", command, "-c", config_file, str(live)]) == 1
    assert capsys.readouterr().out.strip() == f"no dead letter with id {live}"
    job = get_job(live)
    assert job is not None and job.state == "pending"  # untouched


def test_dlq_retry_requeues_once(config_file: str, seeded: dict[str, int], get_job: Callable[[int], Any],
                                 capsys: pytest.CaptureFixture[str]) -> None:
    """dlq retry <id> makes the dead letter pending with attempts 0 (exit 0); a second retry exits 1."""
    job_id = seeded["k-sale"]
    assert main(["dlq", "retry", "-c", config_file, str(job_id)]) == 0
    assert capsys.readouterr().out.strip() == f"dead letter {job_id} queued again"
    job = get_job(job_id)
    assert (job.state, job.attempts) == ("pending", 0)
    assert main(["dlq", "retry", "-c", config_file, str(job_id)]) == 1
    assert main(["dlq", "list", "-c", config_file]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "1 dead letter(s)"


def test_dlq_drop_deletes_once(config_file: str, seeded: dict[str, int], get_job: Callable[[int], Any],
                               capsys: pytest.CaptureFixture[str]) -> None:
    """dlq drop <id> deletes the dead letter (exit 0); a second drop exits 1; other jobs stay."""
    job_id = seeded["k-status"]
    assert main(["dlq", "drop", "-c", config_file, str(job_id)]) == 0
    assert capsys.readouterr().out.strip() == f"dead letter {job_id} dropped"
    assert get_job(job_id) is None
    assert main(["dlq", "drop", "-c", config_file, str(job_id)]) == 1
    assert get_job(seeded["k-sale"]).state == "dead"


def test_dlq_with_bad_config_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """dlq with an unreadable config file exits 2 with 'configuration error' and touches no store."""
    assert main(["dlq", "list", "-c", str(tmp_path / "missing.yaml")]) == 2
    assert "configuration error" in capsys.readouterr().err
    assert not (tmp_path / "dlq.db").exists()


def test_dlq_job_id_must_be_an_integer(config_file: str, capsys: pytest.CaptureFixture[str]) -> None:
    """dlq show abc is a usage error (argparse exit 2)."""
    with pytest.raises(SystemExit) as info:
        main(["dlq", "show", "-c", config_file, "abc"])
    assert info.value.code == 2


# ------------------------------------------------------------------------------------------------ health


@pytest.fixture
async def health_server(tmp_path: Path) -> AsyncIterator[tuple[str, Health]]:
    store = await open_store(f"sqlite:///{tmp_path / 'h.db'}")
    health = Health(liveness_window=30)
    app = create_app(store, health, Metrics(), WebhookConfig.model_validate({"api_key": "k"}))
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}/healthz", health
    finally:
        await runner.cleanup()
        await store.close()


async def test_health_exits_0_against_a_live_healthz(health_server: tuple[str, Health]) -> None:
    """oms-worker health --url <live /healthz> exits 0."""
    url, health = health_server
    health.beat("importer")
    assert await asyncio.to_thread(main, ["health", "--url", url]) == 0


async def test_health_exits_1_when_healthz_is_503(health_server: tuple[str, Health],
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """oms-worker health exits 1 when /healthz answers 503 (a stuck loop)."""
    url, health = health_server
    health.beats["importer"] = -1e9  # monotonic time long before the window
    assert await asyncio.to_thread(main, ["health", "--url", url]) == 1
    assert "unhealthy" in capsys.readouterr().err


def test_health_exits_1_against_a_closed_port(capsys: pytest.CaptureFixture[str]) -> None:
    """oms-worker health exits 1 (not a traceback) when nothing listens on the port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    assert main(["health", "--url", f"http://127.0.0.1:{port}/healthz", "--timeout", "2"]) == 1
    assert "unhealthy" in capsys.readouterr().err


async def test_health_json_shows_the_answer(health_server: tuple[str, Health],
                                            capsys: pytest.CaptureFixture[str]) -> None:
    """health --json prints the HTTP status and the /healthz body, also for a 503 (exit 1)."""
    url, health = health_server
    health.beats["importer"] = -1e9
    assert await asyncio.to_thread(main, ["health", "--url", url, "--json"]) == 1
    answer = json.loads(capsys.readouterr().out)
    assert answer["status"] == 503 and answer["healthy"] is False and answer["body"]["alive"] is False
