"""``oms-worker dlq``: queue names checked, bulk retry/drop by --queue / --all (with --dry-run), JSON output."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from worker.cli import main


def test_unknown_queue_is_a_usage_error_naming_the_queues(config_file: str,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    """dlq list --queue nonsense exits 2 and names every valid queue (it used to print 0 silently)."""
    with pytest.raises(SystemExit) as info:
        main(["dlq", "list", "-c", config_file, "--queue", "nonsense"])
    err = capsys.readouterr().err
    assert info.value.code == 2 and "nonsense" in err
    assert all(queue in err for queue in ("fo_import", "sale", "status", "return", "cancel"))


@pytest.mark.parametrize("extra", [[], ["7", "--all"], ["--queue", "sale", "--all"], ["7", "--dry-run"]])
def test_retry_needs_exactly_one_target(config_file: str, extra: list[str]) -> None:
    """retry/drop take one of ID, --queue or --all (and --dry-run only in bulk); anything else exits 2."""
    with pytest.raises(SystemExit) as info:
        main(["dlq", "retry", "-c", config_file, *extra])
    assert info.value.code == 2


def test_bulk_retry_of_a_queue(config_file: str, seeded: dict[str, int], get_job: Callable[[int], Any],
                               capsys: pytest.CaptureFixture[str]) -> None:
    """dlq retry --queue sale requeues that queue's dead letters only, printing each id and the count."""
    assert main(["dlq", "retry", "-c", config_file, "--queue", "sale"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [f"dead letter {seeded['k-sale']} (sale) queued again", "1 dead letter(s) of queue sale queued again"]
    assert get_job(seeded["k-sale"]).state == "pending"
    assert get_job(seeded["k-status"]).state == "dead"


def test_bulk_drop_dry_run_then_all(config_file: str, seeded: dict[str, int], get_job: Callable[[int], Any],
                                    capsys: pytest.CaptureFixture[str]) -> None:
    """dlq drop --all --dry-run changes nothing and says so; dlq drop --all --json deletes every dead letter."""
    dead = sorted([seeded["k-sale"], seeded["k-status"]])
    assert main(["dlq", "drop", "-c", config_file, "--all", "--dry-run"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "2 dead letter(s) would be dropped (dry run)"
    assert all(get_job(job_id).state == "dead" for job_id in dead)
    assert main(["dlq", "drop", "-c", config_file, "--all", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result == {"action": "drop", "queue": None, "dry_run": False, "done": dead, "skipped": []}
    assert all(get_job(job_id) is None for job_id in dead)
    assert get_job(seeded["k-live"]).state == "pending"


def test_list_and_show_as_json(config_file: str, seeded: dict[str, int], capsys: pytest.CaptureFixture[str]) -> None:
    """dlq list --json is an array of dead letters without payloads; dlq show (text) names the payload."""
    assert main(["dlq", "list", "-c", config_file, "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert sorted(job["id"] for job in listed) == sorted([seeded["k-sale"], seeded["k-status"]])
    assert {"queue", "attempts", "last_error", "dead_since"} <= set(listed[0]) and "payload" not in listed[0]
    assert main(["dlq", "show", "-c", config_file, str(seeded["k-sale"])]) == 0
    out = capsys.readouterr().out
    assert "queue:       sale" in out and '"orderId": "S-1"' in out
