"""Is a queue only dead-lettering? The last settled jobs of each queue, kept in memory by the runners.

A queue whose recent jobs all went to the dead letters (a missing setup record, a refused field, a changed
org) posts nothing while looking busy; an operator must act. ``failing(queue)`` is true once at least
``minimum`` of the last ``window`` settled jobs were settled and every one of them was dead-lettered; one job
that completes clears it. Read by the metrics collector (``oms_queue_failing``) and ``/status``.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field


@dataclass
class QueueOutcomes:
    window: int = 20
    minimum: int = 3
    _recent: dict[str, deque[bool]] = field(default_factory=dict)

    def record(self, queue: str, ok: bool, count: int = 1) -> None:
        """``count`` jobs of ``queue`` settled: completed (ok) or dead-lettered (not ok). Retries are neither."""
        recent = self._recent.setdefault(queue, deque(maxlen=self.window))
        recent.extend([ok] * min(count, self.window))

    def failing(self, queue: str) -> bool:
        recent = self._recent.get(queue)
        return recent is not None and len(recent) >= self.minimum and not any(recent)

    def snapshot(self) -> dict[str, bool]:
        """{queue: failing} for every queue that settled a job since start."""
        return {queue: self.failing(queue) for queue in self._recent}
