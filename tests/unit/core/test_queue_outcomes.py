"""A queue that only dead-letters is flagged (metrics and /status), and one completed job clears it."""

from __future__ import annotations

import pytest

from worker.metrics import Metrics
from worker.queue_outcomes import QueueOutcomes


@pytest.mark.parametrize(
    ("settled", "failing"),
    [
        ([], False),
        ([False, False], False),  # fewer than 3 settled: not enough to say
        ([False, False, False], True),
        ([True, False, False, False], False),  # a completed job still in the window: not every one died
        ([False, False, False, True], False),  # a completed job clears it
        ([False] * 25, True),
        ([True] + [False] * 20, True),  # the completed job has left the 20-job window
    ],
)
def test_failing_means_every_recent_settled_job_was_dead_lettered(settled: list[bool], failing: bool) -> None:
    """failing(queue) once >= 3 of the last 20 settled jobs settled and none of them completed."""
    outcomes = QueueOutcomes()
    for ok in settled:
        outcomes.record("sale", ok)
    assert outcomes.failing("sale") is failing
    assert outcomes.failing("status") is False


async def test_failing_queues_are_exported_at_scrape_time() -> None:
    """oms_queue_failing{queue} is 1 for a queue whose recent jobs all dead-lettered, 0 once one completes."""
    metrics = Metrics()
    metrics.outcomes.record("sale", False, 3)
    metrics.outcomes.record("status", True)
    text = (await metrics.render())[0].decode()
    assert 'oms_queue_failing{queue="sale"} 1.0' in text and 'oms_queue_failing{queue="status"} 0.0' in text
    metrics.outcomes.record("sale", True)
    assert 'oms_queue_failing{queue="sale"} 0.0' in (await metrics.render())[0].decode()
