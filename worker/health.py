"""Liveness and readiness.

Liveness (``/healthz``): every main loop has beaten recently. Readiness (``/readyz``): events can flow — token
valid, stream subscribed and heard from within the keepalive window, store writable, POS reachable. Checks are
cached briefly so probes never hammer Salesforce or the POS (the POS allows 10 requests/s).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

Check = Callable[[], Awaitable[str | None]]  # returns None when fine, else a short reason (no secrets, no PII)


@dataclass
class Health:
    liveness_window: float = 60.0
    cache_seconds: float = 5.0
    beats: dict[str, float] = field(default_factory=dict)
    checks: dict[str, Check] = field(default_factory=dict)
    _cache: dict[str, tuple[float, str | None]] = field(default_factory=dict)
    draining: bool = False

    def beat(self, name: str) -> None:
        self.beats[name] = time.monotonic()

    def beater(self, name: str) -> Callable[[], None]:
        self.beat(name)
        return lambda: self.beat(name)

    def liveness(self) -> tuple[bool, dict[str, float]]:
        now = time.monotonic()
        ages = {name: round(now - at, 1) for name, at in self.beats.items()}
        return all(age <= self.liveness_window for age in ages.values()), ages

    async def readiness(self) -> tuple[list[str], dict[str, str]]:
        ok: list[str] = []
        failing: dict[str, str] = {}
        names = list(self.checks)
        results = await asyncio.gather(*(self._run(name) for name in names))
        for name, problem in zip(names, results, strict=True):
            if problem is None:
                ok.append(name)
            else:
                failing[name] = problem
        if self.draining:
            failing["shutdown"] = "draining"
        return ok, failing

    async def _run(self, name: str) -> str | None:
        now = time.monotonic()
        cached = self._cache.get(name)
        if cached and now - cached[0] < self.cache_seconds:
            return cached[1]
        try:
            async with asyncio.timeout(5):
                problem = await self.checks[name]()
        except TimeoutError:
            problem = "check timed out"
        except Exception as exc:
            problem = f"{type(exc).__name__}"
        self._cache[name] = (now, problem)
        return problem
